"""The leaders' message board adapter: a board (``fid``) is an account of the
unit whose leader it belongs to; its threads are citizens' messages to it.

A board has no posts of its own: its timeline is empty, and its threads come
through the ``board`` source, paged by the last thread id seen.  Each thread is
stored as a citizen's post naming the board's account (its root item is
decided and flagged like any citizen's message); the board's official answers
are the account's comments in that thread, read from the thread's detail.
Threads still awaiting an answer are looked up again (``status``) until one
comes, and the board's own state (待回复/办理中/已办理) is kept beside ours.
"""

from __future__ import annotations

import re
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import urlsplit

from huisheng import errors
from huisheng.adapters.base import Adapter, Http, Pace, Source
from huisheng.adapters.liuyan import parse as lparse
from huisheng.records import AccountRef, Comment, Page, Post
from huisheng.schema import Key, Table, check_url

DEFAULT_BASE = "https://liuyan.people.com.cn"
BOARD = "board"
DEFAULT_BOARD_INTERVAL = 900
#: a board's id (``fid``): digits
FID_RE = re.compile(r"[1-9][0-9]{0,9}")
#: redirects there mean a login or a verification wall
WALL_WORDS = ("login", "passport", "verify", "captcha", "denglu")
#: a 429 without Retry-After: the board's limits last minutes
DEFAULT_429_BACKOFF = 300.0


class LiuyanAdapter(Adapter):
    name: ClassVar[str] = "liuyan"
    description: ClassVar[str] = "Leaders' message boards (人民网领导留言板 JSON API)"
    label: ClassVar[tuple[str, str]] = ("领导留言板", "Leaders' message board")
    aliases: ClassVar[tuple[str, ...]] = ("领导留言板", "人民网领导留言板", "地方领导留言板", "留言板", "liuyan")
    hosts: ClassVar[tuple[str, ...]] = ("liuyan.people.com.cn",)
    default_pace: ClassVar[Pace] = Pace(min_interval=3.0, concurrency=1)
    options_schema: ClassVar[Table] = Table({
        "base_url": Key("str", default=DEFAULT_BASE, check=check_url,
                        doc="the board's API address (the simulator's in tests and the demo)"),
        "board_interval": Key("int", default=DEFAULT_BOARD_INTERVAL, low=60, high=30 * 86400,
                              doc="seconds between two reads of one board's thread list"),
    })
    source_labels: ClassVar[Mapping[str, tuple[str, str]]] = {BOARD: ("留言列表", "the board's threads")}
    parsers: ClassVar[Mapping[str, Any]] = lparse.PARSERS
    decode_body = staticmethod(lparse.decode_body)
    login_words: ClassVar[tuple[str, ...]] = WALL_WORDS
    rate_limits: ClassVar[Mapping[int, float | None]] = {429: DEFAULT_429_BACKOFF}
    status_messages: ClassVar[Mapping[int | str, str]] = {403: "refused by the board's firewall (HTTP 403)"}

    def __init__(self, http: Http, options: Mapping[str, Any] | None = None,
                 now: Callable[[], Any] | None = None):
        super().__init__(http, options, now)
        self.base_url = str(self.options.get("base_url") or DEFAULT_BASE).rstrip("/")

    @classmethod
    def check_account_id(cls, uid: str) -> str | None:
        if not FID_RE.fullmatch(uid):
            return "纯数字（留言板的 fid，如 \"4171\"）"
        return None

    def request_hosts(self) -> tuple[str, ...]:
        return (urlsplit(self.base_url).netloc,)

    # --- the Adapter methods ----------------------------------------------------------

    def timeline(self, account: AccountRef, cursor: str | None = None) -> Page[Post]:
        # a leader's board holds citizens' threads only: nothing is the account's own post
        return Page(items=(), cursor=None, complete=True)

    def sources(self, account: AccountRef) -> tuple[Source, ...]:
        interval = float(self.options.get("board_interval") or DEFAULT_BOARD_INTERVAL)
        return (Source(BOARD, interval=interval, follow=True),)

    def read_source(self, source: Source, account: AccountRef, cursor: str | None = None
                    ) -> Page[Post | Comment]:
        if source.kind != BOARD:
            return super().read_source(source, account, cursor)
        last = _load(cursor)
        payload = self._get("list", "/threads/queryThreadsList", {"fid": account.uid, "lastItem": last or "0"})
        page = lparse.parse_list(payload, account_uid=account.uid, account_name=account.name)
        if page.cursor is not None and last is not None and int(page.cursor) >= int(last):
            return Page(items=page.items, cursor=None, complete=False)  # the board ignored lastItem: stop
        return page

    def status(self, post_id: str, account: AccountRef) -> Post:
        return self._detail(post_id, account).items[0]

    def comments(self, post: Post, account: AccountRef, cursor: str | None = None) -> Page[Comment]:
        page = self._detail(post.external_id, account)
        return Page(items=tuple(page.items[1:]), cursor=None, complete=True)

    @classmethod
    def post_url(cls, *, author_id: str, external_id: str, short_id: str | None = None) -> str | None:
        return lparse.thread_url(external_id)

    @classmethod
    def comment_url(cls, *, post_external_id: str, external_id: str,
                    root_external_id: str | None = None, post_url: str | None = None) -> str | None:
        # answers have no page of their own: the thread's page shows them
        return lparse.thread_url(post_external_id)

    # --- HTTP --------------------------------------------------------------------------

    def _detail(self, tid: str, account: AccountRef) -> Page:
        payload = self._get("detail", "/v1/threads/content", {"tid": tid})
        return lparse.parse_detail(payload, account_uid=account.uid, account_name=account.name)

    def _get(self, endpoint: str, path: str, params: Mapping[str, Any]) -> Any:
        response = self.http.get(self.base_url + path, endpoint=endpoint, params=params,
                                 headers={"Accept": "application/json, text/javascript, */*; q=0.01",
                                          "X-Requested-With": "XMLHttpRequest"})
        self.raise_for_status(response, endpoint)
        return lparse.decode_body(endpoint, response.content.decode("utf-8", errors="replace"))


def _load(cursor: str | None) -> str | None:
    """The last thread id a cursor holds (the parser's ``tid``, opaque to the poller)."""
    if not cursor:
        return None
    if not cursor.isdigit():
        raise errors.ParseError("cursor", "<cursor>", "not a cursor this adapter made")
    return cursor
