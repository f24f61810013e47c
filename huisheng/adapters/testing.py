"""A kit for adapter authors: a scripted platform to test the rest of
huisheng against, and the contract every adapter must keep.

* :class:`FakePlatform` and :class:`FakeAdapter` — an in-memory platform
  scripted per account (posts, comments, replies, pages and cursors, a thread
  answered short, deletions, scripted errors) and the adapter that reads it,
  through the same parsers ``huisheng parse`` runs.  Tests of the poller, the
  store and the decide step use it where the platform does not matter, and as
  a second platform beside the built-in one.  Installed under a name
  (``FakePlatform.install``), it is what a ``FakeAdapter`` built by the
  poller's factory reads (its ``scenario`` option names it).
* :class:`AdapterContract` and :class:`Stage` — the contract test suite.  An
  adapter package subclasses ``AdapterContract`` in its tests and gives it a
  :class:`Stage`: the platform (a simulator, recorded responses, a fake
  server) its adapter reads, scripted by the tests.  The suite checks paging
  and opaque cursors, that a listing is complete only when the platform said
  it ended (and never when it answered empty for a thread it counts), every
  error kind mapped to the exception tree, idempotent re-reads, deletions,
  links, and the adapter's config options validated by the config's schema
  machinery.  See ``docs/writing-an-adapter.md``.

pytest runs the suite (the classes follow its conventions); nothing here
imports it until a test is skipped.
"""

from __future__ import annotations

import abc
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, ClassVar, Mapping

from huisheng import errors
from huisheng.adapters.base import Adapter, Http, Pace, TextConventions
from huisheng.records import AccountRef, Comment, Page, Post, Shortfall
from huisheng.schema import Key, KeyLines, Table, Validator

#: the error kinds a platform signals that every adapter maps (``AdapterError.kind``)
ERROR_KINDS = ("timeout", "network", "server_error", "rate_limited", "blocked", "auth_required", "parse_error")

_RAISED: dict[str, type[errors.AdapterError]] = {
    cls.kind: cls for cls in (errors.Timeout, errors.Network, errors.ServerError, errors.RateLimited,
                              errors.Blocked, errors.AuthRequired, errors.NotFound, errors.Unsupported)}


# --- the scripted platform ----------------------------------------------------------


@dataclass
class _Item:
    id: str
    author_id: str
    author_name: str
    text: str
    created_at: datetime
    deleted: bool = False


@dataclass
class _Post(_Item):
    account_uid: str = ""
    #: the text a timeline shows of a long post (None: the whole text)
    preview: str | None = None


@dataclass
class _Comment(_Item):
    post_id: str = ""
    #: the top-level comment a reply is under
    root_id: str | None = None


@dataclass
class _Fault:
    kind: str
    endpoint: str
    account: str
    #: requests still to fail (None: every one)
    times: int | None


_INSTALLED: dict[str, FakePlatform] = {}


