"""Accounts' compliance checks (no original post for 14 days: 单项否决; 10 days:
预警) as `report compliance` and the digest make them, on the digest scenario
(tests/digestkit.py; now is 2026-11-05 08:30 Shanghai): both in local days, the
same answer, and an account huisheng could not read is never judged."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from digestkit import COMMUNITY, DISTRICT, NOW, days, hours, scenario
from huisheng.cli import main
from huisheng.flags.workcal import WorkCalendar
from huisheng.storage.models import Account, Post
from huisheng.notify.digest import gather, render_digest
from huisheng.reports.compliance import ComplianceSettings

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def kit(db_url, tmp_path):
    kit = scenario(db_url)
    kit.config = tmp_path / "huisheng.toml"
    kit.config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    yield kit
    kit.close()


def digest(kit, recipient=DISTRICT, rules=ComplianceSettings()):
    with kit.sessions() as session:
        (found,) = gather(session, now=NOW, calendar=WorkCalendar(), recipients=[recipient], rules=rules)
    return found


def checked(kit, *args) -> dict[str, dict]:
    """`report compliance` of the digest's day, by account name."""
    result = CliRunner().invoke(main, ["--config", str(kit.config), "report", "compliance", "--format", "json",
                                       "--now", NOW.isoformat(), *args])
    assert result.exit_code == 0, result.output
    return {a["name"]: a for a in json.loads(result.output)["accounts"]}


def report_table(kit) -> str:
    result = CliRunner().invoke(main, ["--config", str(kit.config), "report", "compliance", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_warning_is_counted_in_local_days_by_both(kit):
    # 示范区发布's last post: 10-26 07:30 local, one hour "more" than 10 × 24 h before the digest,
    # but ten local days before it: no warning (an instant-based cut would have warned)
    kit.post("1001", datetime(2026, 10, 26, 7, 30, tzinfo=TZ))
    d = digest(kit)
    report = checked(kit)
    assert d.silent10 == () and not report["示范区发布"]["warning"]
    assert [a.account for a in d.silent14] == ["东城街道"] and report["东城街道"]["inactive"]
    # one local day earlier (23:30 on 10-25): eleven days, warned by both
    with kit.sessions.begin() as session:
        session.execute(update(Post).where(Post.created_at > NOW - days(11)).where(
            Post.account_id == kit.account["1001"]).values(created_at=datetime(2026, 10, 25, 23, 30, tzinfo=TZ)))
    report = checked(kit)
    assert [a.account for a in digest(kit).silent10] == ["示范区发布"] and report["示范区发布"]["warning"]
    assert report["示范区发布"]["days_since_post"] == 11


def test_the_digest_follows_the_configured_thresholds(kit):
    community = digest(kit, COMMUNITY, ComplianceSettings(inactive_days=14, warning_days=1))
    assert [a.account for a in community.silent10] == ["东城第1社区"]  # last post 2 days ago
    assert "1 天未发布原创内容（预警）（1）" in render_digest(community).text
    assert "14 天未发布原创内容（单项否决）（0）" in render_digest(community).text


def test_accounts_huisheng_could_not_read_are_not_judged(kit):
    with kit.sessions.begin() as session:
        # 示范区发布 (silent 11 days): blocked by Weibo's risk control since two days before the check
        session.execute(update(Account).where(Account.id == kit.account["1001"]).values(
            consecutive_errors=7, last_error_kind="blocked", last_error_message="HTTP 432",
            failing_since=NOW - days(2), last_success_at=NOW - days(2) - hours(1)))
        # 东城第1社区: never read (its one post deleted: judged, it would be vetoed)
        session.execute(update(Account).where(Account.id == kit.account["1004"]).values(
            first_success_at=None, last_success_at=None))
        session.execute(update(Post).where(Post.account_id == kit.account["1004"]).values(deleted_at=NOW))
    report = checked(kit)
    blocked, never = report["示范区发布"], report["东城第1社区"]
    assert (blocked["unreadable"], blocked["inactive"], blocked["warning"], blocked["no_interaction"]) == \
        (True, None, None, None)
    assert (blocked["unreadable_since"], blocked["unreadable_error"], blocked["never_read"]) == \
        ("2026-11-03T08:30:00+08:00", "blocked", False)
    assert (never["unreadable"], never["inactive"], never["never_read"], never["days_since_post"]) == \
        (True, None, True, None)
    # 东城街道 fails since 02:30 today, after the check (midnight): its 15 silent days are judged
    assert report["东城街道"]["inactive"] and not report["东城街道"]["unreadable"]
    data = json.loads(CliRunner().invoke(main, ["--config", str(kit.config), "report", "compliance", "--format",
                                                "json", "--now", NOW.isoformat()]).output)
    assert {lv["level"]: (lv["inactive"], lv["warning"], lv["unreadable"]) for lv in data["levels"]} == {
        "区级": (0, 0, 1), "部门": (0, 0, 0), "街镇": (1, 1, 0), "社区/村": (0, 0, 1)}
    table = report_table(kit)
    assert "被平台风控拦截" in table and "从未读取成功" in table and "2026-11-03 08:30+08:00" in table

    # the digest says the same: neither is silent; the never-read one is listed as such
    d = digest(kit)
    assert [a.account for a in d.silent14] == ["东城街道"] and d.silent10 == ()
    assert sorted(a.account for a in d.failing) == ["东城街道", "示范区发布"]
    assert [a.account for a in d.unread] == ["东城第1社区"]
    text = render_digest(d).text
    assert "从未读取成功的账号（无法读取，不判定是否更新）（1）" in text and "东城第1社区（东城第1社区）：加入监测" in text
    assert "No original post for 14 days (single veto) (1)" in render_digest(d, locale="en").text
