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

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Iterable, Iterator, Literal, Mapping, Sequence

from sqlalchemy import Connection, Row, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from huisheng import records
from huisheng.errors import StoreError
from huisheng.monitor import models

POSTS: Table = models.Post.__table__  # type: ignore[assignment]
COMMENTS: Table = models.Comment.__table__  # type: ignore[assignment]
EDITS: Table = models.ItemEdit.__table__  # type: ignore[assignment]
TOMBSTONES: Table = models.Tombstone.__table__  # type: ignore[assignment]

ItemKind = Literal["post", "comment"]
ITEM_TABLES: dict[str, Table] = {"post": POSTS, "comment": COMMENTS}

#: ids per IN list (far below SQLite's and PostgreSQL's parameter limits)
CHUNK = 900

Db = Session | Connection


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


@dataclass(frozen=True)
class CommentState:
    id: int
    post_id: int
    content_hash: str
    root_external_id: str | None
    replies_count: int | None
    replies_read_count: int | None
    deleted_at: datetime | None


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
    the full text was stored (an upstream edit)."""
    if not post.is_truncated:
        return False
    if state is None or state.is_truncated:
        return True
    return state.preview_hash is not None and state.preview_hash != post.content_hash


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _raw(value: Mapping[str, Any]) -> dict[str, Any]:
    return value if isinstance(value, dict) else dict(value)


def _created(stored_at: datetime | None, stored_approx: bool, new_at: datetime | None,
             new_approx: bool) -> tuple[datetime | None, bool]:
    """A relative time ("5分钟前") resolves differently on every fetch: keep
    the first one unless an exact time arrives."""
    if new_at is not None and (stored_at is None or (stored_approx and not new_approx)):
        return new_at, new_approx
    return stored_at, stored_approx


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
    POSTS.c.created_at_approx,
)
_COMMENT_STATE_COLS = (
    COMMENTS.c.external_id, COMMENTS.c.id, COMMENTS.c.post_id, COMMENTS.c.content_hash,
    COMMENTS.c.root_external_id, COMMENTS.c.parent_external_id, COMMENTS.c.is_from_owner,
    COMMENTS.c.like_count, COMMENTS.c.replies_count, COMMENTS.c.replies_read_count,
    COMMENTS.c.deleted_at, COMMENTS.c.created_at, COMMENTS.c.created_at_approx,
)


def _select_state(conn: Connection, table: Table, cols: Sequence[Any], platform: str,
                  external_ids: Sequence[str]) -> dict[str, Row]:
    out: dict[str, Row] = {}
    for chunk in _chunks(list(external_ids)):
        stmt = select(*cols).where(table.c.platform == platform, table.c.external_id.in_(chunk))
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
                           created_at=r.created_at, edit_count=r.edit_count)
            for ext, r in rows.items()}


def existing_comments(db: Db, platform: str, external_ids: Iterable[str]) -> dict[str, CommentState]:
    """Stored comments among ``external_ids`` (tombstoned ones included)."""
    rows = _select_state(_conn(db), COMMENTS, _COMMENT_STATE_COLS, platform,
                         list(set(external_ids)))
    return {ext: CommentState(id=r.id, post_id=r.post_id, content_hash=r.content_hash,
                              root_external_id=r.root_external_id,
                              replies_count=r.replies_count,
                              replies_read_count=r.replies_read_count, deleted_at=r.deleted_at)
            for ext, r in rows.items()}


def live_post_ids(db: Db, account_id: int, *, since: datetime | None = None,
                  until: datetime | None = None) -> dict[str, int]:
    """External id → row id of the account's posts not tombstoned, created
    within [since, until] when given (for absence checks over a span the
    timeline walk covered)."""
    stmt = select(POSTS.c.external_id, POSTS.c.id).where(
        POSTS.c.account_id == account_id, POSTS.c.deleted_at.is_(None))
    if since is not None:
        stmt = stmt.where(POSTS.c.created_at >= since)
    if until is not None:
        stmt = stmt.where(POSTS.c.created_at <= until)
    return {ext: row_id for ext, row_id in _conn(db).execute(stmt)}


def live_comment_ids(db: Db, post_row_id: int, *, root_external_id: str | None = None,
                     top_level_only: bool = False) -> dict[str, int]:
    """External id → row id of the post's comments not tombstoned: all of them,
    the replies under one root, or only the top-level ones (for absence checks
    after a complete read)."""
    stmt = select(COMMENTS.c.external_id, COMMENTS.c.id).where(
        COMMENTS.c.post_id == post_row_id, COMMENTS.c.deleted_at.is_(None))
    if root_external_id is not None:
        stmt = stmt.where(COMMENTS.c.root_external_id == root_external_id)
    elif top_level_only:
        stmt = stmt.where(COMMENTS.c.root_external_id.is_(None))
    return {ext: row_id for ext, row_id in _conn(db).execute(stmt)}


# --- the shared write path -------------------------------------------------------


def _insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert rows, skipping those another transaction stored meanwhile;
    returns external id → row id of the rows this call inserted."""
    if not rows:
        return {}
    return {ext: row_id for ext, row_id in conn.execute(_insert_ignoring_conflicts(conn, table), rows)}


