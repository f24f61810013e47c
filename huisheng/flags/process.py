"""The decide step of the pipeline: stored comments → flags and reply links.

It takes the comments the store holds that were not decided yet
(``comments.decided_at IS NULL``), oldest first, and for each:

* a comment by an account of the matrix is checked as a reply
  (:mod:`huisheng.flags.replies`) to the open flags of its post;
* any other comment goes through the pure decision
  (:func:`huisheng.flags.classify.decide`); one that needs a reply becomes a
  flag owned by the routed unit, with a deadline in working time — unless the
  same citizen already has an unanswered flag in that thread (the case is
  already open), and linked to the earlier flag when it follows up a reply.

Flags, events and the ``decided_at`` markers commit together, batch by batch,
so re-running never duplicates a flag or resets its state, and a crash leaves
the rest of the batch to decide again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, sessionmaker

from huisheng.flags import lifecycle
from huisheng.flags.classify import Decision, Directory, Subject, build_directory, decide
from huisheng.flags.replies import AccountComment, OpenFlag, match_reply
from huisheng.flags.rules import Rules
from huisheng.flags.sla import Sla
from huisheng.flags.workcal import WorkCalendar
from huisheng.monitor.clock import Clock
from huisheng.monitor.models import Account, Comment, Flag, Post, Unit
from huisheng.monitor.settings import AccountSpec, Matrix, UnitSpec

log = logging.getLogger("huisheng.flags")

#: what the decide step reads of a comment
COMMENT_COLUMNS = (Comment.id, Comment.post_id, Comment.external_id, Comment.root_external_id,
                   Comment.author_id, Comment.author_name, Comment.created_at, Comment.text,
                   Comment.mentions, Comment.reply_to_name, Comment.deleted_at)
RULE_ACTOR = "rule:decide"
REPLY_ACTOR = "rule:reply-detection"
UNANSWERED = ("open", "acknowledged")


@dataclass
class DecideResult:
    decided: int = 0
    flags: list[int] = field(default_factory=list)
    urgent: list[int] = field(default_factory=list)
    replied: list[int] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)


def matrix_from_db(session: Session) -> tuple[Matrix, dict[str, int], dict[str, int]]:
    """The matrix as the database holds it (units and enabled accounts), with
    unit code → row id and account uid → row id."""
    units = session.scalars(select(Unit).where(Unit.enabled.is_(True))).all()
    by_id = {u.id: u for u in units}
    unit_specs = tuple(UnitSpec(code=u.code, name=u.name, level=u.level,
                                parent=by_id[u.parent_id].code if u.parent_id in by_id else None,
                                aliases=tuple(u.aliases or ()), admins=tuple(u.admins or ()))
                       for u in units)
    accounts = session.scalars(select(Account)).all()
    account_specs = tuple(AccountSpec(platform=a.platform, uid=a.uid, name=a.name, unit=by_id[a.unit_id].code,
                                      enabled=a.enabled)
                          for a in accounts if a.unit_id in by_id)
    return (Matrix(units=unit_specs, accounts=account_specs), {u.code: u.id for u in units},
            {a.uid: a.id for a in accounts})


class _Batch:
    """What one batch needs from the database, read once up front: every flag
    on the batch's posts (with its thread's top-level comment) and the
    accounts' comments already decided there."""

    def __init__(self, session: Session, post_ids: set[int], account_uids: list[str]):
        self.flags: dict[int, list[Flag]] = {}
        self.roots: dict[int, str] = {}  # id(flag) → external id of its thread's top comment
        for flag, root_ext, ext in session.execute(
                select(Flag, Comment.root_external_id, Comment.external_id)
                .join(Comment, Comment.id == Flag.comment_id).where(Flag.post_id.in_(post_ids))):
            self.add(flag, root_ext or ext)
        self.replies: dict[int, list[Row]] = {}
        for comment in session.execute(
                select(*COMMENT_COLUMNS).where(Comment.post_id.in_(post_ids), Comment.decided_at.is_not(None),
                                               Comment.author_id.in_(account_uids))
                .order_by(Comment.created_at, Comment.id)):
            self.replies.setdefault(comment.post_id, []).append(comment)

    def add(self, flag: Flag, root: str) -> None:
        self.flags.setdefault(flag.post_id, []).append(flag)
        self.roots[id(flag)] = root

    def unanswered(self, post_id: int) -> list[Flag]:
        return [f for f in self.flags.get(post_id, ()) if f.status in UNANSWERED]

    def open_flag(self, flag: Flag) -> OpenFlag:
        # Keyed by object identity: a flag raised in this batch has no id yet.
        return OpenFlag(id=id(flag), post_id=flag.post_id, thread_root=self.roots[id(flag)],
                        author_name=flag.author_name, started_at=flag.started_at,
                        account_id=flag.account_id, unit_id=flag.unit_id, status=flag.status)


