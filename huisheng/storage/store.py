"""The store: batched, idempotent upserts of normalized records, edit history,
tombstones.

Every function works inside a transaction the caller owns (a ``Session`` or a
``Connection``) and never commits, so the poller commits the items and its
cursors together.  Per batch: one SELECT of the rows already stored, one
multi-row ``INSERT … ON CONFLICT (platform, external_id) DO NOTHING`` for new
rows (race-safe: when another worker stored the same item first, its row is
picked up and compared like any stored row), executemany UPDATEs only for rows
that changed, and one UPDATE refreshing ``last_seen_at`` of the unchanged ones.
Core statements only: no ORM unit of work per row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

from sqlalchemy import (BigInteger, Connection, Integer, Row, String, Table, any_, bindparam, func,
                        insert, literal, select, type_coerce, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from huisheng import records
from huisheng.errors import StoreError
from huisheng.storage import models

POSTS: Table = models.Post.__table__  # type: ignore[assignment]
COMMENTS: Table = models.Comment.__table__  # type: ignore[assignment]
EDITS: Table = models.ItemEdit.__table__  # type: ignore[assignment]
TOMBSTONES: Table = models.Tombstone.__table__  # type: ignore[assignment]

ItemKind = Literal["post", "comment"]
ITEM_TABLES: dict[str, Table] = {"post": POSTS, "comment": COMMENTS}

Db = Session | Connection

#: a timestamp already in the database's own form (see ``_insert_new``)
_SEEN = type_coerce(bindparam("_seen"), NullType())


@dataclass(frozen=True)
class PostState:
    """What the poller needs to know about a stored post."""

    id: int
    account_id: int | None
    content_hash: str
    #: hash of the last truncated preview seen (see :func:`post_needs_expand`)
    preview_hash: str | None
    is_truncated: bool
    is_pinned: bool
    comments_count: int | None
    comments_read_count: int | None
    deleted_at: datetime | None
    created_at: datetime | None
    #: the platform's own edit counter as last stored
    edit_count: int = 0
    #: the last thread read fell short of the counter (see :func:`mark_thread_incomplete`)
    comments_incomplete_reason: str | None = None
    comments_retry_at: datetime | None = None
    comments_retry_attempts: int = 0


@dataclass(frozen=True)
class CommentState:
    id: int
    post_id: int
    content_hash: str
    root_external_id: str | None
    replies_count: int | None
    replies_read_count: int | None
    deleted_at: datetime | None
    #: the last read of its replies fell short (see :func:`mark_replies_incomplete`)
    replies_incomplete_reason: str | None = None
    replies_retry_at: datetime | None = None
    replies_retry_attempts: int = 0


@dataclass(frozen=True)
class UpsertResult:
    """Row ids by what happened to them in one upsert."""

    inserted: tuple[int, ...] = ()
    #: the content hash changed: an ``ItemEdit`` holds the text before
    edited: tuple[int, ...] = ()
    #: a tombstoned item seen again
    restored: tuple[int, ...] = ()
    #: counters, flags or links changed (or a preview completed), no edit
    updated: tuple[int, ...] = ()
    unchanged: int = 0
    #: external id → row id for every item of the batch
    ids: Mapping[str, int] = field(default_factory=dict)


# --- small pure helpers --------------------------------------------------------


def post_needs_expand(state: PostState | None, post: records.Post) -> bool:
    """Whether a truncated timeline preview must be expanded before storing:
    the post is new, only its preview is stored, or the preview changed since
    the full text was stored, or the platform counts a new edit (an edit past
    the preview's end leaves the preview as it was)."""
    if not post.is_truncated:
        return False
    if state is None or state.is_truncated or post.edit_count > state.edit_count:
        return True
    return state.preview_hash is not None and state.preview_hash != post.content_hash


def _among(conn: Connection, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values`` as one bound parameter (a JSON array on SQLite, an
    array on PostgreSQL): one cached statement whatever the batch size, no
    per-value rendering, no parameter limit."""
    if conn.dialect.name == "sqlite":
        array = literal(json.dumps(list(values), ensure_ascii=False))
        each = func.json_each(array).table_valued("value")
        return column.in_(select(each.c.value))
    item_type = BigInteger() if isinstance(column.type, (Integer, BigInteger)) else String()
    return column == any_(literal(list(values), postgresql.ARRAY(item_type)))


def _raw(value: Mapping[str, Any]) -> dict[str, Any]:
    return value if isinstance(value, dict) else dict(value)


def _created(stored_at: datetime | None, stored_approx: bool, new_at: datetime | None,
             new_approx: bool) -> tuple[datetime | None, bool]:
    """A relative time ("5分钟前") resolves differently on every fetch: keep
    the first one unless an exact time arrives."""
    if _created_moves(stored_at, stored_approx, new_at, new_approx):
        return new_at, new_approx
    return stored_at, stored_approx


def _created_moves(stored_at: datetime | None, stored_approx: bool, new_at: datetime | None,
                   new_approx: bool) -> bool:
    return new_at is not None and (stored_at is None or (stored_approx and not new_approx))


def _known(new: Any, stored: Any) -> Any:
    """An endpoint that does not give a counter leaves the stored one."""
    return stored if new is None else new


def _conn(db: Db) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def _insert_ignoring_conflicts(conn: Connection, table: Table):
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise StoreError(f"unsupported database: {dialect}")
    return (stmt.on_conflict_do_nothing(index_elements=["platform", "external_id"])
            .returning(table.c.external_id, table.c.id))


def _dedupe(items: Iterable[records.Item]) -> dict[tuple[str, str], Any]:
    """One record per (platform, external_id); the last one wins, but a link
    (root/parent) given by an earlier occurrence is not lost."""
    out: dict[tuple[str, str], Any] = {}
    for item in items:
        key = (item.platform, item.external_id)
        prev = out.get(key)
        if prev is not None and item.kind == "comment":
            item = replace(item, root_id=item.root_id or prev.root_id,
                           parent_id=item.parent_id or prev.parent_id)
        out[key] = item
    return out


def _by_platform(batch: dict[tuple[str, str], Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for (platform, _), item in batch.items():
        groups.setdefault(platform, []).append(item)
    return groups


class _Outcome:
    """Accumulates an :class:`UpsertResult` over platforms."""

    def __init__(self) -> None:
        self.inserted: list[int] = []
        self.edited: list[int] = []
        self.restored: list[int] = []
        self.updated: list[int] = []
        self.unchanged = 0
        self.ids: dict[str, int] = {}

    def result(self) -> UpsertResult:
        return UpsertResult(tuple(self.inserted), tuple(self.edited), tuple(self.restored),
                            tuple(self.updated), self.unchanged, self.ids)


# --- reading state ---------------------------------------------------------------

_POST_STATE_COLS = (
    POSTS.c.external_id, POSTS.c.id, POSTS.c.account_id, POSTS.c.content_hash,
    POSTS.c.preview_hash, POSTS.c.is_truncated, POSTS.c.is_pinned, POSTS.c.comments_count,
    POSTS.c.reposts_count, POSTS.c.likes_count, POSTS.c.comments_open, POSTS.c.edit_count,
    POSTS.c.comments_read_count, POSTS.c.deleted_at, POSTS.c.created_at,
    POSTS.c.created_at_approx, POSTS.c.comments_incomplete_reason, POSTS.c.comments_retry_at,
    POSTS.c.comments_retry_attempts, POSTS.c.platform_state,
)
_COMMENT_STATE_COLS = (
    COMMENTS.c.external_id, COMMENTS.c.id, COMMENTS.c.post_id, COMMENTS.c.content_hash,
    COMMENTS.c.root_external_id, COMMENTS.c.parent_external_id, COMMENTS.c.is_from_owner,
    COMMENTS.c.like_count, COMMENTS.c.replies_count, COMMENTS.c.replies_read_count,
    COMMENTS.c.deleted_at, COMMENTS.c.created_at, COMMENTS.c.created_at_approx,
    COMMENTS.c.replies_incomplete_reason, COMMENTS.c.replies_retry_at, COMMENTS.c.replies_retry_attempts,
)


def _select_state(conn: Connection, table: Table, cols: Sequence[Any], platform: str,
                  external_ids: Sequence[str]) -> dict[str, Row]:
    out: dict[str, Row] = {}
    if not external_ids:  # a page with nothing on it (a feed answered 304) asks the database nothing
        return out
    stmt = select(*cols).where(table.c.platform == platform,
                               _among(conn, table.c.external_id, external_ids))
    for row in conn.execute(stmt):
        out[row.external_id] = row
    return out


def existing_posts(db: Db, platform: str, external_ids: Iterable[str]) -> dict[str, PostState]:
    """Stored posts among ``external_ids`` (tombstoned ones included)."""
    rows = _select_state(_conn(db), POSTS, _POST_STATE_COLS, platform, list(set(external_ids)))
    return {ext: PostState(id=r.id, account_id=r.account_id, content_hash=r.content_hash,
                           preview_hash=r.preview_hash, is_truncated=r.is_truncated,
                           is_pinned=r.is_pinned, comments_count=r.comments_count,
                           comments_read_count=r.comments_read_count, deleted_at=r.deleted_at,
                           created_at=r.created_at, edit_count=r.edit_count,
                           comments_incomplete_reason=r.comments_incomplete_reason,
                           comments_retry_at=r.comments_retry_at,
                           comments_retry_attempts=r.comments_retry_attempts)
            for ext, r in rows.items()}


def existing_comments(db: Db, platform: str, external_ids: Iterable[str]) -> dict[str, CommentState]:
    """Stored comments among ``external_ids`` (tombstoned ones included)."""
    rows = _select_state(_conn(db), COMMENTS, _COMMENT_STATE_COLS, platform,
                         list(set(external_ids)))
    return {ext: CommentState(id=r.id, post_id=r.post_id, content_hash=r.content_hash,
                              root_external_id=r.root_external_id,
                              replies_count=r.replies_count,
                              replies_read_count=r.replies_read_count, deleted_at=r.deleted_at,
                              replies_incomplete_reason=r.replies_incomplete_reason,
                              replies_retry_at=r.replies_retry_at,
                              replies_retry_attempts=r.replies_retry_attempts)
            for ext, r in rows.items()}


def live_post_ids(db: Db, account_id: int, *, since: datetime | None = None,
                  until: datetime | None = None) -> dict[str, int]:
    """External id → row id of the account's posts not tombstoned, created
    within [since, until] when given (for absence checks over a span the
    timeline walk covered)."""
    stmt = select(POSTS.c.external_id, POSTS.c.id).where(
        POSTS.c.account_id == account_id, POSTS.c.deleted_at.is_(None), POSTS.c.origin == "timeline")
    if since is not None:
        stmt = stmt.where(POSTS.c.created_at >= since)
    if until is not None:
        stmt = stmt.where(POSTS.c.created_at <= until)
    return {ext: row_id for ext, row_id in _conn(db).execute(stmt)}


def live_comment_ids(db: Db, post_row_id: int, *, root_external_id: str | None = None,
                     top_level_only: bool = False) -> dict[str, int]:
    """External id → row id of the post's comments not tombstoned: all of them,
    the replies under one root, or only the top-level ones (for absence checks
    after a complete read).  Items the thread listing never shows (a post
    stored as its own root item, an account's repost) are not among them."""
    stmt = select(COMMENTS.c.external_id, COMMENTS.c.id).where(
        COMMENTS.c.post_id == post_row_id, COMMENTS.c.deleted_at.is_(None), COMMENTS.c.item == "comment")
    if root_external_id is not None:
        stmt = stmt.where(COMMENTS.c.root_external_id == root_external_id)
    elif top_level_only:
        stmt = stmt.where(COMMENTS.c.root_external_id.is_(None))
    return {ext: row_id for ext, row_id in _conn(db).execute(stmt)}


# --- the shared write path -------------------------------------------------------


def _insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]],
                now: datetime) -> dict[str, int]:
    """Insert rows, skipping those another transaction stored meanwhile;
    returns external id → row id of the rows this call inserted."""
    if not rows:
        return {}
    # One timestamp for every row of the batch, converted for the database
    # once rather than twice per row.
    to_db = models.UTCDateTime().bind_processor(conn.dialect)
    seen = to_db(now) if to_db else now
    for row in rows:
        row["_seen"] = seen
    stmt = _insert_ignoring_conflicts(conn, table).values(first_seen_at=_SEEN, last_seen_at=_SEEN)
    return {ext: row_id for ext, row_id in conn.execute(stmt, rows)}


