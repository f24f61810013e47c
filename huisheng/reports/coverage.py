"""Reply coverage (design.md "Metrics"), by unit, level, account, category,
month or the whole district.

Cohorts are fixed by flag creation time (``Flag.created_at``): a flag created
inside [start, end) belongs to the period whatever happens later, so a reply
arriving after the period still counts for its cohort.

- coverage = flags with a qualifying reply ÷ flags;
- on-time coverage = flags whose first reply came by the deadline
  (``first_reply_at <= due_at``) ÷ flags;
- first-reply time = first_reply_at − started_at (stored on the flag in
  calendar and in working seconds): median and p90;
- open overdue = flags still unanswered (open/acknowledged) with ``due_at`` < now.

Dismissed flags (驳回: spam, not a question) are left out of every denominator
and counted apart (``dismissed``).  A reply recorded by hand as made offline is
an audited manual state, not a public reply: it does not count as replied and is
counted apart (``offline``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from huisheng.flags.lifecycle import CATEGORY_NAMES
from huisheng.flags.workcal import WorkCalendar
from huisheng.monitor.models import Account, Flag, Unit
from huisheng.reports.stats import Tally, hours, quantile, ratio

GROUPINGS = ("unit", "level", "account", "category", "month", "district")
LEVEL_NAMES = {"district": "区级", "department": "部门", "street": "街镇", "community": "社区/村"}
LEVEL_ORDER = ("district", "department", "street", "community")


@dataclass(frozen=True)
class CoverageRow:
    key: str
    label: str
    flags: int
    replied: int
    coverage: float | None
    on_time: int
    on_time_coverage: float | None
    frt_median_hours: float | None
    frt_p90_hours: float | None
    frt_median_working_hours: float | None
    overdue_open: int
    frt_p90_working_hours: float | None = None
    dismissed: int = 0
    offline: int = 0
    #: the group's unit id (by unit) or account id (by account), else None
    ref_id: int | None = None


def _flag_rows(db: Session, start: datetime, end: datetime, units: set[int] | None):
    f = Flag.__table__.c
    query = (select(f.unit_id, f.account_id, f.category, f.created_at, f.status, f.first_reply_at, f.due_at,
                    f.replied_offline, f.reply_seconds, f.reply_working_seconds)
             .where(f.created_at >= start, f.created_at < end))
    if units is not None:
        query = query.where(f.unit_id.in_(units))
    return db.execute(query)


def _grouper(db: Session, by: str, calendar: WorkCalendar) -> tuple[Callable, Callable[[str], str]]:
    """(row → group key, key → label)."""
    if by == "district":
        return (lambda r: "district"), (lambda key: "全区")
    if by == "category":
        return (lambda r: r.category), (lambda key: CATEGORY_NAMES.get(key, key))
    if by == "month":
        tz = calendar.tz
        return (lambda r: r.created_at.astimezone(tz).strftime("%Y-%m")), (lambda key: key)
    if by in ("unit", "level"):
        units = {u.id: u for u in db.scalars(select(Unit))}
        if by == "unit":
            return (lambda r: units[r.unit_id].code), \
                   (lambda key: next(u.name for u in units.values() if u.code == key))
        return (lambda r: units[r.unit_id].level), (lambda key: LEVEL_NAMES.get(key, key))
    if by == "account":
        accounts = {a.id: a for a in db.scalars(select(Account))}
        return (lambda r: f"{accounts[r.account_id].platform}:{accounts[r.account_id].uid}"), \
               (lambda key: next(a.name for a in accounts.values() if f"{a.platform}:{a.uid}" == key))
    raise ValueError(f"unknown grouping {by!r}; one of {', '.join(GROUPINGS)}")


def _sort_key(by: str, key: str):
    if by == "level":
        return (LEVEL_ORDER.index(key) if key in LEVEL_ORDER else len(LEVEL_ORDER), key)
    return (0, key)


def coverage(db: Session, *, by: str, start: datetime, end: datetime, calendar: WorkCalendar,
             units: Iterable[int] | None = None, now: datetime) -> list[CoverageRow]:
    """One row per group with flags created in [start, end), sorted by key."""
    key_of, label_of = _grouper(db, by, calendar)
    tallies: dict[str, Tally] = {}
    refs: dict[str, int] = {}
    for r in _flag_rows(db, start, end, set(units) if units is not None else None):
        key = key_of(r)
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = Tally()
            if by in ("unit", "account"):
                refs[key] = r.unit_id if by == "unit" else r.account_id
        tally.add(status=r.status, first_reply_at=r.first_reply_at, due_at=r.due_at, offline=r.replied_offline,
                  reply_seconds=r.reply_seconds, reply_working_seconds=r.reply_working_seconds, now=now)
    return [row_of(key, label_of(key), tallies[key], refs.get(key))
            for key in sorted(tallies, key=lambda k: _sort_key(by, k))]


def row_of(key: str, label: str, t: Tally, ref_id: int | None = None) -> CoverageRow:
    return CoverageRow(
        key=key, label=label, flags=t.flags, replied=t.replied, coverage=ratio(t.replied, t.flags),
        on_time=t.on_time, on_time_coverage=ratio(t.on_time, t.flags),
        frt_median_hours=hours(quantile(t.frt, 0.5)), frt_p90_hours=hours(quantile(t.frt, 0.9)),
        frt_median_working_hours=hours(quantile(t.frt_working, 0.5)), overdue_open=t.overdue_open,
        frt_p90_working_hours=hours(quantile(t.frt_working, 0.9)), dismissed=t.dismissed, offline=t.offline,
        ref_id=ref_id)
