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
from typing import Callable

from sqlalchemy import select
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


class Decider:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, rules: Rules,
                 calendar: WorkCalendar, sla: Sla, *, batch_size: int = 500,
                 on_flag: Callable[[Flag], None] | None = None):
        self.sessions = sessions
        self.clock = clock
        self.rules = rules
        self.calendar = calendar
        self.sla = sla
        self.batch_size = batch_size
        self.on_flag = on_flag
        self._directory: tuple[Directory, dict[str, int], dict[str, int], dict[int, int]] | None = None

    def refresh_directory(self) -> None:
        """Forget the cached matrix (after ``huisheng matrix sync``)."""
        self._directory = None

    def _dir(self, session: Session):
        if self._directory is None:
            matrix, unit_ids, account_ids = matrix_from_db(session)
            account_units = {aid: unit_ids[spec.unit] for spec in matrix.accounts
                             for aid in [account_ids[spec.uid]]}
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
        with self.sessions.begin() as session:
            directory, unit_ids, account_ids, account_units = self._dir(session)
            rows = session.execute(
                select(Comment, Post.account_id, Account.uid)
                .join(Post, Post.id == Comment.post_id)
                .join(Account, Account.id == Post.account_id)
                .where(Comment.decided_at.is_(None))
                .order_by(Comment.created_at, Comment.id)
                .limit(self.batch_size)).all()
            if not rows:
                return result
            post_ids = {c.post_id for c, _, _ in rows}
            open_flags = {f.id: f for f in session.scalars(
                select(Flag).where(Flag.post_id.in_(post_ids), Flag.status.in_(UNANSWERED)))}
            for comment, account_id, account_uid in rows:
                comment.decided_at = now
                result.decided += 1
                if comment.deleted_at is not None:
                    continue
                if comment.author_id in account_ids:
                    writer = account_ids[comment.author_id]
                    self._as_reply(session, comment, writer, account_units[writer], open_flags, now, result)
                    continue
                decision = decide(_subject(comment, account_uid), self.rules, directory)
                days = self.sla.deadline_days(decision.category) if decision.category else None
                if not decision.needs_reply or days is None:
                    continue  # a category with no deadline (praise) carries no duty to reply
                flag = self._raise(session, comment, account_id, decision, days, unit_ids, open_flags, now)
                if flag is not None:
                    result.flags.append(flag.id)
                    if flag.urgent:
                        result.urgent.append(flag.id)
        if result.flags:
            log.info("decided=%d flags=%d urgent=%d replied=%d acknowledged=%d", result.decided,
                     len(result.flags), len(result.urgent), len(result.replied), len(result.acknowledged))
        return result

    # -- replies ----------------------------------------------------------------------

    def _as_reply(self, session: Session, comment: Comment, writer_id: int, writer_unit: int,
                  open_flags: dict[int, Flag], now: datetime, result: DecideResult) -> None:
        candidates = [_open(f, self._thread_root(session, f)) for f in open_flags.values()
                      if f.status in UNANSWERED and f.post_id == comment.post_id]
        if not candidates:
            return
        match = match_reply(_account_comment(comment, writer_id, writer_unit), candidates,
                            self.rules.acknowledgement_patterns)
        for flag_id in match.flag_ids:
            self._apply_reply(session, open_flags[flag_id], comment, match.acknowledgement, now, result)

    def _apply_reply(self, session: Session, flag: Flag, comment: Comment, acknowledgement: bool,
                     now: datetime, result: DecideResult) -> None:
        if acknowledgement:
            if flag.status == "open":
                lifecycle.acknowledge(session, flag, actor=REPLY_ACTOR, at=comment.created_at, now=now,
                                      comment_id=comment.id, note="自动受理回复")
                result.acknowledged.append(flag.id)
            return
        at = comment.created_at
        lifecycle.mark_replied(session, flag, actor=REPLY_ACTOR, at=at, now=now, comment_id=comment.id,
                               reply_seconds=(at - flag.started_at).total_seconds(),
                               reply_working_seconds=self.calendar.working_seconds(flag.started_at, at))
        result.replied.append(flag.id)

    def _thread_root(self, session: Session, flag: Flag) -> str:
        cached = getattr(flag, "_thread_root", None)
        if cached is None:
            flagged = session.get(Comment, flag.comment_id)
            cached = flagged.root_external_id or flagged.external_id
            flag._thread_root = cached  # type: ignore[attr-defined]
        return cached

    # -- raising flags ------------------------------------------------------------------

    def _raise(self, session: Session, comment: Comment, account_id: int, decision: Decision,
               days: float, unit_ids: dict[str, int], open_flags: dict[int, Flag],
               now: datetime) -> Flag | None:
        thread = comment.root_external_id or comment.external_id
        same_citizen = [f for f in session.scalars(
            select(Flag).where(Flag.post_id == comment.post_id, Flag.author_id == comment.author_id)
            .order_by(Flag.started_at))
            if self._thread_root(session, f) == thread]
        if any(f.status in UNANSWERED for f in same_citizen):
            return None  # the same case is still open: no second flag
        earlier = next((f for f in reversed(same_citizen) if f.status not in UNANSWERED), None)
        started = comment.created_at or now
        deadline = self.calendar.add(started, days)
        flag = Flag(comment_id=comment.id, post_id=comment.post_id, account_id=account_id,
                    unit_id=unit_ids[decision.unit_code], routing=decision.routing or "account",
                    routing_reason=decision.routing_reason, category=decision.category,
                    urgent=decision.urgent, reasons=[_reason_json(r) for r in decision.reasons],
                    author_id=comment.author_id, author_name=comment.author_name, status="open",
                    started_at=started, created_at=now, due_at=deadline.at,
                    due_uncertain=deadline.uncertain, follow_up_of=earlier.id if earlier else None,
                    updated_at=now)
        session.add(flag)
        session.flush()
        lifecycle.record(session, flag, "created", RULE_ACTOR, now, decision.routing_reason,
                         category=decision.category, urgent=decision.urgent,
                         follow_up_of=flag.follow_up_of, due_uncertain=deadline.uncertain,
                         uncovered_years=list(deadline.uncovered_years))
        open_flags[flag.id] = flag
        self._link_earlier_replies(session, flag, comment, now)
        if self.on_flag is not None:
            self.on_flag(flag)
        return flag

    def _link_earlier_replies(self, session: Session, flag: Flag, comment: Comment, now: datetime) -> None:
        """A reply decided before the comment it answers was stored (a thread
        read in pieces) still counts: look back once when the flag is raised."""
        directory, unit_ids, account_ids, account_units = self._dir(session)
        later = session.scalars(
            select(Comment).where(Comment.post_id == flag.post_id, Comment.decided_at.is_not(None),
                                  Comment.created_at >= flag.started_at,
                                  Comment.author_id.in_(list(account_ids)))
            .order_by(Comment.created_at, Comment.id)).all()
        for reply in later:
            if flag.status not in UNANSWERED:
                return
            writer = account_ids[reply.author_id]
            match = match_reply(_account_comment(reply, writer, account_units[writer]),
                                [_open(flag, self._thread_root(session, flag))],
                                self.rules.acknowledgement_patterns)
            if flag.id in match.flag_ids:
                self._apply_reply(session, flag, reply, match.acknowledgement, now, DecideResult())


def _subject(comment: Comment, account_uid: str) -> Subject:
    return Subject(text=comment.text, author_id=comment.author_id, author_name=comment.author_name,
                   account_uid=account_uid, mentions=tuple(comment.mentions or ()),
                   reply_to_name=comment.reply_to_name, kind="comment")


def _account_comment(comment: Comment, writer_id: int, writer_unit: int) -> AccountComment:
    return AccountComment(post_id=comment.post_id, external_id=comment.external_id,
                          root_external_id=comment.root_external_id, created_at=comment.created_at,
                          text=comment.text, mentions=tuple(comment.mentions or ()),
                          reply_to_name=comment.reply_to_name, account_id=writer_id, unit_id=writer_unit)


def _open(flag: Flag, thread_root: str) -> OpenFlag:
    return OpenFlag(id=flag.id, post_id=flag.post_id, thread_root=thread_root, author_name=flag.author_name,
                    started_at=flag.started_at, account_id=flag.account_id, unit_id=flag.unit_id,
                    status=flag.status)


def _reason_json(reason) -> dict:
    span = reason.span
    return {"rule": reason.rule, "kind": reason.kind, "detail": reason.detail,
            "span": [span.start, span.end, span.text] if span is not None else None}
