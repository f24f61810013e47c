"""What a person does to a flag, the same from the command line and the web
workbench: each action checks its arguments, runs the pure lifecycle
transition and returns the event to store.  The working-time figures an
action needs (an offline reply's working seconds, a promise's limit, a
reassignment's return deadline) are computed here once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from huisheng.flags import lifecycle
from huisheng.flags.lifecycle import Event, FlagError
from huisheng.flags.sla import Sla
from huisheng.flags.workcal import WorkCalendar
from huisheng.storage.models import Flag, Unit


@dataclass(frozen=True)
class FlagActions:
    calendar: WorkCalendar
    sla: Sla
    tz: ZoneInfo

    def acknowledge(self, flag: Flag, *, actor: str, now: datetime, note: str = "") -> Event:
        return lifecycle.acknowledge(flag, actor=actor, at=now, now=now, note=note)

    def reply_offline(self, flag: Flag, *, actor: str, now: datetime, note: str) -> Event:
        """线下已回复: a reply by phone or visit, recorded by hand and audited."""
        if not note.strip():
            raise FlagError("线下回复须说明方式与答复内容")
        return lifecycle.mark_replied(flag, actor=actor, at=now, now=now, comment_id=None, note=note,
                                      reply_seconds=(now - flag.started_at).total_seconds(),
                                      reply_working_seconds=self.calendar.working_seconds(flag.started_at, now))

    def resolve(self, flag: Flag, *, actor: str, now: datetime, note: str = "") -> Event:
        return lifecycle.resolve(flag, actor=actor, now=now, note=note)

    def close(self, flag: Flag, *, actor: str, now: datetime, note: str = "") -> Event:
        return lifecycle.close(flag, actor=actor, now=now, note=note)

    def dismiss(self, flag: Flag, *, actor: str, now: datetime, reason: str) -> Event:
        return lifecycle.dismiss(flag, actor=actor, now=now, reason=reason)

    def promise_limit(self, now: datetime) -> datetime:
        """The latest date a promise may name without an extension reason."""
        return self.calendar.add(now, self.sla.promise_max).at

    def promised_at(self, day: date, at: time | None = None) -> datetime:
        """A local date (and time; a date alone means the end of office hours) as aware UTC."""
        local = datetime.combine(day, at if at is not None else self.calendar.office_end)
        return local.replace(tzinfo=self.tz).astimezone(timezone.utc)

    def promise(self, flag: Flag, *, actor: str, now: datetime, promised_at: datetime, note: str = "",
                extension_reason: str = "") -> Event:
        return lifecycle.promise(flag, actor=actor, now=now, promised_at=promised_at,
                                 limit=self.promise_limit(now), note=note, extension_reason=extension_reason)

    def return_due(self, flag: Flag) -> datetime:
        """By when a wrongly routed flag should have been handed on."""
        return self.calendar.add(flag.created_at, self.sla.wrong_unit_return).at

    def reassign(self, flag: Flag, unit: Unit, *, actor: str, now: datetime, note: str = "") -> Event:
        if not unit.enabled:
            raise FlagError(f"{unit.name} 已停用，不能改派给它")
        return lifecycle.reassign(flag, unit, actor=actor, now=now, note=note, return_due=self.return_due(flag))
