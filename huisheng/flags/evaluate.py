"""Measuring the rules on labelled comments (``huisheng rules eval``).

:func:`read_labelled` reads the CSV (a ``text`` column and any of ``category``,
``needs_reply``, ``urgent``, ``unit``, ``account``); :func:`evaluate` is pure: it
decides every row and computes per-category precision/recall/F1, needs-reply and
urgent precision and recall, routing accuracy and the confusion matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huisheng.adapters import text_conventions
from huisheng.errors import ConfigError
from huisheng.flags.classify import Decision, Directory, Subject, decide
from huisheng.flags.rules import Rules
from huisheng.config.matrix import read_csv
from huisheng.vocabulary import Category

if TYPE_CHECKING:
    from huisheng.flags.learn import Learned

NONE = "none"
CLASSES = Category.values() + (NONE,)
_CATEGORY_WORDS = {**{c.value: c.value for c in Category}, **{c.zh: c.value for c in Category},
                   "": NONE, NONE: NONE, "无": NONE, "-": NONE, "null": NONE}
_BOOLS = {"1": True, "0": False, "true": True, "false": False, "是": True, "否": False, "yes": True,
          "no": False, "y": True, "n": False}
_ZH_CLASSES = "、".join(Category.labels().values())
#: the author of every evaluated row: a resident, never a matrix account
RESIDENT = "resident"


@dataclass(frozen=True)
class Labelled:
    line: int
    text: str
    #: the account (platform, uid) it was written under
    account: tuple[str, str]
    #: a CLASSES value; None when the file has no category column
    category: str | None = None
    needs_reply: bool | None = None
    #: the labelled unit's code; None when not labelled
    unit: str | None = None
    #: None when the file has no urgent column (or the cell is empty)
    urgent: bool | None = None


@dataclass(frozen=True)
class Evaluation:
    rows: tuple[Labelled, ...]
    decisions: tuple[Decision, ...]
    metrics: dict[str, Any] = field(default_factory=dict)


def read_labelled(path: Path, directory: Directory, default_account: tuple[str, str] | None) -> list[Labelled]:
    """The CSV's rows; errors name the file, line and column."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("标注文件不存在", file=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise ConfigError("标注文件编码无法识别（应为 UTF-8 或 GBK）", file=str(path)) from None
    reader = iter(read_csv(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if "text" not in header:
        raise ConfigError("缺少 text 列", file=str(path), line=1)
    col = {name: header.index(name) for name in ("text", "category", "needs_reply", "urgent", "unit", "account")
           if name in header}
    errors: list[ConfigError] = []
    rows: list[Labelled] = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(name: str) -> str | None:
            """The cell's text; None when the file has no such column."""
            if name not in col:
                return None
            return row[col[name]].strip() if col[name] < len(row) else ""

        def bad(column: str, message: str) -> None:
            errors.append(ConfigError(message, file=str(path), key=column, line=number))

        category = cell("category")
        if category is not None:
            category = _CATEGORY_WORDS.get(category.lower())
            if category is None:
                bad("category", f"未知的类别「{cell('category')}」（应为 {_ZH_CLASSES}、无 或英文名）")
                continue
        flags: dict[str, bool | None] = {}
        for name in ("needs_reply", "urgent"):
            value = cell(name)
            flags[name] = _BOOLS.get(value.lower()) if value else None
            if value and flags[name] is None:
                bad(name, f"{name} 应为 1 或 0，实际为「{value}」")
        if any(cell(name) and flags[name] is None for name in flags):
            continue
        unit = cell("unit") or None
        if unit is not None:
            code = directory.resolve_unit(unit)
            if code is None:
                bad("unit", f"矩阵中没有单位「{unit}」")
                continue
            unit = code
        ref = cell("account")
        account = directory.find_account(ref) if ref else default_account
        if ref and account is None:
            bad("account", f"矩阵中没有账号「{ref}」（应为账号名称、UID 或 平台:UID）")
            continue
        if not account:
            bad("account", "未指定账号，且矩阵中没有区级账号可作默认")
            continue
        rows.append(Labelled(number, cell("text") or "", account, category, flags["needs_reply"], unit,
                             flags["urgent"]))
    if errors:
        from huisheng.errors import ConfigErrors

        raise ConfigErrors(errors)
    return rows


def default_account(directory: Directory) -> tuple[str, str] | None:
    """The district's first account (the matrix keeps file order)."""
    for key, unit in directory.account_units.items():
        if unit == directory.district:
            return key
    return None


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None or p + r == 0:
        return None if p is None or r is None else 0.0
    return round(2 * p * r / (p + r), 4)


def evaluate(rows: list[Labelled], rules: Rules, directory: Directory, learned: Learned | None = None
             ) -> Evaluation:
    """Every row decided (with the routing model ``learned`` in place, if given) and measured."""
    decisions = tuple(decide(Subject(text=row.text, author_id=RESIDENT, author_name="", platform=row.account[0],
                                     account_uid=row.account[1], conventions=text_conventions(row.account[0])),
                             rules, directory, learned) for row in rows)
    metrics: dict[str, Any] = {"rows": len(rows)}

    labelled_nr = [(r, d) for r, d in zip(rows, decisions) if r.needs_reply is not None]
    if labelled_nr:
        tp = sum(1 for r, d in labelled_nr if r.needs_reply and d.needs_reply)
        fp = sum(1 for r, d in labelled_nr if not r.needs_reply and d.needs_reply)
        fn = sum(1 for r, d in labelled_nr if r.needs_reply and not d.needs_reply)
        tn = len(labelled_nr) - tp - fp - fn
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        metrics["needs_reply"] = {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
                                  "tp": tp, "fp": fp, "fn": fn, "tn": tn}

    labelled_urgent = [(r, d) for r, d in zip(rows, decisions) if r.urgent is not None]
    if labelled_urgent:
        tp = sum(1 for r, d in labelled_urgent if r.urgent and d.urgent)
        fp = sum(1 for r, d in labelled_urgent if not r.urgent and d.urgent)
        fn = sum(1 for r, d in labelled_urgent if r.urgent and not d.urgent)
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        metrics["urgent"] = {"precision": precision, "recall": recall, "tp": tp, "fp": fp, "fn": fn,
                             "labelled": sum(1 for r, _ in labelled_urgent if r.urgent)}

    labelled_cat = [(r, d) for r, d in zip(rows, decisions) if r.category is not None]
    if labelled_cat:
        confusion = {t: {p: 0 for p in CLASSES} for t in CLASSES}
        for r, d in labelled_cat:
            confusion[r.category][d.category or NONE] += 1  # type: ignore[index]
        per_class = {}
        for c in CLASSES:
            tp = confusion[c][c]
            predicted = sum(confusion[t][c] for t in CLASSES)
            actual = sum(confusion[c].values())
            p, r_ = _ratio(tp, predicted), _ratio(tp, actual)
            per_class[c] = {"precision": p, "recall": r_, "f1": _f1(p, r_), "support": actual}
        correct = sum(confusion[c][c] for c in CLASSES)
        metrics["categories"] = per_class
        metrics["category_accuracy"] = _ratio(correct, len(labelled_cat))
        metrics["confusion"] = confusion

    routed = [(r, d) for r, d in zip(rows, decisions)
              if r.unit is not None and d.needs_reply and r.needs_reply is not False]
    if any(r.unit is not None for r in rows):
        correct = sum(1 for r, d in routed if d.unit_code == r.unit)
        by: dict[str, dict[str, int]] = {}
        for r, d in routed:
            kind = by.setdefault(d.routing or "account", {"judged": 0, "correct": 0})
            kind["judged"] += 1
            kind["correct"] += d.unit_code == r.unit
        metrics["routing"] = {"accuracy": _ratio(correct, len(routed)), "correct": correct, "judged": len(routed),
                              "labelled": sum(1 for r in rows if r.unit is not None),
                              # which way each judged row was routed, and how often rightly
                              "by_routing": dict(sorted(by.items()))}
    return Evaluation(tuple(rows), decisions, metrics)


__all__ = ["CLASSES", "Evaluation", "Labelled", "NONE", "default_account", "evaluate", "read_labelled"]
