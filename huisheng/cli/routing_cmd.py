"""``huisheng routing …``: train the routing model on the district's settled
flags and labelled files, measure it, and say what a model file holds."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from huisheng.cli._common import config_option, fail_cleanly, require_schema
from huisheng.errors import ConfigError, HuishengError
from huisheng.cli.tables import text_table

LANGS = ("zh", "en")

_TEXT = {
    "zh": {
        "trained": "已训练路由模型：{rows} 条样本（{sources}），{units} 个单位，用时 {seconds:.1f} 秒",
        "cv": "交叉验证准确率（{folds} 折，训练样本自身）：{accuracy}",
        "written": "写入：{path}",
        "unit": "单位", "code": "代码", "examples": "样本数", "precision": "精确率", "recall": "召回率",
        "rows": "评估 {rows} 条：准确率 {accuracy}（{correct}/{rows}）",
        "cv_rows": "{folds} 折交叉验证，{rows} 条：准确率 {accuracy}（{correct}/{rows}）",
        "not_held_out": "（另有 {n} 条所属单位样本少于 {folds} 条，只用于训练）",
        "threshold": "置信度 ≥ {threshold:g} 的占 {share}，其中准确率 {accuracy}",
        "confusion": "最常见的混淆（标注 → 判定，条数）：",
        "no_confusion": "没有混淆。",
        "trained_at": "训练时间：{value}",
        "sources": "样本来源：{value}",
        "total": "样本总数：{value}，单位 {units} 个",
        "libraries": "库版本：{value}",
        "features": "特征：字符 {low}–{high} 元组，词表 {vocabulary} 个；交叉验证准确率 {cv}",
        "none": "（无）",
    },
    "en": {
        "trained": "Routing model trained: {rows} examples ({sources}), {units} units, in {seconds:.1f} s",
        "cv": "Cross-validated accuracy ({folds} folds, on the training examples): {accuracy}",
        "written": "Written: {path}",
        "unit": "unit", "code": "code", "examples": "examples", "precision": "precision", "recall": "recall",
        "rows": "{rows} rows: accuracy {accuracy} ({correct}/{rows})",
        "cv_rows": "{folds}-fold cross-validation, {rows} rows: accuracy {accuracy} ({correct}/{rows})",
        "not_held_out": "({n} more rows of units with fewer than {folds} examples were only trained on)",
        "threshold": "confidence ≥ {threshold:g}: {share} of rows, accuracy {accuracy} among them",
        "confusion": "Most frequent confusions (labelled → predicted, rows):",
        "no_confusion": "No confusions.",
        "trained_at": "Trained: {value}",
        "sources": "Sources: {value}",
        "total": "Examples: {value}, {units} units",
        "libraries": "Libraries: {value}",
        "features": "Features: character {low}–{high}-grams, vocabulary {vocabulary}; cross-validated accuracy {cv}",
        "none": "(none)",
    },
}


def _t(lang: str, key: str, **values: Any) -> str:
    return _TEXT[lang][key].format(**values)


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


class _Context:
    def __init__(self, config: Path, lang: str | None):
        from huisheng.flags.relearn import routing_from_settings
        from huisheng.flags.rules import load_rules
        from huisheng.config import load_settings

        self.settings = load_settings(config)
        self.routing = routing_from_settings(self.settings)
        self.rules = load_rules(self.settings.rules_path)
        self.lang = lang or (self.settings.extra.get("mail") or {}).get("locale") or "zh"
        if self.lang not in LANGS:
            self.lang = "zh"
        self._directory = None

    def directory(self, session=None):
        """The config's matrix; without one, the matrix the database holds."""
        from huisheng.flags.classify import build_directory
        from huisheng.config.matrix import load_matrix

        if self._directory is None:
            if self.settings.matrix_path is not None:
                self._directory = build_directory(load_matrix(self.settings.matrix_path))
            elif session is not None:
                from huisheng.storage.matrix_sync import matrix_from_db

                self._directory = build_directory(matrix_from_db(session)[0])
            else:
                raise ConfigError("未配置矩阵：请在配置文件顶部写 matrix = \"矩阵文件夹或 matrix.toml 的路径\"",
                                  file=str(self.settings.path), key="matrix")
        return self._directory

    def model_path(self, given: Path | None, option: str) -> Path:
        path = given or self.routing.model
        if path is None:
            raise HuishengError(f"未指定 {option}，配置文件中也没有 [routing] model")
        return path

    def unit_name(self, code: str | None) -> str:
        if not code:
            return "—"
        if self._directory is None and self.settings.matrix_path is None:
            return code  # no matrix to name it from (a model looked at on its own)
        return self.directory().unit_name(code)