class FakePlatform:
    """An in-memory platform scripted by a test.

    Ids are increasing numbers (as text); times start at ``start`` and move by
    a minute per item unless given.  ``page_size`` is the length of every
    listing's pages; ``inline`` how many of a comment's replies (the oldest)
    come with it in the comment listing, as many platforms show a few.  A
    capability switched off (``replies``, ``status``, ``expand``) is one the
    platform does not offer: its adapter raises ``Unsupported``.  Thread-safe:
    the poller's workers read it at once.
    """

    def __init__(self, *, page_size: int = 3, inline: int = 0, replies: bool = True, status: bool = True,
                 expand: bool = True, start: datetime = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)):
        self.page_size = page_size
        self.inline = inline
        self.offers = {"replies": replies, "status": status, "expand": expand}
        self.now = start
        self.posts: dict[str, _Post] = {}
        self.comments: dict[str, _Comment] = {}
        #: requests served, by endpoint
        self.reads: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._next = 1000
        self._faults: list[_Fault] = []
        self._short: set[str] = set()

    # -- scripting ------------------------------------------------------------------

    def install(self, scenario: str = "default") -> FakePlatform:
        """What a ``FakeAdapter`` with this ``scenario`` option reads (the
        poller's factory builds adapters without a platform in hand)."""
        _INSTALLED[scenario] = self
        return self

    def uninstall(self, scenario: str = "default") -> None:
        _INSTALLED.pop(scenario, None)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)

    def _id(self, at: datetime | None) -> tuple[str, datetime]:
        with self._lock:
            self._next += 1
            if at is None:
                self.now += timedelta(minutes=1)
            return str(self._next), at or self.now

    def post(self, account_uid: str, text: str, *, author: tuple[str, str] | None = None,
             preview: str | None = None, at: datetime | None = None) -> str:
        """A post on the account's timeline (by the account unless ``author``
        says who), newest so far; ``preview``: what the timeline shows of it."""
        ext, when = self._id(at)
        author_id, author_name = author or (account_uid, f"account {account_uid}")
        with self._lock:
            self.posts[ext] = _Post(ext, author_id, author_name, text, when, account_uid=account_uid,
                                    preview=preview)
        return ext

    def comment(self, post_id: str, text: str, *, author: tuple[str, str] = ("900001", "居民"),
                under: str | None = None, at: datetime | None = None) -> str:
        """A comment under the post, by ``author`` (id, name); a reply under the
        top-level comment ``under``."""
        ext, when = self._id(at)
        with self._lock:
            if post_id not in self.posts or (under is not None and under not in self.comments):
                raise KeyError(under or post_id)
            self.comments[ext] = _Comment(ext, author[0], author[1], text, when, post_id=post_id, root_id=under)
        return ext

    def delete(self, external_id: str) -> None:
        """The post or comment disappears (a top-level comment's replies with it)."""
        with self._lock:
            item = self.posts.get(external_id) or self.comments[external_id]
            item.deleted = True

    def edit(self, external_id: str, text: str) -> None:
        with self._lock:
            item = self.posts.get(external_id) or self.comments[external_id]
            item.text = text

    def fail(self, kind: str, *, endpoint: str = "*", account: str = "*", times: int | None = None) -> None:
        """Requests (of ``endpoint`` and ``account``, or all) fail as the
        platform signals error kind ``kind`` (an ``AdapterError.kind``:
        ``parse_error`` is a response of a shape the parser refuses), the next
        ``times`` of them or every one until :meth:`heal`."""
        if kind not in _RAISED and kind != "parse_error":
            raise ValueError(f"no such error kind: {kind!r}")
        with self._lock:
            self._faults.append(_Fault(kind, endpoint, account, times))

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()

    def short(self, post_id: str, on: bool = True) -> None:
        """The post's comment listing answers empty while its counter still
        counts its comments (a platform hiding a big thread)."""
        with self._lock:
            (self._short.add if on else self._short.discard)(post_id)

    # -- serving ------------------------------------------------------------------------

    def _serve(self, endpoint: str, account: str) -> str | None:
        """Count a request; raise the scripted error, or say ``parse_error``."""
        with self._lock:
            self.reads[endpoint] += 1
            for fault in self._faults:
                if fault.endpoint in ("*", endpoint) and fault.account in ("*", account) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    if fault.kind == "parse_error":
                        return "parse_error"
                    raise _RAISED[fault.kind](f"scripted {fault.kind}", endpoint=endpoint)
        return None

    def _alive(self, item: _Item) -> bool:
        if item.deleted:
            return False
        if isinstance(item, _Comment):
            post = self.posts[item.post_id]
            root = self.comments.get(item.root_id) if item.root_id else None
            return not post.deleted and (root is None or not root.deleted)
        return True

    def _count(self, post_id: str) -> int:
        return sum(1 for c in self.comments.values() if c.post_id == post_id and self._alive(c))

    def _post_json(self, p: _Post, *, whole: bool) -> dict[str, Any]:
        text = p.text if whole or p.preview is None else p.preview
        return {"id": p.id, "author": {"id": p.author_id, "name": p.author_name}, "text": text,
                "at": p.created_at.isoformat(), "long": p.preview is not None and not whole,
                "comments": self._count(p.id)}

    def _comment_json(self, c: _Comment) -> dict[str, Any]:
        replies = sum(1 for r in self.comments.values() if r.root_id == c.id and self._alive(r))
        return {"id": c.id, "author": {"id": c.author_id, "name": c.author_name}, "text": c.text,
                "at": c.created_at.isoformat(), "root": c.root_id, "replies": replies}

    def _page(self, items: list[Any], cursor: str | None, render: Callable[[Any], list[dict]]) -> dict[str, Any]:
        """Items newest (highest id) first from after ``cursor``: one page and
        where the next starts (None at the end)."""
        items = sorted(items, key=lambda i: -int(i.id))
        if cursor is not None:
            items = [i for i in items if int(i.id) < int(cursor)]
        chunk = items[:self.page_size]
        more = len(items) > self.page_size
        return {"items": [shown for i in chunk for shown in render(i)], "next": chunk[-1].id if more else None}

    def _with_inline(self, c: _Comment) -> list[dict[str, Any]]:
        kids = sorted((r for r in self.comments.values() if r.root_id == c.id and self._alive(r)),
                      key=lambda r: int(r.id))
        return [self._comment_json(c), *(self._comment_json(r) for r in kids[:self.inline])]

    def timeline_json(self, uid: str, cursor: str | None) -> dict[str, Any]:
        with self._lock:
            posts = [p for p in self.posts.values() if p.account_uid == uid and self._alive(p)]
            return self._page(posts, cursor, lambda p: [self._post_json(p, whole=False)])

    def comments_json(self, post_id: str, cursor: str | None) -> dict[str, Any]:
        with self._lock:
            if post_id in self._short:
                return {"items": [], "next": None, "total": self._count(post_id)}
            tops = [c for c in self.comments.values()
                    if c.post_id == post_id and c.root_id is None and self._alive(c)]
            return {**self._page(tops, cursor, self._with_inline), "total": self._count(post_id)}

    def replies_json(self, root_id: str, cursor: str | None) -> dict[str, Any]:
        with self._lock:
            kids = [c for c in self.comments.values() if c.root_id == root_id and self._alive(c)]
            return self._page(kids, cursor, lambda c: [self._comment_json(c)])

    def status_json(self, post_id: str) -> dict[str, Any] | None:
        with self._lock:
            post = self.posts.get(post_id)
            return self._post_json(post, whole=True) if post is not None and self._alive(post) else None


