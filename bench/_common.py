"""What every benchmark shares: the one JSON line it prints per figure."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import Any

from huisheng.config.settings import Matrix


def emit(name: str, value: float, unit: str, baseline: float) -> dict[str, Any]:
    """Print exactly one JSON line: the figure, its baseline and value ÷ baseline."""
    line = {"bench": name, "value": value, "unit": unit, "baseline": baseline,
            "ratio": value / baseline if baseline else None}
    print(json.dumps(line, ensure_ascii=False), flush=True)
    return line


def note(message: str) -> None:
    """Progress and detail go to stderr so stdout stays one JSON line per figure."""
    print(message, file=sys.stderr, flush=True)


def weibo_accounts(matrix: Matrix) -> Matrix:
    """The matrix with its Weibo accounts only: the polling benchmarks measure
    the Weibo poller's pace against the simulator's Weibo paths (the example
    district's feeds, boards, forums and Mastodon accounts have figures of
    their own, or none)."""
    return replace(matrix, accounts=tuple(a for a in matrix.accounts if a.platform == "weibo"))