def _record_edits(conn: Connection, kind: str, table: Table, new_hashes: dict[int, str],
                  now: datetime) -> None:
    """Keep the content before an edit (read just for the edited rows)."""
    edits = []
    stmt = select(table.c.id, table.c.text, table.c.content_hash, table.c.raw).where(
        _among(conn, table.c.id, list(new_hashes)))
    for row_id, text, old_hash, raw in conn.execute(stmt):
        edits.append({"item_kind": kind, "item_id": row_id, "old_text": text,
                      "old_hash": old_hash, "new_hash": new_hashes[row_id],
                      "old_raw": raw if raw is not None else {}, "seen_at": now})
    if edits:
        conn.execute(insert(EDITS), edits)


def _update_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany UPDATE by ``_id``; every dict carries the same columns."""
    if rows:
        conn.execute(update(table).where(table.c.id == bindparam("_id")), rows)


def _touch(conn: Connection, table: Table, ids: list[int], now: datetime) -> None:
    if ids:
        conn.execute(update(table).where(_among(conn, table.c.id, ids)).values(last_seen_at=now))


def _close_tombstones(conn: Connection, kind: str, ids: list[int], now: datetime) -> None:
    conn.execute(update(TOMBSTONES)
                 .where(TOMBSTONES.c.item_kind == kind, _among(conn, TOMBSTONES.c.item_id, ids),
                        TOMBSTONES.c.restored_at.is_(None))
                 .values(restored_at=now))


def _row_id(row: dict[str, Any]) -> int:
    return row["_id"]


class _Plan:
    """The writes one batch needs after comparing it with the stored rows."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.content: list[dict[str, Any]] = []
        self.meta: list[dict[str, Any]] = []
        self.edit_hashes: dict[int, str] = {}
        self.touch: list[int] = []
        self.restored: list[int] = []

    def change(self, stored: Row, meta: dict[str, Any], content: dict[str, Any] | None,
               new_hash: str | None) -> None:
        """Queue an UPDATE of ``stored``: counters/flags only, or its content
        too; ``new_hash`` when it is an edit."""
        row = {"_id": stored.id, "last_seen_at": self.now, **meta}
        if content is None:
            self.meta.append(row)
        else:
            row.update(content)
            self.content.append(row)
        if new_hash is not None:
            self.edit_hashes[stored.id] = new_hash
        if stored.deleted_at is not None:
            self.restored.append(stored.id)

    def apply(self, conn: Connection, kind: str, table: Table, out: _Outcome) -> None:
        # The edit copies the stored content, so it must precede the UPDATE.
        if self.edit_hashes:
            _record_edits(conn, kind, table, self.edit_hashes, self.now)
        _update_many(conn, table, sorted(self.content, key=_row_id))
        _update_many(conn, table, sorted(self.meta, key=_row_id))
        _touch(conn, table, self.touch, self.now)
        if self.restored:
            _close_tombstones(conn, kind, self.restored, self.now)
        out.edited.extend(self.edit_hashes)
        out.restored.extend(self.restored)
        out.updated.extend(r["_id"] for r in self.content + self.meta
                           if r["_id"] not in self.edit_hashes)
        out.unchanged += len(self.touch)