def _lang_option(func):
    return click.option("--lang", type=click.Choice(LANGS), default=None,
                        help="Output language (default: the mail locale, else zh).")(func)


@click.group("routing")
def routing_group() -> None:
    """Routing that learns (学习分派): train a text → unit model on settled flags and labelled files."""


@routing_group.command("train")
@click.option("--from-flags", is_flag=True,
              help="Learn from the database's settled flags (resolved, closed or reassigned; not dismissed, "
                   "not historical).")
@click.option("--csv", "csv_files", type=click.Path(path_type=Path), multiple=True, metavar="FILE",
              help="A labelled CSV (columns text and unit: a unit code or name of the matrix); repeatable.")
@click.option("--out", type=click.Path(path_type=Path), default=None, metavar="MODEL",
              help="Where to write the model (default: [routing] model of the config).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_lang_option
@config_option
@fail_cleanly
def train_cmd(from_flags: bool, csv_files: tuple[Path, ...], out: Path | None, fmt: str, lang: str | None,
              config: Path) -> None:
    """Train a routing model and write it to MODEL (atomically: a running daemon picks it up)."""
    from huisheng.flags.learn import save, train
    from huisheng.flags.relearn import examples_from_csv, examples_from_flags
    from huisheng.clock import Clock

    if not from_flags and not csv_files:
        raise click.UsageError("需要样本：--from-flags（已办结、已销号或改派的需回复）和/或 --csv FILE")
    ctx = _Context(config, lang)
    out = ctx.model_path(out, "--out")
    examples = []
    if from_flags:
        from huisheng.storage.db import make_engine, session_factory

        require_schema(ctx.settings.database_url)
        engine = make_engine(ctx.settings.database_url, readonly=True)
        try:
            with session_factory(engine)() as session:
                examples += examples_from_flags(session, ctx.rules, ctx.directory(session))
        finally:
            engine.dispose()
        if not examples:
            raise HuishengError("数据库中还没有可学习的需回复（已办结、已销号或改派的，不含驳回和历史）")
    for path in csv_files:
        examples += examples_from_csv(path, ctx.rules, ctx.directory())
    started = time.perf_counter()
    model = train(examples, now=Clock().now())
    seconds = time.perf_counter() - started
    save(model, out)
    meta = model.meta
    if fmt == "json":
        click.echo(json.dumps({"file": str(out), "examples": meta["examples"], "sources": meta["sources"],
                               "cv_accuracy": meta["cv_accuracy"], "seconds": round(seconds, 2),
                               "trained_at": meta["trained_at"], "libraries": meta["libraries"]},
                              ensure_ascii=False, indent=2))
        return
    sources = "、".join(f"{name} {n}" for name, n in meta["sources"].items())
    click.echo(_t(ctx.lang, "trained", rows=len(examples), sources=sources, units=len(model.units),
                  seconds=seconds))
    if meta["cv_accuracy"] is not None:
        from huisheng.flags.learn import CALIBRATION_FOLDS

        click.echo(_t(ctx.lang, "cv", folds=CALIBRATION_FOLDS, accuracy=_num(meta["cv_accuracy"])))
    click.echo(_t(ctx.lang, "written", path=out))
    click.echo(_examples_table(ctx, meta["examples"]))


def _examples_table(ctx: _Context, examples: dict[str, int]) -> str:
    rows = [[_t(ctx.lang, "unit"), _t(ctx.lang, "code"), _t(ctx.lang, "examples")]]
    rows += [[ctx.unit_name(code), code, str(n)] for code, n in sorted(examples.items(), key=lambda kv: -kv[1])]
    return text_table(rows, [False, False, True])


@routing_group.command("eval")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--model", type=click.Path(path_type=Path), default=None, metavar="MODEL",
              help="The model to measure (default: [routing] model of the config).")
