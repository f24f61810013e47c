"""Feeds (the ``rss`` adapter): each of the matrix's ``rss`` accounts is a feed
at the path its id names, RSS 2.0 or Atom, with ETag and Last-Modified
(a request naming the current validators is answered 304) and RFC 5005
paging (``rel="next"``, ``?page=N``) past its newest :data:`FEED_PAGE`.

Most feeds are an account's own publication: notices, now and then revised
(the entry's ``updated`` moves, its text gains a correction).  A feed whose
account's name holds 留言 is an RSSHub-style feed of a message board: its
entries are citizens' messages to the account, labelled like the World's
mentions (role, category, needs_reply, target_unit, routing, urgent), and the
adapter's options list it under ``messages``.  Feeds have no comments, so the
truth has none of them.  Everything comes from ``(world.seed, uid, day)``.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from email.utils import format_datetime
from html import escape
from typing import Any, Mapping
from urllib.parse import quote

from huisheng.config.settings import AccountSpec
from huisheng.simulator import texts
from huisheng.simulator.platforms import register
from huisheng.simulator.world import SHANGHAI, World, is_workday, iso, poisson

NAME = "rss"
#: entries on a feed's first page (and on each later one)
FEED_PAGE = 20
#: where entries' pages are (entries are named by their link, as RSS guids that are permalinks)
SITE = "https://www.example.org"


@dataclass(eq=False)
class Entry:
    id: str
    account: AccountSpec
    created_at: datetime
    #: (time, title, text) of the original and of its revision, in time order
    versions: list[tuple[datetime, str, str]]
    author: str
    citizen: bool = False
    labels: dict[str, Any] = field(default_factory=dict)
    deleted_at: datetime | None = None

    def version_at(self, t: datetime) -> tuple[int, str, str, datetime]:
        """(edits so far, title, text, updated) as of ``t``."""
        live = [v for v in self.versions if v[0] <= t]
        updated, title, text = live[-1]
        return len(live) - 1, title, text, updated

    def alive(self, t: datetime) -> bool:
        return self.created_at <= t and (self.deleted_at is None or self.deleted_at > t)


def _split(text: str) -> tuple[str, str]:
    """A notice's title (its first clause) and the rest."""
    for mark in ("】", "：", "。", "，"):
        head, sep, rest = text.partition(mark)
        if sep and 4 <= len(head) + 1 <= 40:
            return head + sep, rest
    return text[:20], text[20:]


def plain(title: str, body: str) -> str:
    """The entry's text as a reader of the feed sees it: title, then body."""
    return f"{title}\n{body}" if body else title


