"""``huisheng flags …`` through the command line code on a real database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from flagkit import Kit
from huisheng.flags.process import Decider
from huisheng.flags.rules import load_rules
from huisheng.cli import main
from huisheng.clock import FakeClock
from huisheng.config.matrix import dump_matrix
from huisheng.storage.models import FlagEvent

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def setup(db_url, tmp_path):
    kit = Kit(db_url)
    post = kit.post("1000000001", NOW - timedelta(days=1))
    kit.comment(post, NOW - timedelta(hours=20), "小区门口占道经营太严重，投诉！")
    kit.comment(post, NOW - timedelta(hours=19), "请问居住证在哪里办理", author=("9002", "李四"))
    kit.comment(post, NOW - timedelta(hours=18), "家里着火了，快来人救命", author=("9003", "王五"))
    Decider(kit.sessions, FakeClock(NOW), load_rules(), kit.calendar, kit.sla).run()
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "matrix.toml").write_text(dump_matrix(kit.matrix), encoding="utf-8")
    config = tmp_path / "huisheng.toml"
    config.write_text(f'matrix = "m"\n[database]\nurl = "{db_url}"\n', encoding="utf-8")
    yield kit, config
    kit.close()


def run(config, *args):
    result = CliRunner().invoke(main, ["--config", str(config), "flags", *args])
    return result


def test_list_formats_and_filters(setup):
    kit, config = setup
    listed = json.loads(run(config, "list", "--format", "json").output)
    assert {r["category"] for r in listed} == {"complaint", "consultation", "help"}
    urgent = json.loads(run(config, "list", "--urgent", "--format", "json").output)
    assert [r["author"] for r in urgent] == ["王五"]
    complaints = json.loads(run(config, "list", "--category", "complaint", "--format", "json").output)
    assert len(complaints) == 1 and complaints[0]["status"] == "open"
    csv_out = run(config, "list", "--format", "csv").output
    assert csv_out.startswith("\ufeff编号,状态,类别")
    table = run(config, "list").output
    assert "待回复" in table and "3 条" in table


def test_show_has_text_reasons_routing_clock_and_events(setup):
    kit, config = setup
    flag = next(f for f in kit.flags() if f.category == "complaint")
    out = run(config, "show", str(flag.id)).output
    for piece in ("投诉", "占道经营", "判定依据", "分派", "期限", "created by rule:decide"):
        assert piece in out


def test_the_state_ladder_by_hand(setup):
    kit, config = setup
    flag = next(f for f in kit.flags() if f.category == "complaint")
    fid = str(flag.id)
    assert run(config, "resolve", fid, "--by", "张科长").exit_code == 1  # no reply yet
    assert run(config, "ack", fid, "--by", "张科长").exit_code == 0
    no_note = run(config, "reply", fid, "--by", "张科长")
    assert no_note.exit_code != 0 and "--note" in no_note.output
    assert run(config, "reply", fid, "--by", "张科长", "--note", "电话答复，已约谈摊贩").exit_code == 0
    assert run(config, "close", fid, "--by", "张科长").exit_code == 1  # not resolved yet
    assert run(config, "resolve", fid, "--by", "张科长", "--note", "摊贩已清理").exit_code == 0
    assert run(config, "close", fid, "--by", "李主任").exit_code == 0
    (closed,) = [f for f in kit.flags() if f.id == flag.id]
    assert closed.status == "closed" and closed.replied_offline and closed.first_reply_at is not None
    with kit.sessions() as session:
        kinds = [(e.kind, e.actor) for e in session.scalars(
            select(FlagEvent).where(FlagEvent.flag_id == flag.id).order_by(FlagEvent.id))]
    assert kinds == [("created", "rule:decide"), ("acknowledged", "张科长"), ("replied", "张科长"),
                     ("resolved", "张科长"), ("closed", "李主任")]


def test_dismiss_needs_a_reason(setup):
    kit, config = setup
    flag = next(f for f in kit.flags() if f.category == "consultation")
    assert run(config, "dismiss", str(flag.id), "--by", "x").exit_code == 1
    assert run(config, "dismiss", str(flag.id), "--by", "x", "--note", "重复留言").exit_code == 0
    assert [f.status for f in kit.flags() if f.id == flag.id] == ["dismissed"]


def test_promise_is_limited_unless_extended(setup):
    kit, config = setup
    flag = next(f for f in kit.flags() if f.category == "complaint")
    far = (NOW + timedelta(days=60)).strftime("%Y-%m-%d")
    refused = run(config, "promise", str(flag.id), "--date", far, "--by", "x")
    assert refused.exit_code == 1 and "extend-reason" in refused.output
    ok = run(config, "promise", str(flag.id), "--date", far, "--by", "x", "--extend-reason", "需协调市级部门")
    assert ok.exit_code == 0
    consultation = next(f for f in kit.flags() if f.category == "consultation")
    near = (NOW + timedelta(days=3)).strftime("%Y-%m-%d")
    assert run(config, "promise", str(consultation.id), "--date", near, "--by", "x").exit_code == 1


def test_reassign_keeps_the_clock_and_records_why(setup):
    kit, config = setup
    flag = next(f for f in kit.flags() if f.category == "consultation")
    target = next(u for u in kit.matrix.units if u.level == "street")
    result = run(config, "reassign", str(flag.id), "--to", target.code, "--by", "王科员", "--note", "属地问题")
    assert result.exit_code == 0, result.output
    (moved,) = [f for f in kit.flags() if f.id == flag.id]
    assert moved.unit_id == kit.unit(target.code).id and moved.due_at == flag.due_at
    assert moved.routing == "manual"
    with kit.sessions() as session:
        event = session.scalars(select(FlagEvent).where(FlagEvent.kind == "reassigned")).one()
    assert event.actor == "王科员" and event.note == "属地问题" and "late_return" in event.data
    assert run(config, "reassign", str(flag.id), "--to", "no-such-unit", "--by", "x").exit_code == 1


def test_flag_errors_are_in_chinese(setup):
    kit, config = setup
    flag = next(f for f in kit.flags() if f.category == "complaint")
    fid = str(flag.id)
    missing = run(config, "ack", "999999", "--by", "x")
    assert missing.exit_code == 1 and "没有编号为 999999 的需回复留言" in missing.output
    assert "尚未回复" in run(config, "resolve", fid, "--by", "x").output
    assert "只有已办结的才能销号" in run(config, "close", fid, "--by", "x").output
    assert "驳回须说明理由" in run(config, "dismiss", fid, "--by", "x").output
    no_note = run(config, "reply", fid, "--by", "x")
    assert no_note.exit_code == 2 and "记录线下回复须用 --note 说明" in no_note.output
    assert run(config, "ack", fid, "--by", "x").exit_code == 0
    again = run(config, "ack", fid, "--by", "x")
    assert again.exit_code == 1 and f"#{fid} 已是「已受理」" in again.output
    consultation = next(f for f in kit.flags() if f.category == "consultation")
    soon = (NOW + timedelta(days=3)).strftime("%Y-%m-%d")
    assert "只有投诉、求助、建议可承诺办结时间" in run(config, "promise", str(consultation.id), "--date", soon,
                                                  "--by", "x").output
    for result in (missing, again):
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("typed", ["{y}-{m:02d}-{d:02d}", "{y}/{m}/{d}", "{y}年{m}月{d}日", "{y}/{m}/{d} 16:30"])
def test_promise_date_as_staff_type_it(setup, typed):
    from zoneinfo import ZoneInfo

    kit, config = setup
    flag = next(f for f in kit.flags() if f.category == "complaint")
    tz = ZoneInfo("Asia/Shanghai")
    day = (NOW + timedelta(days=4)).astimezone(tz).date()
    text = typed.format(y=day.year, m=day.month, d=day.day)
    result = run(config, "promise", str(flag.id), "--date", text, "--by", "x")
    assert result.exit_code == 0, result.output
    (promised,) = [f.promised_at for f in kit.flags() if f.id == flag.id]
    at = (16, 30) if "16:30" in typed else (18, 0)  # a date alone: the end of office hours
    assert promised.astimezone(tz).replace(tzinfo=None) == datetime(day.year, day.month, day.day, *at)


def test_promise_date_that_is_no_date_is_refused_in_chinese(setup):
    kit, config = setup
    flag = next(f for f in kit.flags() if f.category == "complaint")
    for text in ("12/20", "2026-02-30", "明天"):
        result = run(config, "promise", str(flag.id), "--date", text, "--by", "x")
        assert result.exit_code == 1
        assert f"日期「{text}」无效：应为 2026-12-20、2026/12/20 或 2026年12月20日" in result.output


def test_reassign_to_an_unknown_unit_suggests_the_closest_names(setup):
    kit, config = setup
    flag = next(f for f in kit.flags() if f.category == "consultation")
    result = run(config, "reassign", str(flag.id), "--to", "交通", "--by", "x")
    assert result.exit_code == 1
    assert "没有单位「交通」（请给出单位编码或完整名称）；是否要找：交通局（B03）" in result.output
    typo = run(config, "reassign", str(flag.id), "--to", "东城街", "--by", "x").output
    assert "是否要找：东城街道（S00）" in typo
    nothing = run(config, "reassign", str(flag.id), "--to", "zzzz", "--by", "x").output
    assert "没有单位「zzzz」" in nothing and "是否要找" not in nothing
