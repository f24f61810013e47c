"""The working-day calendar: deadlines across holidays and 调休, office time,
and the fallback (with its warning) for years chinesecalendar does not know."""

from __future__ import annotations

import logging
import random
import time as timer
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from huisheng.flags import workcal
from huisheng.flags.workcal import Deadline, WorkCalendar, YearArrangement, statutory_holidays

TZ = ZoneInfo("Asia/Shanghai")
HOUR = 3600.0
DAY = 9 * HOUR  # the default office day, 09:00–18:00


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


@pytest.fixture
def fresh_warnings(monkeypatch):
    """Each test sees the once-per-process warning afresh."""
    monkeypatch.setattr(workcal, "_warned_years", set())


# --- working days ------------------------------------------------------------------


def test_make_up_saturdays_work_and_holidays_do_not(cal):
    assert cal.is_workday(date(2026, 10, 10))      # Saturday, 调休 for National Day
    assert cal.is_workday(date(2026, 9, 20))       # Sunday, 调休 for Mid-Autumn
    assert cal.is_workday(date(2026, 2, 14))       # Saturday, 调休 for Spring Festival
    assert cal.is_workday(date(2026, 2, 28))
    assert not cal.is_workday(date(2026, 10, 1))
    assert not cal.is_workday(date(2026, 10, 7))   # Wednesday inside the break
    assert not cal.is_workday(date(2026, 9, 25))   # Mid-Autumn, a Friday
    assert not cal.is_workday(date(2026, 2, 16))   # 除夕
    assert not cal.is_workday(date(2026, 10, 11))  # plain Sunday
    assert cal.is_workday(date(2026, 10, 12))


def test_covers_library_years_and_configured_years():
    assert WorkCalendar().covers(2026)
    assert not WorkCalendar().covers(2027)
    assert WorkCalendar(years={2027: YearArrangement()}).covers(2027)


# --- deadlines ---------------------------------------------------------------------


def test_complaint_on_2026_09_30_at_1730_spans_national_day_and_the_make_up_saturday(cal):
    raised = at(2026, 9, 30, 17, 30)
    # working days after: Oct 8, 9, 10 (Saturday, 调休), 12, 13, 14, 15
    assert cal.add(raised, 7) == Deadline(at(2026, 10, 15, 17, 30), uncertain=False)
    assert cal.add(raised, 3).at == at(2026, 10, 10, 17, 30)
    assert cal.add(raised, 1).at == at(2026, 10, 8, 17, 30)
    # the reminder, one working day before due, and going back over the break
    assert cal.add(at(2026, 10, 15, 17, 30), -1).at == at(2026, 10, 14, 17, 30)
    assert cal.add(at(2026, 10, 8, 17, 30), -1).at == raised


def test_mid_autumn_2026_and_its_sunday_make_up_day(cal):
    # Sep 20 (Sunday) is worked, Sep 25–27 are off
    assert cal.add(at(2026, 9, 18, 17, 30), 1).at == at(2026, 9, 20, 17, 30)
    assert cal.add(at(2026, 9, 24, 17, 30), 2).at == at(2026, 9, 29, 17, 30)


def test_spring_festival_2026_with_its_make_up_saturdays(cal):
    # consultation on Friday Feb 13 10:00: Feb 14 (Saturday, 调休) then Feb 24
    assert cal.add(at(2026, 2, 13, 10, 0), 2).at == at(2026, 2, 24, 10, 0)
    # help raised during the break counts from Feb 24 09:00; the 5th day is Saturday Feb 28
    assert cal.add(at(2026, 2, 18, 11, 0), 5).at == at(2026, 2, 28, 18, 0)
    assert cal.add(at(2026, 2, 28, 18, 0), -5).at == at(2026, 2, 24, 9, 0)


