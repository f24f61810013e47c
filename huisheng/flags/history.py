"""Keeping flags' history marks in step with their accounts' monitoring start.

The decide step marks a flag historical when its comment was written before
the account's monitoring start (see :mod:`huisheng.flags.process`).  When
``huisheng matrix sync`` sets, moves or removes a start, the flags already
raised follow: those written before the new start become history, those
written since run on their own deadline again — ``due_at`` was kept, so they
are exactly as the decide step would have made them.  With ``[flags] history
= "flag"`` no flag is history.  Each change is an event; ``updated_at`` moves,
so the reports' rollups count the month again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from huisheng.flags.sla import History
from huisheng.storage.models import Account, Flag, FlagEvent

ACTOR = "rule:monitoring-start"
EVENT = "history"
NOTES = {True: "写于账号监测起始之前，记为历史留言（不计时）",
         False: "写于账号监测起始之后，按原期限计时"}


def remark(session: Session, history: History, now: datetime) -> dict[int, bool]:
    """Mark every flag as its account's monitoring start says; returns the
    flags changed (id → historical now)."""
    wanted = []
    if history.records:
        # accounts never read have no start: what they have is history already
        for account_id, start in session.execute(select(Account.id, Account.monitoring_start)
                                                 .where(Account.monitoring_start.is_not(None))):
            wrong = or_(and_(Flag.historical.is_(False), Flag.started_at < start),
                        and_(Flag.historical.is_(True), Flag.started_at >= start))
            wanted += [(flag_id, not historical, start) for flag_id, historical in session.execute(
                select(Flag.id, Flag.historical).where(Flag.account_id == account_id, wrong))]
    else:
        wanted = [(flag_id, False, None) for flag_id in session.scalars(
            select(Flag.id).where(Flag.historical.is_(True)))]
    if not wanted:
        return {}
    connection = session.connection()
    connection.execute(update(Flag.__table__).where(Flag.__table__.c.id == bindparam("flag_id"))
                       .values(historical=bindparam("mark"), updated_at=now),
                       [{"flag_id": flag_id, "mark": mark} for flag_id, mark, _ in wanted])
    connection.execute(insert(FlagEvent.__table__), [
        {"flag_id": flag_id, "at": now, "kind": EVENT, "actor": ACTOR, "note": NOTES[mark],
         "data": {"historical": mark, "monitoring_start": start.isoformat() if start else None}}
        for flag_id, mark, start in wanted])
    return {flag_id: mark for flag_id, mark, _ in wanted}
