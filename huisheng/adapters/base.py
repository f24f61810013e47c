"""What every platform adapter is, and the one HTTP seam they all use.

An adapter turns a platform's HTTP responses into normalized records
(:mod:`huisheng.records`).  It never touches the database and never decides
what to fetch next beyond one page: the poller (``huisheng.polling.poll``)
drives paging and incrementality.  All HTTP goes through :class:`Http`, which
wraps one injectable ``requests.Session``, applies the per-host politeness
gate supplied by the monitor, counts requests, and maps transport failures to
the typed errors of :mod:`huisheng.errors`.

Every request has a *total* deadline.  ``requests``' own timeout applies to
each socket read, so a server trickling one byte at a time would hold a request
open forever; here a watchdog shuts the request's socket down when its deadline
passes (or when the process stops, see :class:`Cancel`), whatever phase the
request is in.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import heapq
import itertools
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, ContextManager, Mapping
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from huisheng import errors
from huisheng.adapters.payload import load_json
from huisheng.records import AccountRef, Comment, Page, Post

if TYPE_CHECKING:
    from huisheng.schema import Table


@dataclass(frozen=True)
class Pace:
    """Politeness for one host: minimum seconds between request starts, and how
    many requests may be in flight at once."""

    min_interval: float
    concurrency: int = 1


#: ``gate(host)`` returns a context manager held for the duration of a request
Gate = Callable[[str], ContextManager[None]]


def _no_gate(host: str) -> ContextManager[None]:
    return contextlib.nullcontext()


#: a body larger than this is refused (a misbehaving or hostile server)
MAX_BODY_BYTES = 32 * 1024 * 1024
_CHUNK = 64 * 1024


class Cancel:
    """Set once when the process must stop now: every request in flight is cut
    and no new one starts (the pacer's waits end too).  One per process."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._lock = threading.Lock()
        self._watches: set[_Watch] = set()

    def set(self) -> None:
        self.event.set()
        with self._lock:
            watches = list(self._watches)
        for watch in watches:
            watch.fire()

    def is_set(self) -> bool:
        return self.event.is_set()

    def _add(self, watch: _Watch) -> None:
        with self._lock:
            self._watches.add(watch)
        if self.event.is_set():
            watch.fire()

    def _discard(self, watch: _Watch) -> None:
        with self._lock:
            self._watches.discard(watch)


class _Watch:
    """One request's deadline: when it passes (or the process is cancelled),
    the sockets the request uses are shut down, which ends any blocked read."""

    def __init__(self, seconds: float, cancel: Cancel | None):
        self.deadline = time.monotonic() + seconds
        self.fired = False
        #: the request is over: its socket may be back in the pool, never cut it then
        self._done = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._cancel = cancel

    def __enter__(self) -> _Watch:
        _current.watch = self
        _WATCHDOG.add(self)
        if self._cancel is not None:
            self._cancel._add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
        if self._cancel is not None:
            self._cancel._discard(self)
        _current.watch = None

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            _shutdown(sock)

    def fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    # the plain socket's shutdown (an SSLSocket's own would drop its TLS state
    # under the reading thread); it wakes a blocked recv at once
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _Watchdog:
    """One thread firing every request's deadline (a timer thread per request
    costs more than a fast request itself).  Finished watches leave its heap
    when their deadline comes up."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, watch: _Watch) -> None:
        with self._cond:
            heapq.heappush(self._heap, (watch.deadline, next(self._seq), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="huisheng-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is watch:  # sooner than what the thread waits for
                self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2]._done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                watch = heapq.heappop(self._heap)[2]
                self._cond.release()
                try:
                    watch.fire()
                finally:
                    self._cond.acquire()


_WATCHDOG = _Watchdog()

#: the watch of the request this thread is making (urllib3 runs in the caller's thread)
_current = threading.local()


def _attach(sock: socket.socket | None) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.attach(sock)


class _WatchedMixin:
    def _new_conn(self):  # a fresh TCP socket (connecting, then the TLS handshake)
        sock = super()._new_conn()
        _attach(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any):  # a kept-alive or just-connected socket
        _attach(self.sock)
        return super().request(*args, **kwargs)


class _WatchedHTTPConnection(_WatchedMixin, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedMixin, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections report their sockets to the watch."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy: str, **kwargs: Any):
        manager = super().proxy_manager_for(proxy, **kwargs)
        if type(manager) is urllib3.ProxyManager:
            manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager


class HttpSession(requests.Session):
    """The session every adapter's requests go through by default: a
    ``requests.Session`` that reads the proxy environment once per host.
    ``requests`` reads it (and walks ``no_proxy``) on every request, which
    cost as much as the rest of the client's work on a 304; a daemon's
    environment does not change under it."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[override]
        if proxies or not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert, tuple(sorted(self.proxies.items())))
        found = self._environment.get(key)
        if found is None:
            found = self._environment[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return {**found, "proxies": dict(found["proxies"])}


class Http:
    """The single HTTP seam: an injectable session plus politeness and counting.

    ``timeout`` is the total deadline of one request in seconds, from the
    first byte sent to the last byte read (the wait for the pacer's slot not
    included).  ``cancel`` (shared by a process) cuts requests in flight when
    the process must stop.  ``request_count`` counts every request actually
    sent (tests and benchmarks read it; the poller logs it per poll).
    """

    def __init__(self, session: requests.Session | None = None, *, gate: Gate | None = None,
                 timeout: float = 20.0, user_agent: str | None = None, cancel: Cancel | None = None):
        self.session = session or HttpSession()
        self.gate = gate or _no_gate
        self.timeout = timeout
        self.cancel = cancel
        self.request_count = 0
        if user_agent:
            self.session.headers["User-Agent"] = user_agent
        for prefix in ("http://", "https://"):
            # A session handed in with its own transport keeps it.
            if type(self.session.get_adapter(prefix)) is requests.adapters.HTTPAdapter:
                self.session.mount(prefix, _WatchedAdapter())

    def get(self, url: str, *, endpoint: str, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None,
            allow_redirects: bool = False, lane: str | None = None) -> requests.Response:
        """GET ``url`` and read its whole body within the deadline; transport
        failures and overruns become ``Timeout`` / ``Network`` (``Cancelled``
        when the process is stopping).

        Redirects are not followed by default: a redirect to a login page is a
        signal the adapter must see.  ``lane`` names a stricter pace of its own
        the request also waits for (an endpoint the platform limits harder,
        see ``Adapter.lanes``): the gate is asked for ``"HOST#LANE"`` first.
        """
        host = urlsplit(url).netloc
        with self.gate(f"{host}#{lane}") if lane else contextlib.nullcontext(), self.gate(host):
            self._check_cancel(endpoint)
            self.request_count += 1
            with _Watch(self.timeout, self.cancel) as watch:
                try:
                    response = self.session.get(url, params=params, headers=headers, timeout=self.timeout,
                                                allow_redirects=allow_redirects, stream=True)
                    try:
                        self._read_body(response, watch, endpoint)
                    finally:
                        response.close()
                except errors.AdapterError:
                    raise
                except Exception as exc:
                    if watch.fired:  # whatever the cut socket made the reader raise
                        raise self._overrun(endpoint) from exc
                    if isinstance(exc, requests.Timeout):
                        raise errors.Timeout(f"no answer within {self.timeout:g}s", endpoint=endpoint) from exc
                    if isinstance(exc, requests.ConnectionError):
                        raise errors.Network(_describe_connection_error(exc), endpoint=endpoint) from exc
                    if isinstance(exc, requests.RequestException):
                        raise errors.Network(type(exc).__name__, endpoint=endpoint) from exc
                    raise
                if watch.fired:  # a cut socket may also look like a short, complete body
                    raise self._overrun(endpoint)
        return response

    def _read_body(self, response: requests.Response, watch: _Watch, endpoint: str) -> None:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise errors.ServerError(f"response larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB",
                                         endpoint=endpoint)
            if watch.fired or watch.remaining() <= 0:
                raise self._overrun(endpoint)
            chunks.append(chunk)
        response._content = b"".join(chunks)

    def _overrun(self, endpoint: str) -> errors.AdapterError:
        if self.cancel is not None and self.cancel.is_set():
            return errors.Cancelled(endpoint=endpoint)
        return errors.Timeout(f"response not complete within {self.timeout:g}s", endpoint=endpoint)

    def _check_cancel(self, endpoint: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise errors.Cancelled(endpoint=endpoint)


def _describe_connection_error(exc: requests.ConnectionError) -> str:
    # requests nests the real cause deeply; keep the message short and free of
    # URLs (which may carry tokens) by naming the innermost exception type only.
    cause: BaseException | None = exc
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__
    inner = cause.args[0] if cause is not None and cause.args else None
    if inner is not None and isinstance(inner, BaseException):
        cause = inner
    return f"connection failed ({type(cause).__name__})"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class Source:
    """A listing of an account beside its timeline: what citizens write *to*
    the account rather than under its posts (mentions).  The poller reads each
    on its own interval, backs it off on its own errors and keeps its own
    cursor; see :meth:`Adapter.sources`."""

    kind: str
    #: seconds between two reads of one account's source; None: at every poll
    interval: float | None = None
    #: the posts it finds are followed: while their mention still awaits an
    #: answer, each read checks their counters and reads their changed threads
    follow: bool = False
    #: the posts it lists are previews (``Post.is_truncated``, e.g. only a
    #: discussion's title): a new one is read whole (``Adapter.expand``) before
    #: it is stored and decided on, as on a timeline
    expand: bool = False


@dataclass(frozen=True)
class TextConventions:
    """How a platform's text marks what the decide step reads past rather than
    as the writer's own words: whom a reply answers, others' text quoted in a
    repost, emoticons, mentions.  Each pattern is a regular expression matched
    on the text as the decide step normalizes it (NFKC, lower case, simplified
    Chinese).  None: the platform has no such syntax; an adapter that declares
    none claims none."""

    #: a reply's opening naming whom it answers (group 1: the name)
    reply_prefix: str | None = None
    #: where others' quoted text begins, up to the end (a repost chain)
    repost_chain: str | None = None
    #: an emoticon written as text
    emoticon: str | None = None
    #: the sign that opens a mention, and what a mentioned name may hold
    mention_sign: str | None = None
    mention_name: str | None = None
    #: words that only say "a repost"
    repost_words: str | None = None

    # compiled once per conventions (a frozen dataclass keeps its __dict__)
    @functools.cached_property
    def reply_prefix_re(self) -> re.Pattern[str] | None:
        return re.compile(self.reply_prefix) if self.reply_prefix else None

    @functools.cached_property
    def repost_chain_re(self) -> re.Pattern[str] | None:
        return re.compile(self.repost_chain) if self.repost_chain else None

    @functools.cached_property
    def emoticon_re(self) -> re.Pattern[str] | None:
        return re.compile(self.emoticon) if self.emoticon else None

    @functools.cached_property
    def mention_re(self) -> re.Pattern[str] | None:
        if not self.mention_sign or not self.mention_name:
            return None
        return re.compile(re.escape(self.mention_sign) + f"(?:{self.mention_name})")

    @functools.cached_property
    def repost_words_re(self) -> re.Pattern[str] | None:
        return re.compile(self.repost_words) if self.repost_words else None


#: what an adapter declaring no conventions has
NO_CONVENTIONS = TextConventions()

#: the methods an adapter may answer with ``Unsupported``, in words for district
#: staff (zh) and in English (``status`` lists what a platform cannot do)
CAPABILITY_NAMES = {
    "expand": ("读取长帖全文", "reading a long post's whole text"),
    "status": ("按编号查询帖子（删除检测）", "looking a post up by its id (deletion checks)"),
    "replies": ("读取评论下的回复", "reading the replies under a comment"),
    "comments": ("读取帖子下的评论", "reading the comments under a post"),
    "repost_text": ("识别转发中账号自己的话（以转发作答）", "telling a repost's own words (answers by repost)"),
}

#: what :meth:`Adapter.raise_for_status` says of a status an error class stands for
_STATUS_WORDS: Mapping[type[errors.AdapterError], str] = {
    errors.AuthRequired: "login required (HTTP {status})",
    errors.Blocked: "access refused (HTTP {status})",
    errors.NotFound: "not found (HTTP {status})",
    errors.RateLimited: "too many requests (HTTP {status})",
}

#: ids fit the store's 64-character columns and are sent back as parameters
_ID_RE = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")


class Adapter(abc.ABC):
    """A platform adapter.  Subclasses are registered under the entry-point
    group ``huisheng.adapters`` (the built-in one included).

    Everything platform-specific is declared here: the name, hosts and default
    pace; the keys of its config table; what its account ids look like; the
    links to a post and to a comment; its text conventions; the parsers
    ``huisheng parse`` runs.  Nothing outside the adapter's package knows any
    of it.  A listing or lookup the platform does not offer raises
    :class:`~huisheng.errors.Unsupported` (the defaults here do), never an
    answer that claims more than the adapter knows; a page is complete only
    when the adapter says so (``Page.complete``).

    ``options`` is the platform's table from the main config (base URLs,
    cookie *value* already resolved from its environment variable, …).
    ``now`` returns the current aware UTC datetime; relative platform times
    ("5分钟前") are resolved against it.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: what district staff call the platform (zh, en) in messages; None: its name
    label: ClassVar[tuple[str, str] | None] = None
    #: what people call the platform (the matrix's CSV import accepts these)
    aliases: ClassVar[tuple[str, ...]] = ()
    #: default hosts (for ``huisheng adapters list``); the real host comes from the base URL
    hosts: ClassVar[tuple[str, ...]] = ()
    default_pace: ClassVar[Pace] = Pace(min_interval=2.0, concurrency=1)
    #: the keys of its ``[platforms.NAME]`` table beside the pace keys every
    #: platform has, declared with the config's schema machinery; None: none
    options_schema: ClassVar[Table | None] = None
    #: how its texts mark replies, quotes, emoticons and mentions
    text_conventions: ClassVar[TextConventions] = NO_CONVENTIONS
    #: each of its sources beside the timeline (``Source.kind``) in words, zh and en
    source_labels: ClassVar[Mapping[str, tuple[str, str]]] = {}
    #: endpoint → parser of one response (the decoded body, then the keyword
    #: context ``account_uid``, ``now``, ``post_id``, ``page``), for ``huisheng parse``
    parsers: ClassVar[Mapping[str, Callable[..., Any]]] = {}
    #: stricter paces of their own for endpoints the platform limits harder
    #: (``Http.get(lane=…)``); the option ``<lane>_min_interval`` overrides one
    lanes: ClassVar[Mapping[str, Pace]] = {}
    # What an HTTP status means (:meth:`raise_for_status`); a platform declares
    # only where it differs.
    #: words (lower case) in a redirect's address that mark a login or
    #: verification wall (see :meth:`login_wall`)
    login_words: ClassVar[tuple[str, ...]] = ()
    #: statuses that ask us to slow down → seconds to back off when the answer
    #: names none (None: the poller's own backoff)
    rate_limits: ClassVar[Mapping[int, float | None]] = {429: None}
    #: the same for statuses that ask it only when they carry a Retry-After
    rate_limits_if_retry_after: ClassVar[Mapping[int, float | None]] = {}
    #: other statuses and what they mean (a 410 gone for good, a platform's own codes)
    status_errors: ClassVar[Mapping[int, type[errors.AdapterError]]] = {
        401: errors.AuthRequired, 403: errors.Blocked, 404: errors.NotFound}
    #: what a redirect that is no login wall, and a status nothing else
    #: names, mean
    redirect_error: ClassVar[type[errors.AdapterError]] = errors.AdapterError
    unexpected_error: ClassVar[type[errors.AdapterError]] = errors.AdapterError
    #: the platform's own words for a status, or for "login_wall" and
    #: "redirect"; ``{status}`` and ``{host}`` are filled in (never a path or
    #: a query: they may carry tokens)
    status_messages: ClassVar[Mapping[int | str, str]] = {}

    def __init__(self, http: Http, options: Mapping[str, Any] | None = None,
                 now: Callable[[], Any] | None = None):
        from datetime import datetime, timezone

        self.http = http
        self.options = dict(options or {})
        self.now = now or (lambda: datetime.now(timezone.utc))

    @staticmethod
    def decode_body(endpoint: str, body: str) -> Any:
        """A response body as the parsers take it (JSON unless the adapter
        says otherwise); ``ParseError`` naming the endpoint when it is not."""
        return load_json(endpoint, body)

    @classmethod
    def decode_bytes(cls, endpoint: str, body: bytes) -> Any:
        """A saved response's bytes as the parsers take them: UTF-8 through
        :meth:`decode_body` unless the platform declares its charset in the
        body itself (an HTML meta tag, an XML prolog) and says so here."""
        return cls.decode_body(endpoint, body.decode("utf-8", errors="replace"))

    def raise_for_status(self, response: requests.Response, endpoint: str) -> None:
        """Nothing for a 200; else the exception tree's error its status means,
        as the class declares it: a redirect to a login wall is
        ``AuthRequired`` (another one ``redirect_error``, naming its host),
        ``rate_limits`` are ``RateLimited`` with :meth:`retry_after`, then
        ``status_errors``, any 5xx ``ServerError``, the rest ``unexpected_error``."""
        status = response.status_code
        if status == 200:
            return
        words = self.status_messages
        if 300 <= status < 400:
            location = response.headers.get("Location", "")
            # the host only (a relative one is the host asked): a path or query may carry tokens
            host = (location and urlsplit(urljoin(response.url or "", location)).netloc) or "elsewhere"
            if self.login_wall(location):
                text = words.get("login_wall", "redirected to a login or verification page ({host})")
                raise errors.AuthRequired(text.format(status=status, host=host), endpoint=endpoint)
            text = words.get("redirect", "unexpected redirect (HTTP {status}) to {host}")
            raise self.redirect_error(text.format(status=status, host=host), endpoint=endpoint)
        if status in self.rate_limits or (status in self.rate_limits_if_retry_after
                                          and response.headers.get("Retry-After")):
            backoff = self.rate_limits.get(status, self.rate_limits_if_retry_after.get(status))
            text = words.get(status, "too many requests (HTTP {status})")
            raise errors.RateLimited(text.format(status=status), endpoint=endpoint,
                                     retry_after=self.retry_after(response, backoff))
        if status in self.status_errors:
            cls = self.status_errors[status]
            default = _STATUS_WORDS.get(cls, "HTTP {status}")
        elif status >= 500:
            cls, default = errors.ServerError, "HTTP {status}"
        else:
            cls, default = self.unexpected_error, "unexpected HTTP {status}"
        raise cls(words.get(status, default).format(status=status), endpoint=endpoint)

    def login_wall(self, location: str) -> bool:
        """Whether a redirect to ``location`` is the platform's login or
        verification wall: one of ``login_words`` in its host or path."""
        target = urlsplit(location)
        return any(word in (target.netloc + target.path).lower() for word in self.login_words)

    def retry_after(self, response: requests.Response, backoff: float | None) -> float | None:
        """Seconds a rate-limited answer asks us to wait: its Retry-After, else
        (none, or 0) ``backoff`` where the platform declares one."""
        retry = parse_retry_after(response.headers.get("Retry-After"))
        if not retry and backoff is not None:
            return backoff
        return retry

    @classmethod
    def check_account_id(cls, uid: str) -> str | None:
        """Why ``uid`` cannot be an account's id on this platform (a phrase for
        the matrix's errors, in Chinese), None when it can.  Any platform's
        ids fit the store: up to 64 characters, no spaces or control
        characters; an adapter narrows this to its platform's own form."""
        if not _ID_RE.fullmatch(uid):
            return "不超过 64 个字符、不含空格和控制字符的账号 ID"
        return None

    def request_hosts(self) -> tuple[str, ...]:
        """The hosts this adapter sends requests to, as configured (a
        platform-wide slow-down pauses them all): its ``hosts`` unless it says
        otherwise."""
        return self.hosts

    @abc.abstractmethod
    def timeline(self, account: AccountRef, cursor: str | None = None) -> Page[Post]:
        """One page of the account's own posts, newest first (pinned posts may
        come first whatever their age)."""

    def expand(self, post: Post) -> Post:
        """The post with its whole text, when ``post.is_truncated``."""
        raise errors.Unsupported("no way to read a post's whole text", endpoint="expand")

    def status(self, post_id: str, account: AccountRef) -> Post:
        """One post by id; raises ``NotFound`` when it is gone upstream."""
        raise errors.Unsupported("no way to look a post up by its id", endpoint="status")

    @abc.abstractmethod
    def comments(self, post: Post, account: AccountRef, cursor: str | None = None) -> Page[Comment]:
        """One page of the post's top-level comments (with any inline replies)."""

    def replies(self, post: Post, root: Comment, account: AccountRef,
                cursor: str | None = None) -> Page[Comment]:
        """One page of second-level replies under ``root``."""
        raise errors.Unsupported("no reply threads under comments", endpoint="replies")

    def sources(self, account: AccountRef) -> tuple[Source, ...]:
        """The account's sources beside its timeline (none: the platform
        offers no way to see mentions, or this account lacks what it needs)."""
        return ()

    def read_source(self, source: Source, account: AccountRef, cursor: str | None = None
                    ) -> Page[Post | Comment]:
        """One page of a source, roughly newest first: the posts that mention
        the account, and the comments that do, each with its post in the same
        page.  ``complete`` only when the platform said the listing ended.
        Only called for a source :meth:`sources` declared."""
        raise errors.Unsupported(f"no source {source.kind!r}", endpoint=source.kind)

    def repost_text(self, post: Post) -> str | None:
        """What the author wrote in a repost, without the quoted chain; None
        when it wrote nothing of its own (a bare repost is no answer)."""
        raise errors.Unsupported("no way to tell a repost's own words from what it quotes",
                                 endpoint="repost_text")

    def retry_cursor(self, listing: str, attempt: int) -> str | None:
        """Where retry number ``attempt`` (1, 2, …) of a ``listing``
        ("comments" or "replies") that ended short (``Page.incomplete``)
        starts: a cursor into the platform's fallback endpoint where it has
        one; None reads from the start as usual."""
        return None

    @classmethod
    def post_url(cls, *, author_id: str, external_id: str, short_id: str | None = None) -> str | None:
        """The public page of a post, for people (digests, alerts); None when
        the platform has none."""
        return None

    @classmethod
    def comment_url(cls, *, post_external_id: str, external_id: str,
                    root_external_id: str | None = None, post_url: str | None = None) -> str | None:
        """A public page that shows this comment itself (``root_external_id``:
        the top-level comment a reply is under; ``post_url``: the address the
        stored post keeps, which names the site where ids alone do not); None
        when the platform has none (the post's page is linked instead)."""
        return None
