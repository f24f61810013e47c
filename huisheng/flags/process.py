"""The decide step of the pipeline: stored comments → flags and reply links.

It takes the comments the store holds that were not decided yet
(``comments.decided_at IS NULL``), oldest first, and for each:

* a comment by an account of the matrix is checked as a reply
  (:mod:`huisheng.flags.replies`) to the open flags of its post;
* any other comment goes through the pure decision
  (:func:`huisheng.flags.classify.decide`); one that needs a reply becomes a
  flag owned by the routed unit, with a deadline in working time (an urgent
  one: ``urgent_hours`` round the clock) — unless the same citizen already has
  an unanswered flag in that thread (the case is already open), and linked to
  the earlier flag when it follows up a reply.

History is not a backlog: with ``[flags] history = "record"`` (the default) a
comment written before its account's monitoring start gets a *historical*
flag.  Its ``due_at`` is the deadline it would have had (from its own time),
kept for the record; nothing acts on it — no ladder, no alert, no digest list,
not overdue anywhere.  An account that has never been read successfully has no
monitoring start yet (it will be its first successful poll minus the grace):
its comments older than ``now`` minus the grace are history whatever that poll
brings, the newer ones wait undecided until the start is known, so a comment
fetched by a first poll still running is never decided against a guess.

Flags, events and the ``decided_at`` markers commit together, batch by batch,
so re-running never duplicates a flag or resets its state, and a crash leaves
the rest of the batch to decide again.  A comment whose decision raises (a bug
its text brings out) is logged with its id and the error (``DecideResult.failed``)
and flagged for a person at its account's own unit:
it never holds up the rest of its batch, is not tried again batch after batch,
and is not lost.

The citizens' comments of a batch are decided together before the batch is
worked through (the decision depends on no other comment), so the routing
model scores all the texts it is asked about at once.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Collection, Iterable

from sqlalchemy import Integer, Row, Update, bindparam, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from huisheng.adapters import text_conventions
from huisheng.flags import lifecycle
from huisheng.flags.classify import Decision, Directory, Subject, build_directory, decide_many
from huisheng.flags.replies import AccountComment, OpenFlag, match_reply
from huisheng.flags.rules import Rules
from huisheng.flags.sla import History, Sla
from huisheng.flags.workcal import WorkCalendar
from huisheng.clock import Clock
from huisheng.storage.db import insert_many, transaction
from huisheng.storage.matrix_sync import matrix_from_db, matrix_revision
from huisheng.storage.models import Account, Comment, Flag, FlagEvent, Post
from huisheng.vocabulary import Category, Routing

if TYPE_CHECKING:
    from huisheng.flags.relearn import ModelHandle

log = logging.getLogger("huisheng.flags")

#: what the decide step reads of a comment
COMMENT_COLUMNS = (Comment.id, Comment.platform, Comment.post_id, Comment.external_id, Comment.root_external_id,
                   Comment.parent_external_id, Comment.author_id, Comment.author_name, Comment.created_at, Comment.text,
                   Comment.mentions, Comment.reply_to_name, Comment.deleted_at, Comment.item)
#: what the decide step reads of a flag already stored
FLAG_COLUMNS = (Flag.id, Flag.post_id, Flag.author_id, Flag.author_name, Flag.started_at, Flag.account_id,
                Flag.unit_id, Flag.status, Flag.historical)
#: the names of FLAG_COLUMNS but the id, which a batch keeps apart
_FLAG_KEYS = tuple(c.key for c in FLAG_COLUMNS[1:])
RULE_ACTOR = "rule:decide"
REPLY_ACTOR = "rule:reply-detection"
UNANSWERED = ("open", "acknowledged")

_FLAGS = Flag.__table__
_EVENTS = FlagEvent.__table__

# The batch's statements, built once: building and keying a statement cost
# about as much again as running it.
#: every flag on some posts, with its comment's thread and kind
_READ_FLAGS = (select(*FLAG_COLUMNS, Comment.root_external_id, Comment.external_id, Comment.item)
               .join(Comment, Comment.id == Flag.comment_id)
               .where(Flag.post_id.in_(bindparam("posts", expanding=True))))
#: the comments already decided on some posts by some author ids, oldest first
_READ_REPLIES = (select(*COMMENT_COLUMNS)
                 .where(Comment.post_id.in_(bindparam("posts", expanding=True)), Comment.decided_at.is_not(None),
                        Comment.author_id.in_(bindparam("authors", expanding=True)))
                 .order_by(Comment.created_at, Comment.id))
_READ_AUTHORS = (select(Comment.post_id, Comment.external_id, Comment.author_id, Comment.author_name)
                 .where(Comment.post_id.in_(bindparam("posts", expanding=True)),
                        Comment.external_id.in_(bindparam("external_ids", expanding=True))))
_CLAIM = (update(Comment).where(Comment.id.in_(bindparam("ids", expanding=True)), Comment.decided_at.is_(None))
          .values(decided_at=bindparam("now")))
#: the comments not decided yet, oldest first, with their post's account
_PENDING = (select(*COMMENT_COLUMNS, Post.account_id.label("account_id"), Post.origin.label("origin"),
                   Account.uid.label("account_uid"), Account.monitoring_start.label("monitoring_start"))
            .join(Post, Post.id == Comment.post_id)
            .join(Account, Account.id == Post.account_id)
            .where(Comment.decided_at.is_(None))
            .order_by(Comment.created_at, Comment.id)
            .limit(bindparam("limit", type_=Integer)))
#: of those, the ones under an account whose monitoring start is known, or history whatever it turns out to be
_PENDING_KNOWN_START = _PENDING.where(or_(Account.monitoring_start.is_not(None),
                                          Comment.created_at < bindparam("surely_history")))
_NEW_FLAG_IDS = select(_FLAGS.c.comment_id, _FLAGS.c.id).where(
    _FLAGS.c.comment_id.in_(bindparam("comments", expanding=True)))
_LINK_FOLLOW_UPS = (update(_FLAGS).where(_FLAGS.c.id == bindparam("flag_id"))
                    .values(follow_up_of=bindparam("earlier")))


@dataclass
class DecideResult:
    decided: int = 0
    flags: list[int] = field(default_factory=list)
    urgent: list[int] = field(default_factory=list)
    replied: list[int] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)
    #: comments whose decision raised (logged; decided without a flag)
    failed: list[int] = field(default_factory=list)


class _FlagRow:
    """A flag as one batch holds it: its columns as plain attributes, which the
    lifecycle transitions change like an ORM flag's, remembering what changed.
    Building ORM objects and flushing them through the unit of work cost more
    than deciding; the batch writes its rows in bulk instead."""

    __slots__ = ("id", "_values", "_changed", "thread", "follow_up", "_open", "on_post")

    def __init__(self, flag_id: int | None, values: dict[str, Any], thread: str,
                 follow_up: _FlagRow | None = None, on_post: bool = False):
        object.__setattr__(self, "id", flag_id)  # None until the batch is written
        #: raised on a citizen's post itself (its thread's root item)
        object.__setattr__(self, "on_post", on_post)
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_changed", set())
        object.__setattr__(self, "thread", thread)
        object.__setattr__(self, "follow_up", follow_up)
        object.__setattr__(self, "_open", None)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = value
        self._changed.add(name)


class _Lost(Exception):
    """Another process decided part of this batch first (see ``run_batch``)."""


class _Batch:
    """What one batch needs from the database, read once up front (every flag
    on the batch's posts, with its thread's top-level comment, and the
    accounts' comments already decided there), and what it will write."""

    def __init__(self, connection: Connection, post_ids: set[int], accounts: Collection[tuple[str, str]]):
        self.flags: dict[int, list[_FlagRow]] = {}
        #: (post, citizen, thread) → that citizen's flags in that thread, oldest first
        self.cases: dict[tuple[int, str, str], list[_FlagRow]] = {}
        self.new: list[_FlagRow] = []
        self.events: list[tuple[_FlagRow, lifecycle.Event]] = []
        posts = list(post_ids)
        for flag_id, *values, root, own, item in connection.execute(_READ_FLAGS, {"posts": posts}):
            self._add(_FlagRow(flag_id, dict(zip(_FLAG_KEYS, values)), root or own, on_post=item == "post"))
        self.replies: dict[int, list[Row]] = {}
        for comment in connection.execute(_READ_REPLIES, {"posts": posts,
                                                          "authors": list({uid for _, uid in accounts})}):
            if (comment.platform, comment.author_id) in accounts:  # the same id elsewhere is someone else
                self.replies.setdefault(comment.post_id, []).append(comment)
        #: (post, external id) → (author id, name) of comments the accounts' replies answer
        self.authors: dict[tuple[int, str], tuple[str, str]] = {}

    def learn_answered(self, connection: Connection, comments: Iterable[Row]) -> None:
        """Read who wrote the comments that ``comments`` (the accounts') answer
        one person with (see :meth:`answers`), in one query."""
        wanted = {(c.post_id, c.parent_external_id) for c in comments
                  if c.reply_to_name and c.parent_external_id} - self.authors.keys()
        if not wanted:
            return
        for row in connection.execute(_READ_AUTHORS, {"posts": list({p for p, _ in wanted}),
                                                      "external_ids": list({e for _, e in wanted})}):
            self.authors[(row.post_id, row.external_id)] = (row.author_id, row.author_name)

    def answers(self, comment: Row) -> str | None:
        """The author id of the comment a reply to one person answers.  The
        link names it only when that person wrote it: a name the platform could
        not resolve leaves the link at the thread's top comment."""
        found = self.authors.get((comment.post_id, comment.parent_external_id or ""))
        return found[0] if found is not None and found[1] == comment.reply_to_name else None

    def _add(self, flag: _FlagRow) -> None:
        self.flags.setdefault(flag.post_id, []).append(flag)
        case = self.cases.setdefault((flag.post_id, flag.author_id, flag.thread), [])
        case.append(flag)
        case.sort(key=lambda f: f.started_at)

    def raise_flag(self, flag: _FlagRow, step: lifecycle.Event) -> None:
        self._add(flag)
        self.new.append(flag)
        self.events.append((flag, step))

    def unanswered(self, post_id: int) -> list[_FlagRow]:
        return [f for f in self.flags.get(post_id, ()) if f.status in UNANSWERED]

    @staticmethod
    def open_flag(flag: _FlagRow) -> OpenFlag:
        # Keyed by object identity: a flag raised in this batch has no id yet.
        # What it holds does not change within a batch, so it is built once.
        if flag._open is None:
            object.__setattr__(flag, "_open", OpenFlag(
                id=id(flag), post_id=flag.post_id, thread_root=flag.thread, author_id=flag.author_id,
                author_name=flag.author_name,
                started_at=flag.started_at, account_id=flag.account_id, unit_id=flag.unit_id,
                on_post=flag.on_post))
        return flag._open

    def write(self, connection: Connection) -> None:
        """The batch's new flags, changed flags and events, in a few statements."""
        if self.new:
            # Plain executemany, then the ids by comment (unique per flag): SQLite
            # cannot promise RETURNING's order, so an ordered RETURNING would
            # insert row by row.
            insert_many(connection, _FLAGS, [f._values for f in self.new])
            ids = dict(connection.execute(_NEW_FLAG_IDS, {"comments": [f.comment_id for f in self.new]}).all())
            for flag in self.new:
                object.__setattr__(flag, "id", ids[flag.comment_id])
                flag._changed.clear()
            # a follow-up of a flag raised in the same batch learns its id only now
            late = [{"flag_id": f.id, "earlier": f.follow_up.id} for f in self.new
                    if f.follow_up is not None and f.follow_up_of is None]
            if late:
                connection.execute(_LINK_FOLLOW_UPS, late)
        changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for flags in self.flags.values():
            for flag in flags:
                if flag._changed:
                    columns = tuple(sorted(flag._changed))
                    changed.setdefault(columns, []).append(
                        {"flag_id": flag.id, **{f"new_{c}": flag._values[c] for c in columns}})
        for columns, params in changed.items():
            connection.execute(_update_flags(columns), params)
        if self.events:
            insert_many(connection, _EVENTS, [
                {"flag_id": flag.id, "at": step.at, "kind": step.kind, "actor": step.actor, "note": step.note,
                 "data": _event_data(flag, step)} for flag, step in self.events])


@functools.lru_cache(maxsize=64)
def _update_flags(columns: tuple[str, ...]) -> Update:
    """The statement setting these columns of flags by id (a few sets recur: replied, acknowledged …)."""
    return (update(_FLAGS).where(_FLAGS.c.id == bindparam("flag_id"))
            .values({c: bindparam(f"new_{c}") for c in columns}))


def _event_data(flag: _FlagRow, step: lifecycle.Event) -> dict[str, Any]:
    if step.kind == "created" and flag.follow_up is not None:
        # the earlier flag may have been raised in the same batch, its id known only now
        return {**step.data, "follow_up_of": flag.follow_up.id}
    return step.data


class Decider:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, rules: Rules,
                 calendar: WorkCalendar, sla: Sla, *, batch_size: int = 500, history: History | None = None,
                 learned: ModelHandle | None = None):
        self.sessions = sessions
        self.clock = clock
        self.rules = rules
        self.calendar = calendar
        self.sla = sla
        self.batch_size = batch_size
        self.history = history or History()
        #: the routing model file, if configured (a new file is picked up at the next batch)
        self.learned = learned
        self._directory: tuple[Directory, dict[str, int], dict[tuple[str, str], int], dict[int, int]] | None = None
        #: the matrix revision the cached directory was built from
        self._revision: int | None = None

    def _dir(self, connection: Connection):
        """The directory of units and accounts, rebuilt when ``matrix sync``
        changed the matrix since it was built (one primary-key read a batch)."""
        revision = matrix_revision(connection)  # before the matrix: a sync in between is seen next batch
        if self._directory is None or revision != self._revision:
            self._revision = revision
            with Session(bind=connection) as session:  # within the batch's transaction
                matrix, unit_ids, account_ids = matrix_from_db(session)
            account_units = {account_ids[(spec.platform, spec.uid)]: unit_ids[spec.unit] for spec in matrix.accounts}
            self._directory = (build_directory(matrix), unit_ids, account_ids, account_units)
        return self._directory

    # -- the step ---------------------------------------------------------------------

    def run(self, now: datetime | None = None) -> DecideResult:
        """Decide every pending comment, batch by batch."""
        total = DecideResult()
        while True:
            try:
                result = self.run_batch(now)
            except _Lost:  # another process is deciding these comments: its work stands
                return total
            total.decided += result.decided
            total.flags += result.flags
            total.urgent += result.urgent
            total.replied += result.replied
            total.acknowledged += result.acknowledged
            total.failed += result.failed
            if result.decided < self.batch_size:
                return total

    def run_batch(self, now: datetime | None = None) -> DecideResult:
        now = now or self.clock.now()
        result = DecideResult()
        touched: dict[str, list[_FlagRow]] = {"replied": [], "acknowledged": []}
        # a plain connection: the batch reads plain rows and writes in bulk, no ORM
        with transaction(self.sessions) as connection:
            directory, unit_ids, account_ids, account_units = self._dir(connection)
            if self.history.records:
                # no monitoring start yet: only what is history whatever it turns out to be
                rows = connection.execute(_PENDING_KNOWN_START, {
                    "limit": self.batch_size,
                    "surely_history": self.calendar.add(now, -self.history.grace_days).at}).all()
            else:
                rows = connection.execute(_PENDING, {"limit": self.batch_size}).all()
            if not rows:
                return result
            if any((c.platform, c.account_uid) not in account_ids for c in rows):
                # `huisheng matrix sync` added accounts since the matrix was cached
                self._directory = None
                directory, unit_ids, account_ids, account_units = self._dir(connection)
            batch = _Batch(connection, {c.post_id for c in rows}, account_ids.keys())
            batch.learn_answered(connection, [c for c in rows if (c.platform, c.author_id) in account_ids]
                                 + [r for replies in batch.replies.values() for r in replies])
            learned = self.learned.current() if self.learned is not None else None
            # The citizens' comments decided first, all together (the decision is
            # pure: it depends on no other comment of the batch), so the routing
            # model is asked about the whole batch at once.
            citizens = [c for c in rows if c.deleted_at is None and (c.platform, c.author_id) not in account_ids
                        # under a citizen's post only what @s an account speaks to the government
                        and (c.origin != "mention" or c.item != "comment"
                             or any(n in directory.account_names for n in c.mentions or ()))]
            decisions = dict(zip((c.id for c in citizens), decide_many(
                [_subject(c) for c in citizens], self.rules, directory, learned)))
            for comment in rows:
                result.decided += 1
                if comment.deleted_at is not None:
                    continue
                if (comment.platform, comment.author_id) in account_ids:  # by id: a namesake is a citizen
                    writer = account_ids[(comment.platform, comment.author_id)]
                    self._as_reply(comment, writer, account_units[writer], batch.unanswered(comment.post_id),
                                   batch, now, touched)
                    batch.replies.setdefault(comment.post_id, []).append(comment)
                    continue
                decision = decisions.get(comment.id)
                if decision is None:
                    continue  # a citizen talking to others under a citizen's post
                if isinstance(decision, Exception):
                    # Never retried batch after batch (it would hold the others up), never
                    # dropped either: a person reads it, at the account's own unit.
                    log.error("comment=%s (%s, row %d): the decision failed, flagged for a person: %s: %s",
                              comment.external_id, comment.platform, comment.id, type(decision).__name__,
                              decision, exc_info=decision)
                    result.failed.append(comment.id)
                    decision = _for_a_person(comment, directory)
                days = self.sla.deadline_days(decision.category) if decision.category else None
                if not decision.needs_reply or (days is None and not decision.urgent):
                    continue  # a category with no deadline (praise) carries no duty to reply
                if decision.unit_code not in unit_ids:
                    log.error("comment=%s: no owning unit found (%s); not flagged", comment.external_id,
                              decision.routing_reason)
                    continue
                flag = self._raise(comment, comment.account_id, decision, days, unit_ids, batch, now)
                if flag is not None:
                    self._link_earlier_replies(flag, batch, account_ids, account_units, now, touched)
            # Claimed before anything is written: another process deciding the
            # same comments at the same moment (`huisheng poll` beside the
            # daemon) waits for this claim; the one that loses rolls its batch
            # back instead of flagging a comment twice.
            claimed = connection.execute(_CLAIM, {"ids": [c.id for c in rows], "now": now}).rowcount
            if claimed != len(rows):
                raise _Lost()
            batch.write(connection)
            result.flags = [f.id for f in batch.new]
            result.urgent = [f.id for f in batch.new if f.urgent and not f.historical]
            result.replied = [f.id for f in touched["replied"]]
            result.acknowledged = [f.id for f in touched["acknowledged"]]
        if result.flags or result.replied:
            log.info("decided=%d flags=%d urgent=%d replied=%d acknowledged=%d", result.decided,
                     len(result.flags), len(result.urgent), len(result.replied), len(result.acknowledged))
        return result

    # -- replies ----------------------------------------------------------------------

    def _as_reply(self, comment: Row, writer_id: int, writer_unit: int, candidates: list[_FlagRow],
                  batch: _Batch, now: datetime, touched: dict[str, list[_FlagRow]]) -> None:
        if not candidates:
            return
        by_key = {id(f): f for f in candidates}
        match = match_reply(_account_comment(comment, writer_id, writer_unit, batch.answers(comment)),
                            [batch.open_flag(f) for f in candidates], self.rules.acknowledgement_patterns)
        for key in match.flag_ids:
            self._apply_reply(by_key[key], comment, match.acknowledgement, batch, now, touched)

    def _apply_reply(self, flag: _FlagRow, comment: Row, acknowledgement: bool, batch: _Batch,
                     now: datetime, touched: dict[str, list[_FlagRow]]) -> None:
        if acknowledgement:
            if flag.status == "open":
                batch.events.append((flag, lifecycle.acknowledge(
                    flag, actor=REPLY_ACTOR, at=comment.created_at, now=now, comment_id=comment.id,
                    note="自动受理回复")))
                touched["acknowledged"].append(flag)
            return
        at = comment.created_at
        batch.events.append((flag, lifecycle.mark_replied(
            flag, actor=REPLY_ACTOR, at=at, now=now, comment_id=comment.id,
            reply_seconds=(at - flag.started_at).total_seconds(),
            reply_working_seconds=self.calendar.working_seconds(flag.started_at, at))))
        touched["replied"].append(flag)

    # -- raising flags ------------------------------------------------------------------

    def _raise(self, comment: Row, account_id: int, decision: Decision, days: float | None,
               unit_ids: dict[str, int], batch: _Batch, now: datetime) -> _FlagRow | None:
        thread = comment.root_external_id or comment.external_id
        same_citizen = batch.cases.get((comment.post_id, comment.author_id, thread), ())
        started = comment.created_at or now
        # only comments older than the grace reach here without a start (see run_batch)
        historical = self.history.records and (comment.monitoring_start is None
                                               or started < comment.monitoring_start)
        # the same case still open: no second flag — unless the open one is history and this
        # is not (a citizen asking again once monitored is owed an answer on the clock)
        if any(f.status in UNANSWERED and (historical or not f.historical) for f in same_citizen):
            return None
        earlier = same_citizen[-1] if same_citizen else None
        if decision.urgent:  # hours, round the clock: a fire does not wait for office hours
            due_at, uncertain, uncovered = started + timedelta(hours=self.sla.urgent_hours), False, ()
        else:
            deadline = self.calendar.add(started, days)
            due_at, uncertain, uncovered = deadline.at, deadline.uncertain, deadline.uncovered_years
        flag = _FlagRow(None, _new_flag_values(
            comment_id=comment.id, post_id=comment.post_id, account_id=account_id,
            unit_id=unit_ids[decision.unit_code], routing=decision.routing or "account",
            routing_reason=decision.routing_reason, category=decision.category, urgent=decision.urgent,
            historical=historical, reasons=[_reason_json(r) for r in decision.reasons],
            author_id=comment.author_id, author_name=comment.author_name, started_at=started, created_at=now,
            due_at=due_at, due_uncertain=uncertain, updated_at=now,
            follow_up_of=earlier.id if earlier is not None else None), thread, follow_up=earlier,
            on_post=comment.item == "post")
        extra = {"historical": True, "monitoring_start": _iso(comment.monitoring_start)} if historical else {}
        batch.raise_flag(flag, lifecycle.event(
            flag, "created", RULE_ACTOR, now, decision.routing_reason, category=decision.category,
            urgent=decision.urgent, follow_up_of=earlier.id if earlier is not None else None,
            due_uncertain=uncertain, uncovered_years=list(uncovered), **extra))
        return flag

    def _link_earlier_replies(self, flag: _FlagRow, batch: _Batch, account_ids: dict[tuple[str, str], int],
                              account_units: dict[int, int], now: datetime,
                              touched: dict[str, list[_FlagRow]]) -> None:
        """A reply decided before the comment it answers was stored (a thread
        read in pieces) still counts: look back once when the flag is raised."""
        for reply in batch.replies.get(flag.post_id, ()):
            if flag.status not in UNANSWERED:
                return
            if reply.created_at < flag.started_at:
                continue
            writer = account_ids[(reply.platform, reply.author_id)]
            match = match_reply(_account_comment(reply, writer, account_units[writer], batch.answers(reply)),
                                [batch.open_flag(flag)], self.rules.acknowledgement_patterns)
            if match.flag_ids:
                self._apply_reply(flag, reply, match.acknowledgement, batch, now, touched)