def _upsert(conn: Connection, kind: str, table: Table, state_cols: Sequence[Any], platform: str,
            items: dict[str, Any], make_row: Callable[[Any], dict[str, Any]],
            compare: Callable[[Row, Any, _Plan], None], now: datetime, out: _Outcome) -> None:
    existing = _select_state(conn, table, state_cols, platform, list(items))
    # Sorted, so that concurrent workers lock rows in one order (no deadlock).
    inserted = _insert_new(conn, table, [make_row(items[ext]) for ext in sorted(items)
                                         if ext not in existing], now)
    out.inserted.extend(inserted.values())
    out.ids.update(inserted)
    # Rows another worker inserted between our SELECT and INSERT: compare them too.
    late = [ext for ext in items if ext not in existing and ext not in inserted]
    if late:
        existing.update(_select_state(conn, table, state_cols, platform, late))
    plan = _Plan(now)
    for ext, stored in existing.items():
        out.ids[ext] = stored.id
        compare(stored, items[ext], plan)
    plan.apply(conn, kind, table, out)


# --- posts -----------------------------------------------------------------------


def _post_row(post: records.Post, account_id: int | None, preview_hash: str | None
              ) -> dict[str, Any]:
    digest = post.content_hash
    return {
        "platform": post.platform, "external_id": post.external_id, "account_id": account_id,
        "short_id": post.short_id, "url": post.url, "author_id": post.author_id,
        "author_name": post.author_name, "created_at": post.created_at,
        "created_at_approx": post.created_at_approx, "text": post.text, "content_hash": digest,
        "is_pinned": post.is_pinned, "is_truncated": post.is_truncated,
        "preview_hash": digest if post.is_truncated else preview_hash,
        "repost_of": post.repost_of, "comments_count": post.comments_count,
        "reposts_count": post.reposts_count, "likes_count": post.likes_count,
        "comments_open": post.comments_open, "region": post.region,
        "edit_count": post.edit_count, "platform_state": _state(post.platform_state), "raw": _raw(post.raw),
    }


