"""Reply coverage (design.md "Metrics"), by unit, level, account, category,
month or the whole district.

Cohorts are fixed by the comment's own time (``Flag.started_at``), not by when
huisheng found it: a comment written inside [start, end) belongs to the period
whatever happens later (a November comment first read in December is
November's), so a reply arriving after the period still counts for its cohort.

- coverage = flags with a qualifying reply ÷ flags;
- on-time coverage = flags whose first reply came by the deadline
  (``first_reply_at <= due_at``) ÷ flags;
- first-reply time = first_reply_at − started_at (stored on the flag in
  calendar and in working seconds): median and p90;
- open overdue = flags still unanswered (open/acknowledged) with ``due_at`` < now.

Dismissed flags (驳回: spam, not a question) are left out of every denominator
and counted apart (``dismissed``).  A reply recorded by hand as made offline is
an audited manual state, not a public reply: it does not count as replied and is
counted apart (``offline``).  Historical flags (comments written before
their account's monitoring start) are outside the figures and counted apart
(``historical``) unless ``include_history``; open overdue never counts them
(they have no clock).

Speed: whole months come from the maintained aggregates
(:mod:`huisheng.reports.rollup`) when they are current, the rest is counted
from the flags; the percentiles of a large report come from a histogram
(:mod:`huisheng.reports.stats`), those of a small one are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from huisheng.flags.workcal import WorkCalendar
from huisheng.storage.models import Account, Flag, Unit, flag_rollups
from huisheng.reports import rollup
from huisheng.reports.stats import COUNT_COLUMNS, EXACT_LIMIT, HIST_COLUMNS, Tally, hours, ratio
from huisheng.vocabulary import Category, UnitLevel

GROUPINGS = ("unit", "level", "account", "category", "month", "district")
#: the flag column each grouping is counted by (level: by unit, then merged)
_COLUMN = {"unit": "unit_id", "level": "unit_id", "account": "account_id", "category": "category",
           "month": "month", "district": None}
#: the rollup rows and column each grouping sums
_ROLLUP = {"unit": ("unit", "ref_id"), "level": ("unit", "ref_id"), "account": ("account", "ref_id"),
           "category": ("unit", "category"), "month": ("unit", "month"), "district": ("unit", None)}


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
    historical: int = 0
    #: the group's unit id (by unit) or account id (by account), else None
    ref_id: int | None = None


def plan(db: Session, start: datetime, end: datetime, tz: ZoneInfo
         ) -> tuple[list[date], list[tuple[datetime, datetime]]]:
    """(months read from the rollup, time ranges counted from flags) covering [start, end)."""
    mark = rollup.watermark(db)
    if mark is None:
        return [], [(start, end)]
    dirty = rollup.changed_months(db, mark, tz, start, end)
    months, live = [], []
    month = rollup.month_of(start, tz)
    while rollup.month_start(month, tz) < end:
        a, b = rollup.month_start(month, tz), rollup.month_start(rollup.next_month(month), tz)
        if a >= start and b <= end and month not in dirty:
            months.append(month)
        else:
            live.append((max(a, start), min(b, end)))
        month = rollup.next_month(month)
    return months, rollup.merge_ranges(live)


def _labels(db: Session, by: str, tz: ZoneInfo) -> tuple[Callable[[Any], str], Callable[[str], str]]:
    """(raw group value → key, key → label)."""
    if by == "district":
        return (lambda raw: "district"), (lambda key: "全区")
    if by == "category":
        return (lambda raw: raw), Category.label_of
    if by == "month":
        return (lambda raw: raw.strftime("%Y-%m")), (lambda key: key)
    if by in ("unit", "level"):
        units = {u.id: u for u in db.scalars(select(Unit))}
        if by == "unit":
            names = {u.code: u.name for u in units.values()}
            return (lambda raw: units[raw].code), names.__getitem__
        return (lambda raw: units[raw].level), UnitLevel.label_of
    if by == "account":
        accounts = {a.id: a for a in db.scalars(select(Account))}
        names = {f"{a.platform}:{a.uid}": a.name for a in accounts.values()}
        return (lambda raw: f"{accounts[raw].platform}:{accounts[raw].uid}"), names.__getitem__
    raise ValueError(f"unknown grouping {by!r}; one of {', '.join(GROUPINGS)}")


def _raw_of_flag(by: str, tz: ZoneInfo) -> Callable[[Any], Any]:
    column = _COLUMN[by]
    if column is None:
        return lambda r: None
    if column == "month":
        return lambda r: rollup.month_of(r.started_at, tz)
    return lambda r: getattr(r, column)


def _sort_key(by: str, key: str):
    if by == "level":
        levels = UnitLevel.values()
        return (levels.index(key) if key in levels else len(levels), key)
    return (0, key)


def coverage(db: Session, *, by: str, start: datetime, end: datetime, calendar: WorkCalendar,
             units: Iterable[int] | None = None, now: datetime, include_history: bool = False,
             roll_up: Mapping[int, int] | None = None, total: bool = False) -> list[CoverageRow]:
    """One row per group with flags started in [start, end), sorted by key;
    by account, every enabled account (of ``units`` when given), flags or not.
    By unit, ``roll_up`` counts a unit's flags under another unit (a drill-down
    counts each subordinate unit with its own subordinates).  With ``total``, a
    last row (key ``total``) counts every group together."""
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}; one of {', '.join(GROUPINGS)}")
    tz = calendar.tz
    unit_set = set(units) if units is not None else None
    key_of, label_of = _labels(db, by, tz)
    tallies: dict[Any, Tally] = {}

    def tally(raw: Any) -> Tally:
        found = tallies.get(raw)
        if found is None:
            found = tallies[raw] = Tally(with_history=include_history)
        return found

    if by == "account" and unit_set is not None:
        months, live = [], [(start, end)]  # account rows do not know the owning units
    else:
        months, live = plan(db, start, end, tz)
    if months:
        c = flag_rollups.c
        dim, column = _ROLLUP[by]
        group = c[column] if column else literal(None)
        query = (select(group.label("raw"), c.historical,
                        *(func.sum(c[name]).label(name) for name in COUNT_COLUMNS + HIST_COLUMNS))
                 .where(c.dim == dim, c.month.in_(months)))
        if unit_set is not None:
            query = query.where(c.ref_id.in_(unit_set))
        query = query.group_by(group, c.historical) if column else query.group_by(c.historical)
        for row in db.execute(query).mappings():
            tally(row["raw"]).add_sums(row, historical=row["historical"])
    raw_of = _raw_of_flag(by, tz)
    for a, b in live:
        for r in rollup.flag_rows(db, a, b, unit_set):
            rollup.add_flag(tally(raw_of(r)), r)
    for raw, n in _overdue_open(db, by, start, end, unit_set, now, tz):
        tally(raw).overdue_open += n
    if by == "account":  # an account nobody wrote to is a figure too
        enabled = select(Account.id).where(Account.enabled.is_(True))
        if unit_set is not None:
            enabled = enabled.where(Account.unit_id.in_(unit_set))
        for account_id in db.scalars(enabled):
            tally(account_id)
    if sum(t.replied for t in tallies.values()) <= EXACT_LIMIT:
        for t in tallies.values():
            t.exact = ([], [])
        for r in _replies(db, start, end, unit_set, include_history):
            t = tally(raw_of(r))
            t.exact = t.exact or ([], [])
            if r.reply_seconds is not None:
                t.exact[0].append(r.reply_seconds)
            if r.reply_working_seconds is not None:
                t.exact[1].append(r.reply_working_seconds)

    merged: dict[str, Tally] = {}
    refs: dict[str, int] = {}
    for raw, t in tallies.items():
        if roll_up is not None and by == "unit":
            raw = roll_up.get(raw, raw)
        key = key_of(raw)
        if key in merged:
            _merge(merged[key], t)
        else:
            merged[key] = t
            if by in ("unit", "account"):
                refs[key] = raw
    rows = [row_of(key, label_of(key), merged[key], refs.get(key))
            for key in sorted(merged, key=lambda k: _sort_key(by, k))
            if by == "account" or merged[key].flags or merged[key].dismissed or merged[key].historical]
    if total:
        whole = Tally(with_history=include_history,
                      exact=([], []) if all(t.exact is not None for t in merged.values()) else None)
        for t in merged.values():
            _merge(whole, t)
        rows.append(row_of("total", "合计", whole))
    return rows


def _replies(db: Session, start: datetime, end: datetime, units: set[int] | None, include_history: bool):
    """The qualifying replies' times of the flags started in [start, end)."""
    f = Flag.__table__.c
    query = (select(f.unit_id, f.account_id, f.category, f.started_at, f.reply_seconds, f.reply_working_seconds)
             .where(f.started_at >= start, f.started_at < end, f.first_reply_at.is_not(None),
                    f.replied_offline.is_(False), f.status != "dismissed"))
    if not include_history:
        query = query.where(f.historical.is_(False))
    if units is not None:
        query = query.where(f.unit_id.in_(units))
    return db.execute(query)


