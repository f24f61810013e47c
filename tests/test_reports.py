"""Reports against a hand-computed scenario: flags built directly in the
database with exact times (Asia/Shanghai), figures worked out by hand below."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text, update

from flagkit import Kit
from huisheng.cli import main
from huisheng.storage.db import make_engine
from huisheng.config.matrix import dump_matrix
from huisheng.storage.models import Account, Base, Flag, Post
from huisheng.reports.compliance import ComplianceSettings, compliance
from huisheng.reports.coverage import coverage
from huisheng.reports.rollup import RollupJob
from huisheng.reports.stats import Hist

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 5, 12, 0, tzinfo=TZ)  # the reports run "now"
A1, A2 = "1000000002", "1000000003"  # accounts of B00 (区政府办公室) and B01 (住建委)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


def make_flag(kit: Kit, post: int, uid: str, unit: str, category: str, started: datetime, due: datetime, *,
              created: datetime | None = None, reply: datetime | None = None, status: str | None = None,
              offline: bool = False, historical: bool = False, text: str = "请问这个问题什么时候能解决？",
              author: str = "张三") -> int:
    comment_id, _ = kit.comment(post, started, text, author=("9001", author))
    account, owner = kit.account(uid), kit.unit(unit)
    with kit.sessions.begin() as session:
        flag = Flag(comment_id=comment_id, post_id=post, account_id=account.id, unit_id=owner.id, routing="account",
                    routing_reason="账号", category=category, author_id="9001", author_name=author,
                    status=status or ("replied" if reply else "open"), started_at=started,
                    created_at=created or started, due_at=due, first_reply_at=reply, replied_offline=offline,
                    reply_seconds=(reply - started).total_seconds() if reply else None,
                    reply_working_seconds=kit.calendar.working_seconds(started, reply) if reply else None,
                    updated_at=created or started, historical=historical)
        session.add(flag)
        session.flush()
        return flag.id


def read_since(kit: Kit, at: datetime) -> None:
    """Every account read successfully since ``at`` (a never-read account is not judged)."""
    with kit.sessions.begin() as session:
        session.execute(update(Account).values(first_success_at=at, last_success_at=at))


@pytest.fixture
def scenario(db_url, tmp_path):
    kit = Kit(db_url)
    read_since(kit, local(2026, 1, 1))
    p1 = kit.post(A1, local(2026, 9, 1, 9))
    p2 = kit.post(A2, local(2026, 9, 1, 9))
    ids = {
        # September cohort: across the National Day holiday (Oct 1–7): 17:00–18:00 on Sep 30 and
        # 09:00–10:00 on Oct 8 are 2 working hours; 7 days 17 hours = 185 calendar hours
        "F1": make_flag(kit, p1, A1, "B00", "consultation", local(2026, 9, 30, 17), local(2026, 10, 9, 17),
                        created=local(2026, 9, 30, 17, 10), reply=local(2026, 10, 8, 10)),
        # October cohort
        "F2": make_flag(kit, p1, A1, "B00", "complaint", local(2026, 10, 12, 9), local(2026, 10, 20, 18),
                        reply=local(2026, 10, 13, 10)),  # 25 h, 10 working h, on time
        "F3": make_flag(kit, p1, A1, "B00", "consultation", local(2026, 10, 26, 10), local(2026, 10, 28, 10),
                        reply=local(2026, 11, 3, 10)),  # after the period, late: 192 h, 54 working h
        "F4": make_flag(kit, p2, A2, "B01", "help", local(2026, 10, 14, 20), local(2026, 10, 21, 18)),  # overdue
        "F5": make_flag(kit, p2, A2, "B01", "suggestion", local(2026, 10, 20, 9), local(2026, 10, 27, 18),
                        status="dismissed"),
        # the last minutes of October (local), a street's, not yet due
        "F6": make_flag(kit, p2, A2, "S00", "complaint", local(2026, 10, 31, 23, 30), local(2026, 11, 10, 18)),
        "F7": make_flag(kit, p1, A1, "B00", "consultation", local(2026, 10, 15, 12), local(2026, 10, 19, 12),
                        reply=local(2026, 10, 15, 14), offline=True),
        # November (local), overdue
        "F8": make_flag(kit, p1, A1, "B00", "consultation", local(2026, 11, 1, 0, 10), local(2026, 11, 3, 18)),
    }
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "matrix.toml").write_text(dump_matrix(kit.matrix), encoding="utf-8")
    config = tmp_path / "huisheng.toml"
    config.write_text(f'matrix = "m"\n[database]\nurl = "{db_url}"\n', encoding="utf-8")
    yield kit, config, ids
    kit.close()


def report(config, *args, lang="zh"):
    result = CliRunner().invoke(main, ["--config", str(config), "report", *args, "--now", NOW.isoformat(),
                                       "--lang", lang])
    assert result.exit_code == 0, result.output
    return result.output


def rows(config, *args):
    return {r["key"]: r for r in json.loads(report(config, "coverage", *args, "--format", "json"))}


OCTOBER = ("--from", "2026-10-01", "--to", "2026-10-31")


def hist(*values: float) -> Hist:
    h = Hist()
    for v in values:
        h.add(v)
    return h


def test_histogram_quantiles():
    assert hist().quantile(0.5) is None
    assert hist(3.0).quantile(0.9) == 3.0
    assert hist(25 * 3600.0, 192 * 3600.0).quantile(0.5) == 108.5 * 3600
    # distinct buckets: exact linear interpolation at (n - 1)q
    assert hist(60.0, 600.0, 3600.0, 36000.0, 360000.0).quantile(0.9) == pytest.approx(36000 + 0.6 * (360000 - 36000))
    # equal values share a bucket and stay exact; close ones are averaged within their bucket
    assert hist(7200.0, 7200.0, 7200.0).quantile(0.5) == 7200.0
    assert hist(7000.0, 7100.0).quantile(0.0) == 7050.0


def test_coverage_by_unit_hand_computed(scenario):
    kit, config, _ = scenario
    by_unit = rows(config, "--by", "unit", *OCTOBER)
    assert set(by_unit) == {"B00", "B01", "S00"}
    b00 = by_unit["B00"]
    # F2 on time, F3 replied after the period (counts for October, late), F7 offline (not a public reply)
    assert b00 == {"key": "B00", "label": "区政府办公室", "flags": 3, "replied": 2, "coverage": pytest.approx(2 / 3),
                   "on_time": 1, "on_time_coverage": pytest.approx(1 / 3),
                   "frt_median_hours": 108.5, "frt_p90_hours": 175.3,
                   "frt_median_working_hours": 32.0, "frt_p90_working_hours": 49.6,
                   "overdue_open": 0, "dismissed": 0, "offline": 1, "historical": 0}
    b01 = by_unit["B01"]  # F5 dismissed: outside the denominator
    assert (b01["flags"], b01["replied"], b01["coverage"], b01["on_time_coverage"], b01["overdue_open"],
            b01["dismissed"], b01["frt_median_hours"]) == (1, 0, 0.0, 0.0, 1, 1, None)
    s00 = by_unit["S00"]  # 23:30 local on Oct 31 is October; due Nov 10: not overdue
    assert (s00["flags"], s00["overdue_open"]) == (1, 0)


def test_reply_after_the_period_counts_for_its_cohort(scenario):
    kit, config, ids = scenario
    before = rows(config, "--by", "district", *OCTOBER)["district"]
    assert (before["flags"], before["replied"], before["on_time"], before["overdue_open"]) == (5, 2, 1, 1)
    # a late reply to F4 arrives in December: October's figures move, November's don't
    with kit.sessions.begin() as session:
        session.execute(update(Flag).where(Flag.id == ids["F4"]).values(
            status="replied", first_reply_at=local(2026, 12, 1, 10).astimezone(timezone.utc),
            reply_seconds=1.0, reply_working_seconds=1.0))
    after = rows(config, "--by", "district", *OCTOBER)["district"]
    assert (after["flags"], after["replied"], after["on_time"], after["overdue_open"]) == (5, 3, 1, 0)


def test_working_hours_across_the_holiday(scenario):
    kit, config, _ = scenario
    september = rows(config, "--by", "unit", "--from", "2026-09-01", "--to", "2026-09-30")["B00"]
    assert (september["flags"], september["replied"], september["on_time"]) == (1, 1, 1)
    assert september["frt_median_working_hours"] == 2.0
    assert september["frt_median_hours"] == 185.0


def test_grouping_by_level_account_category_month(scenario):
    kit, config, _ = scenario
    level = rows(config, "--by", "level", *OCTOBER)
    assert list(level) == ["department", "street"]
    assert (level["department"]["flags"], level["department"]["replied"], level["department"]["overdue_open"],
            level["department"]["label"]) == (4, 2, 1, "部门")
    account = rows(config, "--by", "account", *OCTOBER)
    # every enabled account is listed, those nobody wrote to included
    assert {k: r["flags"] for k, r in account.items() if r["flags"]} == {f"weibo:{A1}": 3, f"weibo:{A2}": 2}
    assert len(account) == 12 and account["weibo:1000000004"]["coverage"] is None
    assert account[f"weibo:{A1}"]["label"] == "示范区区政府办公室"
    category = rows(config, "--by", "category", *OCTOBER)
    assert {k: (r["flags"], r["replied"], r["on_time"]) for k, r in category.items()} == {
        "complaint": (2, 1, 1), "consultation": (2, 1, 0), "help": (1, 0, 0), "suggestion": (0, 0, 0)}
    assert category["suggestion"]["coverage"] is None and category["suggestion"]["dismissed"] == 1
    month = rows(config, "--by", "month", "--from", "2026-09-01", "--to", "2026-11-30")
    assert {k: (r["flags"], r["replied"], r["overdue_open"]) for k, r in month.items()} == {
        "2026-09": (1, 1, 0), "2026-10": (5, 2, 1), "2026-11": (1, 0, 1)}


def test_json_keys_and_csv_for_excel(scenario):
    kit, config, _ = scenario
    listed = json.loads(report(config, "coverage", "--by", "unit", *OCTOBER, "--format", "json"))
    for key in ("key", "flags", "replied", "coverage", "on_time", "on_time_coverage", "frt_median_hours",
                "frt_p90_hours", "frt_median_working_hours", "overdue_open"):
        assert all(key in r for r in listed)
    assert listed[0]["coverage"] == pytest.approx(2 / 3)  # a fraction in JSON
    out = report(config, "coverage", "--by", "unit", *OCTOBER, "--format", "csv")
    assert out.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(out.removeprefix("\ufeff"))))
    # the CSV says its period; rates are percentages
    assert table[0][:7] == ["统计起始日", "统计截止日", "键", "名称", "需回复", "已回复", "回复率"]
    assert table[1][:7] == ["2026-10-01", "2026-10-31", "B00", "区政府办公室", "3", "2", "66.7%"]
    english = report(config, "coverage", "--by", "unit", *OCTOBER, "--format", "csv", lang="en")
    assert english.startswith("\ufeffperiod from,period to,key,name,flags,replied,coverage")
    overdue = list(csv.reader(io.StringIO(report(config, "overdue", "--format", "csv").removeprefix("\ufeff"))))
    assert overdue[0][:2] == ["统计时间", "编号"] and overdue[1][0] == "2026-11-05 12:00:00+08:00"
    # ISO dates, local time with its offset: F4 (due Oct 21 18:00) first, then F8 (due Nov 3 18:00)
    assert [r[7] for r in overdue[1:]] == ["2026-10-21 18:00:00+08:00", "2026-11-03 18:00:00+08:00"]
    assert [r[9] for r in overdue[1:]] == ["超期", "超期"]  # values in the chosen language
    table_out = report(config, "coverage", "--by", "unit", *OCTOBER)
    assert "区政府办公室" in table_out and "66.7%" in table_out and "2026-10-01 至 2026-10-31（UTC+08:00）" in table_out
    assert "2026-10-21 18:00+08:00" in report(config, "overdue")
    assert json.loads(report(config, "overdue", "--format", "json"))[0]["due_at"] == "2026-10-21T18:00:00+08:00"
    # a word key (a category, a level) shows as its name only in tables and CSV
    by_category = list(csv.reader(io.StringIO(report(config, "coverage", "--by", "category", *OCTOBER,
                                                     "--format", "csv").removeprefix("\ufeff"))))
    assert by_category[0][2] == "名称" and [r[2] for r in by_category[1:]] == ["投诉", "咨询", "求助", "建议"]


def test_overdue_and_ranking(scenario):
    kit, config, ids = scenario
    with kit.sessions.begin() as session:
        session.execute(update(Flag).where(Flag.id == ids["F4"]).values(
            reminded_at=local(2026, 10, 20, 18), escalated_at=local(2026, 10, 22, 9)))
    listed = json.loads(report(config, "overdue", "--format", "json"))
    assert [(r["flag_id"], r["step"]) for r in listed] == [(ids["F4"], "escalated"), (ids["F8"], "overdue")]
    # F8 due Nov 3 18:00; now Nov 5 12:00: Nov 4 (9 h) + Nov 5 09–12 (3 h) = 12 h = 1.33 working days
    assert listed[1]["overdue_working_days"] == 1.33
    ranked = json.loads(report(config, "ranking", "--period", "month", "--month", "2026-10", "--min-flags", "1",
                               "--format", "json"))
    # within each level: B00 (on-time 1/3) before B01 (0); S00 alone among streets
    assert [(r["level"], r["rank"], r["key"]) for r in ranked] == [("部门", 1, "B00"), ("部门", 2, "B01"),
                                                                    ("街镇", 1, "S00")]
    assert ranked[0]["on_time_coverage"] == pytest.approx(1 / 3) and ranked[0]["note"] is None
    assert "考评排名" in report(config, "ranking", "--month", "2026-10")


def test_ranking_within_one_level_with_a_minimum_of_flags(scenario):
    kit, config, _ = scenario
    p1 = kit.post(A1, local(2026, 10, 1, 9))
    for day in range(1, 3):  # B00: 3 + 2 = 5 flags in October, B01: 1, S00: 1
        make_flag(kit, p1, A1, "B00", "consultation", local(2026, 10, day, 10), local(2026, 10, day + 2, 10),
                  reply=local(2026, 10, day, 11))
    ranked = json.loads(report(config, "ranking", "--month", "2026-10", "--min-flags", "5", "--format", "json"))
    assert [(r["level"], r["rank"], r["key"], r["flags"]) for r in ranked] == [
        ("部门", 1, "B00", 5), ("部门", None, "B01", 1), ("街镇", None, "S00", 1)]
    assert ranked[1]["note"] == "需回复少于 5 条，不排名"
    # the default minimum is 10: nobody is ranked, everybody is listed
    default = json.loads(report(config, "ranking", "--month", "2026-10", "--format", "json"))
    assert [(r["rank"], r["key"]) for r in default] == [(None, "B00"), (None, "B01"), (None, "S00")]
    streets = json.loads(report(config, "ranking", "--month", "2026-10", "--level", "street", "--min-flags", "1",
                                "--format", "json"))
    assert [(r["rank"], r["key"]) for r in streets] == [(1, "S00")]
    table = list(csv.reader(io.StringIO(report(config, "ranking", "--month", "2026-10", "--min-flags", "5",
                                               "--format", "csv").removeprefix("\ufeff"))))
    assert table[0][:4] == ["统计起始日", "统计截止日", "层级", "名次"]
    assert table[1][:8] == ["2026-10-01", "2026-10-31", "部门", "1", "B00", "区政府办公室", "5", "4"]
    assert table[1][8] == "80.0%" and table[2][3] == "" and table[2][-1] == "需回复少于 5 条，不排名"
    assert "无数据" in report(config, "ranking", "--month", "2025-10")


def _posts(kit, uid, *times, closed=False, repost=False):
    for at in times:
        post = kit.post(uid, at)
        with kit.sessions.begin() as session:
            session.execute(update(Post).where(Post.id == post).values(
                comments_open=not closed, repost_of="4999999999" if repost else None))


def test_compliance_across_the_14_day_boundary(db_url, tmp_path):
    kit = Kit(db_url)
    read_since(kit, local(2026, 1, 1))
    uids = [f"10000000{n:02d}" for n in range(1, 13)]
    _posts(kit, uids[0], local(2026, 11, 7, 12))                 # 13 days before: passes, warned
    _posts(kit, uids[1], local(2026, 11, 6, 8))                  # 14 days before: still passes
    _posts(kit, uids[2], local(2026, 11, 5, 23), local(2026, 11, 20, 0, 30))  # 15 days (the other is after)
    _posts(kit, uids[3], local(2026, 11, 4, 9))
    _posts(kit, uids[3], local(2026, 11, 18, 9), repost=True)   # a repost does not count
    _posts(kit, uids[4], local(2026, 11, 15, 9), closed=True)   # comments closed: no interaction
    _posts(kit, uids[5], local(2026, 11, 19, 9))
    post = kit.post(uids[5], local(2026, 7, 1, 9))
    make_flag(kit, post, uids[5], "B04", "help", local(2026, 8, 1, 10), local(2026, 8, 7, 18))  # > 90 days
    at = local(2026, 11, 20)
    with kit.sessions() as session:
        checked = {c.uid: c for c in compliance(session, at=at, rules=ComplianceSettings(), tz=TZ)}
    kit.close()
    inactive = {c.name for c in checked.values() if c.inactive}
    flags = {uid: (c.days_since_post, c.inactive, c.warning) for uid, c in checked.items()}
    assert flags[uids[0]] == (13, False, True)
    assert flags[uids[1]] == (14, False, True)
    assert flags[uids[2]] == (15, True, True)
    assert flags[uids[3]] == (16, True, True)
    assert flags[uids[4]] == (5, False, False) and checked[uids[4]].no_interaction
    assert flags[uids[5]] == (1, False, False) and not checked[uids[5]].no_interaction
    assert checked[uids[5]].stale_flags == 1
    assert flags[uids[6]] == (None, True, True)  # never posted
    assert "示范区区政府办公室" not in inactive and "示范区住房和城乡建设委员会" in inactive
    assert len(inactive) == 12 - 4


def test_compliance_command_summary_per_level(scenario):
    kit, config, _ = scenario
    out = report(config, "compliance", "--at", "2026-09-10")
    assert "单项否决" in out and "区级" in out and "部门" in out
    data = json.loads(report(config, "compliance", "--at", "2026-09-10", "--format", "json"))
    by_uid = {a["uid"]: a for a in data["accounts"]}
    assert by_uid[A1]["days_since_post"] == 9 and not by_uid[A1]["inactive"] and not by_uid[A1]["warning"]
    assert {lv["level"]: (lv["accounts"], lv["inactive"]) for lv in data["levels"]} == {"区级": (1, 1),
                                                                                         "部门": (11, 9)}
    csv_out = report(config, "compliance", "--at", "2026-09-10", "--format", "csv")
    assert csv_out.startswith("\ufeff检查日,层级,单位,账号") and "2026-09-01 09:00:00+08:00" in csv_out
    assert "\n2026-09-10,区级,示范区,示范区发布," in csv_out and ",是,是," in csv_out  # values in the chosen language
    english = report(config, "compliance", "--at", "2026-09-10", "--format", "csv", lang="en")
    assert english.startswith("\ufeffcheck day,level,unit,account") and ",yes,yes," in english


def _snapshot(url: str) -> dict[str, tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: tuple(conn.execute(select(t)).all()) for t in Base.metadata.sorted_tables
                    if t.name in {r[0] for r in conn.execute(text(
                        "SELECT name FROM sqlite_master WHERE type='table'" if url.startswith("sqlite")
                        else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}}
    finally:
        engine.dispose()


def test_reports_write_nothing(scenario, db_url):
    kit, config, _ = scenario
    kit.close()
    path = db_url.removeprefix("sqlite:///") if db_url.startswith("sqlite") else None
    if path:
        engine = make_engine(db_url)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    before = _snapshot(db_url)
    for args in (("coverage", "--by", "month", *OCTOBER), ("compliance", "--at", "2026-11-01"), ("overdue",),
                 ("ranking", "--month", "2026-10")):
        for fmt in ("table", "csv", "json"):
            report(config, *args, "--format", fmt)
    assert _snapshot(db_url) == before
    if path:
        assert hashlib.sha256(open(path, "rb").read()).hexdigest() == digest
    # the connection itself refuses writes
    engine = make_engine(db_url, readonly=True)
    try:
        with engine.connect() as conn:
            with pytest.raises(Exception):
                conn.execute(update(Flag).values(status="closed"))
            conn.rollback()
            assert conn.execute(select(func.count()).select_from(Flag)).scalar() == 8
    finally:
        engine.dispose()


def test_rollup_gives_the_same_figures_and_stays_exact(scenario):
    kit, config, ids = scenario
    groupings = ("unit", "level", "account", "category", "month", "district")
    span = ("--from", "2026-09-01", "--to", "2026-11-30")
    partial = ("--from", "2026-09-30", "--to", "2026-10-20")  # month edges counted from flags
    live = {by: rows(config, "--by", by, *span) for by in groupings}
    live_partial = {by: rows(config, "--by", by, *partial) for by in groupings}
    job = RollupJob(kit.sessions, "Asia/Shanghai")
    assert job.run(NOW) == [datetime(2026, m, 1).date() for m in (9, 10, 11)]
    assert {by: rows(config, "--by", by, *span) for by in groupings} == live
    assert {by: rows(config, "--by", by, *partial) for by in groupings} == live_partial
    assert live_partial["district"]["district"]["flags"] == 4  # F1, F2, F4, F7 (F5 dismissed)
    assert job.run(NOW) == []  # nothing changed since
    # a late reply after the refresh: its month is counted from flags until the next refresh
    late = local(2026, 11, 10, 9)
    with kit.sessions.begin() as session:
        session.execute(update(Flag).where(Flag.id == ids["F4"]).values(
            status="replied", first_reply_at=late, reply_seconds=3600.0, reply_working_seconds=3600.0,
            updated_at=late))
    october = rows(config, "--by", "district", *OCTOBER)["district"]
    assert (october["replied"], october["overdue_open"]) == (3, 0)
    assert job.run(late) == [datetime(2026, 10, 1).date()]
    # changed within MARGIN before that refresh: looked at once more, then the rollup answers
    assert job.run(late + timedelta(hours=1)) == [datetime(2026, 10, 1).date()]
    assert rows(config, "--by", "district", *OCTOBER)["district"] == october
    with kit.sessions() as session:
        from huisheng.reports.coverage import plan

        months, ranges = plan(session, local(2026, 10, 1), local(2026, 11, 1), kit.calendar.tz)
        assert (months, ranges) == ([datetime(2026, 10, 1).date()], [])


def test_coverage_api_for_some_units(scenario):
    """What the digest asks: a unit's own figures beside the district's, from flags or the rollup."""
    kit, config, _ = scenario
    b00 = kit.unit("B00").id
    october = dict(start=local(2026, 10, 1), end=local(2026, 11, 1), calendar=kit.calendar, now=NOW)
    for refreshed in (False, True):
        if refreshed:
            RollupJob(kit.sessions, "Asia/Shanghai").run(NOW)
        with kit.sessions() as session:
            (own,) = coverage(session, by="district", units=[b00], **october)
            (district,) = coverage(session, by="district", **october)
            accounts = coverage(session, by="account", units=[b00], **october)
        assert (own.flags, own.replied, own.on_time, own.offline) == (3, 2, 1, 1)
        assert (district.flags, district.replied, district.overdue_open) == (5, 2, 1)
        assert [(a.key, a.flags) for a in accounts] == [(f"weibo:{A1}", 3)]


def test_percentiles_exact_when_small_from_the_histogram_when_large(scenario, monkeypatch):
    kit, config, _ = scenario
    span = ("--from", "2026-09-01", "--to", "2026-11-30")
    # departments: F2 25 h, F1 185 h, F3 192 h (calendar); 10, 2, 54 working hours
    department = rows(config, "--by", "level", *span)["department"]
    assert (department["frt_median_hours"], department["frt_p90_hours"]) == (185.0, 190.6)
    assert (department["frt_median_working_hours"], department["frt_p90_working_hours"]) == (10.0, 45.2)
    from huisheng.reports import coverage as module

    monkeypatch.setattr(module, "EXACT_LIMIT", 0)
    for refreshed in (False, True):
        if refreshed:
            RollupJob(kit.sessions, "Asia/Shanghai").run(NOW)
        large = rows(config, "--by", "level", *span)["department"]
        # 185 h and 192 h share a bucket: both stand for their mean, 188.5 h
        assert (large["frt_median_hours"], large["frt_p90_hours"]) == (188.5, 188.5)
        assert (large["frt_median_working_hours"], large["frt_p90_working_hours"]) == (10.0, 45.2)


def test_cohorts_by_the_comments_own_time(scenario):
    """A November comment first read in December (its flag made then) is November's, in the
    figures, by month and in the rollup, which rebuilds the comment's month."""
    kit, config, _ = scenario
    job = RollupJob(kit.sessions, "Asia/Shanghai")
    job.run(local(2026, 11, 30, 12))
    post = kit.post(A2, local(2026, 11, 20, 9))
    make_flag(kit, post, A2, "B01", "consultation", local(2026, 11, 28, 20), local(2026, 12, 1, 18),
              created=local(2026, 12, 2, 9))
    november = ("--from", "2026-11-01", "--to", "2026-11-30")
    assert rows(config, "--by", "district", *november)["district"]["flags"] == 2  # F8 and the late find
    by_month = rows(config, "--by", "month", "--from", "2026-11-01", "--to", "2026-12-31")
    assert {k: r["flags"] for k, r in by_month.items()} == {"2026-11": 2}
    assert job.run(local(2026, 12, 2, 10)) == [datetime(2026, 11, 1).date()]
    with kit.sessions() as session:
        from huisheng.reports.coverage import plan

        assert plan(session, local(2026, 11, 1), local(2026, 12, 1), TZ) == ([datetime(2026, 11, 1).date()], [])
    assert rows(config, "--by", "district", *november)["district"]["flags"] == 2  # now from the rollup
    assert rows(config, "--by", "unit", *november)["B01"]["flags"] == 1