def test_night_weekend_and_holiday_starts_count_from_the_next_office_start(cal):
    assert cal.add(at(2026, 11, 20, 22, 0), 1).at == at(2026, 11, 23, 18, 0)  # Friday night
    assert cal.add(at(2026, 11, 21, 10, 0), 1).at == at(2026, 11, 23, 18, 0)  # Saturday
    assert cal.add(at(2026, 11, 23, 7, 0), 1).at == at(2026, 11, 23, 18, 0)   # before office
    assert cal.add(at(2026, 10, 3, 10, 0), 2).at == at(2026, 10, 9, 18, 0)    # National Day
    # ending exactly at office end stays on that day, not the next morning
    assert cal.add(at(2026, 11, 23, 9, 0), 1).at == at(2026, 11, 23, 18, 0)


def test_fractional_and_zero_days(cal):
    assert cal.add(at(2026, 11, 23, 9, 0), 0.5).at == at(2026, 11, 23, 13, 30)
    assert cal.add(at(2026, 11, 27, 16, 0), 0.5).at == at(2026, 11, 30, 11, 30)  # over a weekend
    assert cal.add(at(2026, 11, 30, 11, 30), -0.5).at == at(2026, 11, 27, 16, 0)
    assert cal.add(at(2026, 11, 30, 10, 0), 1.25).at == at(2026, 12, 1, 12, 15)
    assert cal.add(at(2026, 11, 21, 3, 0), 0).at == at(2026, 11, 21, 3, 0)
    # thirds do not drift past office end into the next morning
    assert cal.add(at(2026, 11, 23, 9, 0), sum([1 / 9] * 9)).at == at(2026, 11, 23, 18, 0)
    assert cal.add(at(2026, 11, 23, 12, 0), 1 / 3 + 1 / 3).at == at(2026, 11, 23, 18, 0)


def test_negative_days_land_on_the_latest_matching_instant(cal):
    # due 18:00 Monday (a comment from the weekend): reminder at 09:00 Monday
    assert cal.add(at(2026, 11, 23, 18, 0), -1).at == at(2026, 11, 23, 9, 0)
    # from the middle of a night, going back counts from that day's office end
    assert cal.add(at(2026, 11, 24, 23, 0), -1).at == at(2026, 11, 24, 9, 0)
    assert cal.add(at(2026, 11, 24, 10, 0), -2).at == at(2026, 11, 20, 10, 0)


def test_add_accepts_any_timezone_and_answers_in_the_calendar_zone(cal):
    raised = datetime(2026, 9, 30, 9, 30, tzinfo=timezone.utc)  # 17:30 in Shanghai
    due = cal.add(raised, 7).at
    assert due == at(2026, 10, 15, 17, 30) and due.tzinfo == TZ
    with pytest.raises(ValueError):
        cal.add(datetime(2026, 9, 30, 17, 30), 1)


def test_add_and_working_seconds_agree(cal):
    starts = [at(2026, 9, 30, 17, 30), at(2026, 2, 13, 20, 0), at(2026, 12, 31, 12, 0),
              at(2026, 5, 1, 8, 0), at(2026, 6, 18, 9, 0)]
    for start in starts:
        for days in (0.25, 1, 2, 5, 7, 15, 60):
            due = cal.add(start, days).at
            assert cal.working_seconds(start, due) == pytest.approx(days * DAY)
            assert cal.working_seconds(cal.next_office_start(start), cal.add(due, -days).at) \
                == pytest.approx(0)


# --- office time ---------------------------------------------------------------------


def test_working_seconds_across_nights_weekends_and_a_holiday(cal):
    assert cal.working_seconds(at(2026, 11, 23, 10, 0), at(2026, 11, 23, 12, 30)) == 2.5 * HOUR
    # 17:00 Friday → 10:00 Monday: one hour each side of the weekend
    assert cal.working_seconds(at(2026, 11, 20, 17, 0), at(2026, 11, 23, 10, 0)) == 2 * HOUR
    # the night in between counts for nothing
    assert cal.working_seconds(at(2026, 11, 23, 19, 0), at(2026, 11, 24, 8, 0)) == 0
    # Sep 30 17:30 → Oct 8 09:30 across the whole National Day break
    assert cal.working_seconds(at(2026, 9, 30, 17, 30), at(2026, 10, 8, 9, 30)) == HOUR
    # a whole holiday week is worth nothing; the 调休 Saturday is worth a day
    assert cal.working_seconds(at(2026, 10, 1, 0, 0), at(2026, 10, 8, 0, 0)) == 0
    assert cal.working_seconds(at(2026, 10, 10, 0, 0), at(2026, 10, 11, 0, 0)) == DAY
    # reversed order is negative
    assert cal.working_seconds(at(2026, 11, 23, 12, 30), at(2026, 11, 23, 10, 0)) == -2.5 * HOUR


