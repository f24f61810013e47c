"""The ladder (督办) after a missed deadline, run by a scheduled job.

For every flag still unanswered (open or acknowledged), each step happens
once, as an event, when its time has come:

* ``reminder`` (催办): ``reminder_before`` working days before the deadline;
* ``escalated`` (督办): from the start of the first working day after the
  deadline's day, to the parent unit's administrators;
* ``notice`` (通报): ``notice_after`` working days after the deadline, the flag
  goes on the public-notice list;
* ``stale``: ``stale_days`` calendar days after the comment, unanswered.

A flag whose deadline has passed by several steps when the job first sees it
(the daemon was down) gets every due step at once, in order.

An urgent flag has its own ladder, in hours round the clock: the reminder at
half time (half-way from the comment to its deadline), the escalation at the
deadline itself, to the parent unit and the district's duty address; 通报 and
stale as for any flag.  The daemon runs the urgent ladder every minute and the
rest every ten (``run(urgent=True/False)``).  ``on_step`` is told of each step
in the transaction that records it (the wiring mails urgent steps,
:meth:`huisheng.notify.alerts.AlertJob.ladder_step`) and returns whom it told.

A historical flag (written before its account's monitoring start) has no
clock: the ladder never takes a step on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from huisheng.flags import lifecycle
from huisheng.flags.sla import Sla
from huisheng.flags.workcal import WorkCalendar
from huisheng.clock import Clock
from huisheng.storage.models import Flag, Unit

ACTOR = "rule:ladder"
UNANSWERED = ("open", "acknowledged")

#: (session, flag, step, now) → the addresses told of the step
OnStep = Callable[[Session, Flag, str, datetime], Sequence[str]]


@dataclass
class LadderResult:
    reminded: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    noticed: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)


def escalation_time(calendar: WorkCalendar, due: datetime) -> datetime:
    """The start of the first working day after the day the deadline falls on."""
    local = due.astimezone(calendar.tz)
    next_midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return calendar.next_office_start(next_midnight)


class Ladder:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, calendar: WorkCalendar, sla: Sla,
                 *, on_step: OnStep | None = None):
        self.sessions = sessions
        self.clock = clock
        self.calendar = calendar
        self.sla = sla
        self.on_step = on_step

    def run(self, now: datetime | None = None, *, urgent: bool | None = None) -> LadderResult:
        """Take every step due at ``now``: of every flag, or only of the urgent
        flags (``urgent=True``) or only of the others (``urgent=False``)."""
        now = now or self.clock.now()
        result = LadderResult()
        unanswered = (Flag.status.in_(UNANSWERED), Flag.historical.is_(False))
        with self.sessions.begin() as session:
            flags: list[Flag] = []
            if urgent is not False:
                # few, and each due within hours: every one with a step still to take
                flags += session.scalars(select(Flag).where(
                    *unanswered, Flag.urgent.is_(True),
                    or_(Flag.reminded_at.is_(None), Flag.escalated_at.is_(None), Flag.noticed_at.is_(None),
                        Flag.stale_at.is_(None))).order_by(Flag.id)).all()
            if urgent is not True:
                # A flag can be reminded as soon as its deadline is within
                # reminder_before working days, i.e. at most that many calendar days
                # plus the longest holiday ahead; the filter only bounds the scan.
                horizon = now + timedelta(days=self.sla.reminder_before * 3 + 10)
                normal = (*unanswered, Flag.urgent.is_(False))
                flags += session.scalars(select(Flag).where(*normal, Flag.due_at <= horizon)).all()
                stale_before = now - timedelta(days=self.sla.stale_days)
                flags += session.scalars(select(Flag).where(*normal, Flag.due_at > horizon,
                                                            Flag.started_at <= stale_before)).all()
            for flag in flags:
                self._step(session, flag, now, result)
        return result

    def _record(self, session: Session, flag: Flag, step: str, now: datetime, note: str, *,
                notify: bool = True, **data) -> None:
        row = lifecycle.record(session, flag, step, ACTOR, now, note, **data)
        if notify and self.on_step is not None:
            told = self.on_step(session, flag, step, now)
            if told:
                row.data = {**row.data, "notified": list(told)}

    def _step(self, session: Session, flag: Flag, now: datetime, result: LadderResult) -> None:
        due = flag.due_at
        if flag.urgent:
            hours = (due - flag.started_at).total_seconds() / 3600
            remind_at = flag.started_at + (due - flag.started_at) / 2
            remind_note = f"紧急留言已过回复时限（{hours:g} 小时）的一半，仍未回复"
            escalate_at = due
            escalate_note = f"紧急留言超过 {hours:g} 小时未回复，提交上级单位和值班督办"
        else:
            remind_at = self.calendar.add(due, -self.sla.reminder_before).at
            remind_note = f"距回复期限不足 {self.sla.reminder_before:g} 个工作日"
            escalate_at = escalation_time(self.calendar, due)
            escalate_note = "超期未回复，提交上级单位督办"
        escalating = flag.escalated_at is None and now >= escalate_at
        if flag.reminded_at is None and now >= remind_at:
            flag.reminded_at = now
            # a reminder overtaken by the escalation in the same run tells nobody twice
            self._record(session, flag, "reminder", now, remind_note, notify=not escalating,
                         due_at=due.isoformat())
            result.reminded.append(flag.id)
        if escalating:
            unit = session.get(Unit, flag.unit_id)
            flag.escalated_at = now
            self._record(session, flag, "escalated", now, escalate_note, due_at=due.isoformat(),
                         to_unit=unit.parent_id)
            result.escalated.append(flag.id)
        if flag.noticed_at is None and now >= self.calendar.add(due, self.sla.notice_after).at:
            flag.noticed_at = now
            lifecycle.record(session, flag, "notice", ACTOR, now,
                             f"超期 {self.sla.notice_after:g} 个工作日，列入通报",
                             due_at=due.isoformat())
            result.noticed.append(flag.id)
        if flag.stale_at is None and now >= flag.started_at + timedelta(days=self.sla.stale_days):
            flag.stale_at = now
            lifecycle.record(session, flag, "stale", ACTOR, now,
                             f"超过 {self.sla.stale_days} 天未回复")
            result.stale.append(flag.id)
