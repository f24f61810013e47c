"""A simulated Mastodon server for the matrix's ``mastodon`` accounts.

The client API's JSON (docs.joinmastodon.org): an account's statuses
(``/api/v1/accounts/:id/statuses``, newest first, ``max_id``/``min_id``/
``since_id`` and ``Link`` paging, the account's replies included), a status,
its ``/context`` (ancestors and the reply tree), and the account's mention
notifications for its own token (``Authorization: Bearer sim-UID``).

Activity is generated one local day at a time for every account, from
``Random`` instances seeded by ``(world.seed, uid, day)``, with the World's
rates, citizens, places and texts: the account's posts (some edited, some
deleted), citizens' replies under them (labelled as Weibo comments are), the
account's answers to them (a reply to the citizen's reply, which moves no
counter of the post), citizens' chat among themselves, and citizens' own
posts that @ the account, answered in their thread.
"""

from __future__ import annotations

import bisect
import html
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Any, Mapping

from huisheng.config.settings import AccountSpec
from huisheng.simulator import texts
from huisheng.simulator.platforms import register
from huisheng.simulator.world import SHANGHAI, World, is_workday, iso, poisson

NOT_FOUND = {"error": "Record not found"}
BAD_TOKEN = {"error": "The access token is invalid"}
MAX_LIMIT = 40
DEFAULT_LIMIT = 20


@dataclass(eq=False)
class Status:
    id: str
    #: the matrix account whose post (or mention) the thread is about
    account: AccountSpec
    author_id: str
    username: str
    display_name: str
    created_at: datetime
    versions: list[tuple[datetime, str]]
    labels: dict[str, Any]
    parent: "Status | None" = None
    deleted_at: datetime | None = None
    #: a citizen's own post that @s the account
    citizen: bool = False
    mentions: tuple[tuple[str, str], ...] = ()
    children: list["Status"] = field(default_factory=list)

    @property
    def root(self) -> "Status":
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    def alive(self, t: datetime) -> bool:
        """Visible at ``t``: published, not deleted, nor any status it answers."""
        if self.created_at > t or (self.deleted_at is not None and self.deleted_at <= t):
            return False
        return self.parent is None or self.parent.alive(t)

    def version_at(self, t: datetime) -> tuple[int, str]:
        n = max(0, bisect.bisect_right([v[0] for v in self.versions], t) - 1)
        return n, self.versions[n][1]


def username_of(account: AccountSpec) -> str:
    return f"gov{account.uid[-8:]}"


def content_html(text: str, mentions: Mapping[str, str], base_url: str) -> str:
    """The server's rendering of a status's text: a paragraph, line breaks,
    each ``@name`` of a mentioned account as its h-card link."""
    out = []
    for word in text.split(" "):
        name = word[1:] if word.startswith("@") else None
        if name in mentions:
            out.append(f'<span class="h-card" translate="no"><a href="{html.escape(base_url)}/@{name}" '
                       f'class="u-url mention">@<span>{name}</span></a></span>')
        else:
            out.append(html.escape(word))
    return "<p>" + " ".join(out).replace("\n", "<br />") + "</p>"


