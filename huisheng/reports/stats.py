"""Pure pieces of report figures: the first-reply-time histogram and a group's
tally.

Percentiles of a report with at most :data:`EXACT_LIMIT` replies are exact
(:func:`quantile` over the stored values).  Larger ones come from a histogram,
so they can be summed from maintained aggregates (:mod:`huisheng.reports.rollup`)
as well as counted from flags, with the same answer either way.  Buckets: under a minute, then 46 log-spaced
buckets from 1 minute to about a year (each ≈ 32 % wider than the previous),
then the rest; each keeps its count and the sum of its seconds.  A quantile is
the linear interpolation at position (n − 1)·q (the usual median for q = 0.5)
over the values with each replaced by its bucket's mean: exact when the values
around the position fall in distinct buckets (or are equal), otherwise within
the bucket's width.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from math import floor, log
from typing import Any, Mapping

from huisheng.storage.models import ROLLUP_BUCKETS

BUCKETS = ROLLUP_BUCKETS
_LOW = 60.0
_HIGH = 3.2e7
_STEP = log(_HIGH / _LOW) / (BUCKETS - 2)
#: reports with at most this many replies read every reply time (exact percentiles)
EXACT_LIMIT = 5000
COUNT_COLUMNS = ("flags", "replied", "on_time", "offline", "dismissed")
HIST_COLUMNS = tuple(f"{kind}{part}{i}" for kind in "cw" for part in "ns" for i in range(BUCKETS))


def bucket(seconds: float) -> int:
    if seconds < _LOW:
        return 0
    return min(BUCKETS - 1, 1 + int(log(seconds / _LOW) / _STEP))


class Hist:
    __slots__ = ("n", "s")

    def __init__(self) -> None:
        self.n = [0] * BUCKETS
        self.s = [0.0] * BUCKETS

    def add(self, seconds: float) -> None:
        b = bucket(seconds)
        self.n[b] += 1
        self.s[b] += seconds

    def _nth(self, k: int) -> float:
        seen = 0
        for count, total in zip(self.n, self.s):
            seen += count
            if k < seen:
                return total / count
        raise IndexError(k)

    def quantile(self, q: float) -> float | None:
        total = sum(self.n)
        if not total:
            return None
        pos = (total - 1) * q
        low = floor(pos)
        a = self._nth(low)
        return a if pos == low else a + (self._nth(low + 1) - a) * (pos - low)


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between order statistics at position (n − 1)·q."""
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
    separately and is not a qualifying public reply.  Historical flags
    (written before the account's monitoring start) are counted in
    ``historical`` and, only when ``with_history``, in the figures too."""

    flags: int = 0
    replied: int = 0
    on_time: int = 0
    offline: int = 0
    dismissed: int = 0
    overdue_open: int = 0
    historical: int = 0
    with_history: bool = False
    frt: Hist = field(default_factory=Hist)
    frt_working: Hist = field(default_factory=Hist)
    #: every reply time (calendar, working) when the report read them (small reports)
    exact: tuple[list[float], list[float]] | None = None

    def quantiles(self, q: float) -> tuple[float | None, float | None]:
        """(calendar, working) seconds at quantile q."""
        if self.exact is not None:
            return quantile(self.exact[0], q), quantile(self.exact[1], q)
        return self.frt.quantile(q), self.frt_working.quantile(q)

    def add(self, *, status: str, first_reply_at: datetime | None, due_at: datetime, offline: bool,
            reply_seconds: float | None, reply_working_seconds: float | None, historical: bool = False) -> None:
        if historical:
            self.historical += 1
            if not self.with_history:
                return
        if status == "dismissed":
            self.dismissed += 1
            return
        self.flags += 1
        if first_reply_at is None:
            return
        if offline:
            self.offline += 1
            return
        self.replied += 1
        if first_reply_at <= due_at:
            self.on_time += 1
        if reply_seconds is not None:
            self.frt.add(reply_seconds)
        if reply_working_seconds is not None:
            self.frt_working.add(reply_working_seconds)

    def add_sums(self, row: Mapping[str, Any], historical: bool = False) -> None:
        """Add summed rollup columns (``flags`` … and ``cn0`` … ``ws47``) of
        historical flags or not."""
        if historical:
            self.historical += int(row["flags"] or 0) + int(row["dismissed"] or 0)
            if not self.with_history:
                return
        for name in COUNT_COLUMNS:
            setattr(self, name, getattr(self, name) + int(row[name] or 0))
        for hist, kind in ((self.frt, "c"), (self.frt_working, "w")):
            for i in range(BUCKETS):
                hist.n[i] += int(row[f"{kind}n{i}"] or 0)
                hist.s[i] += float(row[f"{kind}s{i}"] or 0.0)

    def columns(self) -> dict[str, Any]:
        """This tally as rollup columns."""
        out: dict[str, Any] = {name: getattr(self, name) for name in COUNT_COLUMNS}
        for hist, kind in ((self.frt, "c"), (self.frt_working, "w")):
            out.update({f"{kind}n{i}": hist.n[i] for i in range(BUCKETS)})
            out.update({f"{kind}s{i}": hist.s[i] for i in range(BUCKETS)})
        return out