#: what a reply or an acknowledgement in the same batch may still change on a new flag;
#: the ladder's and the staff's columns start NULL
_NEW_FLAG_DEFAULTS: dict[str, Any] = {
    "status": "open", "follow_up_of": None, "acknowledged_at": None, "first_reply_at": None,
    "first_reply_comment_id": None, "reply_seconds": None, "reply_working_seconds": None,
    "replied_offline": False}


def _new_flag_values(**values: Any) -> dict[str, Any]:
    """The columns of a new flag, the same in every row (one bulk insert)."""
    return {**_NEW_FLAG_DEFAULTS, **values}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _for_a_person(comment: Row, directory: Directory) -> Decision:
    """What a comment whose automatic decision failed gets: a flag for its
    account's own unit to read, saying so."""
    unit = directory.account_units.get((comment.platform, comment.account_uid))
    return Decision(needs_reply=True, category=Category.CONSULTATION.value, urgent=False, reasons=(),
                    unit_code=unit, routing=Routing.ACCOUNT.value,
                    routing_reason="自动判断出错，按账号主办单位分派，请人工阅读并判断")


def _subject(comment: Row) -> Subject:
    return Subject(text=comment.text, author_id=comment.author_id, author_name=comment.author_name,
                   platform=comment.platform, account_uid=comment.account_uid,
                   conventions=text_conventions(comment.platform), mentions=tuple(comment.mentions or ()),
                   reply_to_name=comment.reply_to_name, kind="post" if comment.item == "post" else "comment")


def _account_comment(comment: Row, writer_id: int, writer_unit: int, answers: str | None) -> AccountComment:
    return AccountComment(post_id=comment.post_id, external_id=comment.external_id,
                          root_external_id=comment.root_external_id, created_at=comment.created_at,
                          text=comment.text, mentions=tuple(comment.mentions or ()),
                          reply_to_name=comment.reply_to_name, account_id=writer_id, unit_id=writer_unit,
                          answers_author_id=answers)


def _reason_json(reason) -> dict:
    span = reason.span
    return {"rule": reason.rule, "kind": reason.kind, "detail": reason.detail,
            "span": [span.start, span.end, span.text] if span is not None else None}