@register
class MastodonSim:
    name = "mastodon"
    #: what fault rules may name
    endpoints = ("statuses", "status", "context", "notifications")

    def __init__(self, world: World):
        self.world = world
        self.accounts = sorted((a for a in world.matrix.accounts if a.platform == self.name and a.enabled),
                               key=lambda a: a.uid)
        self.by_uid = {a.uid: a for a in self.accounts}
        self.statuses: dict[str, Status] = {}
        #: uid → the statuses it wrote (posts and replies), creation order
        self._by_author: dict[str, list[Status]] = {a.uid: [] for a in self.accounts}
        #: uid → citizens' statuses that @ it (their notifications)
        self._mentioning: dict[str, list[Status]] = {a.uid: [] for a in self.accounts}
        #: posts whose context answers without descendants (a server hiding a thread)
        self.hidden_threads: set[str] = set()
        self._next_day = -world.config.history_days
        self._used: set[int] = set()
        self._lock = threading.RLock()

    # --- generation ----------------------------------------------------------------

    def _level(self, account: AccountSpec) -> str:
        try:
            return self.world.matrix.unit(account.unit).level
        except KeyError:
            return "community"

    def _ensure(self, t: datetime) -> None:
        target = self.world.day_index(t)
        with self._lock:
            while self._next_day <= target:
                for account in self.accounts:
                    self._generate(account, self._next_day)
                self._next_day += 1

    def _alloc(self, t: datetime) -> str:
        # Mastodon's snowflake layout: milliseconds above 16 bits of sequence
        n = int(t.timestamp() * 1000) << 16
        while n in self._used:
            n += 1
        self._used.add(n)
        return str(n)

    def _status(self, account: AccountSpec, author: tuple[str, str, str], when: datetime, text: str,
                labels: dict[str, Any], *, parent: Status | None = None, citizen: bool = False,
                mentions: tuple[tuple[str, str], ...] = ()) -> Status:
        when = when.astimezone(timezone.utc).replace(microsecond=0)
        status = Status(id=self._alloc(when), account=account, author_id=author[0], username=author[1],
                        display_name=author[2], created_at=when, versions=[(when, text)], labels=labels,
                        parent=parent, citizen=citizen, mentions=mentions)
        self.statuses[status.id] = status
        if parent is not None:
            bisect.insort(parent.children, status, key=lambda s: (s.created_at, int(s.id)))
        if author[0] in self._by_author:
            self._by_author[author[0]].append(status)
        return status

    def _citizen(self, rng: random.Random) -> tuple[str, str, str]:
        uid, name = self.world.citizens[rng.randrange(len(self.world.citizens))]
        return str(uid), f"u{uid}", name

    @staticmethod
    def _owner(account: AccountSpec) -> tuple[str, str, str]:
        return account.uid, username_of(account), account.name

    def _generate(self, account: AccountSpec, d: int) -> None:
        world, cfg = self.world, self.world.config
        day = world._day0 + timedelta(days=d)
        level = self._level(account)
        rng = random.Random(f"{world.seed}:{self.name}:{account.uid}:{d}")
        pace = 1.0 if is_workday(day) else cfg.day_off_pace
        moments = sorted(datetime.combine(day, time(8, 0), SHANGHAI) + timedelta(seconds=rng.uniform(0, 12 * 3600))
                         for _ in range(poisson(rng, cfg.rate(cfg.posts_per_day, level) * pace)))
        for when in moments:
            post = self._status(account, self._owner(account), when,
                                texts.post_text(rng, world.places, account.name, False), {})
            if rng.random() < cfg.edit_share:
                t = post.created_at + timedelta(seconds=rng.randrange(600, 86400))
                post.versions.append((t, post.versions[0][1] + texts.fill(
                    rng.choice(texts.EDIT_TAILS), rng, world.places, account.name)))
            if level != "district" and rng.random() < cfg.post_delete_share:
                post.deleted_at = post.created_at + timedelta(seconds=rng.randrange(3600, 3 * 86400))
            for _ in range(poisson(rng, cfg.rate(cfg.comments_per_post, level))):
                self._citizen_reply(post, rng, level)
        for _ in range(poisson(rng, cfg.rate(cfg.mentions_per_day, level) * (1.0 if is_workday(day) else 0.7))):
            self._mention(account, rng, datetime.combine(day, time(0, 0), SHANGHAI)
                          + timedelta(seconds=rng.uniform(0, 86400)), level)

    def _citizen_reply(self, post: Status, rng: random.Random, level: str) -> None:
        world, cfg, account = self.world, self.world.config, post.account
        when = post.created_at + timedelta(seconds=min(rng.expovariate(1 / 10800.0), 6.5 * 86400))
        written = texts.resident_comment(rng, world.places, level, ())
        if rng.random() < cfg.hostile_share:
            written = texts.hostile(rng, written)
        target = account.unit
        if written.routing in ("place", "topic") and written.target_hint:
            target = written.target_hint
        labels = {"role": "resident", "category": written.category, "needs_reply": written.needs_reply,
                  "target_unit": target if written.needs_reply else None,
                  "routing": written.routing if written.needs_reply else None,
                  "urgent": written.urgent, "hostile": written.hostile}
        owner = username_of(account)
        # the composer opens a reply with the handle of whom it answers
        reply = self._status(account, self._citizen(rng), when, f"@{owner} {written.text}", labels, parent=post,
                             mentions=((account.uid, owner),))
        if rng.random() < cfg.comment_delete_share:
            reply.deleted_at = reply.created_at + timedelta(seconds=rng.randrange(600, 2 * 86400))
        if rng.random() < 0.15:
            t = reply.created_at + timedelta(seconds=rng.expovariate(1 / 7200.0))
            self._status(account, self._citizen(rng), t, f"@{reply.username} {rng.choice(texts.CITIZEN_CHAT)}",
                         {"role": "resident", "category": None, "needs_reply": False, "target_unit": None,
                          "routing": None, "urgent": False, "hostile": None}, parent=reply,
                         mentions=((reply.author_id, reply.username),))
        self._answer(reply, rng, written)

    def _answer(self, item: Status, rng: random.Random, written: texts.Written, *, form: str = "child") -> None:
        """The account's answer to a citizen's status, as a reply to it."""
        cfg, account = self.world.config, item.account
        if not written.needs_reply or rng.random() >= cfg.reply_share:
            return
        who = ((item.author_id, item.username),)
        if rng.random() < cfg.ack_share:
            t = item.created_at + timedelta(seconds=rng.uniform(60, 1800))
            self._status(account, self._owner(account), t, f"@{item.username} {rng.choice(texts.ACKS)}",
                         {"role": "ack", "answers": item.id}, parent=item, mentions=who)
            if rng.random() < 0.4:
                return
        t, late = self.world._reply_time(rng, item.created_at)
        body = texts.owner_reply(rng, written.category, self.world.places)
        self._status(account, self._owner(account), t, f"@{item.username} {body}",
                     {"role": "reply", "answers": item.id, "late": late, "form": form}, parent=item, mentions=who)

    def _mention(self, account: AccountSpec, rng: random.Random, when: datetime, level: str) -> None:
        written = texts.resident_comment(rng, self.world.places, level, ())
        if written.category == "topic" or written.routing != "account":
            written = texts.Written(written.text, written.category, written.needs_reply, urgent=written.urgent)
        labels = {"role": "resident", "category": written.category, "needs_reply": written.needs_reply,
                  "target_unit": account.unit if written.needs_reply else None,
                  "routing": "mention" if written.needs_reply else None, "urgent": written.urgent,
                  "hostile": None, "mentions": [account.uid]}
        post = self._mentioning_post(account, self._citizen(rng), when, written.text, labels)
        if rng.random() < self.world.config.post_delete_share:
            post.deleted_at = post.created_at + timedelta(seconds=rng.randrange(3600, 3 * 86400))
        self._answer(post, rng, written, form="comment")

    def _mentioning_post(self, account: AccountSpec, author: tuple[str, str, str], when: datetime, text: str,
                         labels: dict[str, Any]) -> Status:
        handle = username_of(account)
        post = self._status(account, author, when, f"@{handle} {text}", labels, citizen=True,
                            mentions=((account.uid, handle),))
        self._mentioning[account.uid].append(post)
        return post

    # --- scripting (contract tests) ------------------------------------------------------

    def script_post(self, uid: str, when: datetime, text: str) -> Status:
        with self._lock:
            account = self.by_uid[uid]
            return self._status(account, self._owner(account), when, text, {})

    def script_mention(self, uid: str, when: datetime, text: str, author: tuple[str, str, str]) -> Status:
        """A citizen's own post that @s the account (``text`` after the handle)."""
        with self._lock:
            return self._mentioning_post(self.by_uid[uid], author, when, text, {})

    def script_reply(self, parent: Status, when: datetime, text: str, author: tuple[str, str, str]) -> Status:
        with self._lock:
            return self._status(parent.account, author, when, text, {}, parent=parent)

    # --- rendering -----------------------------------------------------------------------

    def _json(self, s: Status, t: datetime, base_url: str) -> dict[str, Any]:
        edits, text = s.version_at(t)
        mentions = dict((name, uid) for uid, name in s.mentions)
        parent = s.parent
        url = f"{base_url}/@{s.username}/{s.id}"
        return {
            "id": s.id, "created_at": s.created_at.isoformat().replace("+00:00", ".000Z"),
            "in_reply_to_id": parent.id if parent else None,
            "in_reply_to_account_id": parent.author_id if parent else None,
            "sensitive": False, "spoiler_text": "", "visibility": "public", "language": "zh",
            "uri": f"{base_url}/users/{s.username}/statuses/{s.id}", "url": url,
            "replies_count": len([c for c in s.children if c.alive(t)]),
            "reblogs_count": 0, "favourites_count": 0,
            "edited_at": iso(s.versions[edits][0]) if edits else None,
            "content": content_html(text, mentions, base_url), "reblog": None,
            "account": {"id": s.author_id, "username": s.username, "acct": s.username,
                        "display_name": s.display_name, "url": f"{base_url}/@{s.username}",
                        "bot": False, "group": False},
            "media_attachments": [],
            "mentions": [{"id": uid, "username": name, "acct": name, "url": f"{base_url}/@{name}"}
                         for uid, name in s.mentions],
            "tags": [], "emojis": [], "card": None, "poll": None,
        }

    @staticmethod
    def _link(base: str, path: str, items: list[Status], extra: str) -> dict[str, str]:
        if not items:
            return {}
        return {"Link": f'<{base}{path}?{extra}max_id={items[-1].id}>; rel="next", '
                        f'<{base}{path}?{extra}min_id={items[0].id}>; rel="prev"'}

    @staticmethod
    def _window(items: list[Status], q: Mapping[str, str]) -> list[Status]:
        """Newest first, as ``max_id``/``since_id``/``min_id`` and ``limit`` cut it
        (``min_id``: the oldest of those newer, still listed newest first)."""
        try:
            limit = min(MAX_LIMIT, max(1, int(q.get("limit") or DEFAULT_LIMIT)))
        except ValueError:
            limit = DEFAULT_LIMIT
        items = sorted(items, key=lambda s: -int(s.id))
        if q.get("max_id", "").isdigit():
            items = [s for s in items if int(s.id) < int(q["max_id"])]
        if q.get("since_id", "").isdigit():
            items = [s for s in items if int(s.id) > int(q["since_id"])]
        if q.get("min_id", "").isdigit():
            items = [s for s in items if int(s.id) > int(q["min_id"])][-limit:]
        return items[:limit]

    def route(self, path: str, q: Mapping[str, str], headers: Mapping[str, str], now: datetime):
        parts = path.strip("/").split("/")
        if parts[:2] != ["api", "v1"]:
            return None
        host = headers.get("Host", "127.0.0.1")
        base = f"http://{host}"
        parts = parts[2:]
        if len(parts) == 3 and parts[0] == "accounts" and parts[2] == "statuses":
            uid = parts[1]
            return "statuses", uid if uid in self.by_uid else "-", lambda t: self._statuses(uid, q, t, base), False
        if parts[:1] == ["statuses"] and len(parts) in (2, 3) and parts[1].isdigit():
            key = parts[1]
            self._ensure(now)
            with self._lock:
                status = self.statuses.get(key)
            owner = status.account.uid if status is not None else "-"
            if len(parts) == 2:
                return "status", owner, lambda t: self._show(key, t, base), False
            if parts[2] == "context":
                return "context", owner, lambda t: self._context(key, t, base), False
            return None
        if parts == ["notifications"]:
            token = headers.get("Authorization", "").removeprefix("Bearer ").strip()
            uid = token.removeprefix("sim-") if token.startswith("sim-") else ""
            return "notifications", uid if uid in self.by_uid else "-", \
                lambda t: self._notifications(uid, q, t, base), False
        return None

    def _alive(self, key: str, t: datetime) -> Status | None:
        self._ensure(t)
        with self._lock:
            status = self.statuses.get(key)
        return status if status is not None and status.alive(t) else None

    def _statuses(self, uid: str, q: Mapping[str, str], t: datetime, base: str) -> tuple:
        if uid not in self.by_uid:
            return 404, NOT_FOUND
        self._ensure(t)
        with self._lock:
            own = [s for s in self._by_author[uid] if s.alive(t)]
        if q.get("exclude_replies") == "true":
            own = [s for s in own if s.parent is None]
        page = self._window(own, q)
        extra = "".join(f"{k}={q[k]}&" for k in ("exclude_reblogs", "exclude_replies", "limit") if k in q)
        return 200, [self._json(s, t, base) for s in page], self._link(
            base, f"/api/v1/accounts/{uid}/statuses", page, extra)

    def _show(self, key: str, t: datetime, base: str) -> tuple:
        status = self._alive(key, t)
        return (200, self._json(status, t, base)) if status else (404, NOT_FOUND)

    def _context(self, key: str, t: datetime, base: str) -> tuple:
        status = self._alive(key, t)
        if status is None:
            return 404, NOT_FOUND
        ancestors = []
        node = status.parent
        while node is not None:
            ancestors.insert(0, node)
            node = node.parent
        descendants: list[Status] = []

        def walk(node: Status) -> None:  # depth first, in thread order, as the server lists them
            for child in node.children:
                if child.alive(t):
                    descendants.append(child)
                    walk(child)

        if key not in self.hidden_threads:
            with self._lock:
                walk(status)
        return 200, {"ancestors": [self._json(s, t, base) for s in ancestors],
                     "descendants": [self._json(s, t, base) for s in descendants]}

    def _notifications(self, uid: str, q: Mapping[str, str], t: datetime, base: str) -> tuple:
        if uid not in self.by_uid:
            return 401, BAD_TOKEN
        if q.get("types[]", "mention") != "mention":
            return 200, []
        self._ensure(t)
        with self._lock:
            found = [s for s in self._mentioning[uid] if s.alive(t)]
            # replies in its threads that name it notify it too
            found += [s for s in self.statuses.values() if s.parent is not None and s.alive(t)
                      and s.author_id != uid and any(m == uid for m, _ in s.mentions)]
        page = self._window(found, q)
        notes = [{"id": s.id, "type": "mention", "created_at": self._json(s, t, base)["created_at"],
                  "account": self._json(s, t, base)["account"], "status": self._json(s, t, base)} for s in page]
        return 200, notes, self._link(base, "/api/v1/notifications", page, "types%5B%5D=mention&")

    # --- ground truth ----------------------------------------------------------------------

    def truth(self, now: datetime) -> dict[str, list[dict[str, Any]]]:
        self._ensure(now)
        posts, comments = [], []
        with self._lock:
            statuses = sorted((s for s in self.statuses.values() if s.created_at <= now), key=lambda s: int(s.id))
        for s in statuses:
            edits, text = s.version_at(now)
            root = s.root
            if s.parent is None:
                posts.append({
                    "platform": self.name, "id": s.id, "bid": None, "account_uid": s.account.uid,
                    "author_id": s.author_id, "author_name": s.display_name, "unit": s.account.unit,
                    "created_at": iso(s.created_at), "citizen": s.citizen,
                    "mentions": [uid for uid, _ in s.mentions] if s.citizen else [], "labels": dict(s.labels),
                    "text": text, "is_long": False, "is_pinned": False, "comments_restricted": False,
                    "repost_of": None, "edit_count": edits, "deleted": not s.alive(now),
                    "deleted_at": iso(s.deleted_at) if s.deleted_at and s.deleted_at <= now else None,
                    "comments_count": _live_descendants(s, now),
                })
                continue
            top = s
            while top.parent is not root:
                top = top.parent
            comments.append({
                "platform": self.name, "id": s.id, "post_id": root.id, "account_uid": s.account.uid,
                "root_id": None if top is s else top.id, "parent_id": None if top is s else s.parent.id,
                "author_id": s.author_id, "author_name": s.display_name, "created_at": iso(s.created_at),
                "text": text, "is_from_owner": s.author_id == s.account.uid, "edit_count": edits,
                "deleted": not s.alive(now), "post_deleted": not root.alive(now), "labels": dict(s.labels),
            })
        return {"posts": posts, "comments": comments}

    def adapter_options(self, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url}


def _live_descendants(status: Status, t: datetime) -> int:
    return sum(1 + _live_descendants(c, t) for c in status.children if c.alive(t))
