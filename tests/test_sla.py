"""``[sla]`` and ``[calendar]``: defaults, overrides, and errors that name the
file, the key and the line."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from huisheng.errors import ConfigError
from huisheng.flags.sla import Sla, calendar_from_settings, sla_from_settings
from huisheng.config import load_settings
from huisheng.config.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "huisheng.example.toml"
TZ = ZoneInfo("Asia/Shanghai")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "huisheng.toml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    return str(info.value).replace(str(path.parent), "<tmp>").splitlines()


def test_defaults_without_tables_and_without_load_settings(tmp_path):
    settings = load_settings(write(tmp_path, "timezone = \"Asia/Shanghai\"\n"), environ={})
    sla = sla_from_settings(settings)
    assert sla == Sla()
    assert dict(sla.deadlines) == {"consultation": 2, "help": 5, "suggestion": 5, "complaint": 7}
    assert sla.deadline_days("praise") is None
    assert (sla.wrong_unit_return, sla.promise_max, sla.reminder_before, sla.notice_after,
            sla.stale_days) == (2, 15, 1, 5, 90)
    assert sla_from_settings(Settings(path=tmp_path, database_url="sqlite://")) == Sla()
    cal = calendar_from_settings(settings)
    assert (cal.office_start, cal.office_end) == (time(9), time(18))
    assert calendar_from_settings(Settings(path=tmp_path, database_url="sqlite://")).covers(2026)


def test_example_config_loads_and_matches_the_defaults():
    settings = load_settings(EXAMPLE, environ={})
    assert sla_from_settings(settings) == Sla()
    cal = calendar_from_settings(settings)
    assert (cal.office_start, cal.office_end) == (time(9), time(18))
    assert not cal.covers(2027)  # the example only shows the override, commented


def test_overrides(tmp_path):
    settings = load_settings(write(tmp_path, """\
timezone = "Asia/Urumqi"

[sla]
complaint = 10
consultation = 1.5
praise = 3
stale_days = 60
reminder_before = 0.5

[calendar]
office_start = "08:30"
office_end = "17:30"

[calendar.years.2027]
holidays = ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"]
workdays = ["2027-01-09"]
"""), environ={})
    sla = sla_from_settings(settings)
    assert dict(sla.deadlines) == {"consultation": 1.5, "complaint": 10, "help": 5, "suggestion": 5,
                                   "praise": 3}
    assert (sla.stale_days, sla.reminder_before, sla.promise_max) == (60, 0.5, 15)
    cal = calendar_from_settings(settings)
    assert (cal.office_start, cal.office_end, str(cal.tz)) == (time(8, 30), time(17, 30), "Asia/Urumqi")
    assert cal.covers(2027) and cal.is_workday(date(2027, 1, 9)) and not cal.is_workday(date(2027, 1, 4))
    due = cal.add(datetime(2026, 12, 30, 16, 30, tzinfo=ZoneInfo("Asia/Urumqi")), 2)
    assert not due.uncertain
    assert due.at == datetime(2027, 1, 5, 16, 30, tzinfo=ZoneInfo("Asia/Urumqi"))


def test_errors_name_file_key_and_line(tmp_path):
    path = write(tmp_path, """\
[sla]
complaint = 0
help = "five"
stale_days = 1.5
colour = 3

[calendar]
office_start = "9:00"
office_end = "25:00"

[calendar.years.2027]
holidays = ["2027-01-01", "2028-01-01", "2027-02-30"]
workdays = ["2027-01-09"]

[calendar.years.2028]
holidays = ["2028-01-01", "2028-01-02"]
workdays = ["2028-01-02", "2028-01-01"]

[calendar.years.next]
holidays = []
""")
    assert errors_of(path) == [
        "<tmp>/huisheng.toml:2: sla.complaint: 应为介于 0.01 到 250 之间的数字（number），实际为 0",
        "<tmp>/huisheng.toml:3: sla.help: 应为介于 0.01 到 250 之间的数字（number），实际为字符串",
        "<tmp>/huisheng.toml:4: sla.stale_days: 应为介于 1 到 3650 之间的整数（integer），实际为小数",
        "<tmp>/huisheng.toml:5: sla.colour: 未知的键 \"colour\"（此处允许的键：consultation, help, "
        "suggestion, complaint, praise, wrong_unit_return, promise_max, reminder_before, "
        "notice_after, stale_days）",
        "<tmp>/huisheng.toml:8: calendar.office_start: 应为 \"HH:MM\" 格式的时刻（如 \"09:00\"），"
        "实际为 \"9:00\"",
        "<tmp>/huisheng.toml:9: calendar.office_end: 应为 \"HH:MM\" 格式的时刻（如 \"09:00\"），"
        "实际为 \"25:00\"",
        "<tmp>/huisheng.toml:12: calendar.years.2027.holidays: 日期 2028-01-01 不在 2027 年内",
        "<tmp>/huisheng.toml:17: calendar.years.2028.workdays: 日期 2028-01-01、2028-01-02 同时出现在 "
        "holidays 与 workdays 中",
        "<tmp>/huisheng.toml:19: calendar.years.next: 应为年份（如 [calendar.years.2027]），实际为 \"next\"",
    ]


def test_bad_dates_and_office_hours_in_the_wrong_order(tmp_path):
    path = write(tmp_path, """\
[calendar]
office_start = "18:00"
office_end = "09:00"

[calendar.years.2027]
workdays = ["2027-02-30", "2027-1-9"]
""")
    assert errors_of(path) == [
        "<tmp>/huisheng.toml:3: calendar.office_end: 下班时间 09:00 应晚于上班时间 18:00",
        "<tmp>/huisheng.toml:6: calendar.years.2027.workdays: 应为 \"YYYY-MM-DD\" 格式的日期，"
        "实际为 \"2027-02-30\"",
    ]
