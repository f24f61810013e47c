"""The 考评 table: units ranked by on-time coverage, then by median first-reply
time in working hours (shorter is better).  A unit with no flags in the period
is not ranked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from huisheng.flags.workcal import WorkCalendar
from huisheng.reports.coverage import CoverageRow, coverage


@dataclass(frozen=True)
class RankedUnit:
    rank: int
    row: CoverageRow


def ranking(db: Session, *, start: datetime, end: datetime, calendar: WorkCalendar, now: datetime
            ) -> list[RankedUnit]:
    rows = [r for r in coverage(db, by="unit", start=start, end=end, calendar=calendar, now=now) if r.flags]

    def order(r: CoverageRow):
        frt = r.frt_median_working_hours
        return (-(r.on_time_coverage or 0.0), frt is None, frt if frt is not None else 0.0, r.key)

    rows.sort(key=order)
    ranked: list[RankedUnit] = []
    for n, row in enumerate(rows):
        # ties (same on-time coverage and median) share a rank
        if ranked and order(ranked[-1].row)[:3] == order(row)[:3]:
            ranked.append(RankedUnit(ranked[-1].rank, row))
        else:
            ranked.append(RankedUnit(n + 1, row))
    return ranked