def _record_edits(conn: Connection, kind: str, table: Table, new_hashes: dict[int, str],
                  now: datetime) -> None:
    """Keep the content before an edit (read just for the edited rows)."""
    edits = []
    ids = list(new_hashes)
    for chunk in _chunks(ids):
        stmt = select(table.c.id, table.c.text, table.c.content_hash, table.c.raw).where(
            table.c.id.in_(chunk))
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
    for chunk in _chunks(ids):
        conn.execute(update(table).where(table.c.id.in_(chunk)).values(last_seen_at=now))


def _close_tombstones(conn: Connection, kind: str, ids: list[int], now: datetime) -> None:
    for chunk in _chunks(ids):
        conn.execute(update(TOMBSTONES)
                     .where(TOMBSTONES.c.item_kind == kind, TOMBSTONES.c.item_id.in_(chunk),
                            TOMBSTONES.c.restored_at.is_(None))
                     .values(restored_at=now))


class _Plan:
    """The writes one batch needs after comparing it with the stored rows."""

    def __init__(self) -> None:
        self.content: list[dict[str, Any]] = []
        self.meta: list[dict[str, Any]] = []
        self.edit_hashes: dict[int, str] = {}
        self.touch: list[int] = []
        self.restored: list[int] = []

    def apply(self, conn: Connection, kind: str, table: Table, now: datetime,
              out: _Outcome) -> None:
        # The edit copies the stored content, so it must precede the UPDATE.
        if self.edit_hashes:
            _record_edits(conn, kind, table, self.edit_hashes, now)
        _update_many(conn, table, self.content)
        _update_many(conn, table, self.meta)
        _touch(conn, table, self.touch, now)
        if self.restored:
            _close_tombstones(conn, kind, self.restored, now)
        out.edited.extend(self.edit_hashes)
        out.restored.extend(self.restored)
        out.updated.extend(r["_id"] for r in self.content + self.meta
                           if r["_id"] not in self.edit_hashes)
        out.unchanged += len(self.touch)


def _upsert(conn: Connection, kind: str, table: Table, state_cols: Sequence[Any],
            platform: str, new_rows: dict[str, dict[str, Any]], compare, now: datetime,
            out: _Outcome) -> None:
    existing = _select_state(conn, table, state_cols, platform, list(new_rows))
    inserted = _insert_new(conn, table, [row for ext, row in new_rows.items()
                                         if ext not in existing])
    out.inserted.extend(inserted.values())
    out.ids.update(inserted)
    # Rows another worker inserted between our SELECT and INSERT: compare them too.
    late = [ext for ext in new_rows if ext not in existing and ext not in inserted]
    if late:
        existing.update(_select_state(conn, table, state_cols, platform, late))
    plan = _Plan()
    for ext, stored in existing.items():
        out.ids[ext] = stored.id
        compare(stored, new_rows[ext], plan)
    plan.apply(conn, kind, table, now, out)


# --- posts -----------------------------------------------------------------------

_POST_META = ("account_id", "is_pinned", "comments_count", "reposts_count", "likes_count",
              "comments_open", "edit_count", "preview_hash", "created_at", "created_at_approx",
              "deleted_at")
_POST_CONTENT = _POST_META + ("text", "content_hash", "is_truncated", "raw", "short_id", "url",
                              "author_name", "repost_of", "region")


