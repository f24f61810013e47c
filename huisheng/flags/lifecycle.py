"""Flag states and transitions.  Every change writes a :class:`FlagEvent`
(when, by whom or which rule, why) in the same transaction.

    open → acknowledged (受理) → replied → resolved (办结) → closed (办结销号)
    open | acknowledged | replied → dismissed (with a reason)

Moving forward may skip steps (a reply needs no acknowledgement first); nothing
moves backward.  The functions take an ORM ``Session`` inside a transaction the
caller owns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from huisheng.errors import HuishengError
from huisheng.monitor.models import Flag, FlagEvent, Unit

ORDER = ("open", "acknowledged", "replied", "resolved", "closed")
STATES = ORDER + ("dismissed",)
#: what a state means on a report or a digest
STATE_NAMES = {"open": "待回复", "acknowledged": "已受理", "replied": "已回复", "resolved": "已办结",
               "closed": "已销号", "dismissed": "已驳回"}
CATEGORY_NAMES = {"consultation": "咨询", "complaint": "投诉", "help": "求助", "suggestion": "建议",
                  "praise": "感谢"}
#: categories that are about getting something done (解决类) and may carry a promised date
SOLVABLE = ("complaint", "help", "suggestion")


class FlagError(HuishengError):
    """A flag operation that is not allowed (wrong state, bad argument)."""


def record(session: Session, flag: Flag, kind: str, actor: str, now: datetime, note: str = "",
           **data: Any) -> FlagEvent:
    # Linked by object, not id: a flag raised in this batch has no id until the flush.
    event = FlagEvent(flag=flag, at=now, kind=kind, actor=actor, note=note, data=data)
    session.add(event)
    flag.updated_at = now
    return event


def _advance(session: Session, flag: Flag, to: str, actor: str, now: datetime, note: str,
             **data: Any) -> None:
    if flag.status == "dismissed":
        raise FlagError(f"flag {flag.id} was dismissed; it cannot become {to}")
    if ORDER.index(to) <= ORDER.index(flag.status):
        raise FlagError(f"flag {flag.id} is already {flag.status}; it cannot become {to}")
    flag.status = to
    record(session, flag, to, actor, now, note, **data)


def acknowledge(session: Session, flag: Flag, *, actor: str, at: datetime, now: datetime,
                note: str = "", comment_id: int | None = None) -> None:
    """受理: by hand, or by an automated acknowledgement comment written ``at``."""
    _advance(session, flag, "acknowledged", actor, now, note, comment_id=comment_id)
    flag.acknowledged_at = at


def mark_replied(session: Session, flag: Flag, *, actor: str, at: datetime, now: datetime,
                 reply_seconds: float, reply_working_seconds: float, comment_id: int | None,
                 note: str = "") -> None:
    """The first qualifying reply: on the platform (``comment_id``) or, with
    ``comment_id=None``, made outside it and recorded by hand (audited)."""
    _advance(session, flag, "replied", actor, now, note, comment_id=comment_id,
             offline=comment_id is None)
    flag.first_reply_at = at
    flag.first_reply_comment_id = comment_id
    flag.replied_offline = comment_id is None
    flag.reply_seconds = reply_seconds
    flag.reply_working_seconds = reply_working_seconds


def resolve(session: Session, flag: Flag, *, actor: str, now: datetime, note: str = "") -> None:
    if flag.status in ("open", "acknowledged"):
        raise FlagError(f"flag {flag.id} has no reply yet; reply before resolving it")
    _advance(session, flag, "resolved", actor, now, note)
    flag.resolved_at = now


def close(session: Session, flag: Flag, *, actor: str, now: datetime, note: str = "") -> None:
    if flag.status != "resolved":
        raise FlagError(f"flag {flag.id} is {flag.status}; only a resolved flag can be closed (办结销号)")
    _advance(session, flag, "closed", actor, now, note)
    flag.closed_at = now


def dismiss(session: Session, flag: Flag, *, actor: str, now: datetime, reason: str) -> None:
    if not reason.strip():
        raise FlagError("dismissing a flag needs a reason")
    if flag.status not in ("open", "acknowledged", "replied"):
        raise FlagError(f"flag {flag.id} is {flag.status}; it cannot be dismissed")
    flag.status = "dismissed"
    flag.dismissed_reason = reason
    record(session, flag, "dismissed", actor, now, reason)


def promise(session: Session, flag: Flag, *, actor: str, now: datetime, promised_at: datetime,
            limit: datetime, note: str = "", extension_reason: str = "") -> None:
    """办结时间表: a date by which a 解决类 item will be done; at most ``limit``
    (``promise_max`` working days) unless extended with a reason."""
    if flag.category not in SOLVABLE:
        raise FlagError(f"flag {flag.id} is a {flag.category}; only complaints, pleas for help and "
                        f"suggestions carry a promised date")
    if flag.status not in ("open", "acknowledged", "replied"):
        raise FlagError(f"flag {flag.id} is {flag.status}; a promise no longer applies")
    if promised_at <= now:
        raise FlagError("the promised date must lie in the future")
    if promised_at > limit and not extension_reason.strip():
        raise FlagError("the promised date is beyond the allowed working days; give --extend-reason")
    previous = flag.promised_at
    flag.promised_at = promised_at
    record(session, flag, "promised", actor, now, note, promised_at=promised_at.isoformat(),
           previous=previous.isoformat() if previous else None, extension_reason=extension_reason or None)


def reassign(session: Session, flag: Flag, unit: Unit, *, actor: str, now: datetime, note: str,
             return_due: datetime) -> None:
    """Move a flag to another unit.  The clock keeps running (``due_at`` is
    unchanged); the event records whether the wrong unit handed it back within
    its own deadline (``return_due``)."""
    if flag.status in ("closed", "dismissed"):
        raise FlagError(f"flag {flag.id} is {flag.status}; it cannot be reassigned")
    if unit.id == flag.unit_id:
        raise FlagError(f"flag {flag.id} already belongs to {unit.name}")
    old = flag.unit_id
    flag.unit_id = unit.id
    flag.routing = "manual"
    flag.routing_reason = f"人工改派：{note}" if note else "人工改派"
    record(session, flag, "reassigned", actor, now, note, from_unit=old, to_unit=unit.id,
           return_due=return_due.isoformat(), late_return=now > return_due)
