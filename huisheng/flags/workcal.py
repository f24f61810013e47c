"""The working-day calendar: office time on Chinese working days, and deadlines.

Working time is office hours (default 09:00–18:00, configurable) on working days,
in the district's time zone (default Asia/Shanghai).

Which days are working days, per year, first match wins:

1. **Config** — ``[calendar.years.YYYY]`` (the State Council's 放假调休安排 entered by
   the district): a day is a working day if it is listed in ``workdays`` (调休 make-up
   days), else if it is Monday–Friday and not listed in ``holidays``.  Exact.
2. **chinesecalendar** — statutory holidays and 调休 make-up working days (its
   ``is_workday`` is True on a make-up Saturday such as 2026-10-10).  Exact for the
   years it knows (1.11.0: 2004–2026; it raises ``NotImplementedError`` beyond).
3. **Fallback** — weekends off plus the statutory days of the 2024 revision of
   全国年节及纪念日放假办法: 元旦 Jan 1; 春节 4 days from 除夕 (the day before lunar 1-1)
   through lunar 1-3; 清明 the day of the Qingming solar term; 劳动节 May 1–2; 端午
   lunar 5-5; 中秋 lunar 8-15; 国庆 Oct 1–3.  Lunar dates come from ``lunardate``.
   The Qingming term comes from chinesecalendar's ``get_solar_terms``, which uses the
   寿星 formula ``[Y×D+C]−L`` (Y = year mod 100, D = 0.2422, C = 4.81 in the 21st
   century, L = ⌊Y/4⌋) with a table of known corrections; it gives 2027-04-05 and
   2028-04-04, the astronomical dates.  调休 is unknown, so make-up days are missing
   and a holiday falling on a weekend is not moved.  Such a year is *uncovered*: every
   deadline whose walk touches it is ``uncertain`` and lists it, and a warning is
   logged once per year and process telling the district to enter that year's
   arrangement.

"N working days" from an instant is the instant when N × (office-day length) of
working time has elapsed since it: a complaint at 17:30 on a working day with a
7-day deadline is due at 17:30 on the 7th working day after; a comment written at
night or on a holiday starts counting at the next office start.  N may be
fractional, and negative (going back: a reminder at due − 1 working day).  When
a walk forward ends exactly at a day's office end, the deadline is that office
end (not the next morning); going back, it is the latest matching instant.

Speed: each year is computed once per calendar (a sorted list of its working
days); counting and stepping over working days is a bisection per year crossed,
so a span of months costs about as much as a span of hours.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from math import ceil
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

import chinese_calendar
from lunardate import LunarDate

log = logging.getLogger("huisheng.calendar")

#: years already warned about in this process (the warning is loud: once is enough)
_warned_years: set[int] = set()


@dataclass(frozen=True)
class YearArrangement:
    """One year's 放假调休安排 as published by the State Council."""

    #: days off (may include the weekend days inside a break)
    holidays: frozenset[date] = frozenset()
    #: 调休 make-up working days (weekend days that are worked)
    workdays: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Deadline:
    at: datetime
    #: True when the walk crossed a year whose holidays are only estimated
    uncertain: bool
    uncovered_years: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Year:
    #: sorted ordinals of the year's working days
    ordinals: tuple[int, ...]
    covered: bool


def statutory_holidays(year: int) -> frozenset[date]:
    """The fallback's statutory days off of ``year`` (2024 revision, no 调休)."""
    days = {date(year, 1, 1), date(year, 5, 1), date(year, 5, 2),
            date(year, 10, 1), date(year, 10, 2), date(year, 10, 3)}
    new_year = LunarDate(year, 1, 1).to_solar_date()
    days.update(new_year + timedelta(days=offset) for offset in range(-1, 3))  # 除夕 … 初三
    days.add(LunarDate(year, 5, 5).to_solar_date())
    days.add(LunarDate(year, 8, 15).to_solar_date())
    days.update(day for day, name in chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30))
                if name == "清明")
    return frozenset(days)


def _library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def _year_days(year: int) -> Iterable[date]:
    day, end = date(year, 1, 1), date(year + 1, 1, 1)
    while day < end:
        yield day
        day += timedelta(days=1)