def _post_row(post: records.Post, account_id: int | None, preview_hash: str | None,
              now: datetime) -> dict[str, Any]:
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
        "edit_count": post.edit_count, "first_seen_at": now, "last_seen_at": now,
        "comments_read_count": None, "comments_read_at": None, "deleted_at": None,
        "raw": _raw(post.raw),
    }


def _compare_post(stored: Row, new: dict[str, Any], plan: _Plan) -> None:
    """Decide what a post seen again changes.  A truncated preview never
    overwrites a stored full text unless the preview itself changed."""
    new_hash = new["content_hash"]
    new_preview = new["preview_hash"]
    if new["is_truncated"] and not stored.is_truncated:
        if stored.preview_hash is None or stored.preview_hash == new_hash:
            content, edited = False, False  # same preview of the stored full text
            new_preview = new_hash
        else:
            content, edited = True, True  # the preview changed: edited upstream
    elif not new["is_truncated"] and stored.is_truncated:
        # The full text of a stored preview: completion, unless the preview it
        # was expanded from differs from the stored one.
        content = True
        edited = new_preview is not None and new_preview != stored.preview_hash
        new_preview = new_preview or stored.preview_hash
    else:
        content = edited = new_hash != stored.content_hash
        if new_preview is None:
            new_preview = stored.preview_hash

    created_at, approx = _created(stored.created_at, stored.created_at_approx,
                                  new["created_at"], new["created_at_approx"])
    meta = {
        "account_id": new["account_id"] if new["account_id"] is not None else stored.account_id,
        "is_pinned": new["is_pinned"],
        "comments_count": _known(new["comments_count"], stored.comments_count),
        "reposts_count": _known(new["reposts_count"], stored.reposts_count),
        "likes_count": _known(new["likes_count"], stored.likes_count),
        "comments_open": _known(new["comments_open"], stored.comments_open),
        "edit_count": max(new["edit_count"], stored.edit_count),
        "preview_hash": new_preview, "created_at": created_at, "created_at_approx": approx,
        "deleted_at": None,
    }
    changed = content or any(getattr(stored, key) != value for key, value in meta.items())
    if not changed:
        plan.touch.append(stored.id)
        return
    row = {"_id": stored.id, "last_seen_at": new["last_seen_at"], **meta}
    if content:
        for key in _POST_CONTENT[len(_POST_META):]:
            row[key] = new[key]
        plan.content.append(row)
    else:
        plan.meta.append(row)
    if edited:
        plan.edit_hashes[stored.id] = new_hash
    if stored.deleted_at is not None:
        plan.restored.append(stored.id)


def upsert_posts(db: Db, posts: Sequence[records.Post], *, account_id: int, account_uid: str,
                 now: datetime, preview_hashes: Mapping[str, str] | None = None) -> UpsertResult:
    """Store a batch of posts read from the timeline of account ``account_uid``
    (row ``account_id``).  Posts it authored get ``account_id``; originals by
    others (stored because a monitored post reposts them) get ``None``.

    ``preview_hashes`` (external id → content hash of the truncated preview a
    full text was expanded from) lets later previews be compared with it.
    """
    conn = _conn(db)
    previews = preview_hashes or {}
    out = _Outcome()
    for platform, group in _by_platform(_dedupe(posts)).items():
        rows = {p.external_id: _post_row(p, account_id if p.author_id == account_uid else None,
                                         previews.get(p.external_id), now)
                for p in group}
        _upsert(conn, "post", POSTS, _POST_STATE_COLS, platform, rows, _compare_post, now, out)
    return out.result()


# --- comments --------------------------------------------------------------------

_COMMENT_META = ("root_external_id", "parent_external_id", "is_from_owner", "like_count",
                 "replies_count", "created_at", "created_at_approx", "deleted_at")
_COMMENT_CONTENT = _COMMENT_META + ("text", "content_hash", "raw", "author_name",
                                    "reply_to_name", "mentions", "region")


def _comment_row(comment: records.Comment, post_row_id: int, now: datetime) -> dict[str, Any]:
    return {
        "platform": comment.platform, "external_id": comment.external_id, "post_id": post_row_id,
        "root_external_id": comment.root_id, "parent_external_id": comment.parent_id,
        "author_id": comment.author_id, "author_name": comment.author_name,
        "created_at": comment.created_at, "created_at_approx": comment.created_at_approx,
        "text": comment.text, "content_hash": comment.content_hash,
        "reply_to_name": comment.reply_to_name, "is_from_owner": comment.is_from_owner,
        "like_count": comment.like_count, "replies_count": comment.replies_count,
        "replies_read_count": None, "mentions": list(comment.mentions), "region": comment.region,
        "first_seen_at": now, "last_seen_at": now, "deleted_at": None,
        "raw": _raw(comment.raw),
    }


