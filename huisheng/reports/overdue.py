"""Open overdue flags with their ladder step (督办).  Historical flags (written
before their account's monitoring start) have no clock and are never listed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huisheng.flags.workcal import WorkCalendar
from huisheng.storage.models import Account, Comment, Flag, Unit
from huisheng.vocabulary import LadderStep

#: the furthest ladder step a flag has reached (催办 reminder, 督办 escalation, 通报 public notice)
STEPS = LadderStep.values()


@dataclass(frozen=True)
class OverdueFlag:
    flag_id: int
    unit: str
    account: str
    category: str
    urgent: bool
    author: str
    started_at: datetime
    due_at: datetime
    due_uncertain: bool
    #: working days past due at ``now``
    overdue_working_days: float
    step: str
    text: str


def step_of(flag: Flag) -> str:
    if flag.stale_at:
        return "stale"
    if flag.noticed_at:
        return "noticed"
    if flag.escalated_at:
        return "escalated"
    if flag.reminded_at:
        return "reminded"
    return "overdue"


def overdue(db: Session, *, now: datetime, calendar: WorkCalendar, unit_ids: set[int] | None = None
            ) -> list[OverdueFlag]:
    """Unanswered (open/acknowledged) flags past due at ``now``, most overdue first."""
    query = (select(Flag, Unit.name, Account.name, Comment.text)
             .join(Unit, Unit.id == Flag.unit_id).join(Account, Account.id == Flag.account_id)
             .join(Comment, Comment.id == Flag.comment_id)
             .where(Flag.status.in_(("open", "acknowledged")), Flag.due_at < now, Flag.historical.is_(False))
             .order_by(Flag.due_at, Flag.id))
    if unit_ids is not None:
        query = query.where(Flag.unit_id.in_(unit_ids))
    return [OverdueFlag(flag_id=f.id, unit=unit, account=account, category=f.category, urgent=f.urgent,
                        author=f.author_name, started_at=f.started_at, due_at=f.due_at,
                        due_uncertain=f.due_uncertain,
                        overdue_working_days=round(calendar.working_seconds(f.due_at, now) / calendar.day_length, 2),
                        step=step_of(f), text=text)
            for f, unit, account, text in db.execute(query)]
