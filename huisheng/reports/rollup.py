"""Maintained report aggregates: ``flag_rollups``, rows per local month of
the flag's start (the comment's own time, ``Flag.started_at``) × category ×
historical or not × owning unit, and the same × account.

Nothing in the flag code has to call this: :func:`refresh` rebuilds, from the
flags themselves, every month of the start of a flag changed
(``Flag.updated_at``) since the last refresh, and records how far it got: the watermark, the newest
change it saw but at most ``now`` − :data:`MARGIN` (so a transaction that
stamped ``updated_at`` up to MARGIN before committing is still picked up next
time).  A report uses a month's rollup rows only when no flag of that month
changed after the watermark; other months are counted from the flags directly.  So reports are exact
whether or not the daemon's rollup job has run lately; the job only makes
them fast.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from huisheng.storage.models import Flag, RollupState, flag_rollups
from huisheng.reports.stats import Tally

log = logging.getLogger("huisheng.reports")

#: a change committed up to this long after its ``updated_at`` is still seen
MARGIN = timedelta(minutes=10)
#: how often the daemon refreshes the rollup (seconds)
REFRESH_INTERVAL = 300


def month_of(t: datetime, tz: ZoneInfo) -> date:
    return t.astimezone(tz).date().replace(day=1)


def next_month(m: date) -> date:
    return (m + timedelta(days=32)).replace(day=1)


def month_start(m: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(m, time(), tzinfo=tz).astimezone(timezone.utc)


def flag_rows(db: Session, start: datetime, end: datetime, units: set[int] | None = None):
    f = Flag.__table__.c
    query = (select(f.unit_id, f.account_id, f.category, f.started_at, f.historical, f.status, f.first_reply_at,
                    f.due_at, f.replied_offline, f.reply_seconds, f.reply_working_seconds)
             .where(f.started_at >= start, f.started_at < end))
    if units is not None:
        query = query.where(f.unit_id.in_(units))
    return db.execute(query)


def add_flag(tally: Tally, r) -> None:
    tally.add(status=r.status, first_reply_at=r.first_reply_at, due_at=r.due_at, offline=r.replied_offline,
              reply_seconds=r.reply_seconds, reply_working_seconds=r.reply_working_seconds, historical=r.historical)


def changed_months(db: Session, since: datetime | None, tz: ZoneInfo, start: datetime | None = None,
                   end: datetime | None = None) -> set[date]:
    """Local months of the start of a flag changed after ``since`` (all when
    None), started in [start, end) when given."""
    query = select(Flag.started_at)
    if since is not None:
        # by the updated_at index alone: few rows changed, many started in a report's range
        query = query.where(Flag.updated_at > since)
    return {month_of(started, tz) for started in db.scalars(query)
            if start is None or start <= started < end}


def watermark(db: Session) -> datetime | None:
    state = db.get(RollupState, 1)
    return state.watermark if state else None


def rebuild_month(session: Session, month: date, tz: ZoneInfo) -> int:
    """Replace ``month``'s rollup rows by a count of its flags; returns the rows written."""
    session.execute(delete(flag_rollups).where(flag_rollups.c.month == month))
    cells: dict[tuple[str, int, str, bool], Tally] = {}
    for r in flag_rows(session, month_start(month, tz), month_start(next_month(month), tz)):
        for key in (("unit", r.unit_id, r.category, r.historical), ("account", r.account_id, r.category,
                                                                    r.historical)):
            tally = cells.get(key)
            if tally is None:
                # a historical cell holds full figures: a report adds them or not
                tally = cells[key] = Tally(with_history=True)
            add_flag(tally, r)
    rows = [{"dim": dim, "month": month, "ref_id": ref, "category": c, "historical": h, **t.columns()}
            for (dim, ref, c, h), t in cells.items()]
    if rows:
        session.execute(insert(flag_rollups), rows)
    return len(rows)


def refresh(session: Session, *, tz: ZoneInfo, now: datetime) -> list[date]:
    """Bring the rollup up to date inside the caller's transaction; returns the
    months rebuilt (every month on the first run)."""
    state = session.get(RollupState, 1)
    newest = session.scalar(select(Flag.updated_at).order_by(Flag.updated_at.desc()).limit(1))
    months = sorted(changed_months(session, state.watermark if state else None, tz))
    for month in months:
        rebuild_month(session, month, tz)
    if state is None:
        state = RollupState(id=1, refreshed_at=now)
        session.add(state)
    state.watermark = now - MARGIN if newest is None else min(newest, now - MARGIN)
    state.refreshed_at = now
    return months


class RollupJob:
    """The daemon's job: ``PeriodicJob("report-rollup", REFRESH_INTERVAL, RollupJob(...).run)``."""

    def __init__(self, sessions: sessionmaker[Session], tz: str):
        self.sessions = sessions
        self.tz = ZoneInfo(tz)

    def run(self, now: datetime) -> list[date]:
        with self.sessions.begin() as session:
            months = refresh(session, tz=self.tz, now=now)
        if months:
            log.debug("report rollup: rebuilt %d month(s)", len(months))
        return months


def merge_ranges(ranges: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(ranges):
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
