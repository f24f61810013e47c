"""``huisheng routing train/eval/info`` and ``rules eval/test --routing-model``
on the example config and the hand-written 问政 messages (no database), and
``[routing]`` in the config."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from huisheng.cli import main
from huisheng.errors import ConfigError
from huisheng.flags import learn
from huisheng.flags.relearn import routing_from_settings
from huisheng.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
CONFIG = str(ROOT / "config" / "huisheng.example.toml")
MESSAGES = ROOT / "tests" / "data" / "routing-messages.csv"


def invoke(*args: str):
    return CliRunner().invoke(main, [*args, "--config", CONFIG])


def split(tmp_path: Path) -> tuple[Path, Path]:
    """Every fifth message held back."""
    with open(MESSAGES, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    paths = tmp_path / "train.csv", tmp_path / "held.csv"
    for path, part in zip(paths, ([r for i, r in enumerate(rows) if i % 5], rows[::5])):
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, ["text", "unit"])
            writer.writeheader()
            writer.writerows(part)
    return paths


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("routing")
    train, held = split(tmp)
    model = tmp / "routing.model"
    result = invoke("routing", "train", "--csv", str(train), "--out", str(model))
    assert result.exit_code == 0, result.output
    return model, held, result.output


def test_train_writes_a_model_and_says_what_it_learned_from(trained):
    model, _, output = trained
    lines = output.splitlines()
    assert lines[0].startswith("已训练路由模型：187 条样本（train.csv 187），13 个单位，用时 ")
    assert lines[1].startswith("交叉验证准确率（3 折，训练样本自身）：0.")
    assert lines[2] == f"写入：{model}"
    assert any(line.startswith("民政局") and line.endswith("14") for line in lines)
    assert learn.load(model).examples["dept-mz"] == 14


def test_eval_prints_accuracy_per_unit_and_confusions(trained):
    model, held, _ = trained
    result = invoke("routing", "eval", str(held), "--model", str(model))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("评估 47 条：准确率 0.")
    assert lines[1].startswith("置信度 ≥ 0.5 的占 ")
    assert any(line.startswith("民政局") and "dept-mz" in line for line in lines)
    data = json.loads(invoke("routing", "eval", str(held), "--model", str(model), "--format", "json").output)
    assert data["rows"] == 47 and 0.5 < data["accuracy"] <= 1
    assert data["units"]["dept-mz"]["support"] == 4 and data["unit_names"]["dept-mz"] == "民政局"
    assert all(set(pair) == {"unit", "predicted", "count"} for pair in data["confusion"])
    assert data["threshold"]["threshold"] == 0.5
    english = invoke("routing", "eval", str(held), "--model", str(model), "--lang", "en")
    assert english.output.startswith("47 rows: accuracy 0.")


def test_cv_trains_on_the_file_itself(tmp_path):
    result = invoke("routing", "eval", str(MESSAGES), "--cv", "4", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["folds"] == 4 and data["rows"] == 234 and data["accuracy"] > 0.55
    table = invoke("routing", "eval", str(MESSAGES), "--cv", "4")
    assert table.output.startswith("4 折交叉验证，234 条：准确率 0.")


def test_rules_eval_with_the_model_compares_on_the_same_file(trained):
    model, held, _ = trained
    rules_only = json.loads(invoke("rules", "eval", str(held), "--format", "json").output)["routing"]
    with_model = json.loads(invoke("rules", "eval", str(held), "--format", "json", "--routing-model",
                                   str(model)).output)["routing"]
    assert "learned" not in rules_only["by_routing"] and with_model["by_routing"]["learned"]["judged"] > 20
    assert with_model["accuracy"] > rules_only["accuracy"]
    table = invoke("rules", "eval", str(held), "--routing-model", str(model)).output
    assert "  按分派方式：" in table and "学习模型 " in table


def test_rules_test_with_the_model_shows_the_learned_reason(trained):
    model, _, _ = trained
    result = invoke("rules", "test", "我父亲八十多岁了，每个月的高龄补贴一直没有发放，请问找谁",
                    "--routing-model", str(model))
    assert result.exit_code == 0, result.output
    assert "分派方式：学习模型" in result.output
    assert "分派理由：学习模型 → 民政局（置信度 " in result.output
    assert "  - [分派] route/learned 「" in result.output


def test_a_bad_file_row_or_model_is_one_line(tmp_path, trained):
    model, _, _ = trained
    bad = tmp_path / "bad.csv"
    bad.write_text("text,unit\n公交车太少了,交通局\n垃圾没人清运,环卫所\n", encoding="utf-8")
    result = invoke("routing", "train", "--csv", str(bad), "--out", str(tmp_path / "m"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {bad}:3: unit: 矩阵中没有单位「环卫所」"]
    no_unit = tmp_path / "no-unit.csv"
    no_unit.write_text("text\n公交车太少了\n", encoding="utf-8")
    result = invoke("routing", "eval", str(no_unit), "--model", str(model))
    assert result.output.strip() == f"Error: {no_unit}:1: 缺少 unit 列（每行的负责单位：单位代码或名称）"
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"PK\x03\x04 not really")
    for args in (("routing", "eval", str(MESSAGES), "--model", str(junk)),
                 ("rules", "test", "公交车太少", "--routing-model", str(junk))):
        result = invoke(*args)
        assert result.exit_code == 1
        assert result.output.strip() == f"Error: {junk}: 不是回声的路由模型文件"
    assert invoke("routing", "train", "--out", str(tmp_path / "m")).exit_code == 2  # no examples given


def test_routing_table_in_the_config(tmp_path):
    path = tmp_path / "huisheng.toml"
    path.write_text('[routing]\nmodel = "models/routing.model"\nthreshold = 0.7\n'
                    'priority = ["mention", "learned", "place"]\ncsv = ["seed.csv"]\n', encoding="utf-8")
    routing = routing_from_settings(load_settings(path))
    assert routing.model == tmp_path / "models" / "routing.model" and routing.threshold == 0.7
    assert routing.priority == ("mention", "learned", "place") and routing.csv == (tmp_path / "seed.csv",)
    assert (routing.retrain, routing.retrain_days, routing.retrain_min_new, routing.holdout) == (True, 7.0, 50, 0.2)
    path.write_text('[routing]\nthreshold = 1.5\npriority = ["learned", "guess"]\nretrain_days = 0\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    lines = str(error.value).splitlines()
    assert lines[0] == f"{path}:2: routing.threshold: 应在 0（不含） 到 1 之间，实际为 1.5"
    assert lines[1].startswith(f"{path}:3: routing.priority: 未知的分派方式 guess")
    assert lines[2].startswith(f"{path}:4: routing.retrain_days: 应在 0（不含） 到 366 之间")


def test_config_check_reads_the_configured_model(tmp_path, trained):
    model, _, _ = trained
    path = tmp_path / "huisheng.toml"

    def check(model_path: Path):
        path.write_text(f'matrix = "{ROOT / "config" / "example-district"}"\n[routing]\nmodel = "{model_path}"\n',
                        encoding="utf-8")
        return CliRunner().invoke(main, ["config", "check", "--config", str(path)])

    missing = check(tmp_path / "none.model")
    assert missing.exit_code == 0 and f"路由模型：{tmp_path / 'none.model'} 尚不存在，先按规则分派" in missing.output
    good = check(model)
    assert good.exit_code == 0 and f"路由模型：{model}（训练于 " in good.output and "187 条样本）" in good.output
    junk = tmp_path / "junk.model"
    junk.write_text("not a model", encoding="utf-8")
    bad = check(junk)
    assert bad.exit_code == 1 and bad.output.strip().splitlines()[-1] == f"Error: {junk}: 不是回声的路由模型文件"