class Decider:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, rules: Rules,
                 calendar: WorkCalendar, sla: Sla, *, batch_size: int = 500):
        self.sessions = sessions
        self.clock = clock
        self.rules = rules
        self.calendar = calendar
        self.sla = sla
        self.batch_size = batch_size
        self._directory: tuple[Directory, dict[str, int], dict[str, int], dict[int, int]] | None = None

    def refresh_directory(self) -> None:
        """Forget the cached matrix (after ``huisheng matrix sync``)."""
        self._directory = None

    def _dir(self, session: Session):
        if self._directory is None:
            matrix, unit_ids, account_ids = matrix_from_db(session)
            account_units = {account_ids[spec.uid]: unit_ids[spec.unit] for spec in matrix.accounts}
            self._directory = (build_directory(matrix), unit_ids, account_ids, account_units)
        return self._directory

    # -- the step ---------------------------------------------------------------------

    def run(self, now: datetime | None = None) -> DecideResult:
        """Decide every pending comment, batch by batch."""
        total = DecideResult()
        while True:
            result = self.run_batch(now)
            total.decided += result.decided
            total.flags += result.flags
            total.urgent += result.urgent
            total.replied += result.replied
            total.acknowledged += result.acknowledged
            if result.decided < self.batch_size:
                return total

    def run_batch(self, now: datetime | None = None) -> DecideResult:
        now = now or self.clock.now()
        result = DecideResult()
        raised: list[Flag] = []
        touched: dict[str, list[Flag]] = {"replied": [], "acknowledged": []}
        with self.sessions.begin() as session:
            directory, unit_ids, account_ids, account_units = self._dir(session)
            # Plain rows, not ORM objects: the batch only reads them.
            rows = session.execute(
                select(*COMMENT_COLUMNS, Post.account_id.label("account_id"), Account.uid.label("account_uid"))
                .join(Post, Post.id == Comment.post_id)
                .join(Account, Account.id == Post.account_id)
                .where(Comment.decided_at.is_(None))
                .order_by(Comment.created_at, Comment.id)
                .limit(self.batch_size)).all()
            if not rows:
                return result
            if any(c.account_uid not in account_ids for c in rows):
                # `huisheng matrix sync` added accounts since the matrix was cached
                self._directory = None
                directory, unit_ids, account_ids, account_units = self._dir(session)
            batch = _Batch(session, {c.post_id for c in rows}, list(account_ids))
            for comment in rows:
                account_id, account_uid = comment.account_id, comment.account_uid
                result.decided += 1
                if comment.deleted_at is not None:
                    continue
                if comment.author_id in account_ids:
                    writer = account_ids[comment.author_id]
                    self._as_reply(session, comment, writer, account_units[writer],
                                   batch.unanswered(comment.post_id), batch, now, touched)
                    batch.replies.setdefault(comment.post_id, []).append(comment)
                    continue
                decision = decide(_subject(comment, account_uid), self.rules, directory)
                days = self.sla.deadline_days(decision.category) if decision.category else None
                if not decision.needs_reply or days is None:
                    continue  # a category with no deadline (praise) carries no duty to reply
                if decision.unit_code not in unit_ids:
                    log.error("comment=%s: no owning unit found (%s); not flagged", comment.external_id,
                              decision.routing_reason)
                    continue
                flag = self._raise(session, comment, account_id, decision, days, unit_ids, batch, now)
                if flag is not None:
                    raised.append(flag)
                    self._link_earlier_replies(session, flag, batch, account_ids, account_units, now, touched)
            session.execute(update(Comment).where(Comment.id.in_([c.id for c in rows])).values(decided_at=now))
            session.flush()
            result.flags = [f.id for f in raised]
            result.urgent = [f.id for f in raised if f.urgent]
            result.replied = [f.id for f in touched["replied"]]
            result.acknowledged = [f.id for f in touched["acknowledged"]]
        if result.flags or result.replied:
            log.info("decided=%d flags=%d urgent=%d replied=%d acknowledged=%d", result.decided,
                     len(result.flags), len(result.urgent), len(result.replied), len(result.acknowledged))
        return result

    # -- replies ----------------------------------------------------------------------

    def _as_reply(self, session: Session, comment: Row, writer_id: int, writer_unit: int,
                  candidates: list[Flag], batch: _Batch, now: datetime, touched: dict[str, list[Flag]]) -> None:
        if not candidates:
            return
        by_key = {id(f): f for f in candidates}
        match = match_reply(_account_comment(comment, writer_id, writer_unit),
                            [batch.open_flag(f) for f in candidates], self.rules.acknowledgement_patterns)
        for key in match.flag_ids:
            self._apply_reply(session, by_key[key], comment, match.acknowledgement, now, touched)

    def _apply_reply(self, session: Session, flag: Flag, comment: Row, acknowledgement: bool,
                     now: datetime, touched: dict[str, list[Flag]]) -> None:
        if acknowledgement:
            if flag.status == "open":
                lifecycle.acknowledge(session, flag, actor=REPLY_ACTOR, at=comment.created_at, now=now,
                                      comment_id=comment.id, note="自动受理回复")
                touched["acknowledged"].append(flag)
            return
        at = comment.created_at
        lifecycle.mark_replied(session, flag, actor=REPLY_ACTOR, at=at, now=now, comment_id=comment.id,
                               reply_seconds=(at - flag.started_at).total_seconds(),
                               reply_working_seconds=self.calendar.working_seconds(flag.started_at, at))
        touched["replied"].append(flag)

    # -- raising flags ------------------------------------------------------------------

    def _raise(self, session: Session, comment: Row, account_id: int, decision: Decision,
               days: float, unit_ids: dict[str, int], batch: _Batch, now: datetime) -> Flag | None:
        thread = comment.root_external_id or comment.external_id
        same_citizen = sorted((f for f in batch.flags.get(comment.post_id, ())
                               if f.author_id == comment.author_id and batch.roots[id(f)] == thread),
                              key=lambda f: f.started_at)
        if any(f.status in UNANSWERED for f in same_citizen):
            return None  # the same case is still open: no second flag
        earlier = same_citizen[-1] if same_citizen else None
        started = comment.created_at or now
        deadline = self.calendar.add(started, days)
        flag = Flag(comment_id=comment.id, post_id=comment.post_id, account_id=account_id,
                    unit_id=unit_ids[decision.unit_code], routing=decision.routing or "account",
                    routing_reason=decision.routing_reason, category=decision.category,
                    urgent=decision.urgent, reasons=[_reason_json(r) for r in decision.reasons],
                    author_id=comment.author_id, author_name=comment.author_name, status="open",
                    started_at=started, created_at=now, due_at=deadline.at,
                    due_uncertain=deadline.uncertain, updated_at=now)
        if earlier is not None:
            flag.follow_up = earlier
        session.add(flag)
        lifecycle.record(session, flag, "created", RULE_ACTOR, now, decision.routing_reason,
                         category=decision.category, urgent=decision.urgent,
                         follow_up_of=earlier.id if earlier is not None else None,
                         due_uncertain=deadline.uncertain, uncovered_years=list(deadline.uncovered_years))
        batch.add(flag, thread)
        return flag

    def _link_earlier_replies(self, session: Session, flag: Flag, batch: _Batch, account_ids: dict[str, int],
                              account_units: dict[int, int], now: datetime,
                              touched: dict[str, list[Flag]]) -> None:
        """A reply decided before the comment it answers was stored (a thread
        read in pieces) still counts: look back once when the flag is raised."""
        for reply in batch.replies.get(flag.post_id, ()):
            if flag.status not in UNANSWERED:
                return
            if reply.created_at < flag.started_at:
                continue
            writer = account_ids[reply.author_id]
            match = match_reply(_account_comment(reply, writer, account_units[writer]),
                                [batch.open_flag(flag)], self.rules.acknowledgement_patterns)
            if match.flag_ids:
                self._apply_reply(session, flag, reply, match.acknowledgement, now, touched)


def _subject(comment: Row, account_uid: str) -> Subject:
    return Subject(text=comment.text, author_id=comment.author_id, author_name=comment.author_name,
                   account_uid=account_uid, mentions=tuple(comment.mentions or ()),
                   reply_to_name=comment.reply_to_name, kind="comment")


def _account_comment(comment: Row, writer_id: int, writer_unit: int) -> AccountComment:
    return AccountComment(post_id=comment.post_id, external_id=comment.external_id,
                          root_external_id=comment.root_external_id, created_at=comment.created_at,
                          text=comment.text, mentions=tuple(comment.mentions or ()),
                          reply_to_name=comment.reply_to_name, account_id=writer_id, unit_id=writer_unit)


def _reason_json(reason) -> dict:
    span = reason.span
    return {"rule": reason.rule, "kind": reason.kind, "detail": reason.detail,
            "span": [span.start, span.end, span.text] if span is not None else None}
