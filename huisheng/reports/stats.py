"""Pure helpers for report figures: quantiles and the per-group accumulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from math import floor


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between order statistics at position (n−1)·q (the
    usual median for q = 0.5); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Tally:
    """One group's counts.  Dismissed flags are outside the denominators
    (counted apart); a reply made offline (recorded by hand) is audited
    separately and is not a qualifying public reply."""

    flags: int = 0
    replied: int = 0
    on_time: int = 0
    offline: int = 0
    dismissed: int = 0
    overdue_open: int = 0
    frt: list[float] = field(default_factory=list)
    frt_working: list[float] = field(default_factory=list)

    def add(self, *, status: str, first_reply_at: datetime | None, due_at: datetime, offline: bool,
            reply_seconds: float | None, reply_working_seconds: float | None, now: datetime) -> None:
        if status == "dismissed":
            self.dismissed += 1
            return
        self.flags += 1
        if first_reply_at is None:
            if status in ("open", "acknowledged") and due_at < now:
                self.overdue_open += 1
            return
        if offline:
            self.offline += 1
            return
        self.replied += 1
        if first_reply_at <= due_at:
            self.on_time += 1
        if reply_seconds is not None:
            self.frt.append(reply_seconds)
        if reply_working_seconds is not None:
            self.frt_working.append(reply_working_seconds)