def test_working_seconds_over_a_year_counts_its_working_days(cal):
    workdays_2026 = sum(cal.is_workday(date(2026, 1, 1) + timedelta(days=i)) for i in range(365))
    # 261 weekdays − 19 weekday holidays (元旦 2, 春节 6, 清明 1, 劳动节 3, 端午 1, 中秋 1,
    # 国庆 5) + 6 make-up days (Jan 4, Feb 14, Feb 28, May 9, Sep 20, Oct 10)
    assert workdays_2026 == 248
    assert cal.working_seconds(at(2026, 1, 1, 0, 0), at(2027, 1, 1, 0, 0)) == workdays_2026 * DAY


def test_next_office_start(cal):
    assert cal.next_office_start(at(2026, 11, 23, 7, 0)) == at(2026, 11, 23, 9, 0)
    assert cal.next_office_start(at(2026, 11, 23, 11, 0)) == at(2026, 11, 23, 11, 0)
    assert cal.next_office_start(at(2026, 11, 23, 18, 0)) == at(2026, 11, 24, 9, 0)
    assert cal.next_office_start(at(2026, 9, 30, 18, 30)) == at(2026, 10, 8, 9, 0)
    assert cal.next_office_start(at(2026, 10, 9, 20, 0)) == at(2026, 10, 10, 9, 0)


def test_custom_office_hours():
    cal = WorkCalendar(office_start=time(8, 30), office_end=time(17, 30))
    assert cal.add(at(2026, 11, 23, 8, 0), 1).at == at(2026, 11, 23, 17, 30)
    assert cal.add(at(2026, 11, 23, 17, 0), 1).at == at(2026, 11, 24, 17, 0)
    with pytest.raises(ValueError):
        WorkCalendar(office_start=time(18), office_end=time(9))


def test_months_of_office_time_are_cheap(cal):
    flags = [at(2026, 1, 5, 10, 0) + timedelta(hours=7 * i) for i in range(2000)]
    began = timer.perf_counter()
    for start in flags:
        cal.working_seconds(start, start + timedelta(days=120))
        cal.add(start, 15)
    assert timer.perf_counter() - began < 1.0  # about 10 µs per call in practice


# --- years the library does not know ----------------------------------------------------


@pytest.mark.parametrize(("year", "spring", "qingming", "duanwu", "mid_autumn"), [
    # 春节 = 4 days from 除夕; official lunar dates; Qingming is the solar term
    (2027, date(2027, 2, 5), date(2027, 4, 5), date(2027, 6, 9), date(2027, 9, 15)),
    (2028, date(2028, 1, 25), date(2028, 4, 4), date(2028, 5, 28), date(2028, 10, 3)),
])
def test_fallback_statutory_days(year, spring, qingming, duanwu, mid_autumn):
    days = statutory_holidays(year)
    expected = {date(year, 1, 1), spring, spring + timedelta(1), spring + timedelta(2),
                spring + timedelta(3), qingming, date(year, 5, 1), date(year, 5, 2), duanwu,
                mid_autumn, date(year, 10, 1), date(year, 10, 2), date(year, 10, 3)}
    assert days == expected


def test_fallback_qingming_matches_known_dates_and_the_library_years():
    known = {2004: 4, 2005: 5, 2008: 4, 2012: 4, 2015: 5, 2019: 5, 2020: 4, 2023: 5,
             2024: 4, 2025: 4, 2026: 5, 2027: 5, 2028: 4, 2029: 4, 2030: 5}
    for year, day in known.items():
        assert date(year, 4, day) in statutory_holidays(year), year


