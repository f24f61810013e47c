"""What every platform adapter is, and the one HTTP seam they all use.

An adapter turns a platform's HTTP responses into normalized records
(:mod:`huisheng.records`).  It never touches the database and never decides
what to fetch next beyond one page: the poller (``huisheng.monitor.poll``)
drives paging and incrementality.  All HTTP goes through :class:`Http`, which
wraps one injectable ``requests.Session``, applies the per-host politeness
gate supplied by the monitor, counts requests, and maps transport failures to
the typed errors of :mod:`huisheng.errors`.
"""

from __future__ import annotations

import abc
import contextlib
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, ContextManager, Mapping
from urllib.parse import urlsplit

import requests

from huisheng import errors
from huisheng.records import AccountRef, Comment, Page, Post


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


class Http:
    """The single HTTP seam: an injectable session plus politeness and counting.

    ``request_count`` counts every request actually sent (tests and benchmarks
    read it; the poller logs it per poll).
    """

    def __init__(self, session: requests.Session | None = None, *, gate: Gate | None = None,
                 timeout: float = 20.0, user_agent: str | None = None):
        self.session = session or requests.Session()
        self.gate = gate or _no_gate
        self.timeout = timeout
        self.request_count = 0
        if user_agent:
            self.session.headers["User-Agent"] = user_agent

    def get(self, url: str, *, endpoint: str, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None,
            allow_redirects: bool = False) -> requests.Response:
        """GET ``url``; transport failures become ``Timeout`` / ``Network``.

        Redirects are not followed by default: a redirect to a login page is a
        signal the adapter must see.
        """
        host = urlsplit(url).netloc
        with self.gate(host):
            self.request_count += 1
            try:
                return self.session.get(url, params=params, headers=headers, timeout=self.timeout,
                                        allow_redirects=allow_redirects)
            except requests.Timeout as exc:
                raise errors.Timeout(f"no answer within {self.timeout:g}s", endpoint=endpoint) from exc
            except requests.ConnectionError as exc:
                raise errors.Network(_describe_connection_error(exc), endpoint=endpoint) from exc
            except requests.RequestException as exc:
                raise errors.Network(type(exc).__name__, endpoint=endpoint) from exc


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


class Adapter(abc.ABC):
    """A platform adapter.  Subclasses are registered under the entry-point
    group ``huisheng.adapters`` (the built-in Weibo adapter included).

    ``options`` is the platform's table from the main config (base URLs,
    cookie *value* already resolved from its environment variable, …).
    ``now`` returns the current aware UTC datetime; relative platform times
    ("5分钟前") are resolved against it.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: default hosts (for ``huisheng adapters list``); the real host comes from the base URL
    hosts: ClassVar[tuple[str, ...]] = ()
    default_pace: ClassVar[Pace] = Pace(min_interval=2.0, concurrency=1)

    def __init__(self, http: Http, options: Mapping[str, Any] | None = None,
                 now: Callable[[], Any] | None = None):
        from datetime import datetime, timezone

        self.http = http
        self.options = dict(options or {})
        self.now = now or (lambda: datetime.now(timezone.utc))

    @abc.abstractmethod
    def timeline(self, account: AccountRef, cursor: str | None = None) -> Page[Post]:
        """One page of the account's own posts, newest first (pinned posts may
        come first whatever their age)."""

    def expand(self, post: Post) -> Post:
        """The post with its whole text, when ``post.is_truncated``."""
        return post

    def status(self, post_id: str, account: AccountRef) -> Post:
        """One post by id; raises ``NotFound`` when it is gone upstream."""
        raise NotImplementedError

    @abc.abstractmethod
    def comments(self, post: Post, account: AccountRef, cursor: str | None = None) -> Page[Comment]:
        """One page of the post's top-level comments (with any inline replies)."""

    def replies(self, post: Post, root: Comment, account: AccountRef,
                cursor: str | None = None) -> Page[Comment]:
        """One page of second-level replies under ``root``."""
        return Page(items=(), cursor=None, complete=True)
