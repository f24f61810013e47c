"""The Mastodon adapter: which request to send, the ``Link`` paging, the
failure mapping, and the thread counters a status does not carry.

A status counts its *direct* replies only, so an account's answer to a
citizen's reply moves no counter of the post the poller watches.  The
account's own timeline lists its replies though: each one is traced once to
the post its thread starts at (``/context`` ancestors; remembered in the
account's adapter state), and that post's counter shows the account's
replies under it, so the poller reads the thread again and finds the answer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import quote, urlsplit

import requests

from huisheng import errors
from huisheng.adapters.base import Adapter, Http, Pace, Source, TextConventions
from huisheng.adapters.mastodon import parse as mparse
from huisheng.records import AccountRef, Comment, Page, Post, Shortfall
from huisheng.schema import EnvKey, Key, Table, check_url

#: the statuses that mention the account (its own access token reads them)
MENTIONS = "notifications"
DEFAULT_PAGE_SIZE = 40
DEFAULT_MENTIONS_INTERVAL = 600
#: the account's replies traced to their thread's post, kept for the newest this many
ROOTS_KEPT = 500
#: a thread whose context lists under this share of the direct replies its
#: post counts is short (logged-out context is capped at 60 descendants)…
SHORT_SHARE = 0.5
#: …once the post counts this many; nothing at all against any count is short
SHORT_MIN_CLAIMED = 20


class MastodonAdapter(Adapter):
    """A Mastodon-compatible server's client API (``/api/v1``)."""

    name: ClassVar[str] = "mastodon"
    description: ClassVar[str] = "Mastodon-compatible servers (client API /api/v1)"
    label: ClassVar[tuple[str, str]] = ("Mastodon（长毛象）", "Mastodon")
    aliases: ClassVar[tuple[str, ...]] = ("长毛象", "Mastodon", "猛犸象", "联邦宇宙")
    hosts: ClassVar[tuple[str, ...]] = ("mastodon.social",)
    # 300 requests per 5 minutes per address: one a second stays well inside
    default_pace: ClassVar[Pace] = Pace(min_interval=1.0, concurrency=1)
    options_schema: ClassVar[Table] = Table({
        "base_url": Key("str", default="https://mastodon.social", check=check_url,
                        doc="the server's address (the simulator's in tests and the demo)"),
        "token_env": EnvKey("token", doc="variable holding an access token for reading (servers that "
                                         "refuse logged-out API reads)"),
        "page_size": Key("int", default=DEFAULT_PAGE_SIZE, low=1, high=40,
                         doc="statuses per timeline page (the server allows 40 at most)"),
        "mentions_interval": Key("int", default=DEFAULT_MENTIONS_INTERVAL, low=60, high=30 * 86400,
                                 doc="seconds between two reads of one account's mention notifications"),
    })
    # A reply opens with the handles of those in the conversation, the
    # account's among them: whom it answers is the status it replies to
    # (``Comment.reply_to_name``), not its opening words.
    text_conventions: ClassVar[TextConventions] = TextConventions(
        emoticon=r":[a-z0-9_]{2,30}:",
        mention_sign="@", mention_name=r"[a-z0-9_]{1,30}(?:@[a-z0-9.\-]{1,100})?",
    )
    source_labels: ClassVar[Mapping[str, tuple[str, str]]] = {
        MENTIONS: ("提及本账号的通知（本账号令牌）", "notifications of mentions (own token)"),
    }
    parsers: ClassVar[Mapping[str, Any]] = mparse.PARSERS
    status_errors: ClassVar[Mapping[int, type[errors.AdapterError]]] = {
        **Adapter.status_errors, 410: errors.NotFound}
    status_messages: ClassVar[Mapping[int | str, str]] = {
        401: "the server wants a valid access token (HTTP 401)"}

    def __init__(self, http: Http, options: Mapping[str, Any] | None = None,
                 now: Callable[[], datetime] | None = None):
        super().__init__(http, options, now)
        self.base_url = str(self.options.get("base_url") or "https://mastodon.social").rstrip("/")
        self.token = self.options.get("token") or None
        self.page_size = int(self.options.get("page_size") or DEFAULT_PAGE_SIZE)

    @classmethod
    def check_account_id(cls, uid: str) -> str | None:
        if not mparse.ID_RE.fullmatch(uid):
            return "纯数字（Mastodon 账号的数字 ID，如 \"109283746512345678\"，可由 /api/v1/accounts/lookup 查到）"
        return None

    def request_hosts(self) -> tuple[str, ...]:
        return (urlsplit(self.base_url).netloc,)

    def retry_after(self, response: requests.Response, backoff: float | None) -> float | None:
        retry = super().retry_after(response, backoff)
        if retry is None:  # the limiter's window says when it resets
            retry = _reset_in(response.headers.get("X-RateLimit-Reset"), self.now())
        return retry

    # --- the Adapter methods ---------------------------------------------------------

    def timeline(self, account: AccountRef, cursor: str | None = None) -> Page[Post]:
        params: dict[str, Any] = {"limit": self.page_size, "exclude_reblogs": "true"}
        max_id = _max_id(cursor)
        newest = None if max_id else account.state.get("newest")
        newest = newest if isinstance(newest, str) and mparse.ID_RE.fullmatch(newest) else None
        path = f"/api/v1/accounts/{quote(account.uid)}/statuses"
        if max_id:
            params["max_id"] = max_id
        elif newest:
            # incremental: what came since the newest post seen, and that post
            # itself (the poller stops at a known post), older pages as usual
            params["min_id"] = str(int(newest) - 1)
        payload, link = self._get("statuses", path, params, self.token)
        if newest and isinstance(payload, list) and len(payload) >= self.page_size:
            # a page's worth of new statuses: min_id gives the oldest of them, read the newest
            del params["min_id"]
            payload, link = self._get("statuses", path, params, self.token)
        page = mparse.parse_statuses(payload, account_uid=account.uid)
        roots = dict(account.state.get("roots") or {})
        own = {p.external_id: p for p in page.items if p.raw.get("in_reply_to_id") is None}
        traced: dict[str, Post] = {}
        for post in page.items:
            parent = post.raw.get("in_reply_to_id")
            if parent is None or post.author_id != account.uid or post.external_id in roots:
                continue
            if parent in own:
                roots[post.external_id] = parent
                continue
            root = self._thread_root(post.external_id, account)
            roots[post.external_id] = root.external_id if root else parent
            if root is not None and root.author_id == account.uid and root.external_id not in own:
                traced[root.external_id] = root
        counted = _counted(roots)
        posts = [_with_extra(p, counted) for p in (*own.values(), *traced.values())]
        state: dict[str, Any] = {}
        if roots != (account.state.get("roots") or {}):
            state["roots"] = dict(sorted(roots.items(), key=lambda kv: int(kv[0]))[-ROOTS_KEPT:])
        latest = max((int(ext) for ext in own), default=0)
        if not max_id and latest > int(newest or 0):
            state["newest"] = str(latest)
        after = mparse.next_max_id(link) if payload else None
        return Page(items=tuple(posts), cursor=after,
                    complete=after is None, state=state or None)

    def status(self, post_id: str, account: AccountRef) -> Post:
        payload, _ = self._get("status", f"/api/v1/statuses/{quote(post_id)}", None, self.token)
        post = mparse.parse_status(payload, account_uid=account.uid)
        return _with_extra(post, _counted(account.state.get("roots") or {}))

    def comments(self, post: Post, account: AccountRef, cursor: str | None = None) -> Page[Comment]:
        payload, _ = self._get("context", f"/api/v1/statuses/{quote(post.external_id)}/context", None,
                               self.token)
        page = mparse.parse_context(payload, account_uid=account.uid, post_id=post.external_id)
        got = sum(1 for c in page.items if c.root_id is None)
        claimed = post.raw.get("replies_count")
        claimed = claimed if isinstance(claimed, int) and not isinstance(claimed, bool) else 0
        if claimed > 0 and (got == 0 or (claimed >= SHORT_MIN_CLAIMED and got < claimed * SHORT_SHARE)):
            return replace(page, complete=False, incomplete=Shortfall(got=got, claimed=claimed))
        return page

    def replies(self, post: Post, root: Comment, account: AccountRef,
                cursor: str | None = None) -> Page[Comment]:
        # the comment's own context: every reply under it, at once
        payload, _ = self._get("context", f"/api/v1/statuses/{quote(root.external_id)}/context", None,
                               self.token)
        page = mparse.parse_context(payload, account_uid=account.uid, post_id=root.external_id)
        to_root = root.author_name if root.author_id != account.uid else None
        items = tuple(replace(c, post_id=post.external_id, root_id=root.external_id,
                              parent_id=c.parent_id or root.external_id, replies_count=None,
                              reply_to_name=c.reply_to_name if c.parent_id else to_root)
                      for c in page.items)
        return replace(page, items=items)

    def sources(self, account: AccountRef) -> tuple[Source, ...]:
        if not account.cookie:  # notifications are the account's own: its token reads them
            return ()
        interval = float(self.options.get("mentions_interval") or DEFAULT_MENTIONS_INTERVAL)
        return (Source(MENTIONS, interval=interval, follow=True),)

    def read_source(self, source: Source, account: AccountRef, cursor: str | None = None
                    ) -> Page[Post | Comment]:
        if source.kind != MENTIONS or not account.cookie:
            return super().read_source(source, account, cursor)
        params: dict[str, Any] = {"types[]": "mention", "limit": 40}
        max_id = _max_id(cursor)
        if max_id:
            params["max_id"] = max_id
        payload, link = self._get(MENTIONS, "/api/v1/notifications", params, account.cookie)
        page = mparse.parse_notifications(payload, account_uid=account.uid)
        posts = []
        for post in page.items:
            # a citizen's own post; a reply shows in its thread, read there
            if post.author_id == account.uid or post.raw.get("in_reply_to_id") is not None:
                continue
            if account.name and account.uid in mparse.mentioned_ids(post.raw):
                # the poller knows the matrix's accounts by name
                post = replace(post, mentions=(account.name, *post.mentions))
            posts.append(post)
        after = mparse.next_max_id(link) if payload else None
        return Page(items=tuple(posts), cursor=after,
                    complete=after is None)

    def repost_text(self, post: Post) -> str | None:
        # a boost carries no words of its own (a quote is a status of its own)
        return None

    @classmethod
    def post_url(cls, *, author_id: str, external_id: str, short_id: str | None = None) -> str | None:
        # a status's page is on its server, which ids alone do not name: the
        # stored post keeps the address the server gave
        return None

    # --- HTTP ----------------------------------------------------------------------------

    def _thread_root(self, status_id: str, account: AccountRef) -> Post | None:
        """The post the thread of one of the account's replies starts at."""
        try:
            payload, _ = self._get("context", f"/api/v1/statuses/{quote(status_id)}/context", None, self.token)
        except errors.NotFound:  # deleted since the timeline listed it: it answers nothing now
            return None
        ancestors = payload.get("ancestors") if isinstance(payload, dict) else None
        if not isinstance(ancestors, list):
            raise errors.ParseError("context", "ancestors", "missing")
        if not ancestors:
            return None
        return mparse.status_to_post(ancestors[0], account_uid=account.uid, endpoint="context")

    def _get(self, endpoint: str, path: str, params: Mapping[str, Any] | None, token: str | None
             ) -> tuple[Any, str | None]:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.get(self.base_url + path, endpoint=endpoint, params=params, headers=headers)
        self.raise_for_status(response, endpoint)
        body = response.content.decode("utf-8", errors="replace")
        return self.decode_body(endpoint, body), response.headers.get("Link")


def _reset_in(value: str | None, now: datetime) -> float | None:
    """Seconds until an ``X-RateLimit-Reset`` time (ISO 8601)."""
    try:
        when = datetime.fromisoformat((value or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _counted(roots: Mapping[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for root in roots.values():
        counts[root] = counts.get(root, 0) + 1
    return counts


def _with_extra(post: Post, counted: Mapping[str, int]) -> Post:
    extra = counted.get(post.external_id, 0)
    if not extra or post.comments_count is None:
        return post
    return replace(post, comments_count=post.comments_count + extra)


def _max_id(cursor: str | None) -> str | None:
    """A cursor is the ``max_id`` of the page it leads to (the ``Link`` header's ``next``)."""
    if cursor is not None and not mparse.ID_RE.fullmatch(cursor):
        raise errors.ParseError("cursor", "<cursor>", "not a cursor this adapter made")
    return cursor or None