# --- its adapter --------------------------------------------------------------------


def _field(payload: Mapping[str, Any], name: str, endpoint: str, kind: type | tuple[type, ...] = str) -> Any:
    value = payload.get(name) if isinstance(payload, Mapping) else None
    if not isinstance(value, kind):
        raise errors.ParseError(endpoint, name, "missing" if value is None else "unexpected type")
    return value


def _time(value: str, endpoint: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise errors.ParseError(endpoint, "at", "not an ISO 8601 time") from None


def _author(item: Mapping[str, Any], endpoint: str) -> tuple[str, str]:
    author = _field(item, "author", endpoint, dict)
    return _field(author, "id", endpoint), _field(author, "name", endpoint)


def parse_post(item: Any, *, account_uid: str = "", endpoint: str = "status", platform: str = "fake") -> Post:
    """One post of the fake platform's shape."""
    ext = _field(item, "id", endpoint)
    author_id, author_name = _author(item, endpoint)
    return Post(platform=platform, external_id=ext, account_uid=account_uid, author_id=author_id,
                author_name=author_name, created_at=_time(_field(item, "at", endpoint), endpoint),
                created_at_approx=False, text=_field(item, "text", endpoint),
                url=FakeAdapter.post_url(author_id=author_id, external_id=ext),
                is_truncated=bool(item.get("long")), comments_count=_field(item, "comments", endpoint, int),
                raw=item)


def parse_timeline(payload: Any, *, account_uid: str = "", now: datetime | None = None, post_id: str = "",
                   page: int = 1, platform: str = "fake") -> Page[Post]:
    """A page of an account's posts: ``{"items": [post…], "next": cursor|null}``."""
    items = _field(payload, "items", "timeline", list)
    cursor = payload.get("next")
    return Page(items=tuple(parse_post(i, account_uid=account_uid, endpoint="timeline", platform=platform)
                            for i in items), cursor=cursor, complete=cursor is None)


def parse_comments(payload: Any, *, account_uid: str = "", now: datetime | None = None, post_id: str = "",
                   page: int = 1, platform: str = "fake", endpoint: str = "comments") -> Page[Comment]:
    """A page of a post's comments (or of a comment's replies):
    ``{"items": [comment…], "next": cursor|null, "total": n}``; an empty page
    while ``total`` counts comments is a short read, never complete."""
    items = []
    for item in _field(payload, "items", endpoint, list):
        ext = _field(item, "id", endpoint)
        author_id, author_name = _author(item, endpoint)
        root = item.get("root")
        items.append(Comment(platform=platform, external_id=ext, post_id=post_id, author_id=author_id,
                             author_name=author_name, created_at=_time(_field(item, "at", endpoint), endpoint),
                             created_at_approx=False, text=_field(item, "text", endpoint), root_id=root,
                             parent_id=root, is_from_owner=author_id == account_uid,
                             replies_count=_field(item, "replies", endpoint, int), raw=item))
    cursor = payload.get("next")
    total = payload.get("total")
    if cursor is None and not items and total:
        return Page(items=(), cursor=None, complete=False, total=total, incomplete=Shortfall(got=0, claimed=total))
    return Page(items=tuple(items), cursor=cursor, complete=cursor is None, total=total)


def _mangled(payload: dict[str, Any]) -> dict[str, Any]:
    """A response whose shape changed (the ``parse_error`` fault)."""
    return {("rows" if key == "items" else key): value for key, value in payload.items()}


class FakeAdapter(Adapter):
    """Reads a :class:`FakePlatform`: the one given, else the one installed
    under its ``scenario`` option.  Every read counts as one request
    (``http.request_count``), as the poller and the benchmarks count them.
    A subclass with another ``name`` is a second platform."""

    name: ClassVar[str] = "fake"
    description: ClassVar[str] = "an in-memory platform scripted by tests (huisheng.adapters.testing)"
    label: ClassVar[tuple[str, str]] = ("测试平台", "test platform")
    aliases: ClassVar[tuple[str, ...]] = ("测试平台",)
    hosts: ClassVar[tuple[str, ...]] = ("fake.invalid",)
    default_pace: ClassVar[Pace] = Pace(min_interval=0.001, concurrency=4)
    options_schema: ClassVar[Table] = Table({
        "scenario": Key("str", default="default", doc="the installed FakePlatform it reads (FakePlatform.install)"),
    })
    text_conventions: ClassVar[TextConventions] = TextConventions(mention_sign="@", mention_name=r"[\w\-·]{1,30}")
    parsers: ClassVar[Mapping[str, Callable[..., Any]]] = {"timeline": parse_timeline, "comments": parse_comments}

    def __init__(self, http: Http, options: Mapping[str, Any] | None = None,
                 now: Callable[[], Any] | None = None, platform: FakePlatform | None = None):
        super().__init__(http, options, now)
        scenario = str(self.options.get("scenario") or "default")
        found = platform or _INSTALLED.get(scenario)
        if found is None:
            raise errors.ConfigError(f"no FakePlatform installed as {scenario!r}", key=f"platforms.{self.name}.scenario")
        self.platform = found

    def _serve(self, endpoint: str, account: AccountRef | str, render: Callable[[], Any]) -> Any:
        uid = account.uid if isinstance(account, AccountRef) else account
        if not self.platform.offers.get(endpoint, True):
            raise errors.Unsupported(f"{self.name} has no {endpoint}", endpoint=endpoint)
        self.http.request_count += 1
        broken = self.platform._serve(endpoint, uid)
        payload = render()
        return _mangled(payload) if broken and isinstance(payload, dict) else payload

    def timeline(self, account: AccountRef, cursor: str | None = None) -> Page[Post]:
        payload = self._serve("timeline", account, lambda: self.platform.timeline_json(account.uid, cursor))
        return parse_timeline(payload, account_uid=account.uid, platform=self.name)

    def expand(self, post: Post) -> Post:
        payload = self._serve("expand", post.account_uid, lambda: self.platform.status_json(post.external_id))
        if payload is None:
            raise errors.NotFound(endpoint="expand")
        whole = parse_post(payload, account_uid=post.account_uid, endpoint="expand", platform=self.name)
        return replace(post, text=whole.text, is_truncated=False)

    def status(self, post_id: str, account: AccountRef) -> Post:
        payload = self._serve("status", account, lambda: self.platform.status_json(post_id))
        if payload is None:
            raise errors.NotFound(endpoint="status")
        return parse_post(payload, account_uid=account.uid, platform=self.name)

    def comments(self, post: Post, account: AccountRef, cursor: str | None = None) -> Page[Comment]:
        payload = self._serve("comments", account, lambda: self.platform.comments_json(post.external_id, cursor))
        return parse_comments(payload, account_uid=account.uid, post_id=post.external_id, platform=self.name)

    def replies(self, post: Post, root: Comment, account: AccountRef,
                cursor: str | None = None) -> Page[Comment]:
        payload = self._serve("replies", account, lambda: self.platform.replies_json(root.external_id, cursor))
        return parse_comments(payload, account_uid=account.uid, post_id=post.external_id, platform=self.name,
                              endpoint="replies")

    @classmethod
    def post_url(cls, *, author_id: str, external_id: str, short_id: str | None = None) -> str | None:
        return f"https://fake.invalid/{author_id}/{external_id}"

    @classmethod
    def comment_url(cls, *, post_external_id: str, external_id: str,
                    root_external_id: str | None = None, post_url: str | None = None) -> str | None:
        return f"https://fake.invalid/p/{post_external_id}#c{external_id}"


# --- the contract ----------------------------------------------------------------------


class Stage(abc.ABC):
    """The platform an adapter under contract test reads, scripted by the
    tests: one per test, closed after it.  The account's timeline starts
    empty; what the tests publish on it is all it holds."""

    #: the adapter class under test
    adapter_class: ClassVar[type[Adapter]]

    @abc.abstractmethod
    def adapter(self) -> Adapter:
        """A fresh adapter reading this stage."""

    @abc.abstractmethod
    def account(self) -> AccountRef:
        """The account the tests publish on."""

    @abc.abstractmethod
    def page_size(self, listing: str) -> int:
        """How many items one page of ``listing`` ("timeline", "comments",
        "replies") holds: the tests publish more than two pages' worth."""

    @abc.abstractmethod
    def publish(self, text: str) -> str:
        """A new post of the account, newest so far: its external id."""

    @abc.abstractmethod
    def comment(self, post_id: str, text: str, *, under: str | None = None) -> str | None:
        """A citizen's comment under the post (a reply under the top-level
        comment ``under``): its external id; None on a platform without
        comment threads (feeds), whose adapter must then say so."""

    @abc.abstractmethod
    def delete(self, external_id: str) -> None:
        """The post or comment disappears upstream."""

    def fail(self, kind: str) -> bool:
        """From now on requests fail the way the platform signals error kind
        ``kind`` (one of :data:`ERROR_KINDS`); False when the stage cannot
        make the platform do that (that kind's test is skipped)."""
        return False

    def heal(self) -> None:
        """Requests succeed again."""

    def empty_thread(self, post_id: str) -> bool:
        """The platform answers the post's comment listing empty while its
        counter still counts comments; False when the stage cannot."""
        return False

    def bad_options(self) -> Mapping[str, Any]:
        """Values of the adapter's options its schema must refuse, by key."""
        return {}

    def close(self) -> None:
        """Stop whatever the stage started."""


def _skip(reason: str) -> None:
    import pytest

    pytest.skip(reason)


def _walk(read: Callable[[str | None], Page], limit: int = 100) -> list[Page]:
    """Every page of a listing, following its cursors."""
    pages, cursor = [], None
    for _ in range(limit):
        page = read(cursor)
        pages.append(page)
        if page.cursor is None:
            return pages
        assert isinstance(page.cursor, str), f"a cursor is an opaque string, not {type(page.cursor).__name__}"
        cursor = page.cursor
    raise AssertionError(f"no end after {limit} pages")


def _fingerprint(item: Post | Comment) -> tuple:
    """What a re-read must give again (a relative time may resolve differently)."""
    return (item.kind, item.platform, item.external_id, item.author_id, item.text,
            None if item.created_at_approx else item.created_at)


class AdapterContract:
    """The contract tests.  Subclass it as ``Test…`` and implement
    :meth:`make_stage`; every ``test_`` method here runs against your adapter
    (pytest collects them).  A capability the platform lacks is answered
    ``Unsupported``; the tests that need it then check exactly that."""

    def make_stage(self) -> Stage:
        raise NotImplementedError("return the Stage your adapter reads")

    def setup_method(self, method: Any) -> None:
        self.stage = self.make_stage()
        self.cls = self.stage.adapter_class

    def teardown_method(self, method: Any) -> None:
        self.stage.close()

    # -- helpers ------------------------------------------------------------------------

    def _posts(self, adapter: Adapter) -> list[Post]:
        account = self.stage.account()
        pages = _walk(lambda cursor: adapter.timeline(account, cursor))
        return [p for page in pages for p in page.items if p.author_id == account.uid]

    def _thread(self, adapter: Adapter, post_id: str) -> tuple[list[Page[Comment]], Post]:
        post = next(p for p in self._posts(adapter) if p.external_id == post_id)
        return _walk(lambda cursor: adapter.comments(post, self.stage.account(), cursor)), post

    def _no_threads(self, post_id: str, comment_ids: Any) -> bool:
        """Whether the stage's platform has no comment threads (its ``comment``
        gave None); its adapter must then answer a thread ``Unsupported``."""
        if all(c is not None for c in comment_ids):
            return False
        adapter = self.stage.adapter()
        post = next(p for p in self._posts(adapter) if p.external_id == post_id)
        try:
            adapter.comments(post, self.stage.account(), None)
        except errors.Unsupported as exc:
            assert exc.endpoint, "Unsupported names its endpoint"
            return True
        raise AssertionError("a platform without comment threads answers a thread Unsupported, never empty")

    # -- what the adapter declares ----------------------------------------------------------

    def test_declares_what_is_platform_specific(self) -> None:
        cls = self.cls
        assert isinstance(cls.name, str) and cls.name.isidentifier() and cls.name == cls.name.lower()
        assert isinstance(cls.default_pace, Pace) and cls.default_pace.min_interval > 0
        assert cls.label is None or (len(cls.label) == 2 and all(cls.label))
        assert isinstance(cls.text_conventions, TextConventions)
        conventions = cls.text_conventions
        for pattern in (conventions.reply_prefix_re, conventions.repost_chain_re, conventions.emoticon_re,
                        conventions.mention_re, conventions.repost_words_re):
            assert pattern is None or pattern.pattern  # compiles
        assert cls.options_schema is None or isinstance(cls.options_schema, Table)
        assert all(callable(parser) for parser in cls.parsers.values())
        assert cls.check_account_id(self.stage.account().uid) is None
        assert cls.check_account_id("") and cls.check_account_id("two words")

    def test_options_are_validated_by_the_config_schema(self) -> None:
        import tempfile
        from pathlib import Path

        table = self.cls.options_schema or Table({})
        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / "huisheng.toml"
            validator = Validator(file, KeyLines(""), environ={})
            validator.table({}, table, ("platforms", self.cls.name))
            assert validator.errors == [], "the defaults of its options must validate"
            text = f"[platforms.{self.cls.name}]\nno_such_option = 1\n"
            file.write_text(text, encoding="utf-8")
            validator = Validator(file, KeyLines(text), environ={})
            validator.table({"no_such_option": 1}, table, ("platforms", self.cls.name))
            [error] = validator.errors
            assert (error.file, error.key, error.line) == (str(file), f"platforms.{self.cls.name}.no_such_option", 2)
            for key, value in self.stage.bad_options().items():
                validator = Validator(file, KeyLines(""), environ={})
                validator.table({key: value}, table, ("platforms", self.cls.name))
                assert [e.key for e in validator.errors] == [f"platforms.{self.cls.name}.{key}"], (key, value)

    # -- paging, cursors, completeness ---------------------------------------------------

    def test_the_timeline_pages_to_its_end_newest_first(self) -> None:
        n = 2 * self.stage.page_size("timeline") + 1
        published = [self.stage.publish(f"第{i}条公告：本周道路施工安排") for i in range(n)]
        pages = _walk(lambda cursor: self.stage.adapter().timeline(self.stage.account(), cursor))
        assert len(pages) >= 3
        for page in pages[:-1]:
            assert page.cursor is not None and page.complete is False, "a page with more to come is not complete"
        assert pages[-1].complete is True, "the listing's end, as the platform said it, is complete"
        mine = [p.external_id for page in pages for p in page.items if p.author_id == self.stage.account().uid]
        assert mine == list(reversed(published)), "every post once, newest first"

    def test_a_thread_pages_to_its_end(self) -> None:
        post = self.stage.publish("关于小区停车的征求意见")
        n = 2 * self.stage.page_size("comments") + 1
        tops = {self.stage.comment(post, f"第{i}位居民：建议增加车位") for i in range(n)}
        if self._no_threads(post, tops):
            return
        pages, _ = self._thread(self.stage.adapter(), post)
        for page in pages[:-1]:
            assert page.complete is False
        assert pages[-1].complete is True
        listed = [c.external_id for page in pages for c in page.items if c.root_id is None]
        assert sorted(listed) == sorted(tops), "every top-level comment once"
        assert all(c.post_id == post for page in pages for c in page.items)

    def test_replies_page_to_their_end_or_are_unsupported(self) -> None:
        post = self.stage.publish("停水通知")
        root = self.stage.comment(post, "什么时候来水？")
        if self._no_threads(post, [root]):
            return
        n = 2 * self.stage.page_size("replies") + 1
        kids = {self.stage.comment(post, f"我家也停了{i}", under=root) for i in range(n)}
        adapter = self.stage.adapter()
        pages, parent = self._thread(adapter, post)
        top = next(c for page in pages for c in page.items if c.external_id == root)
        try:
            replies = _walk(lambda cursor: adapter.replies(parent, top, self.stage.account(), cursor))
        except errors.Unsupported:
            return  # a platform without reply threads says so; the poller concludes nothing
        assert replies[-1].complete is True and all(p.complete is False for p in replies[:-1])
        listed = [c.external_id for page in replies for c in page.items if c.external_id != root]
        assert sorted(listed) == sorted(kids)
        assert all(c.root_id == root for page in replies for c in page.items if c.external_id != root)

    def test_an_empty_answer_for_a_counted_thread_is_not_complete(self) -> None:
        post = self.stage.publish("意见征集")
        if self._no_threads(post, [self.stage.comment(post, f"意见{i}") for i in range(3)]):
            return
        if not self.stage.empty_thread(post):
            _skip("the stage cannot make the platform answer a counted thread empty")
        pages, _ = self._thread(self.stage.adapter(), post)
        assert not any(page.complete for page in pages), "nothing may be concluded gone from such a read"
        assert pages[-1].incomplete is not None and pages[-1].incomplete.claimed >= 3

    def test_reading_again_gives_the_same_records(self) -> None:
        post = self.stage.publish("便民服务时间调整")
        threads = not self._no_threads(post, [self.stage.comment(post, f"收到{i}") for i in range(2)])
        adapter = self.stage.adapter()
        first = [_fingerprint(p) for p in self._posts(adapter)]
        thread = [_fingerprint(c) for page in self._thread(adapter, post)[0] for c in page.items] if threads else []
        again = self.stage.adapter()
        assert [_fingerprint(p) for p in self._posts(again)] == first
        if threads:
            assert [_fingerprint(c) for page in self._thread(again, post)[0] for c in page.items] == thread

    # -- deletions and links -----------------------------------------------------------------

    def test_deleted_items_are_gone_from_complete_reads(self) -> None:
        kept, gone = self.stage.publish("保留的帖子"), self.stage.publish("将删除的帖子")
        stay, leave = self.stage.comment(kept, "留下的评论"), self.stage.comment(kept, "将删除的评论")
        threads = not self._no_threads(kept, [stay, leave])
        adapter = self.stage.adapter()
        before = self._posts(adapter)
        self.stage.delete(gone)
        if threads:
            self.stage.delete(leave)
        after = self.stage.adapter()
        assert [p.external_id for p in self._posts(after)] == [kept]
        if threads:
            pages, _ = self._thread(after, kept)
            assert pages[-1].complete is True
            assert [c.external_id for page in pages for c in page.items] == [stay]
        try:
            after.status(gone, self.stage.account())
        except errors.Unsupported:
            return
        except errors.NotFound:
            pass
        else:
            raise AssertionError("a deleted post's status must raise NotFound")
        alive = next(p for p in before if p.external_id == kept)
        assert after.status(kept, self.stage.account()).external_id == alive.external_id

    def test_links_are_the_adapters_own(self) -> None:
        post_id = self.stage.publish("链接测试")
        comment_id = self.stage.comment(post_id, "评论链接")
        post = next(p for p in self._posts(self.stage.adapter()) if p.external_id == post_id)
        link = self.cls.post_url(author_id=post.author_id, external_id=post.external_id, short_id=post.short_id)
        if link is None:
            # an address ids alone do not make (a server of the platform's
            # own): the post keeps the one the platform gave, or none
            assert post.url is None or post.url.startswith(("https://", "http://"))
        else:
            assert post.url == link, "a stored post's URL is the one the adapter builds for it"
        comment_link = None if comment_id is None else self.cls.comment_url(post_external_id=post_id,
                                                                           external_id=comment_id, post_url=post.url)
        for url in (link, comment_link):
            assert url is None or url.startswith(("https://", "http://"))


def _error_test(kind: str) -> Callable[[AdapterContract], None]:
    def test(self: AdapterContract) -> None:
        self.stage.publish("任意一条")
        if not self.stage.fail(kind):
            _skip(f"the stage cannot make the platform signal {kind}")
        try:
            self.stage.adapter().timeline(self.stage.account(), None)
        except errors.AdapterError as exc:
            assert exc.kind == kind, f"{kind} raised as {type(exc).__name__} ({exc.kind})"
            assert exc.endpoint, "an adapter error names its endpoint"
        else:
            raise AssertionError(f"{kind}: nothing raised")
        self.stage.heal()
        assert self._posts(self.stage.adapter()), "reads work again once the platform does"

    test.__name__ = f"test_the_platform_signalling_{kind}_raises_it"
    test.__doc__ = f"A {kind} of the platform is the exception tree's {_kind_class(kind)}."
    return test


def _kind_class(kind: str) -> str:
    return {**{k: c.__name__ for k, c in _RAISED.items()}, "parse_error": "ParseError"}[kind]


for _kind in ERROR_KINDS:
    setattr(AdapterContract, f"test_the_platform_signalling_{_kind}_raises_it", _error_test(_kind))


# --- the fake's own stage -------------------------------------------------------------------


@dataclass
class FakeStage(Stage):
    """The fake platform as a contract stage (``tests/test_adapter_contract.py``)."""

    platform: FakePlatform = field(default_factory=FakePlatform)
    uid: str = "100200300"
    adapter_class: ClassVar[type[Adapter]] = FakeAdapter

    def adapter(self) -> Adapter:
        return FakeAdapter(Http(), platform=self.platform)

    def account(self) -> AccountRef:
        return AccountRef(platform=FakeAdapter.name, uid=self.uid, name="测试账号")

    def page_size(self, listing: str) -> int:
        return self.platform.page_size

    def publish(self, text: str) -> str:
        return self.platform.post(self.uid, text)

    def comment(self, post_id: str, text: str, *, under: str | None = None) -> str:
        return self.platform.comment(post_id, text, under=under)

    def delete(self, external_id: str) -> None:
        self.platform.delete(external_id)

    def fail(self, kind: str) -> bool:
        self.platform.fail(kind)
        return True

    def heal(self) -> None:
        self.platform.heal()

    def empty_thread(self, post_id: str) -> bool:
        self.platform.short(post_id)
        return True

    def bad_options(self) -> Mapping[str, Any]:
        return {"scenario": 3}


__all__ = ["ERROR_KINDS", "AdapterContract", "FakeAdapter", "FakePlatform", "FakeStage", "Stage",
           "parse_comments", "parse_post", "parse_timeline"]
