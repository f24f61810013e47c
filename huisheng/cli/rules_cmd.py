"""``huisheng rules test`` and ``huisheng rules eval``: try and measure the
decision rules.  They read the rules and the matrix from the config and need no
database."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from huisheng.adapters import text_conventions
from huisheng.cli._common import config_option, fail_cleanly
from huisheng.errors import ConfigError
from huisheng.flags.classify import Decision, Directory, Reason, Subject, build_directory, decide
from huisheng.flags.evaluate import CLASSES, NONE, RESIDENT, Evaluation, default_account, evaluate, read_labelled
from huisheng.flags.rules import Rules, load_rules
from huisheng.config import load_settings
from huisheng.config.matrix import load_matrix
from huisheng.cli.tables import pad
from huisheng.textsafe import csv_row
from huisheng.vocabulary import Category, Routing

if TYPE_CHECKING:
    from huisheng.flags.learn import Learned

KIND_LABELS = {"category": "类别", "needs_reply": "需回复", "no_reply": "无需回复", "urgent": "紧急",
               "negation": "否定", "route": "分派", "skip": "跳过"}
CLASS_LABELS = {**Category.labels(), NONE: "无"}


def _load(config: Path, routing_model: Path | None = None) -> tuple[Rules, Directory, Learned | None]:
    """The rules and the matrix of the config; with ``routing_model``, that
    model in place as the config's ``[routing]`` would use it (threshold, priority)."""
    settings = load_settings(config)
    if settings.matrix_path is None:
        raise ConfigError("未配置矩阵：请在配置文件顶部写 matrix = \"矩阵文件夹或 matrix.toml 的路径\"",
                          file=str(settings.path), key="matrix")
    rules, learned = load_rules(settings.rules_path), None
    if routing_model is not None:
        from huisheng.flags.learn import Learned, load
        from huisheng.flags.relearn import routing_from_settings, with_priority

        routing = routing_from_settings(settings)
        rules, learned = with_priority(rules, routing), Learned(load(routing_model), routing.threshold)
    return rules, build_directory(load_matrix(settings.matrix_path)), learned


def format_reason(reason: Reason) -> str:
    text = f"[{KIND_LABELS.get(reason.kind, reason.kind)}] {reason.rule}"
    if reason.span is not None:
        text += f" 「{reason.span.text}」({reason.span.start}–{reason.span.end})"
    if reason.detail:
        text += f" {reason.detail}"
    return text


def decision_json(decision: Decision, directory: Directory) -> dict:
    out = asdict(decision)
    out["unit_name"] = directory.unit_name(decision.unit_code) if decision.unit_code else None
    return out


def decision_lines(decision: Decision, directory: Directory) -> list[str]:
    category = Category.label_of(decision.category) if decision.category else "无"
    lines = [f"需回复：{'是' if decision.needs_reply else '否'}",
             f"类别：{category}",
             f"紧急：{'是' if decision.urgent else '否'}"]
    if decision.needs_reply:
        unit = directory.unit_name(decision.unit_code) if decision.unit_code else "（未确定）"
        lines.append(f"负责单位：{unit}" + (f"（{decision.unit_code}）" if decision.unit_code else ""))
        lines.append(f"分派方式：{Routing.label_of(decision.routing or '')}")
        lines.append(f"分派理由：{decision.routing_reason}")
    lines.append(f"规范化文本：{decision.text}")
    lines.append("依据：")
    lines += [f"  - {format_reason(r)}" for r in decision.reasons]
    return lines


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def report_lines(result: Evaluation) -> list[str]:
    m = result.metrics
    lines = [f"评估 {m['rows']} 条"]
    if "needs_reply" in m:
        nr = m["needs_reply"]
        lines.append(f"需回复：精确率 {_pct(nr['precision'])}  召回率 {_pct(nr['recall'])}  F1 {_pct(nr['f1'])}"
                     f"（TP {nr['tp']}  FP {nr['fp']}  FN {nr['fn']}  TN {nr['tn']}）")
    if "urgent" in m:
        u = m["urgent"]
        lines.append(f"紧急：精确率 {_pct(u['precision'])}  召回率 {_pct(u['recall'])}"
                     f"（标注为紧急 {u['labelled']} 条；TP {u['tp']}  FP {u['fp']}  FN {u['fn']}）")
    if "routing" in m:
        r = m["routing"]
        lines.append(f"分派准确率：{_pct(r['accuracy'])}（{r['correct']}/{r['judged']}；"
                     f"标注了单位 {r['labelled']} 条，其中判为需回复的参与评估）")
        lines.append("  按分派方式：" + "；".join(
            f"{Routing.label_of(kind)} {c['correct']}/{c['judged']}" for kind, c in r["by_routing"].items()))
    if "categories" in m:
        lines.append(f"类别准确率：{_pct(m['category_accuracy'])}")
        lines.append("")
        lines.append(pad("类别", 8) + "".join(pad(h, 9, True) for h in ("精确率", "召回率", "F1", "样本数")))
        for c in CLASSES:
            s = m["categories"][c]
            lines.append(pad(CLASS_LABELS[c], 8) + "".join(
                pad(v, 9, True) for v in (_pct(s["precision"]), _pct(s["recall"]), _pct(s["f1"]),
                                          str(s["support"]))))
        lines.append("")
        lines.append("混淆矩阵（行：标注，列：判定）")
        lines.append(pad("标注\\判定", 10) + "".join(pad(CLASS_LABELS[c], 7, True) for c in CLASSES))
        for t in CLASSES:
            lines.append(pad(CLASS_LABELS[t], 10)
                         + "".join(pad(str(m["confusion"][t][p]), 7, True) for p in CLASSES))
    return lines


