"""JSON bodies as every adapter's parsers take them: one strict reading.

Python's ``json`` accepts ``NaN``, ``Infinity`` and numbers like ``1e400``
(read as infinity): none is JSON, and a stored raw payload holding one is
refused by PostgreSQL.  Such a body, one that is not JSON, and one nested too
deeply to read are each a ``ParseError`` naming the endpoint."""

from __future__ import annotations

import json
import math
from typing import Any

from huisheng import errors


def load_json(endpoint: str, text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise errors.ParseError(endpoint, "<body>", "nested too deeply") from None
    except ValueError as exc:  # also a number of thousands of digits, NaN, 1e400
        raise errors.ParseError(endpoint, "<body>", f"not valid JSON ({str(exc)[:60]})") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


__all__ = ["load_json"]
