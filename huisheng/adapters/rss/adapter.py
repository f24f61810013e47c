"""The feed adapter: one conditional GET per feed and poll, failures mapped.

An account is a feed: its id is the feed's address, absolute (``https://…``)
or a path under ``base_url`` (a self-hosted RSSHub's routes).  The
validators a feed answered with (ETag, Last-Modified) are kept in the
account's adapter state (``Page.state``, stored by the poller with the
entries), so the next poll asks "changed since?" and an unchanged feed costs
one 304 and nothing else.

What a feed's entries are depends on the feed: usually the account's own
publication (its posts, nothing to flag); an account listed in ``messages``
is a feed of what citizens wrote to it (an RSSHub route of a message board):
its entries are read as a mention source, each the root item of its own
thread, flagged like a mention.  Feeds have no comment threads: ``comments``
raises ``Unsupported``, so no thread is ever taken for read.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import urlsplit

from huisheng import errors
from huisheng.adapters.base import Adapter, Http, Pace, Source, TextConventions
from huisheng.adapters.rss import parse as fparse
from huisheng.records import AccountRef, Comment, Page, Post
from huisheng.schema import Key, Table, check_url

DEFAULT_BASE = "http://127.0.0.1:1200"
#: the source of a ``messages`` feed (its entries are citizens' messages)
MESSAGES = "messages"
#: an account id: an http(s) address, or a path under base_url
_PATH_RE = re.compile(r"/?[A-Za-z0-9._~%!$&'()*+,;=:@/?-]{1,63}")
_ACCEPT = "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, */*;q=0.1"


class RssAdapter(Adapter):
    """Feeds: RSS 2.0, Atom and RDF, including RSSHub's."""

    name: ClassVar[str] = "rss"
    description: ClassVar[str] = "RSS / Atom / RDF feeds (RSSHub included)"
    label: ClassVar[tuple[str, str]] = ("订阅源", "RSS feed")
    aliases: ClassVar[tuple[str, ...]] = ("订阅源", "RSS", "RSSHub", "RSS订阅", "Atom订阅")
    hosts: ClassVar[tuple[str, ...]] = ("127.0.0.1:1200",)
    # feeds are small and their hosts many; a host's spacing still applies
    default_pace: ClassVar[Pace] = Pace(min_interval=1.0, concurrency=2)
    options_schema: ClassVar[Table] = Table({
        "base_url": Key("str", default=DEFAULT_BASE, check=check_url,
                        doc="where feeds given as a path are (a self-hosted RSSHub; the simulator in tests)"),
        "messages": Key("str_list", default=(), single=True,
                        doc="accounts whose feed lists citizens' messages to them (a message board's "
                            "RSSHub route): its entries are flagged like mentions, not taken as the "
                            "account's own posts"),
        "messages_interval": Key("int", default=900, low=60, high=30 * 86400,
                                 doc="seconds between two reads of such a feed"),
    })
    text_conventions: ClassVar[TextConventions] = TextConventions()
    source_labels: ClassVar[Mapping[str, tuple[str, str]]] = {MESSAGES: ("订阅源中的群众留言", "citizens' messages in the feed")}
    parsers: ClassVar[Mapping[str, Any]] = fparse.PARSERS
    decode_body = staticmethod(fparse.decode_body)
    rate_limits_if_retry_after: ClassVar[Mapping[int, float | None]] = {503: None}
    status_errors: ClassVar[Mapping[int, type[errors.AdapterError]]] = {
        **Adapter.status_errors, 410: errors.NotFound}
    # a login wall, or a feed that moved: either way the matrix's address needs a person
    redirect_error: ClassVar[type[errors.AdapterError]] = errors.AuthRequired
    unexpected_error: ClassVar[type[errors.AdapterError]] = errors.ServerError
    status_messages: ClassVar[Mapping[int | str, str]] = {
        "redirect": "订阅源跳转到 {host}（登录页，或订阅源已迁移：请核对矩阵中的地址）"}

    @classmethod
    def decode_bytes(cls, endpoint: str, body: bytes) -> Any:
        # the bytes themselves: feedparser reads the XML prolog's encoding (GBK feeds)
        return fparse.decode_body(endpoint, body)

    def __init__(self, http: Http, options: Mapping[str, Any] | None = None,
                 now: Callable[[], Any] | None = None):
        super().__init__(http, options, now)
        self.base_url = str(self.options.get("base_url") or DEFAULT_BASE).rstrip("/")
        self.messages = frozenset(self.options.get("messages") or ())
        self.messages_interval = int(self.options.get("messages_interval") or 900)

    @classmethod
    def check_account_id(cls, uid: str) -> str | None:
        if uid.startswith(("http://", "https://")):
            ok = len(uid) <= 64 and check_url(uid) is None and not re.search(r"[\s\x00-\x1f\x7f]", uid)
        else:
            ok = bool(_PATH_RE.fullmatch(uid)) and ":" not in uid.split("/", 1)[0]
        if not ok:
            return "订阅源地址（不超过 64 个字符的 http(s):// 地址，或 base_url 下的路径，如 \"/gov/spb/news\"）"
        return None

    def request_hosts(self) -> tuple[str, ...]:
        return (urlsplit(self.base_url).netloc,)

    def feed_url(self, uid: str) -> str:
        if uid.startswith(("http://", "https://")):
            return uid
        return self.base_url + "/" + uid.lstrip("/")

    # --- reading --------------------------------------------------------------------

    def _fetch(self, url: str, state: Mapping[str, Any] | None) -> tuple[Any, dict[str, str | None], str] | None:
        """The parsed feed, its validators and the body's digest; None when
        the server says it is unchanged since the validators in ``state``."""
        headers = {"Accept": _ACCEPT}
        if state:
            if state.get("etag"):
                headers["If-None-Match"] = state["etag"]
            if state.get("modified"):
                headers["If-Modified-Since"] = state["modified"]
        response = self.http.get(url, endpoint="feed", headers=headers)
        if response.status_code == 304 and state:
            return None
        self.raise_for_status(response, "feed")
        digest = hashlib.sha256(response.content).hexdigest()[:32]
        if state and digest == state.get("digest"):
            parsed = None  # unchanged bytes: the caller needs no parse
        else:
            parsed = self.decode_body("feed", response.content)
        validators = {"etag": response.headers.get("ETag"), "modified": response.headers.get("Last-Modified")}
        return parsed, validators, digest

    def timeline(self, account: AccountRef, cursor: str | None = None) -> Page[Post]:
        if account.uid in self.messages:
            # the feed is what others wrote to the account (its source), nothing it published
            return Page(items=(), complete=True)
        url = self.feed_url(account.uid)
        # only the first page is asked conditionally: the validators are the feed's, not its pages'
        fetched = self._fetch(cursor or url, None if cursor else account.state)
        if fetched is None:
            return Page(items=(), complete=True)
        parsed, validators, digest = fetched
        if not cursor and digest == account.state.get("digest"):
            # the very bytes of the last read (a server that ignores the validators): nothing new
            return Page(items=(), complete=True, state={**validators, "digest": digest})
        page = fparse.parse_feed(parsed, account_uid=account.uid, now=self.now(), base=cursor or url)
        if cursor:
            return page
        return Page(items=page.items, cursor=page.cursor, complete=page.complete,
                    state={**validators, "digest": digest})

    def comments(self, post: Post, account: AccountRef, cursor: str | None = None) -> Page[Comment]:
        raise errors.Unsupported("feeds have no comment threads", endpoint="comments")

    def sources(self, account: AccountRef) -> tuple[Source, ...]:
        if account.uid in self.messages:
            return (Source(MESSAGES, interval=self.messages_interval),)
        return ()

    def read_source(self, source: Source, account: AccountRef, cursor: str | None = None
                    ) -> Page[Post | Comment]:
        if source.kind != MESSAGES:
            return super().read_source(source, account, cursor)
        url = self.feed_url(account.uid)
        parsed, _, _ = self._fetch(cursor or url, None)
        page = fparse.parse_feed(parsed, account_uid=account.uid, now=self.now(), base=cursor or url)
        # each entry is a citizen's message to the account: authored by its writer, addressed to the account
        items = tuple(_message(post, account) for post in page.items)
        return Page(items=items, cursor=page.cursor, complete=page.complete)

    @classmethod
    def post_url(cls, *, author_id: str, external_id: str, short_id: str | None = None) -> str | None:
        # an entry named by its link (an RSS guid that is a permalink, or no id at all) is that page;
        # an entry with an id of another kind carries its link itself (``Post.url``)
        return external_id if external_id.startswith(("http://", "https://")) else None

    @classmethod
    def comment_url(cls, *, post_external_id: str, external_id: str,
                    root_external_id: str | None = None, post_url: str | None = None) -> str | None:
        return None


def _message(post: Post, account: AccountRef) -> Post:
    """A message-board entry as a citizen's post naming the account."""
    writer = post.author_name if post.author_name and post.author_name != account.uid else ""
    author_id = "rss:" + (writer or "anonymous")[:60]
    return replace(post, author_id=author_id, author_name=writer or "匿名", mentions=(account.name,))