def write_predictions(path: Path, result: Evaluation, directory: Directory) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "needs_reply", "category", "urgent", "unit_code", "unit_name", "reasons"])
        for row, d in zip(result.rows, result.decisions):
            # citizens' text: no terminal controls, no formula a spreadsheet would run
            writer.writerow(csv_row([row.text, int(d.needs_reply), d.category or "", int(d.urgent),
                                     d.unit_code or "", directory.unit_name(d.unit_code) if d.unit_code else "",
                                     "；".join(format_reason(r) for r in d.reasons)]))


def register(main: click.Group) -> None:
    @main.group("rules")
    def rules_group() -> None:
        """Decision rules (需回复判定规则): try them on a text, measure them on labelled comments."""

    @rules_group.command("test")
    @click.argument("text")
    @click.option("--account", metavar="UID", default=None,
                  help="Account the comment is written under: its name, uid or PLATFORM:UID "
                       "(default: the district's first).")
    @click.option("--author", metavar="UID", default=RESIDENT,
                  help="Author's uid (a matrix account's uid shows that its comments are never flagged).")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @click.option("--routing-model", type=click.Path(path_type=Path), default=None, metavar="MODEL",
                  help="Route with this routing model in place (huisheng routing train), as [routing] would.")
    @config_option
    @fail_cleanly
    def test(text: str, account: str | None, author: str, fmt: str, routing_model: Path | None,
             config: Path) -> None:
        """Print the decision on TEXT and its reasons."""
        rules, directory, learned = _load(config, routing_model)
        key = directory.find_account(account) if account else default_account(directory)
        if key is None:
            raise ConfigError(f"矩阵中没有账号「{account}」" if account else "矩阵中没有账号", key="--account")
        platform, uid = key
        decision = decide(Subject(text=text, author_id=author, author_name="", platform=platform, account_uid=uid,
                                  conventions=text_conventions(platform)), rules, directory, learned)
        if fmt == "json":
            click.echo(json.dumps(decision_json(decision, directory), ensure_ascii=False, indent=2))
            return
        account_name = directory.account_names_by_key.get(key, uid)
        click.echo(f"账号：{account_name}（{uid}）")
        for line in decision_lines(decision, directory):
            click.echo(line)

    @rules_group.command("eval")
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
    @click.option("--predictions", type=click.Path(path_type=Path), default=None,
                  help="Also write every row with its prediction to this CSV.")
    @click.option("--routing-model", type=click.Path(path_type=Path), default=None, metavar="MODEL",
                  help="Route with this routing model in place (huisheng routing train), as [routing] would.")
    @config_option
    @fail_cleanly
    def eval_(file: Path, fmt: str, predictions: Path | None, routing_model: Path | None, config: Path) -> None:
        """Measure the rules on FILE (CSV: text and any of category, needs_reply, urgent, unit, account)."""
        rules, directory, learned = _load(config, routing_model)
        rows = read_labelled(file, directory, default_account(directory))
        result = evaluate(rows, rules, directory, learned)
        if predictions is not None:
            write_predictions(predictions, result, directory)
        if fmt == "json":
            click.echo(json.dumps(result.metrics, ensure_ascii=False, indent=2))
            return
        for line in report_lines(result):
            click.echo(line)
