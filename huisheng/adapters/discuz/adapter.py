"""The Discuz! X adapter: one forum (``fid``) of a board is an account.

Its threads are what citizens write to it: each is a post naming the account
(read through the ``threads`` source, its first post read whole before it is
decided on), and a post in the thread by one of the account's official forum
users (a moderator, the office's own user; ``officials`` lists them per
forum) is the account's answer.  Threads the officials start themselves
(announcements) are the account's own timeline, their floors comments like
any platform's.

Pages come from the HTML (UTF-8 or GBK, as the header or the page declares)
or from the mobile API (``api/mobile/index.php``) when the site has it:
``api = "auto"`` asks the API once and keeps to what answered.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from huisheng import errors
from huisheng.adapters.base import Adapter, Http, Pace, Source
from huisheng.adapters.discuz import parse as dparse
from huisheng.records import AccountRef, Comment, Page, Post
from huisheng.schema import Key, Table, check_url

DEFAULT_BASE = "https://bbs.example.invalid"
THREADS = "threads"
DEFAULT_THREADS_INTERVAL = 600
APIS = ("auto", "html", "mobile")
#: a forum's id (``fid``) and a forum user's id (``uid``): digits
FID_RE = re.compile(r"[1-9][0-9]{0,9}")
OFFICIAL_RE = re.compile(r"([1-9][0-9]{0,9}):([1-9][0-9]{0,11})")
#: redirects there mean a login wall (Discuz's member.php?mod=logging, a passport)
WALL_WORDS = ("logging", "login", "passport", "seccode")
#: Discuz's anti-CC answers 503/429 without Retry-After; bans last minutes
DEFAULT_BACKOFF = 300.0


def _check_officials(values: tuple[str, ...]) -> str | None:
    bad = [v for v in values if not OFFICIAL_RE.fullmatch(v)]
    return f"应为 \"版块fid:用户uid\" 形式（如 \"36:1001\"），实际含 \"{bad[0]}\"" if bad else None


def _check_zone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"应为时区名（如 \"Asia/Shanghai\"），实际为 \"{name}\""
    return None


class DiscuzAdapter(Adapter):
    name: ClassVar[str] = "discuz"
    description: ClassVar[str] = "Discuz! X forums (HTML pages in UTF-8 or GBK, or the mobile API)"
    label: ClassVar[tuple[str, str]] = ("论坛", "Forum")
    aliases: ClassVar[tuple[str, ...]] = ("论坛", "Discuz", "Discuz!", "BBS", "社区论坛", "discuz")
    hosts: ClassVar[tuple[str, ...]] = ("bbs.example.invalid",)
    default_pace: ClassVar[Pace] = Pace(min_interval=3.0, concurrency=1)
    options_schema: ClassVar[Table] = Table({
        "base_url": Key("str", default=DEFAULT_BASE, check=check_url,
                        doc="the board's address, where forum.php is (the simulator's in tests and the demo)"),
        "api": Key("str", default="auto", choices=APIS,
                   doc="auto: the mobile API when the site has it, else the HTML pages; html or mobile only"),
        "officials": Key("str_list", default=(), check=_check_officials,
                         doc="the official forum users of each account, as \"fid:uid\": their posts are "
                             "the account's answers"),
        "timezone": Key("str", default="Asia/Shanghai", check=_check_zone,
                        doc="the zone the board shows its times in"),
        "threads_interval": Key("int", default=DEFAULT_THREADS_INTERVAL, low=60, high=30 * 86400,
                                doc="seconds between two reads of one forum's citizens' threads"),
    })
    source_labels: ClassVar[Mapping[str, tuple[str, str]]] = {THREADS: ("版块主题列表", "the forum's threads")}
    parsers: ClassVar[Mapping[str, Any]] = dparse.PARSERS
    decode_body = staticmethod(dparse.decode_text)
    login_words: ClassVar[tuple[str, ...]] = WALL_WORDS
    # Discuz's anti-CC: a 503 or 429, or a 403 with a Retry-After
    rate_limits: ClassVar[Mapping[int, float | None]] = {429: DEFAULT_BACKOFF, 503: DEFAULT_BACKOFF}
    rate_limits_if_retry_after: ClassVar[Mapping[int, float | None]] = {403: DEFAULT_BACKOFF}
    redirect_error: ClassVar[type[errors.AdapterError]] = errors.ServerError
    unexpected_error: ClassVar[type[errors.AdapterError]] = errors.ServerError

    def __init__(self, http: Http, options: Mapping[str, Any] | None = None,
                 now: Callable[[], Any] | None = None):
        super().__init__(http, options, now)
        self.base_url = str(self.options.get("base_url") or DEFAULT_BASE).rstrip("/")
        self.zone = ZoneInfo(str(self.options.get("timezone") or "Asia/Shanghai"))
        self.officials: dict[str, set[str]] = {}
        for entry in self.options.get("officials") or ():
            fid, _, uid = entry.partition(":")
            self.officials.setdefault(fid, set()).add(uid)
        #: what ``api = "auto"`` found the site to have ("mobile"/"html"), once asked
        self._api: str | None = None if self.options.get("api", "auto") == "auto" else self.options["api"]

    @classmethod
    def decode_bytes(cls, endpoint: str, body: bytes) -> Any:
        return dparse.decode_bytes(endpoint, body)

    def login_wall(self, location: str) -> bool:
        # the wall is member.php?mod=logging: its words are in the query
        return any(word in location.lower() for word in self.login_words)

    @classmethod
    def check_account_id(cls, uid: str) -> str | None:
        return None if FID_RE.fullmatch(uid) else "论坛版块的 fid（数字）"

    def request_hosts(self) -> tuple[str, ...]:
        return (urlsplit(self.base_url).netloc,)

    @classmethod
    def post_url(cls, *, author_id: str, external_id: str, short_id: str | None = None) -> str | None:
        # a thread's address is on its board, which ids alone do not name: the
        # stored post keeps the one its page gave (several boards may be configured)
        return None

    @classmethod
    def comment_url(cls, *, post_external_id: str, external_id: str,
                    root_external_id: str | None = None, post_url: str | None = None) -> str | None:
        return dparse.post_link(dparse.site_of(post_url), post_external_id, external_id)

    # -- HTTP ---------------------------------------------------------------------------

    def _context(self, account: AccountRef) -> dparse.Context:
        return dparse.Context(account_uid=account.uid, account_name=account.name,
                              officials=frozenset(self.officials.get(account.uid, ())), now=self.now(),
                              zone=self.zone, site=self.base_url)

    def _fetch(self, endpoint: str, path: str, params: Mapping[str, Any]) -> Any:
        response = self.http.get(self.base_url + path, endpoint=endpoint, params=params)
        self.raise_for_status(response, endpoint)
        if endpoint in dparse.MOBILE_ENDPOINTS:
            return dparse.decode_bytes(endpoint, response.content)
        return dparse.decode_bytes(endpoint, response.content, response.headers.get("Content-Type"))

    def _uses_mobile(self, fid: str) -> bool:
        """Whether to read the mobile API: as configured, or (``auto``) as the
        site answered the first time it was asked."""
        if self._api is None:
            try:
                self._fetch("mobile_forumdisplay", "/api/mobile/index.php",
                            {"version": "4", "module": "forumdisplay", "fid": fid, "page": "1"})
            except (errors.NotFound, errors.ParseError):
                self._api = "html"  # no API there, or a page in its place
            else:
                self._api = "mobile"
        return self._api == "mobile"

    def _forum_page(self, account: AccountRef, cursor: str | None) -> Page[Post]:
        page = int(cursor or 1)
        ctx = self._context(account)
        if self._uses_mobile(account.uid):
            payload = self._fetch("mobile_forumdisplay", "/api/mobile/index.php",
                                  {"version": "4", "module": "forumdisplay", "fid": account.uid, "page": page,
                                   "orderby": "dateline"})
            return dparse.parse_mobile_forumdisplay(payload, page=page, ctx=ctx)
        soup = self._fetch("forumdisplay", "/forum.php", {"mod": "forumdisplay", "fid": account.uid,
                                                          "filter": "author", "orderby": "dateline", "page": page})
        return dparse.parse_forumdisplay(soup, page=page, ctx=ctx)

    def _thread_page(self, tid: str, account: AccountRef, page: int) -> dparse.ThreadPage:
        ctx = self._context(account)
        if self._uses_mobile(account.uid):
            payload = self._fetch("mobile_viewthread", "/api/mobile/index.php",
                                  {"version": "4", "module": "viewthread", "tid": tid, "page": page})
            return dparse.parse_mobile_viewthread_page(payload, page=page, post_id=tid, ctx=ctx)
        soup = self._fetch("viewthread", "/forum.php", {"mod": "viewthread", "tid": tid, "page": page})
        return dparse.parse_viewthread_page(soup, page=page, post_id=tid, ctx=ctx)

    # -- reads ----------------------------------------------------------------------------

    def timeline(self, account: AccountRef, cursor: str | None = None) -> Page[Post]:
        """The threads the account's officials started, newest first."""
        listed = self._forum_page(account, cursor)
        own = tuple(p for p in listed.items if p.author_id == account.uid)
        return replace(listed, items=own)

    def sources(self, account: AccountRef) -> tuple[Source, ...]:
        interval = int(self.options.get("threads_interval") or DEFAULT_THREADS_INTERVAL)
        return (Source(THREADS, interval=interval, follow=True, expand=True),)

    def read_source(self, source: Source, account: AccountRef, cursor: str | None = None) -> Page[Post]:
        """The threads citizens started in the forum, newest first: each names the account."""
        if source.kind != THREADS:
            raise errors.Unsupported(f"no source {source.kind!r}", endpoint=source.kind)
        listed = self._forum_page(account, cursor)
        return replace(listed, items=tuple(p for p in listed.items if p.author_id != account.uid))

    def expand(self, post: Post) -> Post:
        """The thread with its first post's message."""
        account = AccountRef(platform=self.name, uid=post.account_uid)
        whole = self._thread_page(post.external_id, account, 1).thread
        return replace(post, text=whole.text, is_truncated=False, comments_count=whole.comments_count,
                       created_at=whole.created_at or post.created_at,
                       created_at_approx=whole.created_at_approx if whole.created_at else post.created_at_approx)

    def status(self, post_id: str, account: AccountRef) -> Post:
        return self._thread_page(post_id, account, 1).thread

    def comments(self, post: Post, account: AccountRef, cursor: str | None = None) -> Page[Comment]:
        """One page of the thread's floors after the first post (Discuz threads are flat)."""
        return self._thread_page(post.external_id, account, int(cursor or 1)).comments