class WorkCalendar:
    """Working days and office time.  Instances cache per year; share one."""

    def __init__(self, *, timezone: str = "Asia/Shanghai", office_start: time = time(9),
                 office_end: time = time(18), years: Mapping[int, YearArrangement] | None = None):
        if office_end <= office_start:
            raise ValueError("office_end must be after office_start")
        self.tz = ZoneInfo(timezone)
        self.office_start = office_start
        self.office_end = office_end
        self.day_length = float((datetime.combine(date.min, office_end)
                                 - datetime.combine(date.min, office_start)).total_seconds())
        self._config = dict(years or {})
        self._years: dict[int, _Year] = {}

    # --- days ------------------------------------------------------------------

    def covers(self, year: int) -> bool:
        """Whether ``year``'s working days are known exactly (config or library)."""
        return year in self._config or _library_knows(year)

    def is_workday(self, day: date) -> bool:
        ordinals = self._year(day.year).ordinals
        i = bisect_left(ordinals, day.toordinal())
        return i < len(ordinals) and ordinals[i] == day.toordinal()

    def _year(self, year: int) -> _Year:
        found = self._years.get(year)
        if found is None:
            found = self._years[year] = self._build(year)
        return found

    def _build(self, year: int) -> _Year:
        if year in self._config:
            arrangement = self._config[year]
            work = [d for d in _year_days(year)
                    if d in arrangement.workdays or (d.weekday() < 5 and d not in arrangement.holidays)]
            return _Year(tuple(d.toordinal() for d in work), True)
        if _library_knows(year):
            work = [d for d in _year_days(year) if chinese_calendar.is_workday(d)]
            return _Year(tuple(d.toordinal() for d in work), True)
        off = statutory_holidays(year)
        work = [d for d in _year_days(year) if d.weekday() < 5 and d not in off]
        return _Year(tuple(d.toordinal() for d in work), False)

    def _workdays_between(self, first: date, end: date) -> int:
        """Working days in [first, end)."""
        count, a, b = 0, first.toordinal(), end.toordinal()
        for year in range(first.year, end.year + 1):
            ordinals = self._year(year).ordinals
            count += bisect_left(ordinals, b) - bisect_left(ordinals, a)
        return count

    def _nth_workday(self, day: date, n: int, forward: bool) -> date:
        """Forward: the n-th (0-based) working day on or after ``day``;
        backward: the n-th working day strictly before ``day``."""
        year = day.year
        ordinals = self._year(year).ordinals
        if forward:
            i = bisect_left(ordinals, day.toordinal()) + n
            while i >= len(ordinals):
                i -= len(ordinals)
                year += 1
                ordinals = self._year(year).ordinals
            return date.fromordinal(ordinals[i])
        i = bisect_left(ordinals, day.toordinal()) - 1 - n
        while i < 0:
            year -= 1
            ordinals = self._year(year).ordinals
            i += len(ordinals)
        return date.fromordinal(ordinals[i])

    def uncovered_between(self, first: date, last: date) -> tuple[int, ...]:
        """Years in [first, last] (either order) whose working days are estimated."""
        low, high = sorted((first.year, last.year))
        return tuple(y for y in range(low, high + 1) if not self._year(y).covered)

    # --- instants --------------------------------------------------------------

    def _local(self, t: datetime) -> datetime:
        if t.tzinfo is None:
            raise ValueError("the calendar needs timezone-aware datetimes")
        return t.astimezone(self.tz)

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.tz)

    def _into_day(self, t: datetime) -> float:
        """Office seconds of t's (local) day elapsed by t."""
        if not self.is_workday(t.date()):
            return 0.0
        seconds = (t - self._at(t.date(), self.office_start)).total_seconds()
        return min(max(seconds, 0.0), self.day_length)

    def working_seconds(self, a: datetime, b: datetime) -> float:
        """Office time between two instants (negative when b is before a)."""
        a, b = self._local(a), self._local(b)
        if b < a:
            return -self.working_seconds(b, a)
        whole = self._workdays_between(a.date(), b.date())
        return whole * self.day_length + self._into_day(b) - self._into_day(a)

    def next_office_start(self, t: datetime) -> datetime:
        """t itself when it is inside office time, else the next office start."""
        t = self._local(t)
        if self.is_workday(t.date()):
            start = self._at(t.date(), self.office_start)
            if t < start:
                return start
            if t < self._at(t.date(), self.office_end):
                return t
        return self._at(self._nth_workday(t.date() + timedelta(days=1), 0, True), self.office_start)

    def add(self, start: datetime, working_days: float) -> Deadline:
        """The instant ``working_days`` of office time after (or, negative, before) ``start``."""
        local = self._local(start)
        if working_days == 0:
            at = local
        else:
            # the target, in office seconds from the office start of start's day;
            # rounded to microseconds so a whole number of days ends on office end
            need = round(working_days * self.day_length + self._into_day(local), 6)
            day = local.date()
            if need > 0:
                j = ceil(need / self.day_length) - 1
                rest = need - j * self.day_length
                target = self._nth_workday(day, j, True)
                at = self._at(target, self.office_start) + timedelta(seconds=rest)
            elif need == 0:  # only when start is inside office time
                at = self._at(day, self.office_start)
            else:
                back = -need
                j = ceil(back / self.day_length) - 1
                rest = back - j * self.day_length
                target = self._nth_workday(day, j, False)
                at = self._at(target, self.office_end) - timedelta(seconds=rest)
        uncovered = self.uncovered_between(local.date(), at.date())
        for year in uncovered:
            self._warn(year)
        return Deadline(at=at, uncertain=bool(uncovered), uncovered_years=uncovered)

    @staticmethod
    def _warn(year: int) -> None:
        if year in _warned_years:
            return
        _warned_years.add(year)
        log.warning(
            "!!! 日历未覆盖 %d 年：chinesecalendar 不含该年放假调休安排，配置中也没有 [calendar.years.%d]。"
            "涉及 %d 年的截止时间按后备规则估算（周末加法定节日，无调休），可能不准，已标记为 uncertain。"
            "请在配置文件中按国务院公布的 %d 年放假调休安排填写 [calendar.years.%d] 的 "
            "holidays = [...] 与 workdays = [...]（调休上班日）。",
            year, year, year, year, year)
