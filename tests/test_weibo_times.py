"""Weibo times: exact from the ids where the string is relative or date-only,
and a fallback that never dates an item after the moment it was fetched.

Weibo's numeric ids carry their creation second: ``(id >> 22) + 515483463``.
The ids below are built with that layout (``mid_at``), as real ones are; the
fixtures ``timeline/relative_ids_new_year`` and ``comments_old/years_old_ids``
hold a 2019 post (mid 4384961234567890) and its comments as Weibo shows them
today, year left out.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from huisheng.adapters.weibo.text import ID_EPOCH_OFFSET, id_time, parse_time
from huisheng.cli import main

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIXTURES = Path(__file__).parent / "fixtures" / "weibo"


def beijing(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(timezone.utc)


def mid_at(when: datetime, low: int = 2_654_321) -> str:
    return str(((int(when.timestamp()) - ID_EPOCH_OFFSET) << 22) + low)


def test_the_id_formula():
    assert id_time(4384961234567890) == datetime(2019, 6, 19, 10, 21, 29, tzinfo=timezone.utc)
    assert id_time("4384961234567890") == id_time(4384961234567890)
    when = beijing("2025-12-31T20:15:33")
    assert id_time(mid_at(when)) == when and id_time(mid_at(when, low=0)) == when
    # not a time id: not numeric, not a plain number, too small to be Weibo's, absurdly large
    for value in (None, "", "Qa1B2c3D4", "４３８４９６１２３４５６７８９０", "-4384961234567890", True, 12345,
                  "9" * 19, "9" * 40, 4.3e15):
        assert id_time(value) is None, value


# Fetched ten minutes after New Year in Beijing: every relative form crosses the year.
NOW = beijing("2026-01-01T00:10:00")


@pytest.mark.parametrize("value,created", [
    ("刚刚", "2026-01-01T00:09:41"),
    ("20秒前", "2026-01-01T00:09:39"),
    ("3分钟前", "2026-01-01T00:06:31"),
    ("15分钟前", "2025-12-31T23:54:20"),
    ("1小时前", "2025-12-31T23:01:02"),
    ("今天 00:05", "2026-01-01T00:05:48"),
    ("昨天 20:15", "2025-12-31T20:15:33"),
    ("前天 23:59", "2025-12-30T23:59:00"),
    ("12-31", "2025-12-31T07:00:12"),
    ("12-31 23:58", "2025-12-31T23:58:59"),
    ("01-01", "2026-01-01T00:00:00"),
    ("06-14", "2019-06-14T20:15:00"),  # a 2019 comment shown today without its year
    ("06月14日 20:15", "2019-06-14T20:15:07"),
    ("2019-06-14", "2019-06-14T23:59:59"),
    ("2019-06-14 20:15", "2019-06-14T20:15:59"),
    ("2019年06月14日", "2019-06-14T00:00:00"),
])
def test_relative_and_date_only_forms_take_the_exact_time_from_the_id(value, created):
    exact = beijing(created)
    assert parse_time(value, NOW, mid_at(exact)) == (exact, False)


@pytest.mark.parametrize("value,created", [
    ("刚刚", "2026-01-01T00:05:00"),  # five minutes is not 刚刚
    ("3分钟前", "2026-01-01T00:01:00"),
    ("1小时前", "2025-12-31T21:30:00"),
    ("今天 00:05", "2026-01-01T00:06:30"),
    ("昨天 20:15", "2025-12-30T20:15:10"),  # the day before yesterday
    ("12-31", "2025-12-30T23:00:00"),
    ("06-14", "2019-06-15T08:00:00"),
    ("2019-06-14", "2020-06-14T12:00:00"),
    ("2019-06-14 20:15", "2019-06-14T20:17:00"),
])
def test_an_id_outside_the_span_the_string_allows_is_not_used(value, created):
    at, approx = parse_time(value, NOW, mid_at(beijing(created)))
    assert approx and at == parse_time(value, NOW)[0] and at != beijing(created)


def test_the_formula_is_trusted_to_the_second_at_the_edges():
    # the id's second may be one off the string's minute
    just_before = beijing("2025-12-31T20:14:59")
    assert parse_time("昨天 20:15", NOW, mid_at(just_before)) == (just_before, False)
    assert parse_time("昨天 20:15", NOW, mid_at(beijing("2025-12-31T20:14:57")))[1] is True


def test_an_id_after_the_fetch_time_is_not_used():
    later = NOW + timedelta(seconds=1)
    assert parse_time("刚刚", NOW, mid_at(later)) == (NOW, True)
    assert parse_time("01-01", NOW, mid_at(later))[1] is True


def test_an_exact_absolute_time_stays_as_it_is():
    other = mid_at(beijing("2025-03-01T10:00:00"))
    assert parse_time("Sat Jun 14 20:15:00 +0800 2019", NOW, other) == (beijing("2019-06-14T20:15:00"), False)
    assert parse_time("2019-06-14 20:15:31", NOW, other) == (beijing("2019-06-14T20:15:31"), False)


@pytest.mark.parametrize("value,now,expected", [
    ("12-31", "2026-01-01T09:30:00", "2025-12-31T00:00:00"),  # seen on Jan 1: last year
    ("06-14", "2026-12-05T09:30:00", "2026-06-14T00:00:00"),  # seen in December: this year
    ("06-14", "2026-06-10T09:30:00", "2025-06-14T00:00:00"),  # seen before the day: last year
    ("06-14", "2026-06-14T09:30:00", "2026-06-14T00:00:00"),  # the day itself
    ("06-14 20:15", "2026-06-14T09:30:00", "2026-06-14T09:30:00"),  # today, later than now: now
    ("今天 23:50", "2026-01-01T09:30:00", "2026-01-01T09:30:00"),
    ("02-29", "2026-03-01T09:30:00", "2024-02-29T00:00:00"),
    ("2031-01-01", "2026-01-01T09:30:00", "2026-01-01T09:30:00"),
    ("昨天 23:59", "2026-01-01T00:00:30", "2025-12-31T23:59:00"),
])
def test_the_fallback_never_dates_an_item_after_its_fetch(value, now, expected):
    fetched = beijing(now)
    at, approx = parse_time(value, fetched, "not-a-number")
    assert approx and at == beijing(expected) and at <= fetched


def _records(endpoint: str, case: str) -> dict[str, dict]:
    lines = (FIXTURES / endpoint / f"{case}.expected.jsonl").read_text("utf-8").splitlines()
    return {r["external_id"]: r for r in map(json.loads, lines)}


def _utc(text: str) -> str:
    return beijing(text).isoformat().replace("+00:00", "Z")


def test_a_timeline_across_new_year_with_a_2019_pinned_post():
    posts = _records("timeline", "relative_ids_new_year")
    assert {ext: (r["created_at"], r["created_at_approx"]) for ext, r in posts.items()} == {
        "4384961234567890": (_utc("2019-06-19T18:21:29"), False),  # "06-19": 2019, not 2025
        "5250068694357639": (_utc("2026-01-01T00:09:41"), False),  # 刚刚
        "5250067063884494": (_utc("2026-01-01T00:03:12"), False),  # 6分钟前
        "5250065777344277": (_utc("2025-12-31T23:58:05"), False),  # 11分钟前, last year
        "5250009771997269": (_utc("2025-12-31T20:15:33"), False),  # 昨天 20:15
        "5249463573064274": (_utc("2025-12-30T08:05:09"), False),  # 12-30
        # an id that does not fit its "12-29": the date alone, in the past, approximate
        "5117220905180149": (_utc("2025-12-29T00:00:00"), True),
    }


def test_comments_years_old_keep_their_years():
    comments = _records("comments_old", "years_old_ids")
    assert {ext: (r["created_at"], r["created_at_approx"]) for ext, r in comments.items()} == {
        "5250066130403349": (_utc("2025-12-31T23:59:30"), False),  # 10分钟前
        "4647921068802070": (_utc("2021-06-14T09:30:00"), False),  # 2021-06-14
        "4385529772638231": (_utc("2019-06-21T08:00:40"), False),  # 06-21 08:00
        "4385167208611852": (_utc("2019-06-20T07:59:58"), False),  # 06-20
        "4384967148699672": (_utc("2019-06-19T18:45:00"), False),  # 2019年06月19日 18:45
        "4384965898797067": (_utc("2019-06-19T18:40:02"), False),  # 06-19
        "4459100000000399": (_utc("2025-06-22T00:00:00"), True),  # id of 2020 against "06-22"
    }


def test_huisheng_parse_shows_the_same():
    path = FIXTURES / "comments_old" / "years_old_ids.json"
    result = CliRunner().invoke(main, ["parse", "--endpoint", "comments_old", str(path),
                                       "--now", "2026-01-01T00:10:00", "--post-id", "4384961234567890",
                                       "--account-uid", "7309876543"])
    assert result.exit_code == 0, result.output
    rows = {r["external_id"]: r for r in map(json.loads, result.output.splitlines())}
    assert rows["4384965898797067"]["created_at"] == _utc("2019-06-19T18:40:02")
    assert rows["4384965898797067"]["created_at_approx"] is False
    assert rows == _records("comments_old", "years_old_ids")
