"""``huisheng rules test`` and ``huisheng rules eval`` on the example config
(no database), and the development set's needs-reply thresholds."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from huisheng.flags.classify import build_directory
from huisheng.flags.evaluate import default_account, evaluate, read_labelled
from huisheng.flags.rules import load_rules
from huisheng.cli import main
from huisheng.config.matrix import load_matrix

ROOT = Path(__file__).resolve().parent.parent
CONFIG = str(ROOT / "config" / "huisheng.example.toml")
DEVSET = ROOT / "tests" / "data" / "labelled-comments.csv"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_rules_test_prints_decision_and_reasons_in_chinese(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no database, no file written
    result = invoke("rules", "test", "請問磁器口古鎮國慶限流嗎？", "--config", CONFIG)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == ["账号：沙坪坝发布（5706878669）", "需回复：是", "类别：咨询", "紧急：否"]
    assert "负责单位：磁器口街道（street-ciqikou）" in lines
    assert "分派理由：地点「磁器口古镇」→ 磁器口街道" in lines
    assert "规范化文本：请问磁器口古镇国庆限流吗?" in lines
    assert any(line.startswith("  - [类别] consultation/请问 「请问」(0–2)") for line in lines)
    assert list(tmp_path.iterdir()) == []


def test_rules_test_json_and_account_option():
    result = invoke("rules", "test", "垃圾三天没人清运了", "--account", "磁器口磁南街社区", "--format", "json",
                    "--config", CONFIG)
    data = json.loads(result.output)
    assert (data["needs_reply"], data["category"], data["unit_code"], data["unit_name"], data["routing"]) == (
        True, "complaint", "comm-ciqikou-01", "磁南街社区", "account")
    assert all({"rule", "kind", "span", "detail"} <= set(r) for r in data["reasons"])


def test_rules_test_own_account_and_unknown_account():
    own = invoke("rules", "test", "请问怎么办理", "--author", "5706878669", "--config", CONFIG)
    assert "需回复：否" in own.output and "本单位账号「沙坪坝发布」" in own.output
    result = CliRunner().invoke(main, ["rules", "test", "x", "--account", "没有这个号", "--config", CONFIG])
    assert result.exit_code == 1 and "矩阵中没有账号「没有这个号」" in result.output


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_rules_eval_table_json_and_predictions(tmp_path):
    labelled = write_csv(tmp_path / "l.csv", [
        ["text", "category", "needs_reply", "unit"],
        ["请问社保卡在哪里补办", "咨询", "1", "人力资源和社会保障局"],
        ["堵车太严重了，红绿灯也不合理", "complaint", "1", "dept-jt"],
        ["[赞][赞]", "", "0", ""],
        ["感谢你们", "praise", "0", ""],
        ["今天天气不错", "suggestion", "1", "spb"],
    ])
    out = tmp_path / "pred.csv"
    table = invoke("rules", "eval", str(labelled), "--predictions", str(out), "--config", CONFIG)
    assert table.exit_code == 0, table.output
    assert "需回复：精确率 1.000  召回率 0.667" in table.output
    assert "分派准确率：1.000（2/2" in table.output
    assert "混淆矩阵（行：标注，列：判定）" in table.output
    metrics = json.loads(invoke("rules", "eval", str(labelled), "--format", "json", "--config", CONFIG).output)
    assert metrics["needs_reply"] == {"precision": 1.0, "recall": 0.6667, "f1": 0.8, "tp": 2, "fp": 0, "fn": 1,
                                      "tn": 2}
    assert metrics["categories"]["suggestion"] == {"precision": None, "recall": 0.0, "f1": None, "support": 1}
    assert metrics["confusion"]["suggestion"]["none"] == 1
    assert metrics["category_accuracy"] == 0.8
    with out.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["text", "needs_reply", "category", "urgent", "unit_code", "unit_name", "reasons"]
    assert (rows[0]["needs_reply"], rows[0]["category"], rows[0]["unit_code"], rows[0]["unit_name"]) == (
        "1", "consultation", "dept-rs", "人力资源和社会保障局")
    assert "consultation/请问" in rows[0]["reasons"]
    assert rows[2]["needs_reply"] == "0" and rows[2]["unit_code"] == ""


def test_predictions_neither_run_as_formulas_nor_drive_a_terminal(tmp_path):
    labelled = write_csv(tmp_path / "l.csv", [["text"], ['=HYPERLINK("http://x.example","请问")'],
                                              ["@沙坪坝发布 请问\x1b]0;title\x07几点开门"]])
    out = tmp_path / "pred.csv"
    assert invoke("rules", "eval", str(labelled), "--predictions", str(out), "--config", CONFIG).exit_code == 0
    with out.open(encoding="utf-8-sig") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    assert texts == ['\'=HYPERLINK("http://x.example","请问")', "'@沙坪坝发布 请问几点开门"]


def test_rules_eval_names_bad_rows(tmp_path):
    labelled = write_csv(tmp_path / "l.csv", [["text", "category", "unit"], ["a", "抱怨", ""], ["b", "", "火星局"]])
    result = CliRunner().invoke(main, ["rules", "eval", str(labelled), "--config", CONFIG])
    assert result.exit_code == 1
    assert f"{labelled}:2: category: 未知的类别「抱怨」" in result.output
    assert f"{labelled}:3: unit: 矩阵中没有单位「火星局」" in result.output


def test_rules_eval_needs_a_text_column(tmp_path):
    labelled = write_csv(tmp_path / "l.csv", [["comment"], ["a"]])
    result = CliRunner().invoke(main, ["rules", "eval", str(labelled), "--config", CONFIG])
    assert result.exit_code == 1 and "缺少 text 列" in result.output


@pytest.fixture(scope="module")
def devset():
    directory = build_directory(load_matrix(ROOT / "config" / "example-district"))
    rows = read_labelled(DEVSET, directory, default_account(directory))
    return rows, evaluate(rows, load_rules(), directory)


def test_development_set_is_big_and_varied(devset):
    rows, _ = devset
    assert len(rows) >= 700
    assert {r.category for r in rows} == {"consultation", "complaint", "help", "suggestion", "praise", "none"}
    assert len({r.account for r in rows}) >= 15


def test_development_set_needs_reply_precision_and_recall(devset):
    _, result = devset
    nr = result.metrics["needs_reply"]
    assert nr["precision"] >= 0.95 and nr["recall"] >= 0.95, nr


def test_development_set_urgent_labels_match(devset):
    rows, result = devset
    with DEVSET.open(encoding="utf-8") as f:
        urgent = [row["urgent"] == "1" for row in csv.DictReader(f)]
    found = [d.urgent for d in result.decisions]
    hits = sum(1 for u, f in zip(urgent, found) if u and f)
    assert sum(urgent) >= 8 and hits / sum(urgent) >= 0.9
    assert sum(1 for u, f in zip(urgent, found) if f and not u) == 0
