"""The digest's schedule: ``[digest]`` in the config and its cron times.

``cron`` is a standard five-field crontab line (minute hour day month
weekday) in the config's time zone.  APScheduler 3 numbers weekdays from
Monday = 0, unlike crontab (Sunday = 0 or 7), so numeric weekdays are turned
into names before APScheduler sees them: ``1-5`` means Monday to Friday, as an
administrator expects.

Importing this module declares the table (``load_settings`` imports it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from huisheng.config import Key, Table, register_table
from huisheng.config.settings import Settings

DEFAULT_CRON = "30 8 * * *"
LOCALES = ("zh", "en")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class DigestSettings:
    cron: str = DEFAULT_CRON
    #: skip days that are not working days (holidays, weekends; 调休 days are worked)
    working_days_only: bool = False
    #: send a digest even when it has nothing in it
    send_empty: bool = False
    #: "zh" | "en"; None: the [mail] locale
    locale: str | None = None
    #: items listed per section at most (the rest are counted)
    max_items: int = 50


def _weekdays(field: str) -> str:
    """A crontab weekday field in APScheduler 3 terms (names, Sunday = 0 or 7)."""
    if not re.search(r"\d", field):
        return field
    days: set[int] = set()
    for item in field.split(","):
        step = 1
        if "/" in item:
            item, step_text = item.split("/", 1)
            step = int(step_text)
            if step <= 0:
                raise ValueError("step must be positive")
        if item == "*":
            low, high = 0, 6
        elif "-" in item:
            low, high = (int(v) for v in item.split("-", 1))
        else:
            low = high = int(item)
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high):
            raise ValueError(f"weekday out of range: {item}")
        days.update(d % 7 for d in range(low, high + 1, step))
    return ",".join(_DAY_NAMES[d] for d in sorted(days))


def cron_trigger(cron: str, timezone: str) -> CronTrigger:
    """Raises ValueError for a malformed line."""
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields, got {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                       day_of_week=_weekdays(weekday), timezone=ZoneInfo(timezone))


def fire_times(trigger: CronTrigger, after: datetime, until: datetime) -> Iterator[datetime]:
    """Every fire time t with after < t ≤ until, in order."""
    at = trigger.get_next_fire_time(after, after)
    while at is not None and at <= until:
        yield at
        at = trigger.get_next_fire_time(at, at)


def _check_cron(value: str) -> str | None:
    try:
        cron_trigger(value, "Asia/Shanghai")
    except (ValueError, KeyError) as exc:
        return f"应为五段式 cron 表达式（分 时 日 月 周，如 \"30 8 * * 1-5\"），实际为 \"{value}\"（{exc}）"
    return None


DIGEST_TABLE = Table({
    "cron": Key("str", default=DEFAULT_CRON, check=_check_cron,
                doc="when digests go out: minute hour day month weekday, in the config's time zone"),
    "working_days_only": Key("bool", default=False, doc="skip holidays and weekends (调休 days count as working)"),
    "send_empty": Key("bool", default=False, doc="send a digest with nothing in it"),
    "locale": Key("str", choices=LOCALES, doc="zh or en (default: the [mail] locale, else zh)"),
    "max_items": Key("int", default=50, low=1, high=10_000, doc="items listed per section at most"),
})

register_table("digest", DIGEST_TABLE)


def digest_from_settings(settings: Settings) -> DigestSettings:
    values = settings.extra.get("digest")
    if values is None:  # Settings built without load_settings (tests, defaults)
        return DigestSettings()
    return DigestSettings(cron=values["cron"], working_days_only=values["working_days_only"],
                          send_empty=values["send_empty"], locale=values["locale"],
                          max_items=values["max_items"])


def latest_fire(trigger: CronTrigger, since: datetime, now: datetime) -> datetime | None:
    """The last fire time in (since, now], None when there is none."""
    last = None
    for at in fire_times(trigger, since, now):
        last = at
    return last


def start_of_day(now: datetime, timezone: str) -> datetime:
    """Just before local midnight of ``now``'s day (so a fire at 00:00 is in (it, now])."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(microseconds=1)
