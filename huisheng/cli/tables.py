"""Plain-text tables for terminals, where a Chinese character takes two columns.
Every cell goes through :func:`huisheng.textsafe.terminal`: a table
shows citizens' text and names, which must not drive the terminal."""

from __future__ import annotations

import unicodedata
from datetime import tzinfo
from typing import Any, Iterable, Mapping, Sequence

from huisheng.reports import output
from huisheng.reports.output import Column
from huisheng.textsafe import terminal


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded to ``width`` display columns (right-aligned if ``right``)."""
    space = " " * max(width - display_width(text), 0)
    return space + text if right else text + space


def text_table(rows: Sequence[Sequence[str]], right: Sequence[bool] = ()) -> str:
    """The first row is the header, underlined; columns in ``right`` are
    right-aligned below it."""
    rows = [[terminal(cell) for cell in row] for row in rows]
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    align = list(right) + [False] * (len(widths) - len(right))
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(pad(cell, w, a and n > 0) for cell, w, a in zip(row, widths, align)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(records: Iterable[Mapping[str, Any]], columns: list[Column], *, fmt: str, lang: str = "zh",
           tz: tzinfo) -> str:
    """Records as a terminal table, or as JSON or CSV (``huisheng.reports.output``)."""
    if fmt != "table":
        return output.render(records, columns, fmt=fmt, lang=lang, tz=tz)
    header, body = output.cells(records, columns, fmt=fmt, lang=lang, tz=tz)
    return text_table([header] + [[str(v) for v in row] for row in body], output.numeric(columns)) + "\n"
