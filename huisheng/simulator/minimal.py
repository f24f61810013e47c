"""The fewest requests a client needs, given the instants it polled.

Definition (what the ``requests`` benchmark divides by).  The server records
each account's *poll instants*: every successfully answered request for the
first page of its timeline (m.weibo.cn ``getIndex`` without ``since_id`` or
with ``page=1``, or weibo.com ``mymblog`` page 1) is one poll.  For the poll of
account A at instant t, with the previous poll at p (for A's first poll, p is
"nothing known" and only posts created within the last ``window_days`` before
t count), a client that knew exactly what changed in (p, t] and used the same
endpoints and page sizes needs:

1. timeline: one page (the look), plus further pages when a post created or
   edited in (p, t] sits below the first page: ``pages = index // 10 + 1`` for
   the deepest such post in the timeline as listed at t (pinned first);
2. long text: one request per long post created or edited in (p, t];
3. comments: for each live post whose thread changed in (p, t] (a comment of
   either level appeared or disappeared), all its hotflow pages as of t —
   ``max(1, ceil(top-level comments / 20))`` — since hot order can put new
   comments on any page;
4. replies: for each live root comment whose second-level replies changed in
   (p, t], all its hotFlowChild pages as of t (``ceil(replies / 20)``), except
   when hotflow already showed every reply inline (at most 2 and ``comments``
   not ``false``);
5. status: one ``/statuses/show`` per post alive at p and deleted by t.

Mention sources.  The server also records the instants each account's mention
sources were read (the first page of the real-time search for ``@NAME``, of
the inbox of posts and of comments that @ it).  For the search of account A
at t after the one at p (the first: the window before t):

6. search: the pages down to the deepest one holding a post that @s A created
   in (p, t], at least one;
7. for each citizen's post owned by A (the first account it @s) whose thread
   changed in (p, t]: its hotflow and child pages as in 3–4, plus one
   ``/statuses/show`` when it was not on the search pages of 6 (its counter
   must be read somewhere);

and for each inbox read: the pages down to the deepest item created since the
inbox's previous read, at least one.

The *naive* count re-reads, at each poll, the timeline pages down to the
oldest post of the window, every thread (and child pages as in 4) of every live
post created in the window, plus items 2 and 5.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from huisheng.simulator.render import (CHILD_PAGE, COMMENT_PAGE, INBOX_PAGE, INLINE_CHILDREN, TIMELINE_PAGE,
                                       search_order)
from huisheng.simulator.world import SimComment, SimPost, World


def _between(t: datetime | None, a: datetime | None, b: datetime) -> bool:
    return t is not None and (a is None or t > a) and t <= b


def _hotflow_pages(post: SimPost, t: datetime) -> int:
    return max(1, math.ceil(len(post.live_comments(t)) / COMMENT_PAGE))


def _child_pages(root: SimComment, t: datetime) -> int:
    kids = root.live_children(t)
    if not kids or (len(kids) <= INLINE_CHILDREN and not root.inline_false):
        return 0
    return math.ceil(len(kids) / CHILD_PAGE)


def _children_changed(root: SimComment, a: datetime | None, b: datetime) -> bool:
    return any(_between(k.created_at, a, b) or _between(k.deleted_at, a, b) for k in root.children)


def _thread_cost(post: SimPost, t: datetime, changed_since: datetime | None, naive: bool) -> tuple[int, int]:
    hot = _hotflow_pages(post, t)
    child = 0
    for root in post.live_comments(t):
        if naive or _children_changed(root, changed_since, t):
            child += _child_pages(root, t)
    return hot, child


def _sources_cost(world: World, sources: Mapping[str, Mapping[str, Sequence[datetime]]], window: timedelta,
                  kinds: dict[str, int]) -> None:
    for uid, instants in sorted(sources.get("search", {}).items()):
        account = world.by_uid.get(uid)
        if account is None:
            continue
        prev: datetime | None = None
        for t in sorted(instants):
            since = prev if prev is not None else t - window
            pages = search_order(world, account.name, t)
            deepest = max((n for n, chunk in enumerate(pages, start=1)
                           for p in chunk if _between(p.created_at, since, t)), default=1)
            kinds["search"] += deepest
            listed = {p.id for chunk in pages[:deepest] for p in chunk}
            for post in world.mentioning(account.name, t):
                if post.citizen is None or post.account.uid != uid or post.created_at <= t - window:
                    continue
                if not post.changed_between(prev, t) or (prev is None and not post.thread_events):
                    continue
                hot, child = _thread_cost(post, t, prev, naive=False)
                kinds["comments"] += hot
                kinds["child_comments"] += child
                kinds["status"] += post.id not in listed
            prev = t
    for endpoint, find in (("ajax_mentions", world.mentioning), ("ajax_comment_mentions", world.mentioning_comments)):
        for uid, instants in sorted(sources.get(endpoint, {}).items()):
            account = world.by_uid.get(uid)
            if account is None:
                continue
            prev = None
            for t in sorted(instants):
                since = prev if prev is not None else t - window
                items = find(account.name, t)
                fresh = [i for i, item in enumerate(items) if _between(item.created_at, since, t)]
                kinds[endpoint] += max(fresh) // INBOX_PAGE + 1 if fresh else 1
                prev = t


def minimal_requests(world: World, polls: Mapping[str, Sequence[datetime]], window_days: int = 7,
                     sources: Mapping[str, Mapping[str, Sequence[datetime]]] | None = None) -> dict[str, Any]:
    window = timedelta(days=window_days)
    kinds = dict.fromkeys(("timeline", "longtext", "comments", "child_comments", "status", "search",
                           "ajax_mentions", "ajax_comment_mentions"), 0)
    naive_total = 0
    by_account: dict[str, dict[str, int]] = {}
    for uid, instants in sorted(polls.items()):
        acc_min = acc_naive = 0
        prev: datetime | None = None
        for t in sorted(instants):
            listed = world.timeline(uid, t)
            horizon = t - window
            if prev is None:
                fresh = [i for i, p in enumerate(listed) if p.created_at > horizon]
            else:
                fresh = [i for i, p in enumerate(listed)
                         if _between(p.created_at, prev, t) or any(_between(e, prev, t) for e in p.edit_times())]
            pages = max(fresh) // TIMELINE_PAGE + 1 if fresh else 1
            longs = sum(1 for i in fresh if listed[i].is_long)
            hot = child = 0
            for post in listed:
                if prev is None:
                    if post.created_at <= horizon or not post.changed_between(None, t):
                        continue
                elif not post.changed_between(prev, t):
                    continue
                h, c = _thread_cost(post, t, prev, naive=False)
                hot, child = hot + h, child + c
            gone = 0
            if prev is not None:
                gone = sum(1 for post in world.account_posts(uid)
                           if post.alive(prev) and not post.alive(t))
            in_window = [i for i, p in enumerate(listed) if p.created_at > horizon]
            naive_pages = max(in_window) // TIMELINE_PAGE + 1 if in_window else 1
            naive_threads = sum(sum(_thread_cost(listed[i], t, None, naive=True)) for i in in_window)
            cost = pages + longs + hot + child + gone
            kinds["timeline"] += pages
            kinds["longtext"] += longs
            kinds["comments"] += hot
            kinds["child_comments"] += child
            kinds["status"] += gone
            acc_min += cost
            acc_naive += naive_pages + naive_threads + longs + gone
            prev = t
        by_account[uid] = {"polls": len(instants), "minimal": acc_min, "naive": acc_naive}
        naive_total += acc_naive
    before = sum(kinds.values())
    _sources_cost(world, sources or {}, window, kinds)
    naive_total += sum(kinds.values()) - before  # the sources cost the naive client as much
    return {
        "minimal": sum(kinds.values()),
        "naive": naive_total,
        "polls": sum(len(v) for v in polls.values()),
        "window_days": window_days,
        "by_kind": kinds,
        "by_account": by_account,
    }