def _state(value: str | None) -> str | None:
    """A platform's own state as stored: its column's width at most."""
    return value[:32] if value else None


def _compare_post(stored: Row, post: records.Post, plan: _Plan, *, account_id: int | None,
                  preview_hash: str | None) -> None:
    """Decide what a post seen again changes.  A truncated preview never
    overwrites a stored full text unless the preview itself changed."""
    new_hash = post.content_hash
    new_preview = new_hash if post.is_truncated else preview_hash
    if post.is_truncated and not stored.is_truncated:
        if stored.preview_hash is None or stored.preview_hash == new_hash:
            content = edited = False  # the same preview of the stored full text
        else:
            content = edited = True  # the preview changed: edited upstream
    elif not post.is_truncated and stored.is_truncated:
        # The full text of a stored preview: completion, unless the preview it
        # was expanded from differs from the stored one.
        content = True
        edited = new_preview is not None and new_preview != stored.preview_hash
        new_preview = new_preview or stored.preview_hash
    else:
        content = edited = new_hash != stored.content_hash
        new_preview = new_preview or stored.preview_hash

    created_at, approx = _created(stored.created_at, stored.created_at_approx,
                                  post.created_at, post.created_at_approx)
    meta = {
        "account_id": account_id if account_id is not None else stored.account_id,
        "is_pinned": post.is_pinned,
        "comments_count": _known(post.comments_count, stored.comments_count),
        "reposts_count": _known(post.reposts_count, stored.reposts_count),
        "likes_count": _known(post.likes_count, stored.likes_count),
        "comments_open": _known(post.comments_open, stored.comments_open),
        "edit_count": max(post.edit_count, stored.edit_count),
        "preview_hash": new_preview, "created_at": created_at, "created_at_approx": approx,
        "deleted_at": None, "platform_state": _known(_state(post.platform_state), stored.platform_state),
    }
    if not content and all(getattr(stored, key) == value for key, value in meta.items()):
        plan.touch.append(stored.id)
        return
    plan.change(stored, meta, {
        "text": post.text, "content_hash": new_hash, "is_truncated": post.is_truncated,
        "raw": _raw(post.raw), "short_id": post.short_id, "url": post.url,
        "author_name": post.author_name, "repost_of": post.repost_of, "region": post.region,
    } if content else None, new_hash if edited else None)


