"""Plain-text tables for terminals, where a Chinese character takes two columns.
Every cell goes through :func:`huisheng.monitor.textsafe.terminal`: a table
shows citizens' text and names, which must not drive the terminal."""

from __future__ import annotations

import unicodedata
from typing import Sequence

from huisheng.monitor.textsafe import terminal


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