def _compare_comment(stored: Row, new: dict[str, Any], plan: _Plan) -> None:
    """Links are filled in when missing, never cleared by an endpoint that
    does not give them; counters are not edits."""
    edited = new["content_hash"] != stored.content_hash
    created_at, approx = _created(stored.created_at, stored.created_at_approx,
                                  new["created_at"], new["created_at_approx"])
    meta = {
        "root_external_id": stored.root_external_id or new["root_external_id"],
        "parent_external_id": stored.parent_external_id or new["parent_external_id"],
        "is_from_owner": stored.is_from_owner or new["is_from_owner"],
        "like_count": _known(new["like_count"], stored.like_count),
        "replies_count": _known(new["replies_count"], stored.replies_count),
        "created_at": created_at, "created_at_approx": approx, "deleted_at": None,
    }
    if not edited and all(getattr(stored, key) == value for key, value in meta.items()):
        plan.touch.append(stored.id)
        return
    row = {"_id": stored.id, "last_seen_at": new["last_seen_at"], **meta}
    if edited:
        for key in _COMMENT_CONTENT[len(_COMMENT_META):]:
            row[key] = new[key]
        plan.content.append(row)
        plan.edit_hashes[stored.id] = new["content_hash"]
    else:
        plan.meta.append(row)
    if stored.deleted_at is not None:
        plan.restored.append(stored.id)


def upsert_comments(db: Db, comments: Sequence[records.Comment], *,
                    post_row_ids: Mapping[str, int], now: datetime) -> UpsertResult:
    """Store a batch of comments; ``post_row_ids`` maps each comment's post
    (external id) to its row id."""
    conn = _conn(db)
    out = _Outcome()
    for platform, group in _by_platform(_dedupe(comments)).items():
        rows = {}
        for comment in group:
            try:
                post_row_id = post_row_ids[comment.post_id]
            except KeyError:
                raise StoreError(f"comment {comment.external_id}: its post {comment.post_id} "
                                 "is not stored") from None
            rows[comment.external_id] = _comment_row(comment, post_row_id, now)
        _upsert(conn, "comment", COMMENTS, _COMMENT_STATE_COLS, platform, rows,
                _compare_comment, now, out)
    return out.result()


# --- reads, tombstones -------------------------------------------------------------


def mark_thread_read(db: Db, post_row_id: int, count: int | None, now: datetime) -> None:
    """The post's thread was read completely when it had ``count`` comments."""
    _conn(db).execute(update(POSTS).where(POSTS.c.id == post_row_id)
                      .values(comments_read_count=count, comments_read_at=now))


def mark_replies_read(db: Db, comment_row_id: int, count: int | None) -> None:
    """The comment's replies were read completely when it had ``count``."""
    _conn(db).execute(update(COMMENTS).where(COMMENTS.c.id == comment_row_id)
                      .values(replies_read_count=count))


def tombstone(db: Db, kind: ItemKind, row_ids: Iterable[int], reason: str,
              now: datetime) -> tuple[int, ...]:
    """Mark items gone upstream: ``deleted_at`` set and one open tombstone
    each.  Items already tombstoned are left alone (the conditional UPDATE
    makes this safe against a concurrent worker too); returns the row ids
    tombstoned by this call."""
    table = ITEM_TABLES[kind]
    conn = _conn(db)
    marked: list[int] = []
    for chunk in _chunks(sorted(set(row_ids))):
        result = conn.execute(update(table)
                              .where(table.c.id.in_(chunk), table.c.deleted_at.is_(None))
                              .values(deleted_at=now).returning(table.c.id))
        marked.extend(row_id for (row_id,) in result)
    marked.sort()
    if marked:
        conn.execute(insert(TOMBSTONES), [
            {"item_kind": kind, "item_id": row_id, "detected_at": now, "reason": reason,
             "restored_at": None} for row_id in marked])
    return tuple(marked)
