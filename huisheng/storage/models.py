"""The database schema as SQLAlchemy 2 typed models.

Migrations in ``huisheng/migrations`` must agree with these (a test runs
alembic's autogenerate comparison).  All datetimes are stored as naive UTC and
come back as aware UTC (:class:`UTCDateTime`), identically on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, DateTime, Float, ForeignKey, Index, Integer,
                        MetaData, String, Table, Text, UniqueConstraint)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Aware UTC in Python, naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)

    # On SQLite the two steps (to naive UTC, then SQLAlchemy's text format) are
    # one: the decide step and the store convert tens of thousands of times
    # a minute.  The text is SQLite's DATETIME storage format, to the character.
    def bind_processor(self, dialect: Any):
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        utc = timezone.utc

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not utc:
                if value.tzinfo is None:
                    raise ValueError("naive datetime given to the database; use aware UTC")
                value = value.astimezone(utc)
            return value.isoformat(" ", "microseconds")[:26]  # without its "+00:00"
        return process

    def result_processor(self, dialect: Any, coltype: Any):
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse, utc = datetime.fromisoformat, timezone.utc

        def process(value: str | None) -> datetime | None:
            return None if value is None else parse(value).replace(tzinfo=utc)
        return process


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Unit(Base):
    """单位: the district, a department, a street/town or a community/village."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: district | department | street | community
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    admins: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    parent: Mapped[Unit | None] = relationship(remote_side=[id])