def upsert_posts(db: Db, posts: Sequence[records.Post], *, account_id: int, account: tuple[str, str],
                 now: datetime, preview_hashes: Mapping[str, str] | None = None) -> UpsertResult:
    """Store a batch of posts read from the timeline of ``account`` (platform,
    uid; row ``account_id``).  Posts it authored (the same id on the same
    platform) get ``account_id``; originals by others (stored because a
    monitored post reposts them) get ``None``.

    ``preview_hashes`` (external id → content hash of the truncated preview a
    full text was expanded from) lets later previews be compared with it.
    """
    conn = _conn(db)
    previews = preview_hashes or {}

    def owner(post: records.Post) -> int | None:
        return account_id if (post.platform, post.author_id) == account else None

    def make_row(post: records.Post) -> dict[str, Any]:
        return _post_row(post, owner(post), previews.get(post.external_id))

    def compare(stored: Row, post: records.Post, plan: _Plan) -> None:
        _compare_post(stored, post, plan, account_id=owner(post),
                      preview_hash=previews.get(post.external_id))

    out = _Outcome()
    for platform, group in _by_platform(_dedupe(posts)).items():
        _upsert(conn, "post", POSTS, _POST_STATE_COLS, platform,
                {p.external_id: p for p in group}, make_row, compare, now, out)
    return out.result()


