"""Report output: an aligned table, CSV for Excel (UTF-8 with BOM, ISO dates),
or JSON.  Headers and values in Simplified Chinese, English with
``lang="en"``; JSON keys are always the English field names.  Rates are
percentages in tables and CSV, fractions (0–1) in JSON; times are local with
their UTC offset.  Citizens' text is made safe for the terminal and the
spreadsheet (:mod:`huisheng.monitor.textsafe`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Iterable, Mapping

from huisheng.monitor.tables import text_table
from huisheng.monitor.textsafe import csv_row, json_text

FORMATS = ("table", "csv", "json")
LANGS = ("zh", "en")
BOM = "\ufeff"


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    #: text | int | ratio | hours | float | datetime | date | bool
    kind: str = "text"


def _cell(value: Any, kind: str, fmt: str, lang: str, tz: tzinfo) -> Any:
    if value is None:
        return None if fmt == "json" else ("-" if fmt == "table" else "")
    if kind == "datetime":
        local = value.astimezone(tz)
        if fmt == "json":
            return local.isoformat()
        return local.strftime("%Y-%m-%d %H:%M" if fmt == "table" else "%Y-%m-%d %H:%M:%S") + utc_offset(local)
    if kind == "date":
        return value.isoformat()
    if fmt == "json":
        return value
    if kind == "bool":
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if kind == "ratio":
        return percent(value)
    if kind in ("hours", "float"):
        return f"{value:.1f}" if fmt == "table" else value
    return value if fmt == "csv" else str(value)


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def utc_offset(local: datetime) -> str:
    """``+08:00`` for a local time."""
    minutes = int(local.utcoffset().total_seconds() // 60)
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def json_rows(records: Iterable[Mapping[str, Any]], columns: list[Column], tz: tzinfo) -> list[dict[str, Any]]:
    """Records as JSON values (rates as fractions, times local ISO with offset)."""
    return [{c.key: _cell(r.get(c.key), c.kind, "json", "en", tz) for c in columns} for r in records]


def render(records: Iterable[Mapping[str, Any]], columns: list[Column], *, fmt: str, lang: str = "zh",
           tz: tzinfo) -> str:
    records = list(records)
    if fmt == "json":
        return json_text(json_rows(records, columns, tz), indent=1) + "\n"
    header = [c.zh if lang == "zh" else c.en for c in columns]
    body = [[_cell(r.get(c.key), c.kind, fmt, lang, tz) for c in columns] for r in records]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(csv_row(row) for row in body)
        return BOM + out.getvalue()
    rows = [header] + [[str(v) for v in row] for row in body]
    return text_table(rows, [c.kind in ("int", "ratio", "hours", "float") for c in columns]) + "\n"


