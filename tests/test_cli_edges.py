"""Edges a user can type get one line and an exit status, never a traceback:
ids and limits no database column holds, spans that overflow dates, times at
the calendar's ends, empty names, a 200 KB spreadsheet cell, files nested
thousands deep or in no known encoding, and a delivery that delivered nothing."""

from __future__ import annotations

import csv
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from huisheng.cli import main
from huisheng.errors import ConfigError
from huisheng.flags.rules import load_rules
from huisheng.storage.db import make_engine, session_factory
from huisheng.notify.mail import MailSettings
from huisheng.notify.outbox import enqueue

ROOT = Path(__file__).resolve().parent.parent
HUGE = "99999999999999999999999"
FIXTURE = ROOT / "tests" / "fixtures" / "weibo" / "comments" / "hotflow_first_page.json"


def run(config: Path, *args: str):
    return CliRunner().invoke(main, [*args, "--config", str(config)])


def one_line_error(result, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output.strip().splitlines()[-1]


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "huisheng.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "h.sqlite"}"\n', encoding="utf-8")
    assert run(path, "db", "upgrade").exit_code == 0
    return path


@pytest.mark.parametrize("args", [
    ("flags", "show", HUGE), ("flags", "show", "9223372036854775808"),
    ("flags", "ack", HUGE, "--by", "x"), ("flags", "reassign", HUGE, "--to", "B01", "--by", "x"),
    ("outbox", "retry", HUGE),
], ids=lambda a: " ".join(a[:2]))
def test_an_id_no_database_holds_is_a_usage_error(config, args):
    line = one_line_error(run(config, *args), 2)
    assert f"「{HUGE if HUGE in args else args[2]}」不是有效的编号" in line


@pytest.mark.parametrize("args", [
    ("flags", "list", "--limit", HUGE), ("flags", "list", "--limit", "-1"), ("outbox", "list", "--limit", HUGE),
    ("backfill", "--days", HUGE), ("backfill", "--days", "1000000"),
], ids=lambda a: " ".join(a))
def test_a_limit_or_span_beyond_any_sense_is_a_usage_error(config, args):
    line = one_line_error(run(config, *args), 2)
    assert "is not in the range" in line


def test_a_huge_account_number_is_no_account(config):
    assert "no account" in one_line_error(run(config, "poll", HUGE), 1)


def test_an_empty_unit_is_an_error_not_every_flag(config):
    assert "没有单位「」" in one_line_error(run(config, "flags", "list", "--unit", ""), 1)


@pytest.mark.parametrize("now", ["0001-01-01T00:00:00", "9999-12-31T23:59:59"])
def test_parse_at_the_calendars_ends(config, now):
    line = one_line_error(run(config, "parse", "--platform", "weibo", "--endpoint", "comments", str(FIXTURE),
                              "--now", now), 2)
    assert "--now" in line and "2000" in line


@pytest.mark.parametrize("at", ["9999-12-31T00:00", "0001-01-01T00:00", "2150-06-01T08:30"])
def test_a_digest_beyond_the_working_day_calendar(config, at):
    line = one_line_error(run(config, "digest", "preview", "--admin", "jt@example.org", "--at", at), 1)
    assert line.startswith("Error: --at: 应在 2000 年至 2098 年之间")


def test_simulate_on_a_port_that_cannot_exist(config):
    assert "is not in the range" in one_line_error(run(config, "simulate", "--port", "99999"), 2)


@pytest.mark.parametrize("start", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_simulate_from_the_calendars_ends(config, start):
    matrix = ROOT / "config" / "example-district"
    line = one_line_error(run(config, "simulate", "--matrix", str(matrix), "--port", "0", "--start", start), 1)
    assert "--start: expected a time between 2010 and 2098" in line


@pytest.mark.parametrize("name,text", [("faults.json", "[" * 100_000 + "]" * 100_000),
                                       ("faults.toml", "x = " + "[" * 5000 + "]" * 5000)])
def test_simulator_faults_nested_past_the_recursion_limit(config, tmp_path, name, text):
    faults = tmp_path / name
    faults.write_text(text, encoding="utf-8")
    matrix = ROOT / "config" / "example-district"
    line = one_line_error(run(config, "simulate", "--matrix", str(matrix), "--port", "0", "--faults", str(faults)), 1)
    assert str(faults) in line and "maximum recursion depth" in line


def test_parse_of_json_nested_past_the_recursion_limit(config, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    result = run(config, "parse", "--platform", "weibo", "--endpoint", "comments", str(deep))
    assert result.exit_code == 2 and "nested too deeply" in result.output


def test_a_config_nested_past_the_recursion_limit(tmp_path):
    path = tmp_path / "huisheng.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert one_line_error(run(path, "config", "check"), 1).endswith("TOML 嵌套过深")


def test_rules_nested_past_the_recursion_limit(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules(rules)
    assert str(info.value) == f"{rules}: YAML 嵌套过深"


def test_a_200_kb_cell_in_a_spreadsheet_is_read(config, tmp_path):
    source = ROOT / "tests" / "data" / "matrix" / "csv" / "english.csv"
    rows = list(csv.reader(source.read_text(encoding="utf-8").splitlines()))
    rows[2][rows[0].index("note")] = "备注" * 100_000  # Python's csv refuses cells over 128 KiB by default
    sheet = tmp_path / "台账.csv"
    with sheet.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    result = run(config, "matrix", "import", str(sheet), "--out", str(tmp_path / "matrix"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "matrix" / "matrix.toml").exists()

    config.write_text('matrix = "matrix"\n' + config.read_text(encoding="utf-8"), encoding="utf-8")
    labelled = tmp_path / "labelled.csv"
    with labelled.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text", "needs_reply"], ["请问" * 100_000, "1"], ["请问路灯坏了找谁修？", "1"]])
    result = run(config, "rules", "eval", str(labelled))
    assert result.exit_code == 0, result.output
    assert "TP 2" in result.output
    missing = tmp_path / "no-such-folder" / "predictions.csv"  # an output path in a missing folder
    line = one_line_error(run(config, "rules", "eval", str(labelled), "--predictions", str(missing)), 1)
    assert line == f"Error: {missing}: 文件或文件夹不存在（No such file or directory）"



@pytest.mark.parametrize("command", ["matrix import", "rules eval", "routing eval", "config check"])
def test_undecodable_text_is_one_line_naming_the_file(tmp_path, command):
    example = str(ROOT / "config" / "huisheng.example.toml")
    sheet = tmp_path / "台账.csv"
    sheet.write_bytes(b"text,needs_reply,unit\n\xff\xfe\x80\x81,1,dept-jt\n")  # neither UTF-8 nor GBK
    args = {"matrix import": ["matrix", "import", str(sheet), "--out", str(tmp_path / "m")],
            "rules eval": ["rules", "eval", str(sheet), "--config", example],
            "routing eval": ["routing", "eval", str(sheet), "--cv", "5", "--config", example],
            "config check": ["config", "check", "--config", str(sheet)]}[command]
    line = one_line_error(CliRunner().invoke(main, args), 1)
    assert line.startswith(f"Error: {sheet}: ") and "编码" in line, line

# --- outbox send ------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once closed


def test_outbox_send_exits_non_zero_when_nothing_could_be_delivered(config, tmp_path):
    port = _closed_port()
    url = config.read_text(encoding="utf-8")
    config.write_text(url + f'[mail]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
                            f'from_address = "huisheng@example.org"\ntimeout = 2\n', encoding="utf-8")
    nothing_due = run(config, "outbox", "send")
    assert nothing_due.exit_code == 0, nothing_due.output
    engine = make_engine(f"sqlite:///{tmp_path / 'h.sqlite'}")
    try:
        with session_factory(engine).begin() as session:
            enqueue(session, recipient="jt@example.org", kind="digest", period="2026-11-05", subject="【回声】测试",
                    text="正文", html=None, now=datetime(2026, 11, 5, tzinfo=timezone.utc),
                    mail=MailSettings(host="127.0.0.1", from_address="huisheng@example.org"))
    finally:
        engine.dispose()
    result = run(config, "outbox", "send")
    line = one_line_error(result, 1)
    assert "已发送 0 封，待重试 1 封" in result.output and "没有一封邮件发送成功" in line