def test_historical_flags_are_outside_the_denominators(scenario):
    kit, config, ids = scenario
    post = kit.post(A1, local(2026, 9, 1, 9))
    # written before the account's monitoring start: one unanswered, long past its would-be deadline,
    # one answered on time
    old = make_flag(kit, post, A1, "B00", "complaint", local(2026, 10, 3, 9), local(2026, 10, 14, 18),
                    historical=True)
    make_flag(kit, post, A1, "B00", "consultation", local(2026, 10, 4, 9), local(2026, 10, 9, 18),
              reply=local(2026, 10, 5, 9), historical=True)
    figures = ("flags", "replied", "on_time", "overdue_open", "historical", "frt_median_hours")
    for refreshed in (False, True):
        if refreshed:
            assert RollupJob(kit.sessions, "Asia/Shanghai").run(NOW)
        b00 = rows(config, "--by", "unit", *OCTOBER)["B00"]
        assert tuple(b00[k] for k in figures) == (3, 2, 1, 0, 2, 108.5)  # as without them, 2 apart
        district = rows(config, "--by", "month", *OCTOBER)["2026-10"]
        assert (district["flags"], district["historical"]) == (5, 2)
        counted = rows(config, "--by", "unit", *OCTOBER, "--include-history")["B00"]
        # counted in; still never overdue (no clock)
        assert tuple(counted[k] for k in figures) == (5, 3, 2, 0, 2, 25.0)
    table = report(config, "coverage", "--by", "unit", *OCTOBER)
    assert "历史" in table and "不计入分母" in table
    assert old not in [r["flag_id"] for r in json.loads(report(config, "overdue", "--format", "json"))]
    # a historical flag unanswered for months is not stale unless history is asked for
    stale_post = kit.post(A1, local(2026, 6, 1, 9))
    make_flag(kit, stale_post, A1, "B00", "help", local(2026, 6, 2, 9), local(2026, 6, 9, 18), historical=True)
    checked = json.loads(report(config, "compliance", "--at", "2026-11-05", "--format", "json"))
    assert {a["uid"]: a["stale_flags"] for a in checked["accounts"]}[A1] == 0
    checked = json.loads(report(config, "compliance", "--at", "2026-11-05", "--include-history", "--format", "json"))
    assert {a["uid"]: a["stale_flags"] for a in checked["accounts"]}[A1] == 1


