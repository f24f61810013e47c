"""The 考评 table: units ranked within one level (departments among
departments, streets among streets, communities among communities) by on-time
coverage, then by median first-reply time in working hours (shorter is
better).  A unit with fewer than ``min_flags`` flags in the period is listed
after the ranked ones, unranked: a rate over a handful of flags says little.
Units with no flags in the period are not listed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huisheng.flags.workcal import WorkCalendar
from huisheng.storage.models import Unit
from huisheng.reports.coverage import CoverageRow, coverage

#: the levels whose units are ranked against each other (the district is one unit)
RANKED_LEVELS = ("department", "street", "community")
MIN_FLAGS = 10


@dataclass(frozen=True)
class RankedUnit:
    #: None: fewer flags than the minimum, listed unranked
    rank: int | None
    level: str
    row: CoverageRow


def ranking(db: Session, *, start: datetime, end: datetime, calendar: WorkCalendar, now: datetime,
            level: str | None = None, min_flags: int = MIN_FLAGS, include_history: bool = False
            ) -> list[RankedUnit]:
    """``level``'s units (default: each of :data:`RANKED_LEVELS` in turn), ranks
    starting at 1 within each level."""
    levels = dict(db.execute(select(Unit.id, Unit.level)).all())
    rows = [r for r in coverage(db, by="unit", start=start, end=end, calendar=calendar, now=now,
                                include_history=include_history) if r.flags]

    def order(r: CoverageRow):
        frt = r.frt_median_working_hours
        return (-(r.on_time_coverage or 0.0), frt is None, frt if frt is not None else 0.0, r.key)

    out: list[RankedUnit] = []
    for lv in (level,) if level else RANKED_LEVELS:
        group = sorted((r for r in rows if levels.get(r.ref_id) == lv), key=order)
        ranked: list[RankedUnit] = []
        for n, row in enumerate(r for r in group if r.flags >= min_flags):
            # ties (same on-time coverage and median) share a rank
            if ranked and order(ranked[-1].row)[:3] == order(row)[:3]:
                ranked.append(RankedUnit(ranked[-1].rank, lv, row))
            else:
                ranked.append(RankedUnit(n + 1, lv, row))
        out += ranked + [RankedUnit(None, lv, r) for r in group if r.flags < min_flags]
    return out