@register
class FeedSim:
    name = NAME

    def __init__(self, world: World):
        self.world = world
        self.accounts = [a for a in world.matrix.accounts if a.platform == NAME and a.enabled]
        self.by_path = {"/" + a.uid.lstrip("/"): a for a in self.accounts if not a.uid.startswith("http")}
        self.entries: dict[str, list[Entry]] = {a.uid: [] for a in self.accounts}
        self._used: set[str] = set()
        self._next_day = -world.config.history_days
        self._lock = threading.RLock()

    @staticmethod
    def is_messages(account: AccountSpec) -> bool:
        return "留言" in account.name

    # --- generation ----------------------------------------------------------------

    def _id(self, kind: str, t: datetime, rng: random.Random) -> str:
        n = int(t.timestamp()) * 100 + rng.randrange(100)
        while f"{SITE}/{kind}/{n}" in self._used:
            n += 1
        self._used.add(f"{SITE}/{kind}/{n}")
        return f"{SITE}/{kind}/{n}"

    def ensure(self, t: datetime) -> None:
        target = self.world.day_index(t)
        with self._lock:
            while self._next_day <= target:
                self._generate_day(self._next_day)
                self._next_day += 1

    def _generate_day(self, d: int) -> None:
        w, cfg = self.world, self.world.config
        day = w.start.astimezone(SHANGHAI).date() + timedelta(days=d)
        pace = 1.0 if is_workday(day) else cfg.day_off_pace
        for account in self.accounts:
            rng = random.Random(f"{w.seed}:{NAME}:{account.uid}:{d}")
            level = self._level(account)
            messages = self.is_messages(account)
            rate = cfg.rate(cfg.mentions_per_day if messages else cfg.posts_per_day, level)
            for _ in range(poisson(rng, rate * (1.0 if messages else pace))):
                start = datetime.combine(day, time(0 if messages else 8), SHANGHAI)
                when = (start + timedelta(seconds=rng.randrange(0, 86400 if messages else 10 * 3600)))
                when = when.astimezone(timezone.utc).replace(microsecond=0)
                entry = self._message(account, rng, when, level) if messages else self._notice(account, rng, when)
                self.entries[account.uid].append(entry)
            self.entries[account.uid].sort(key=lambda e: (e.created_at, e.id))

    def _level(self, account: AccountSpec) -> str:
        try:
            return self.world.matrix.unit(account.unit).level
        except KeyError:
            return "community"

    def _notice(self, account: AccountSpec, rng: random.Random, when: datetime) -> Entry:
        places = self.world.places
        text = texts.post_text(rng, places, account.name, rng.random() < self.world.config.long_share)
        title, body = _split(text)
        entry = Entry(id=self._id("n", when, rng), account=account, created_at=when,
                      versions=[(when, title, body)], author=account.name)
        if rng.random() < self.world.config.edit_share * 3:
            at = when + timedelta(seconds=rng.randrange(600, 6 * 3600))
            entry.versions.append((at, title, body + texts.fill(rng.choice(texts.EDIT_TAILS), rng, places)))
        return entry

    def _message(self, account: AccountSpec, rng: random.Random, when: datetime, level: str) -> Entry:
        """A citizen's message to the account: the board names its writer."""
        written = texts.resident_comment(rng, self.world.places, level, ())
        author = self.world.citizens[rng.randrange(len(self.world.citizens))][1]
        labels = {"role": "resident", "category": written.category, "needs_reply": written.needs_reply,
                  "target_unit": account.unit if written.needs_reply else None,
                  "routing": "mention" if written.needs_reply else None, "urgent": written.urgent,
                  "hostile": None, "mentions": [account.uid]}
        # boards title a message with its opening words; the adapter keeps the text once
        title = written.text[:12] + ("…" if len(written.text) > 12 else "")
        return Entry(id=self._id("m", when, rng), account=account, created_at=when,
                     versions=[(when, title, written.text)], author=author, citizen=True, labels=labels)

    def script_post(self, uid: str, created_at: datetime, text: str) -> str:
        """A notice published on the feed at ``created_at`` (the contract tests')."""
        account = next(a for a in self.accounts if a.uid == uid)
        title, body = _split(text)
        at = created_at.astimezone(timezone.utc).replace(microsecond=0)
        with self._lock:
            entry = Entry(id=self._id("n", at, random.Random(text)), account=account,
                          created_at=at, versions=[(at, title, body)],
                          author=account.name)
            self.entries[uid].append(entry)
            self.entries[uid].sort(key=lambda e: (e.created_at, e.id))
        return entry.id

    def delete(self, entry_id: str, at: datetime) -> None:
        with self._lock:
            for entries in self.entries.values():
                for entry in entries:
                    if entry.id == entry_id:
                        entry.deleted_at = at

    def feed(self, uid: str, t: datetime) -> list[Entry]:
        """The account's entries as of ``t``, newest first."""
        self.ensure(t)
        with self._lock:
            return [e for e in reversed(self.entries[uid]) if e.alive(t)]

    # --- the wire -----------------------------------------------------------------------

    def route(self, path: str, q: Mapping[str, str], headers: Mapping[str, str], now: datetime):
        account = self.by_path.get(path)
        if account is None:
            return None
        try:
            page = max(1, int(q.get("page") or 1))
        except ValueError:
            page = 1
        return "feed", account.uid, lambda t: self._answer(account, path, page, headers, t), page == 1

    def _answer(self, account: AccountSpec, path: str, page: int, headers: Mapping[str, str], t: datetime
                ) -> tuple:
        entries = self.feed(account.uid, t)
        shown = entries[(page - 1) * FEED_PAGE: page * FEED_PAGE]
        more = len(entries) > page * FEED_PAGE
        atom = account.uid.endswith(".atom")
        body = (self._atom if atom else self._rss)(account, path, page, shown, more, t)
        etag = '"' + hashlib.sha256(body).hexdigest()[:24] + '"'
        updated = max((e.version_at(t)[3] for e in shown), default=self.world.start)
        validators = {"ETag": etag, "Last-Modified": format_datetime(updated.astimezone(timezone.utc), usegmt=True)}
        if page == 1 and etag in [v.strip() for v in (headers.get("If-None-Match") or "").split(",")]:
            return 304, b"", validators
        kind = "application/atom+xml; charset=utf-8" if atom else "application/rss+xml; charset=utf-8"
        return 200, body, {"Content-Type": kind, **validators}

    def _next(self, path: str, page: int, more: bool) -> str:
        return f'href="{escape(path)}?page={page + 1}"' if more else ""

    def _rss(self, account: AccountSpec, path: str, page: int, shown: list[Entry], more: bool, t: datetime
             ) -> bytes:
        items = []
        for e in shown:
            _, title, text, updated = e.version_at(t)
            # the description is HTML: the citizen's or the notice's words escaped once for HTML, once for XML
            html = "<p>" + escape(text) + "</p>"
            extra = f"<atom:updated>{iso(updated)}</atom:updated>" if updated > e.created_at else ""
            items.append(f"<item><title>{escape(title)}</title><link>{e.id}</link>"
                         f"<guid isPermaLink=\"true\">{e.id}</guid><author>{escape(e.author)}</author>"
                         f"<pubDate>{format_datetime(e.created_at, usegmt=True)}</pubDate>{extra}"
                         f"<description>{escape(html)}</description></item>")
        nxt = self._next(path, page, more)
        link = f'<atom:link rel="next" {nxt}/>' if nxt else ""
        return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
                f"<channel><title>{escape(account.name)}</title><link>{SITE}/{quote(account.uid.strip('/'))}</link>"
                f"<description>{escape(account.name)}</description>{link}{''.join(items)}</channel></rss>"
                ).encode("utf-8")

    def _atom(self, account: AccountSpec, path: str, page: int, shown: list[Entry], more: bool, t: datetime
              ) -> bytes:
        items = []
        for e in shown:
            _, title, text, updated = e.version_at(t)
            html = "<div>" + escape(text) + "</div>"
            items.append(f"<entry><title>{escape(title)}</title><id>{e.id}</id><link rel=\"alternate\" href=\"{e.id}\"/>"
                         f"<author><name>{escape(e.author)}</name></author><published>{iso(e.created_at)}</published>"
                         f"<updated>{iso(updated)}</updated><content type=\"html\">{escape(html)}</content></entry>")
        nxt = self._next(path, page, more)
        link = f'<link rel="next" {nxt}/>' if nxt else ""
        return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>{escape(account.name)}</title><id>{SITE}/{quote(account.uid.strip('/'))}</id>"
                f"<updated>{iso(self.world.start)}</updated>{link}{''.join(items)}</feed>").encode("utf-8")

    # --- truth and options ------------------------------------------------------------------

    def truth(self, now: datetime) -> dict[str, list[dict[str, Any]]]:
        self.ensure(now)
        posts = []
        with self._lock:
            entries = [e for uid in sorted(self.entries) for e in self.entries[uid] if e.created_at <= now]
        for e in entries:
            edits, title, text, _ = e.version_at(now)
            citizen = "rss:" + e.author[:60]
            posts.append({
                "id": e.id, "bid": None, "platform": NAME, "account_uid": e.account.uid,
                "author_id": citizen if e.citizen else e.account.uid, "author_name": e.author,
                "unit": e.account.unit, "created_at": iso(e.created_at), "citizen": e.citizen,
                "mentions": [e.account.uid] if e.citizen else [], "labels": dict(e.labels),
                # a board's title is the message's opening words: the text is the message once
                "text": text if e.citizen else plain(title, text), "is_long": False, "is_pinned": False,
                "comments_restricted": False, "repost_of": None, "edit_count": edits,
                "deleted": not e.alive(now), "deleted_at": iso(e.deleted_at) if e.deleted_at and e.deleted_at <= now else None,
                "comments_count": None,
            })
        return {"posts": posts, "comments": []}

    def adapter_options(self, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "messages": [a.uid for a in self.accounts if self.is_messages(a)]}