class Account(Base):
    """A monitored account and its polling state (the scheduler lives here)."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    uid: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    #: seconds; None means the platform's default interval
    poll_interval: Mapped[int | None]
    admins: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    # polling state
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    last_check_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    consecutive_errors: Mapped[int] = mapped_column(default=0)
    last_error_kind: Mapped[str | None] = mapped_column(String(32))
    last_error_message: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    #: when the current run of errors began (for "failing since" in digests)
    failing_since: Mapped[datetime | None]
    #: a worker's claim on the account while it polls (crash ⇒ expires)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    #: opaque adapter state (container id, fallback mode, …)
    adapter_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: what the platform's adapter said it cannot do for this account
    #: (``Unsupported``: "replies", "status", "expand" …), for ``status``; a
    #: read that works again takes its name off
    unsupported: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    #: last time the timeline pages covering the recent window were re-read
    window_checked_at: Mapped[datetime | None]
    #: the first poll that succeeded (never reset)
    first_success_at: Mapped[datetime | None]
    #: what was written before this is history, not backlog: set from the
    #: matrix when it names one, else from the first successful poll minus the
    #: configured grace
    monitoring_start: Mapped[datetime | None]
    #: the environment variable holding this account's own logged-in cookie
    #: (its mention inbox); the name only, never the value
    cookie_env: Mapped[str | None] = mapped_column(String(128))

    unit: Mapped[Unit] = relationship()


class AccountSource(Base):
    """One source of an account beside its timeline (e.g. a public search for
    ``@NAME``, the logged-in account's mention inbox): polled on its own
    interval, backed off on its own errors, read complete or not, with its own
    cursor, within the account's poll."""

    __tablename__ = "account_sources"
    __table_args__ = (UniqueConstraint("account_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    #: the adapter's name for it (``mentions_search``, ``mentions_inbox`` …)
    kind: Mapped[str] = mapped_column(String(32))
    next_check_at: Mapped[datetime | None]
    last_check_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    consecutive_errors: Mapped[int] = mapped_column(default=0)
    last_error_kind: Mapped[str | None] = mapped_column(String(32))
    last_error_message: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    #: the last read reached what was known (or the listing's end); False: it
    #: stopped early (page cap, loop guard) and says why in ``incomplete_reason``
    complete: Mapped[bool | None] = mapped_column(Boolean)
    incomplete_reason: Mapped[str | None] = mapped_column(Text)
    #: the adapter's opaque cursor between reads (where the last complete read began)
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AccountOwnerChange(Base):
    """An account moved from one owner unit to another (history for audits)."""

    __tablename__ = "account_owner_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    old_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    new_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    changed_at: Mapped[datetime]


class MatrixRevision(Base):
    """One row counting the ``matrix sync`` runs that changed units or
    accounts: the decide step reads it before each batch and rebuilds its
    directory of units and accounts when it moved, so a running daemon routes
    by the matrix as synced without a restart."""

    __tablename__ = "matrix_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int]


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("platform", "external_id"),
        Index("ix_posts_account_created", "account_id", "created_at"),
        # threads to read again: only the incomplete ones are indexed
        Index("ix_posts_comments_retry", "account_id", "comments_retry_at",
              sqlite_where=sql_text("comments_incomplete_reason IS NOT NULL"),
              postgresql_where=sql_text("comments_incomplete_reason IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    #: the monitored account whose timeline holds it (None for a reposted
    #: post by someone else, stored only because a monitored post reposts it)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    short_id: Mapped[str | None] = mapped_column(String(32))
    url: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime | None]
    created_at_approx: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    is_pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    is_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: content hash of the last truncated preview seen: when the full text is
    #: stored, a different preview means the post was edited upstream
    preview_hash: Mapped[str | None] = mapped_column(String(64))
    repost_of: Mapped[str | None] = mapped_column(String(64))
    comments_count: Mapped[int | None]
    reposts_count: Mapped[int | None]
    likes_count: Mapped[int | None]
    comments_open: Mapped[bool | None] = mapped_column(Boolean)
    region: Mapped[str | None] = mapped_column(String(64))
    edit_count: Mapped[int] = mapped_column(default=0)
    #: what the platform itself says of the post's handling (``records.Post.platform_state``)
    platform_state: Mapped[str | None] = mapped_column(String(32))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    #: the comment count when the thread was last read completely
    comments_read_count: Mapped[int | None]
    comments_read_at: Mapped[datetime | None]
    #: the last thread read returned far fewer comments than the counter
    #: claims (None: not incomplete); retried on its own backoff
    comments_incomplete_reason: Mapped[str | None] = mapped_column(Text)
    comments_incomplete_since: Mapped[datetime | None]
    comments_retry_at: Mapped[datetime | None]
    comments_retry_attempts: Mapped[int] = mapped_column(default=0)
    deleted_at: Mapped[datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: timeline (an account's own post, or an original one reposts) | mention
    #: (a post found by a mention source: a citizen's post that mentions an
    #: account, or the post a mentioning comment is under)
    origin: Mapped[str] = mapped_column(String(16), default="timeline", server_default="timeline")


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("platform", "external_id"),
        Index("ix_comments_post_created", "post_id", "created_at"),
        # The decide step's queue, oldest first: only undecided comments are indexed.
        Index("ix_comments_pending", "created_at", "id",
              sqlite_where=sql_text("decided_at IS NULL"),
              postgresql_where=sql_text("decided_at IS NULL")),
        Index("ix_comments_replies_retry", "replies_retry_at",
              sqlite_where=sql_text("replies_incomplete_reason IS NOT NULL"),
              postgresql_where=sql_text("replies_incomplete_reason IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    #: external ids as the platform gave them (links resolved lazily: a child
    #: may arrive before its root on some endpoints)
    root_external_id: Mapped[str | None] = mapped_column(String(64), index=True)
    parent_external_id: Mapped[str | None] = mapped_column(String(64))
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime | None]
    created_at_approx: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    reply_to_name: Mapped[str | None] = mapped_column(String(200))
    is_from_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    like_count: Mapped[int | None]
    replies_count: Mapped[int | None]
    #: the reply count when the replies were last read completely
    replies_read_count: Mapped[int | None]
    #: as ``Post.comments_incomplete_*``, for the replies under this comment
    replies_incomplete_reason: Mapped[str | None] = mapped_column(Text)
    replies_incomplete_since: Mapped[datetime | None]
    replies_retry_at: Mapped[datetime | None]
    replies_retry_attempts: Mapped[int] = mapped_column(default=0)
    mentions: Mapped[list[Any]] = mapped_column(default=list)
    region: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: when the decide step looked at this comment (None: still to decide);
    #: set in the same transaction as the flags it raised or the replies it linked
    decided_at: Mapped[datetime | None]
    #: comment | post (a citizen's post that mentions an account, stored again
    #: as the root item of its own thread, so it is decided and flagged like a
    #: comment; same external id as the post) | repost (an account's repost
    #: with text of such a post, stored in that thread as its top-level reply)
    item: Mapped[str] = mapped_column(String(8), default="comment", server_default="comment")


class ItemEdit(Base):
    """An edit seen upstream: the content before it."""

    __tablename__ = "item_edits"
    __table_args__ = (Index("ix_item_edits_item", "item_kind", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: post | comment
    item_kind: Mapped[str] = mapped_column(String(10))
    item_id: Mapped[int] = mapped_column(BigInteger)
    old_text: Mapped[str] = mapped_column(Text)
    old_hash: Mapped[str] = mapped_column(String(64))
    new_hash: Mapped[str] = mapped_column(String(64))
    old_raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seen_at: Mapped[datetime]


class Tombstone(Base):
    """An item that disappeared upstream.  The item row is kept (``deleted_at``
    set); if it comes back, ``restored_at`` is set and the row stays."""

    __tablename__ = "tombstones"
    __table_args__ = (Index("ix_tombstones_item", "item_kind", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_kind: Mapped[str] = mapped_column(String(10))
    item_id: Mapped[int] = mapped_column(BigInteger)
    detected_at: Mapped[datetime]
    #: how we know: e.g. "status NotFound", "absent from a complete thread read"
    reason: Mapped[str] = mapped_column(Text)
    restored_at: Mapped[datetime | None]


class Flag(Base):
    """需回复: a citizen's comment (or post) that needs an answer, owned by one unit.

    ``started_at`` is the comment's own time (the clock starts there);
    ``due_at`` the reply deadline in working time.  States: open → acknowledged
    (受理) → replied → resolved (办结) → closed (办结销号), or dismissed.  Every
    change writes a :class:`FlagEvent`.
    """

    __tablename__ = "flags"
    __table_args__ = (
        Index("ix_flags_unit_created", "unit_id", "created_at"),
        Index("ix_flags_status_due", "status", "due_at"),
        Index("ix_flags_account_created", "account_id", "created_at"),
        # reports: cohorts by the comment's own time, and what changed since the rollup
        Index("ix_flags_started", "started_at"),
        Index("ix_flags_updated", "updated_at"),
        # reports' open overdue counts, answered from the index alone
        Index("ix_flags_open_due", "status", "due_at", "started_at", "unit_id", "account_id", "category",
              "historical"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), unique=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    #: the account under whose post the comment was written
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    #: the owning unit (routed); changes on reassignment
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    #: account | mention | place | learned | topic | manual
    routing: Mapped[str] = mapped_column(String(16))
    routing_reason: Mapped[str] = mapped_column(Text)
    #: consultation | complaint | help | suggestion
    category: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: written before the account's monitoring start: recorded, but no clock,
    #: no ladder, outside digests' lists and coverage denominators
    historical: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the rules that fired, each with its matched span
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(200))
    #: open | acknowledged | replied | resolved | closed | dismissed
    status: Mapped[str] = mapped_column(String(16), default="open")
    started_at: Mapped[datetime]
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    #: the deadline fell in a year the holiday calendar does not cover
    due_uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_at: Mapped[datetime | None]
    first_reply_at: Mapped[datetime | None]
    first_reply_comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    #: first reply − start, in calendar and in working seconds
    reply_seconds: Mapped[float | None]
    reply_working_seconds: Mapped[float | None]
    #: the reply was made outside the platform (recorded by hand, audited)
    replied_offline: Mapped[bool] = mapped_column(Boolean, default=False)
    promised_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    dismissed_reason: Mapped[str | None] = mapped_column(Text)
    #: the earlier flag of the same citizen in the same thread (a follow-up)
    follow_up_of: Mapped[int | None] = mapped_column(ForeignKey("flags.id"))
    # the ladder (督办): each step once
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    noticed_at: Mapped[datetime | None]
    stale_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    follow_up: Mapped[Flag | None] = relationship(remote_side=[id])


class FlagEvent(Base):
    """One transition or ladder step of a flag: when, by whom (a person or a
    rule), why."""

    __tablename__ = "flag_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    at: Mapped[datetime]
    #: created | acknowledged | replied | resolved | closed | dismissed |
    #: reassigned | promised | reminder | escalated | notice | stale | reopened
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    flag: Mapped[Flag] = relationship()


class OutboxMessage(Base):
    """A rendered e-mail waiting to go out, or gone.  Written before any sending,
    keyed by (recipient, kind, period) so a message is rendered and queued once;
    the sender delivers it with retries and marks it sent."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedup_key"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "recipient|kind|period": the same digest or alert is never queued twice
    dedup_key: Mapped[str] = mapped_column(String(400))
    recipient: Mapped[str] = mapped_column(String(320))
    #: digest | alert
    kind: Mapped[str] = mapped_column(String(16))
    #: what the message covers, e.g. a digest's day or an alert's flag id
    period: Mapped[str] = mapped_column(String(64))
    covers_from: Mapped[datetime | None]
    covers_until: Mapped[datetime | None]
    subject: Mapped[str] = mapped_column(Text)
    #: the Message-ID header: a resend after a crash carries the same one
    message_id: Mapped[str] = mapped_column(String(255))
    #: the whole RFC 5322 message, as sent
    message: Mapped[str] = mapped_column(Text)
    #: pending | sent | failed (gave up after max attempts; still listed)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


#: buckets of the first-reply-time histograms in :data:`flag_rollups`
#: (see ``huisheng.reports.rollup``)
ROLLUP_BUCKETS = 48


def _hist_columns() -> list[Column]:
    columns = []
    for kind in ("c", "w"):  # calendar, working seconds
        columns += [Column(f"{kind}n{i}", Integer, nullable=False) for i in range(ROLLUP_BUCKETS)]
        columns += [Column(f"{kind}s{i}", Float, nullable=False) for i in range(ROLLUP_BUCKETS)]
    return columns


#: report aggregates per local month of the flag's start, the comment's own
#: time (``month``: its first day) × owning unit (``dim`` "unit", ``ref_id`` the
#: unit) or account (``dim`` "account") × category × historical or not:
#: counts and first-reply-time histograms (count and sum of seconds per bucket).  One dimension per row keeps the rows a report
#: sums few.  Kept by ``huisheng.reports.rollup.refresh``, rebuilt from flags.
flag_rollups = Table(
    "flag_rollups", Base.metadata,
    Column("dim", String(8), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("ref_id", Integer, primary_key=True),
    Column("category", String(16), primary_key=True),
    Column("historical", Boolean, primary_key=True),
    Column("flags", Integer, nullable=False),
    Column("replied", Integer, nullable=False),
    Column("on_time", Integer, nullable=False),
    Column("offline", Integer, nullable=False),
    Column("dismissed", Integer, nullable=False),
    *_hist_columns(),
)


class RollupState(Base):
    """How far :data:`flag_rollups` is: every flag changed (``updated_at``) up
    to ``watermark`` is in it."""

    __tablename__ = "flag_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    watermark: Mapped[datetime | None]
    refreshed_at: Mapped[datetime]


class User(Base):
    """A person who signs in to the workbench: an administrator named in the
    matrix (``source`` "matrix", kept in step by ``matrix sync``) or one added
    with ``huisheng users add`` ("manual").  Roles: ``unit_admin`` (the flags
    of their units and those units' subordinate units), ``auditor``
    (everything, read-only), ``district_admin`` (everything, and users)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: lower-cased; the sign-in name and where sign-in links go
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    #: matrix | manual
    source: Mapped[str] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: argon2 hash; None: sign-in by e-mailed link only
    password_hash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_signin_at: Mapped[datetime | None]

    units: Mapped[list[Unit]] = relationship(secondary="user_units", order_by="Unit.id")


user_units = Table(
    "user_units", Base.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", Integer, ForeignKey("units.id"), primary_key=True),
)


class SigninToken(Base):
    """A one-time sign-in link.  The link carries ``nonce`` signed with the web
    secret key; only the nonce is stored, so a database row can never sign
    anyone in.  Used once, then ``used_at`` is set."""

    __tablename__ = "signin_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuthAttempt(Base):
    """A sign-in attempt or link request, for rate limiting (by e-mail and by
    client address)."""

    __tablename__ = "auth_attempts"
    __table_args__ = (Index("ix_auth_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: e.g. "email:a@b.org" or "ip:127.0.0.1"
    key: Mapped[str] = mapped_column(String(400))
    #: password | link
    kind: Mapped[str] = mapped_column(String(10))
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime]


class ScaleWorker(Base):
    """A ``huisheng worker`` process (``[scale] engine = "procrastinate"``):
    its name, egress label and heartbeat, for ``status``.  A row whose
    heartbeat stopped is a worker that died (``stopped_at`` is set on a clean
    stop)."""

    __tablename__ = "scale_workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    egress: Mapped[str] = mapped_column(String(100))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    #: polls running in it at the last heartbeat
    in_flight: Mapped[int]
    #: polls it finished
    polls: Mapped[int]


class EgressPace(Base):
    """The pace of one egress address toward one host, shared by every worker
    behind that address: each request start takes the next slot
    (``next_start``, seconds since the epoch) and moves it on by the spacing;
    a platform-wide slow-down (a 418 or 429) moves it past the pause."""

    __tablename__ = "egress_pace"

    egress: Mapped[str] = mapped_column(String(100), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_start: Mapped[float] = mapped_column(Float)
    requests: Mapped[int] = mapped_column(BigInteger)
