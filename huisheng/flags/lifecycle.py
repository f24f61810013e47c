"""Flag states and transitions.  Every change writes a :class:`FlagEvent`
(when, by whom or which rule, why) in the same transaction.

    open → acknowledged (受理) → replied → resolved (办结) → closed (办结销号)
    open | acknowledged | replied → dismissed (with a reason)

Moving forward may skip steps (a reply needs no acknowledgement first); nothing
moves backward.

The transitions are pure: each checks the move, changes the attributes of the
flag it is given (an ORM :class:`Flag`, or any object with the same attributes,
such as the decide step's batch rows) and returns the :class:`Event` to store.
:func:`save` stores it through an ORM ``Session`` in a transaction the caller
owns; the decide step writes its events in bulk instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from huisheng.errors import HuishengError
from huisheng.storage.models import Flag, FlagEvent, Unit
from huisheng.vocabulary import Category, FlagState

ORDER = tuple(s for s in FlagState if s is not FlagState.DISMISSED)
#: categories that are about getting something done (解决类) and may carry a promised date
SOLVABLE = (Category.COMPLAINT, Category.HELP, Category.SUGGESTION)


class FlagError(HuishengError):
    """A flag operation that is not allowed (wrong state, bad argument)."""


@dataclass(frozen=True)
class Event:
    """One transition or ladder step, as :class:`FlagEvent` stores it."""

    kind: str
    actor: str
    at: datetime
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def event(flag: Any, kind: str, actor: str, now: datetime, note: str = "", **data: Any) -> Event:
    """A step that moves no state (creation, the ladder): stamp the flag, describe the step."""
    flag.updated_at = now
    return Event(kind, actor, now, note, data)


def save(session: Session, flag: Flag, step: Event) -> FlagEvent:
    # Linked by object, not id: a flag added in this transaction has no id until the flush.
    row = FlagEvent(flag=flag, at=step.at, kind=step.kind, actor=step.actor, note=step.note, data=step.data)
    session.add(row)
    return row


def record(session: Session, flag: Flag, kind: str, actor: str, now: datetime, note: str = "",
           **data: Any) -> FlagEvent:
    """:func:`event` and :func:`save` in one go, for ORM callers."""
    return save(session, flag, event(flag, kind, actor, now, note, **data))


def _advance(flag: Any, to: str, actor: str, now: datetime, note: str, **data: Any) -> Event:
    if flag.status == "dismissed":
        raise FlagError(f"#{flag.id} 已驳回，不能再改为「{FlagState.label_of(to)}」")
    if to == flag.status:
        raise FlagError(f"#{flag.id} 已是「{FlagState.label_of(to)}」")
    if ORDER.index(to) < ORDER.index(flag.status):
        raise FlagError(f"#{flag.id} 当前为「{FlagState.label_of(flag.status)}」，"
                        f"不能退回「{FlagState.label_of(to)}」")
    flag.status = to
    return event(flag, to, actor, now, note, **data)


def acknowledge(flag: Any, *, actor: str, at: datetime, now: datetime, note: str = "",
                comment_id: int | None = None) -> Event:
    """受理: by hand, or by an automated acknowledgement comment written ``at``."""
    step = _advance(flag, "acknowledged", actor, now, note, comment_id=comment_id)
    flag.acknowledged_at = at
    return step


def mark_replied(flag: Any, *, actor: str, at: datetime, now: datetime, reply_seconds: float,
                 reply_working_seconds: float, comment_id: int | None, note: str = "") -> Event:
    """The first qualifying reply: on the platform (``comment_id``) or, with
    ``comment_id=None``, made outside it and recorded by hand (audited)."""
    step = _advance(flag, "replied", actor, now, note, comment_id=comment_id, offline=comment_id is None)
    flag.first_reply_at = at
    flag.first_reply_comment_id = comment_id
    flag.replied_offline = comment_id is None
    flag.reply_seconds = reply_seconds
    flag.reply_working_seconds = reply_working_seconds
    return step


def resolve(flag: Any, *, actor: str, now: datetime, note: str = "") -> Event:
    if flag.status in ("open", "acknowledged"):
        raise FlagError(f"#{flag.id} 尚未回复：请先在平台上回复（或记录线下回复），再办结")
    step = _advance(flag, "resolved", actor, now, note)
    flag.resolved_at = now
    return step


def close(flag: Any, *, actor: str, now: datetime, note: str = "") -> Event:
    if flag.status != "resolved":
        raise FlagError(f"#{flag.id} 当前为「{FlagState.label_of(flag.status)}」：只有已办结的才能销号（办结销号）")
    step = _advance(flag, "closed", actor, now, note)
    flag.closed_at = now
    return step


def dismiss(flag: Any, *, actor: str, now: datetime, reason: str) -> Event:
    if not reason.strip():
        raise FlagError("驳回须说明理由")
    if flag.status not in ("open", "acknowledged", "replied"):
        raise FlagError(f"#{flag.id} 当前为「{FlagState.label_of(flag.status)}」，不能驳回")
    flag.status = "dismissed"
    flag.dismissed_reason = reason
    return event(flag, "dismissed", actor, now, reason)


def promise(flag: Any, *, actor: str, now: datetime, promised_at: datetime, limit: datetime, note: str = "",
            extension_reason: str = "") -> Event:
    """办结时间表: a date by which a 解决类 item will be done; at most ``limit``
    (``promise_max`` working days) unless extended with a reason."""
    if flag.category not in SOLVABLE:
        raise FlagError(f"#{flag.id} 是{Category.label_of(flag.category)}类留言：只有投诉、求助、建议可承诺办结时间")
    if flag.status not in ("open", "acknowledged", "replied"):
        raise FlagError(f"#{flag.id} 当前为「{FlagState.label_of(flag.status)}」，不再需要承诺办结时间")
    if promised_at <= now:
        raise FlagError("承诺办结时间须晚于现在")
    if promised_at > limit and not extension_reason.strip():
        raise FlagError("承诺办结时间超出允许的工作日数：须说明延期理由（--extend-reason）")
    previous = flag.promised_at
    flag.promised_at = promised_at
    return event(flag, "promised", actor, now, note, promised_at=promised_at.isoformat(),
                 previous=previous.isoformat() if previous else None, extension_reason=extension_reason or None)


def reassign(flag: Any, unit: Unit, *, actor: str, now: datetime, note: str, return_due: datetime) -> Event:
    """Move a flag to another unit.  The clock keeps running (``due_at`` is
    unchanged); the event records whether the wrong unit handed it back within
    its own deadline (``return_due``)."""
    if flag.status in ("closed", "dismissed"):
        raise FlagError(f"#{flag.id} 当前为「{FlagState.label_of(flag.status)}」，不能改派")
    if unit.id == flag.unit_id:
        raise FlagError(f"#{flag.id} 已属于{unit.name}")
    old = flag.unit_id
    flag.unit_id = unit.id
    flag.routing = "manual"
    flag.routing_reason = f"人工改派：{note}" if note else "人工改派"
    return event(flag, "reassigned", actor, now, note, from_unit=old, to_unit=unit.id,
                 return_due=return_due.isoformat(), late_return=now > return_due)