@click.option("--cv", "folds", type=click.IntRange(2, 50), default=None, metavar="K",
              help="Cross-validate: train on FILE itself K times, each time holding one K-th back.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_lang_option
@config_option
@fail_cleanly
def eval_cmd(file: Path, model: Path | None, folds: int | None, fmt: str, lang: str | None, config: Path) -> None:
    """Measure a routing model on FILE (CSV: text, unit): accuracy, per-unit precision and recall,
    the confusions; or, with --cv K, training on FILE itself."""
    from huisheng.flags.learn import cross_validate, evaluate_model, load
    from huisheng.flags.relearn import examples_from_csv

    if model is not None and folds is not None:
        raise click.UsageError("--model 与 --cv 只能选一个")
    ctx = _Context(config, lang)
    examples = examples_from_csv(file, ctx.rules, ctx.directory())
    if folds is not None:
        result = cross_validate(examples, folds)
    else:
        loaded = load(ctx.model_path(model, "--model"))
        result = evaluate_model(loaded, [e.text for e in examples], [e.unit for e in examples],
                                threshold=ctx.routing.threshold)
    if fmt == "json":
        result["unit_names"] = {code: ctx.unit_name(code) for code in result["units"]}
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for line in _eval_lines(ctx, result):
        click.echo(line)


def _eval_lines(ctx: _Context, m: dict[str, Any]) -> list[str]:
    lang = ctx.lang
    figures = {"rows": m["rows"], "accuracy": _num(m["accuracy"]), "correct": m["correct"]}
    if "folds" in m:
        lines = [_t(lang, "cv_rows", folds=m["folds"], **figures)]
        if m["not_held_out"]:
            lines.append(_t(lang, "not_held_out", n=m["not_held_out"], folds=m["folds"]))
    else:
        lines = [_t(lang, "rows", **figures)]
    if m.get("threshold"):
        t = m["threshold"]
        share = "—" if t["share"] is None else f"{t['share'] * 100:.1f}%"
        lines.append(_t(lang, "threshold", threshold=t["threshold"], share=share, accuracy=_num(t["accuracy"])))
    lines.append("")
    rows = [[_t(lang, "unit"), _t(lang, "code"), _t(lang, "precision"), _t(lang, "recall"), _t(lang, "examples")]]
    for code, s in sorted(m["units"].items(), key=lambda kv: (-kv[1]["support"], kv[0])):
        rows.append([ctx.unit_name(code), code, _num(s["precision"]), _num(s["recall"]), str(s["support"])])
    lines.append(text_table(rows, [False, False, True, True, True]))
    lines.append("")
    if m["confusion"]:
        lines.append(_t(lang, "confusion"))
        for pair in m["confusion"][:15]:
            lines.append(f"  {ctx.unit_name(pair['unit'])} → {ctx.unit_name(pair['predicted'])}  {pair['count']}")
    else:
        lines.append(_t(lang, "no_confusion"))
    return lines


@routing_group.command("info")
@click.argument("model", type=click.Path(path_type=Path), required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_lang_option
@config_option
@fail_cleanly
def info_cmd(model: Path | None, fmt: str, lang: str | None, config: Path) -> None:
    """What a model file holds: when it was trained, on what, with which libraries."""
    from huisheng.flags.learn import read_header

    ctx = _Context(config, lang)
    meta = read_header(ctx.model_path(model, "MODEL"))
    if fmt == "json":
        click.echo(json.dumps(meta, ensure_ascii=False, indent=2))
        return
    none = _t(ctx.lang, "none")
    examples = meta.get("examples", {})
    features = meta.get("features", {})
    ngrams = features.get("ngrams", [None, None])
    click.echo(_t(ctx.lang, "trained_at", value=meta.get("trained_at") or none))
    click.echo(_t(ctx.lang, "total", value=sum(examples.values()), units=len(examples)))
    click.echo(_t(ctx.lang, "sources", value="、".join(f"{k} {v}" for k, v in meta.get("sources", {}).items())
                  or none))
    click.echo(_t(ctx.lang, "features", low=ngrams[0], high=ngrams[1], vocabulary=features.get("vocabulary"),
                  cv=_num(meta.get("cv_accuracy"))))
    click.echo(_t(ctx.lang, "libraries", value=", ".join(f"{k} {v}" for k, v in meta.get("libraries", {}).items())))
    click.echo(_examples_table(ctx, examples))


def register(main: click.Group) -> None:
    main.add_command(routing_group)