def upsert_mention_posts(db: Db, posts: Sequence[records.Post], *, owners: Mapping[str, int],
                         now: datetime) -> UpsertResult:
    """Store posts a mention source found (``origin`` mention): a citizen's
    post that mentions an account, or the post a mentioning comment is under.
    ``owners`` maps each to the account its mention belongs to."""
    conn = _conn(db)

    def make_row(post: records.Post) -> dict[str, Any]:
        return {**_post_row(post, owners[post.external_id], None), "origin": "mention"}

    def compare(stored: Row, post: records.Post, plan: _Plan) -> None:
        _compare_post(stored, post, plan, account_id=owners[post.external_id], preview_hash=None)

    out = _Outcome()
    for platform, group in _by_platform(_dedupe(posts)).items():
        _upsert(conn, "post", POSTS, _POST_STATE_COLS, platform,
                {p.external_id: p for p in group}, make_row, compare, now, out)
    result = out.result()
    if result.ids:  # an original stored before because an account reposted it
        conn.execute(update(POSTS).where(_among(conn, POSTS.c.id, list(result.ids.values())),
                                         POSTS.c.origin != "mention").values(origin="mention"))
    return result


def mention_posts(db: Db, platform: str, external_ids: Iterable[str]) -> dict[str, int]:
    """External id → row id of the stored mention posts among ``external_ids``."""
    conn = _conn(db)
    ids = list(set(external_ids))
    if not ids:
        return {}
    stmt = select(POSTS.c.external_id, POSTS.c.id).where(
        POSTS.c.platform == platform, POSTS.c.origin == "mention", _among(conn, POSTS.c.external_id, ids))
    return {ext: row_id for ext, row_id in conn.execute(stmt)}


def reposts_of(db: Db, platform: str, external_ids: Iterable[str]) -> list[Row]:
    """Stored posts from accounts' own timelines that repost one of ``external_ids``."""
    conn = _conn(db)
    ids = list(set(external_ids))
    if not ids:
        return []
    stmt = (select(POSTS).join(models.Account.__table__, models.Account.id == POSTS.c.account_id)
            .where(POSTS.c.platform == platform, POSTS.c.origin == "timeline",
                   POSTS.c.author_id == models.Account.uid, _among(conn, POSTS.c.repost_of, ids)))
    return list(conn.execute(stmt))


def followed_mentions(db: Db, account_id: int, since: datetime) -> list[Row]:
    """The account's live mention posts since ``since`` whose own mention
    (the post as its root item) still awaits its decision or an answer."""
    flags = models.Flag.__table__
    root = COMMENTS.alias("root")
    unanswered = (select(flags.c.id).where(flags.c.comment_id == root.c.id,
                                           flags.c.status.in_(("open", "acknowledged"))).exists())
    stmt = (select(POSTS).join(root, (root.c.post_id == POSTS.c.id) & (root.c.item == "post"))
            .where(POSTS.c.account_id == account_id, POSTS.c.origin == "mention",
                   POSTS.c.deleted_at.is_(None), POSTS.c.created_at >= since,
                   root.c.decided_at.is_(None) | unanswered)
            .order_by(POSTS.c.created_at, POSTS.c.id))
    return list(_conn(db).execute(stmt))


# --- comments --------------------------------------------------------------------


