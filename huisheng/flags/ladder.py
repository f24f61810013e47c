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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from huisheng.flags import lifecycle
from huisheng.flags.sla import Sla
from huisheng.flags.workcal import WorkCalendar
from huisheng.monitor.clock import Clock
from huisheng.monitor.models import Flag, Unit

ACTOR = "rule:ladder"


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
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, calendar: WorkCalendar, sla: Sla):
        self.sessions = sessions
        self.clock = clock
        self.calendar = calendar
        self.sla = sla

    def run(self, now: datetime | None = None) -> LadderResult:
        now = now or self.clock.now()
        result = LadderResult()
        # A flag can be reminded as soon as its deadline is within
        # reminder_before working days, i.e. at most that many calendar days
        # plus the longest holiday ahead; the filter only bounds the scan.
        horizon = now + timedelta(days=self.sla.reminder_before * 3 + 10)
        with self.sessions.begin() as session:
            flags = session.scalars(select(Flag).where(Flag.status.in_(("open", "acknowledged")),
                                                       Flag.due_at <= horizon)).all()
            stale_before = now - timedelta(days=self.sla.stale_days)
            flags += session.scalars(select(Flag).where(Flag.status.in_(("open", "acknowledged")),
                                                        Flag.due_at > horizon,
                                                        Flag.started_at <= stale_before)).all()
            for flag in flags:
                self._step(session, flag, now, result)
        return result

    def _step(self, session: Session, flag: Flag, now: datetime, result: LadderResult) -> None:
        due = flag.due_at
        if flag.reminded_at is None and now >= self.calendar.add(due, -self.sla.reminder_before).at:
            flag.reminded_at = now
            lifecycle.record(session, flag, "reminder", ACTOR, now,
                             f"距回复期限不足 {self.sla.reminder_before:g} 个工作日",
                             due_at=due.isoformat())
            result.reminded.append(flag.id)
        if flag.escalated_at is None and now >= escalation_time(self.calendar, due):
            unit = session.get(Unit, flag.unit_id)
            flag.escalated_at = now
            lifecycle.record(session, flag, "escalated", ACTOR, now, "超期未回复，提交上级单位督办",
                             due_at=due.isoformat(), to_unit=unit.parent_id)
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