def test_coverage_of_the_current_month_and_an_empty_result(scenario):
    kit, config, _ = scenario
    # no period: the current (local) month, November: F8 alone
    assert rows(config, "--by", "district")["district"]["flags"] == 1
    assert "2026-11-01 至 2026-11-30（UTC+08:00）" in report(config, "coverage")
    table = list(csv.reader(io.StringIO(report(config, "coverage", "--format", "csv").removeprefix("\ufeff"))))
    assert table[1][:2] == ["2026-11-01", "2026-11-30"]
    # --from alone runs to today
    since = rows(config, "--by", "district", "--from", "2026-10-31")["district"]
    assert since["flags"] == 2  # F6 (Oct 31 23:30) and F8
    empty = ("--from", "2026-01-01", "--to", "2026-01-31")
    assert report(config, "coverage", *empty).endswith("无数据\n")
    assert report(config, "coverage", *empty, lang="en").endswith("no data\n")
    assert json.loads(report(config, "coverage", *empty, "--format", "json")) == []
    for bad in (("--from", "9999-12-31"), ("--to", "0001-01-01")):
        result = CliRunner().invoke(main, ["--config", str(config), "report", "coverage", *bad])
        assert result.exit_code == 1 and "日期应在" in result.output and "Traceback" not in result.output


def test_every_enabled_account_in_coverage_by_account(scenario):
    kit, config, _ = scenario
    with kit.sessions.begin() as session:
        session.execute(update(Account).where(Account.uid == "1000000012").values(enabled=False))
    listed = rows(config, "--by", "account", *OCTOBER)
    assert len(listed) == 11 and "weibo:1000000012" not in listed
    assert listed["weibo:1000000005"]["flags"] == 0
    table = report(config, "coverage", "--by", "account", *OCTOBER)
    assert table.count("weibo:") == 11