def test_fallback_year_is_weekends_plus_statutory_days():
    cal = WorkCalendar()
    assert not cal.is_workday(date(2027, 1, 1))     # 元旦, a Friday
    assert not cal.is_workday(date(2027, 2, 8))     # 初三, a Monday
    assert cal.is_workday(date(2027, 2, 9))
    assert not cal.is_workday(date(2027, 6, 9))     # 端午, a Wednesday
    assert not cal.is_workday(date(2027, 2, 6))     # Saturday: weekend anyway
    assert not cal.is_workday(date(2027, 1, 9))     # 调休 unknown: no make-up days


def test_deadline_into_an_uncovered_year_is_uncertain_and_warns_once(cal, fresh_warnings, caplog):
    caplog.set_level(logging.WARNING, logger="huisheng.calendar")
    raised = at(2026, 12, 30, 17, 0)
    # consultation, 2 working days: 1 h on Dec 30, Dec 31, (Jan 1 off), 8 h on Jan 4
    due = cal.add(raised, 2)
    assert due == Deadline(at(2027, 1, 4, 17, 0), uncertain=True, uncovered_years=(2027,))
    warnings = [r for r in caplog.records if r.name == "huisheng.calendar"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "2027" in warnings[0].getMessage() and "[calendar.years.2027]" in warnings[0].getMessage()
    cal.add(raised, 5)
    WorkCalendar().add(raised, 3)
    assert len([r for r in caplog.records if r.name == "huisheng.calendar"]) == 1
    # a deadline inside a covered year says nothing
    assert not cal.add(at(2026, 12, 1, 10, 0), 2).uncertain
    # a reminder computed back from inside the uncovered year is uncertain too
    assert cal.add(due.at, -1).uncovered_years == (2027,)


def test_configured_year_is_exact_and_silent(fresh_warnings, caplog):
    caplog.set_level(logging.WARNING, logger="huisheng.calendar")
    # a test arrangement: Jan 1–4 off, Saturday Jan 9 worked
    cal = WorkCalendar(years={2027: YearArrangement(
        holidays=frozenset(date(2027, 1, d) for d in (1, 2, 3, 4)),
        workdays=frozenset({date(2027, 1, 9)}))})
    due = cal.add(at(2026, 12, 30, 17, 0), 2)
    assert due == Deadline(at(2027, 1, 5, 17, 0), uncertain=False)
    assert cal.is_workday(date(2027, 1, 9)) and not cal.is_workday(date(2027, 1, 10))
    assert cal.is_workday(date(2027, 2, 8))  # the config replaces the fallback entirely
    assert not [r for r in caplog.records if r.name == "huisheng.calendar"]


def test_config_overrides_a_library_year():
    cal = WorkCalendar(years={2026: YearArrangement(holidays=frozenset({date(2026, 11, 23)}))})
    assert not cal.is_workday(date(2026, 11, 23))
    assert not cal.is_workday(date(2026, 10, 10))  # the library's make-up day is not assumed


def _reference_working_seconds(a: datetime, b: datetime) -> float:
    """Day by day, straight from chinesecalendar (and the fallback for 2027)."""
    total, day = 0.0, a.date()
    while day <= b.date():
        if day.year == 2027:
            working = day.weekday() < 5 and day not in statutory_holidays(2027)
        else:
            working = chinese_calendar.is_workday(day)
        if working:
            start = max(a, at(day.year, day.month, day.day, 9, 0))
            end = min(b, at(day.year, day.month, day.day, 18, 0))
            total += max((end - start).total_seconds(), 0.0)
        day += timedelta(days=1)
    return total


def test_working_seconds_matches_a_day_by_day_reference(cal, fresh_warnings):
    rng = random.Random(20261130)
    origin = at(2025, 12, 1, 0, 0)
    for _ in range(300):
        a = origin + timedelta(minutes=rng.randrange(0, 500 * 24 * 60))
        b = a + timedelta(minutes=rng.randrange(0, 40 * 24 * 60))
        expected = _reference_working_seconds(a, b)
        assert cal.working_seconds(a, b) == expected, (a, b)
        due = cal.add(a, expected / DAY).at
        assert due <= b and cal.working_seconds(a, due) == pytest.approx(expected)