def _comment_row(comment: records.Comment, post_row_id: int) -> dict[str, Any]:
    return {
        "platform": comment.platform, "external_id": comment.external_id, "post_id": post_row_id,
        "root_external_id": comment.root_id, "parent_external_id": comment.parent_id,
        "author_id": comment.author_id, "author_name": comment.author_name,
        "created_at": comment.created_at, "created_at_approx": comment.created_at_approx,
        "text": comment.text, "content_hash": comment.content_hash,
        "reply_to_name": comment.reply_to_name, "is_from_owner": comment.is_from_owner,
        "like_count": comment.like_count, "replies_count": comment.replies_count,
        "mentions": list(comment.mentions), "region": comment.region, "raw": _raw(comment.raw),
    }


def _compare_comment(stored: Row, comment: records.Comment, plan: _Plan) -> None:
    """Links are filled in when missing, never cleared by an endpoint that
    does not give them; counters are not edits."""
    new_hash = comment.content_hash
    edited = new_hash != stored.content_hash
    # The common case of a re-read, decided without building anything.
    if (not edited and stored.deleted_at is None
            and (comment.like_count is None or comment.like_count == stored.like_count)
            and (comment.replies_count is None or comment.replies_count == stored.replies_count)
            and (comment.root_id is None or stored.root_external_id is not None)
            and (comment.parent_id is None or stored.parent_external_id is not None)
            and (stored.is_from_owner or not comment.is_from_owner)
            and not _created_moves(stored.created_at, stored.created_at_approx,
                                   comment.created_at, comment.created_at_approx)):
        plan.touch.append(stored.id)
        return
    created_at, approx = _created(stored.created_at, stored.created_at_approx,
                                  comment.created_at, comment.created_at_approx)
    meta = {
        "root_external_id": stored.root_external_id or comment.root_id,
        "parent_external_id": stored.parent_external_id or comment.parent_id,
        "is_from_owner": stored.is_from_owner or comment.is_from_owner,
        "like_count": _known(comment.like_count, stored.like_count),
        "replies_count": _known(comment.replies_count, stored.replies_count),
        "created_at": created_at, "created_at_approx": approx, "deleted_at": None,
    }
    plan.change(stored, meta, {
        "text": comment.text, "content_hash": new_hash, "raw": _raw(comment.raw),
        "author_name": comment.author_name, "reply_to_name": comment.reply_to_name,
        "mentions": list(comment.mentions), "region": comment.region,
    } if edited else None, new_hash if edited else None)


def upsert_comments(db: Db, comments: Sequence[records.Comment], *,
                    post_row_ids: Mapping[str, int], now: datetime, item: str = "comment") -> UpsertResult:
    """Store a batch of comments; ``post_row_ids`` maps each comment's post
    (external id) to its row id.  ``item``: what they are in their thread
    (``models.Comment.item``)."""
    conn = _conn(db)
    for comment in comments:
        if comment.post_id not in post_row_ids:
            raise StoreError(f"comment {comment.external_id}: its post {comment.post_id} "
                             "is not stored")

    def make_row(comment: records.Comment) -> dict[str, Any]:
        return {**_comment_row(comment, post_row_ids[comment.post_id]), "item": item}

    out = _Outcome()
    for platform, group in _by_platform(_dedupe(comments)).items():
        _upsert(conn, "comment", COMMENTS, _COMMENT_STATE_COLS, platform,
                {c.external_id: c for c in group}, make_row, _compare_comment, now, out)
    return out.result()


# --- reads, tombstones -------------------------------------------------------------


def mark_thread_read(db: Db, post_row_id: int, count: int | None, now: datetime) -> None:
    """The post's thread was read completely when it had ``count`` comments
    (which ends an incomplete state)."""
    _conn(db).execute(update(POSTS).where(POSTS.c.id == post_row_id)
                      .values(comments_read_count=count, comments_read_at=now,
                              comments_incomplete_reason=None, comments_incomplete_since=None,
                              comments_retry_at=None, comments_retry_attempts=0))


