"""Service levels (``[sla]``) and the working calendar (``[calendar]``) from config.

``[sla]``: deadlines per category in working days (design.md defaults, grounded in
local 12345 and 网络问政 rules: consultation 2, help 5, suggestion 5, complaint 7;
praise needs none), the wrong-unit return deadline, the longest promised date
(办结时间表), and the ladder: reminder before due, 通报 after due, stale after
calendar days.

``[calendar]``: office hours (``"HH:MM"``) and, per year, the State Council's
放假调休安排 for years chinesecalendar does not know (see
:mod:`huisheng.flags.workcal`).  The time zone is the config's top-level
``timezone``.

``[flags]``: what becomes of comments written before an account's monitoring
start (``history``, ``history_grace_days``), and the urgent deadline in hours
(``urgent_hours``).

Importing this module declares the three tables (``load_settings`` imports it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Callable, Mapping

from huisheng.flags.workcal import WorkCalendar, YearArrangement
from huisheng.config import Key, Table, register_table
from huisheng.config.settings import Settings
from huisheng.vocabulary import Category

#: categories that need an answer, with their default deadlines in working days
DEFAULT_DEADLINES: Mapping[str, float] = {"consultation": 2.0, "help": 5.0, "suggestion": 5.0,
                                          "complaint": 7.0}


@dataclass(frozen=True)
class Sla:
    #: working days per category; a category absent here (praise) has no deadline
    deadlines: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_DEADLINES))
    #: working days a unit has to hand back a flag routed to it by mistake
    wrong_unit_return: float = 2
    #: longest promised date (办结时间表) without an extension, in working days
    promise_max: float = 15
    #: the reminder goes this many working days before due
    reminder_before: float = 1
    #: the 通报 list takes a flag this many working days after due
    notice_after: float = 5
    #: an unresolved flag is stale after this many calendar days
    stale_days: int = 90
    #: an urgent flag is due this many hours (round the clock) after the comment
    urgent_hours: float = 2.0

    def deadline_days(self, category: str) -> float | None:
        """Working days for ``category``, None when it has no deadline."""
        return self.deadlines.get(category)


#: ``[flags] history``: comments written before an account's monitoring start are
#: recorded as history (flags marked historical: no clock), or flagged like any other
HISTORY_MODES = ("record", "flag")


@dataclass(frozen=True)
class History:
    """What becomes of comments written before an account's monitoring start.

    An account's monitoring start is set in the matrix, or else its first
    successful poll minus ``grace_days`` working days (so the last working day's
    comments before monitoring began are worked, not the months before)."""

    #: record | flag
    mode: str = "record"
    grace_days: float = 1.0

    @property
    def records(self) -> bool:
        return self.mode == "record"

    def start_for(self, calendar: WorkCalendar) -> Callable[[datetime], datetime]:
        """First successful poll → monitoring start."""
        return lambda first_success: calendar.add(first_success, -self.grace_days).at


# --- config schema --------------------------------------------------------------

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _check_hhmm(value: str) -> str | None:
    if not _HHMM.fullmatch(value):
        return f"应为 \"HH:MM\" 格式的时刻（如 \"09:00\"），实际为 \"{value}\""
    return None


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _check_office(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    start, end = values.get("office_start"), values.get("office_end")
    if start and end and _hhmm(end) <= _hhmm(start):
        return [("office_end", f"下班时间 {end} 应晚于上班时间 {start}")]
    return []


def _date_list_check(year: int):
    def check(values: tuple[str, ...]) -> str | None:
        for text in values:
            try:
                day = date.fromisoformat(text)
            except ValueError:
                return f"应为 \"YYYY-MM-DD\" 格式的日期，实际为 \"{text}\""
            if day.year != year:
                return f"日期 {text} 不在 {year} 年内"
        return None
    return check


def _check_year(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    both = sorted(set(values.get("holidays") or ()) & set(values.get("workdays") or ()))
    if both:
        return [("workdays", f"日期 {'、'.join(both)} 同时出现在 holidays 与 workdays 中")]
    return []


def _year_table(name: str) -> Table | str:
    if not re.fullmatch(r"\d{4}", name) or not 1900 <= int(name) <= 2099:
        return f"应为年份（如 [calendar.years.2027]），实际为 \"{name}\""
    year = int(name)
    return Table({
        "holidays": Key("str_list", default=(), check=_date_list_check(year),
                        doc="days off of the year's 放假调休安排"),
        "workdays": Key("str_list", default=(), check=_date_list_check(year),
                        doc="调休 make-up working days (weekend days worked)"),
    }, check=_check_year)


CALENDAR_TABLE = Table({
    "office_start": Key("str", default="09:00", check=_check_hhmm, doc="office hours start"),
    "office_end": Key("str", default="18:00", check=_check_hhmm, doc="office hours end"),
    "years": Table(children=_year_table, doc="per-year 放假调休安排 overrides"),
}, check=_check_office)

_DAYS = "working days"
#: the sane range of a span in working days (a year of them at most)
_WORKING_DAYS = {"low": 0.01, "high": 250}
SLA_TABLE = Table({
    **{category: Key("float", default=days, **_WORKING_DAYS, doc=f"{category} deadline, {_DAYS}")
       for category, days in DEFAULT_DEADLINES.items()},
    "praise": Key("float", **_WORKING_DAYS, doc="praise deadline, working days (default: none)"),
    "wrong_unit_return": Key("float", default=2.0, **_WORKING_DAYS, doc=_DAYS),
    "promise_max": Key("float", default=15.0, **_WORKING_DAYS, doc=_DAYS),
    "reminder_before": Key("float", default=1.0, **_WORKING_DAYS, doc=_DAYS),
    "notice_after": Key("float", default=5.0, **_WORKING_DAYS, doc=_DAYS),
    "stale_days": Key("int", default=90, low=1, high=3650, doc="calendar days"),
})

FLAGS_TABLE = Table({
    "history": Key("str", default="record", choices=HISTORY_MODES,
                   doc="comments written before an account's monitoring start: recorded as "
                       "history (no clock), or flagged like any other"),
    "history_grace_days": Key("float", default=1.0, low=0, high=30,
                              doc="monitoring start = first successful poll minus this many working days"),
    "urgent_hours": Key("float", default=2.0, positive=True, low=0, high=72,
                        doc="an urgent flag is due this many hours (round the clock) after the comment"),
})

register_table("calendar", CALENDAR_TABLE)
register_table("sla", SLA_TABLE)
register_table("flags", FLAGS_TABLE)


# --- records from settings ------------------------------------------------------


def sla_from_settings(settings: Settings) -> Sla:
    values = settings.extra.get("sla")
    if values is None:  # Settings built without load_settings (tests, defaults)
        return Sla()
    deadlines = {c: values[c] for c in Category.values() if values.get(c) is not None}
    flags = settings.extra.get("flags") or {}
    return Sla(deadlines=deadlines, wrong_unit_return=values["wrong_unit_return"],
               promise_max=values["promise_max"], reminder_before=values["reminder_before"],
               notice_after=values["notice_after"], stale_days=values["stale_days"],
               urgent_hours=flags.get("urgent_hours", Sla.urgent_hours))


def history_from_settings(settings: Settings) -> History:
    values = settings.extra.get("flags")
    if values is None:
        return History()
    return History(mode=values["history"], grace_days=values["history_grace_days"])


def calendar_from_settings(settings: Settings) -> WorkCalendar:
    values = settings.extra.get("calendar")
    if values is None:
        return WorkCalendar(timezone=settings.timezone)
    years = {int(name): YearArrangement(holidays=frozenset(map(date.fromisoformat, year["holidays"])),
                                        workdays=frozenset(map(date.fromisoformat, year["workdays"])))
             for name, year in values["years"].items()}
    return WorkCalendar(timezone=settings.timezone, office_start=_hhmm(values["office_start"]),
                        office_end=_hhmm(values["office_end"]), years=years)
