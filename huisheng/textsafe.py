"""Output safety: text that citizens (or a server) wrote, made harmless for
the operator's terminal and spreadsheet.

A comment can hold terminal escape sequences (``ESC ]0;title BEL`` sets the
window title, ``ESC [2J`` clears the screen), other C0/C1 controls, a bare
carriage return that overwrites what the line showed, and bidi overrides that
make a line read in another order.  :func:`terminal` drops all of them (an
escape sequence as a whole, not only its ESC) and turns line breaks and tabs
into spaces, so one value stays on one line of a table.

A spreadsheet evaluates a CSV cell that starts with ``= + - @`` (or a tab or
carriage return) as a formula (CSV injection: ``=HYPERLINK(...)`` links out,
``=cmd|…`` runs commands in old Excel).  :func:`csv_cell` cleans text as for a
terminal and puts an apostrophe before such a cell, which spreadsheets show as
text and do not display.

JSON keeps every character (it is read by programs), but :func:`json_text`
writes the controls and bidi characters that JSON itself leaves raw as
``\\uXXXX`` escapes, so printing it is as safe and reading it gives the same
value.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

# ECMA-48: control strings (OSC, DCS, SOS, PM, APC; 7-bit and 8-bit introducers)
# run to BEL or ST; an unterminated one would swallow the rest of the line.
_STRING = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
_CSI = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
# any other escape: intermediates then a final byte, or a lone ESC
_ESC = r"\x1b[ -/]*[0-~]?"
_SEQUENCE = re.compile(f"{_STRING}|{_CSI}|{_ESC}", re.DOTALL)
#: line and paragraph breaks and tabs: a space, so a value keeps to one line
_BREAKS = re.compile("[\t\n\x0b\x0c\r\x85\u2028\u2029]+")
#: the remaining C0 and C1 controls and DEL
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: bidi embeddings, overrides, isolates and marks (and the Arabic letter mark)
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
#: what ``json.dumps(..., ensure_ascii=False)`` leaves raw that a terminal acts on
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
#: what makes a spreadsheet read a cell as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def terminal(value: Any) -> str:
    """``value`` as text that cannot drive a terminal."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case: nothing to remove
        return text
    text = _SEQUENCE.sub("", text)
    text = _BREAKS.sub(" ", text)
    return _BIDI.sub("", _CONTROL.sub("", text))


def csv_cell(value: Any) -> Any:
    """A CSV cell: text as :func:`terminal` makes it, with an apostrophe before
    one a spreadsheet would evaluate; numbers and None unchanged."""
    if not isinstance(value, str):
        return value
    text = terminal(value)
    formula = any(v.lstrip(" ").startswith(_FORMULA_START) for v in (value, text))
    return "'" + text if formula else text


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(v) for v in values]


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)`` with the characters
    a terminal would act on escaped."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False, **options))