def _overdue_open(db: Session, by: str, start: datetime, end: datetime, units: set[int] | None, now: datetime,
                  tz: ZoneInfo) -> Iterable[tuple[Any, int]]:
    f = Flag.__table__.c
    # historical flags have no clock: never overdue (as on ``report overdue`` and in digests)
    where = (f.status.in_(("open", "acknowledged")), f.due_at < now, f.started_at >= start, f.started_at < end,
             f.historical.is_(False))
    if units is not None:
        where += (f.unit_id.in_(units),)
    column = _COLUMN[by]
    if column == "month":
        counts: dict[date, int] = {}
        for started in db.scalars(select(f.started_at).where(*where)):
            month = rollup.month_of(started, tz)
            counts[month] = counts.get(month, 0) + 1
        return counts.items()
    if column is None:
        return [(None, db.scalar(select(func.count()).where(*where)))]
    return db.execute(select(f[column], func.count()).where(*where).group_by(f[column])).all()


def _merge(into: Tally, other: Tally) -> None:
    for name in COUNT_COLUMNS + ("overdue_open", "historical"):
        setattr(into, name, getattr(into, name) + getattr(other, name))
    for mine, theirs in ((into.frt, other.frt), (into.frt_working, other.frt_working)):
        mine.n = [x + y for x, y in zip(mine.n, theirs.n)]
        mine.s = [x + y for x, y in zip(mine.s, theirs.s)]
    if into.exact is not None and other.exact is not None:
        into.exact[0].extend(other.exact[0])
        into.exact[1].extend(other.exact[1])


def row_of(key: str, label: str, t: Tally, ref_id: int | None = None) -> CoverageRow:
    median, median_working = t.quantiles(0.5)
    p90, p90_working = t.quantiles(0.9)
    return CoverageRow(
        key=key, label=label, flags=t.flags, replied=t.replied, coverage=ratio(t.replied, t.flags),
        on_time=t.on_time, on_time_coverage=ratio(t.on_time, t.flags),
        frt_median_hours=hours(median), frt_p90_hours=hours(p90),
        frt_median_working_hours=hours(median_working), overdue_open=t.overdue_open,
        frt_p90_working_hours=hours(p90_working), dismissed=t.dismissed, offline=t.offline,
        historical=t.historical, ref_id=ref_id)