def mark_replies_read(db: Db, comment_row_id: int, count: int | None) -> None:
    """The comment's replies were read completely when it had ``count``
    (which ends an incomplete state)."""
    _conn(db).execute(update(COMMENTS).where(COMMENTS.c.id == comment_row_id)
                      .values(replies_read_count=count, replies_incomplete_reason=None,
                              replies_incomplete_since=None, replies_retry_at=None,
                              replies_retry_attempts=0))


def mark_thread_incomplete(db: Db, post_row_id: int, reason: str, now: datetime,
                           retry_at: datetime) -> None:
    """The post's thread read fell short of its counter (``reason``, see
    ``records.Shortfall``): its read marker stays where it was, and it is read
    again at ``retry_at`` whatever the counter does."""
    _conn(db).execute(update(POSTS).where(POSTS.c.id == post_row_id).values(
        comments_incomplete_reason=reason,
        comments_incomplete_since=func.coalesce(POSTS.c.comments_incomplete_since, now),
        comments_retry_at=retry_at, comments_retry_attempts=POSTS.c.comments_retry_attempts + 1))


def mark_replies_incomplete(db: Db, comment_row_id: int, reason: str, now: datetime,
                            retry_at: datetime) -> None:
    """As :func:`mark_thread_incomplete`, for the replies under one comment."""
    _conn(db).execute(update(COMMENTS).where(COMMENTS.c.id == comment_row_id).values(
        replies_incomplete_reason=reason,
        replies_incomplete_since=func.coalesce(COMMENTS.c.replies_incomplete_since, now),
        replies_retry_at=retry_at, replies_retry_attempts=COMMENTS.c.replies_retry_attempts + 1))


def due_thread_retries(db: Db, account_id: int, now: datetime) -> list[Row]:
    """The account's live posts whose incomplete thread is due to be read again."""
    stmt = (select(POSTS).where(POSTS.c.account_id == account_id,
                                POSTS.c.comments_incomplete_reason.is_not(None),
                                POSTS.c.comments_retry_at <= now, POSTS.c.deleted_at.is_(None))
            .order_by(POSTS.c.comments_retry_at, POSTS.c.id))
    return list(_conn(db).execute(stmt))


def due_reply_retries(db: Db, account_id: int, now: datetime) -> list[tuple[Row, Row]]:
    """(comment, its post) for the live comments under the account's live
    posts whose incomplete replies are due to be read again."""
    stmt = (select(COMMENTS.c.id).join(POSTS, POSTS.c.id == COMMENTS.c.post_id)
            .where(POSTS.c.account_id == account_id, POSTS.c.deleted_at.is_(None),
                   COMMENTS.c.replies_incomplete_reason.is_not(None),
                   COMMENTS.c.replies_retry_at <= now, COMMENTS.c.deleted_at.is_(None))
            .order_by(COMMENTS.c.replies_retry_at, COMMENTS.c.id))
    conn = _conn(db)
    ids = [row_id for (row_id,) in conn.execute(stmt)]
    if not ids:
        return []
    comments = {r.id: r for r in conn.execute(select(COMMENTS).where(_among(conn, COMMENTS.c.id, ids)))}
    posts = {r.id: r for r in conn.execute(
        select(POSTS).where(_among(conn, POSTS.c.id, list({c.post_id for c in comments.values()}))))}
    return [(comments[i], posts[comments[i].post_id]) for i in ids]


def tombstone(db: Db, kind: ItemKind, row_ids: Iterable[int], reason: str,
              now: datetime) -> tuple[int, ...]:
    """Mark items gone upstream: ``deleted_at`` set and one open tombstone
    each.  Items already tombstoned are left alone (the conditional UPDATE
    makes this safe against a concurrent worker too); returns the row ids
    tombstoned by this call."""
    table = ITEM_TABLES[kind]
    conn = _conn(db)
    ids = sorted(set(row_ids))
    if not ids:
        return ()
    marked = sorted(row_id for (row_id,) in conn.execute(
        update(table).where(_among(conn, table.c.id, ids), table.c.deleted_at.is_(None))
        .values(deleted_at=now).returning(table.c.id)))
    if marked:
        conn.execute(insert(TOMBSTONES), [
            {"item_kind": kind, "item_id": row_id, "detected_at": now, "reason": reason,
             "restored_at": None} for row_id in marked])
    return tuple(marked)
