"""Report output: an aligned table, CSV for Excel (UTF-8 with BOM, ISO dates),
or JSON.  Headers and values in Simplified Chinese, English with
``lang="en"``; JSON keys are always the English field names.  Rates are
percentages in tables and CSV, fractions (0–1) in JSON; times are local with
their UTC offset.  Citizens' text is made safe for the terminal and the
spreadsheet (:mod:`huisheng.textsafe`).  The workbench exports the
same tables as CSV and as XLSX (:func:`render_csv`, :func:`render_xlsx`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Iterable, Mapping

from huisheng.textsafe import csv_cell, csv_row, json_text

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


@dataclass(frozen=True)
class Sheet:
    """One table of an export: a CSV section, an XLSX worksheet."""

    zh: str
    en: str
    records: list[Mapping[str, Any]]
    columns: list[Column]


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


def cell_text(value: Any, column: Column, *, lang: str = "zh", tz: tzinfo) -> str:
    """A value as a table shows it (the workbench's pages show it so too)."""
    return str(_cell(value, column.kind, "table", lang, tz))


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def utc_offset(local: datetime) -> str:
    """``+08:00`` for a local time."""
    minutes = int(local.utcoffset().total_seconds() // 60)
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def json_rows(records: Iterable[Mapping[str, Any]], columns: list[Column], tz: tzinfo) -> list[dict[str, Any]]:
    """Records as JSON values (rates as fractions, times local ISO with offset)."""
    return [{c.key: _cell(r.get(c.key), c.kind, "json", "en", tz) for c in columns} for r in records]


def cells(records: Iterable[Mapping[str, Any]], columns: list[Column], *, fmt: str, lang: str = "zh",
          tz: tzinfo) -> tuple[list[str], list[list[Any]]]:
    """The header and the rows' cells as ``fmt`` ("table" or "csv") shows them."""
    header = [c.zh if lang == "zh" else c.en for c in columns]
    return header, [[_cell(r.get(c.key), c.kind, fmt, lang, tz) for c in columns] for r in records]


def numeric(columns: list[Column]) -> list[bool]:
    """Which columns hold numbers (right-aligned in a terminal table)."""
    return [c.kind in ("int", "ratio", "hours", "float") for c in columns]


def render(records: Iterable[Mapping[str, Any]], columns: list[Column], *, fmt: str, lang: str = "zh",
           tz: tzinfo) -> str:
    """Records as JSON or CSV (a terminal table is the CLI's: ``huisheng.cli.tables``)."""
    records = list(records)
    if fmt == "json":
        return json_text(json_rows(records, columns, tz), indent=1) + "\n"
    if fmt != "csv":
        raise ValueError(f"no {fmt!r} rendering here")
    header, body = cells(records, columns, fmt=fmt, lang=lang, tz=tz)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(csv_row(row) for row in body)
    return BOM + out.getvalue()


def render_csv(sheets: list[Sheet], *, lang: str = "zh", tz: tzinfo) -> str:
    """``sheets`` as one CSV: the tables one after another, a blank line between."""
    parts = [render(s.records, s.columns, fmt="csv", lang=lang, tz=tz) for s in sheets]
    return parts[0] + "".join("\r\n" + p.removeprefix(BOM) for p in parts[1:])


def _xlsx_cell(value: Any, kind: str, lang: str, tz: tzinfo) -> Any:
    """Numbers as numbers (a rate as a fraction shown as a percentage), the
    rest as the CSV has it; text neutralised as in CSV."""
    if value is None:
        return None
    if kind == "int":
        return int(value)
    if kind in ("ratio", "hours", "float"):
        return float(value)
    return csv_cell(_cell(value, kind, "csv", lang, tz))


def render_xlsx(sheets: list[Sheet], *, lang: str = "zh", tz: tzinfo) -> bytes:
    """``sheets`` as an XLSX workbook, a worksheet each, with the CSV's headers and values."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    for sheet in sheets:
        ws = book.create_sheet(sheet.zh if lang == "zh" else sheet.en)
        ws.freeze_panes = "A2"
        header = []
        for c in sheet.columns:
            cell = WriteOnlyCell(ws, value=c.zh if lang == "zh" else c.en)
            cell.font = Font(bold=True)
            header.append(cell)
        ws.append(header)
        for record in sheet.records:
            row = []
            for c in sheet.columns:
                cell = WriteOnlyCell(ws, value=_xlsx_cell(record.get(c.key), c.kind, lang, tz))
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula, whatever the text
                elif c.kind == "ratio":
                    cell.number_format = "0.0%"
                row.append(cell)
            ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
