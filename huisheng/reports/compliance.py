"""Compliance with the official checks of government accounts, per account.

- 单项否决 (single veto): no original post (reposts don't count, deleted posts
  don't either) in the ``inactive_days`` (14) days before the check;
- a warning at ``warning_days`` (10);
- no interaction: every original post in the recent window has its comments
  closed or restricted (``Post.comments_open is False``);
- flags of the account unanswered (open/acknowledged) for more than
  ``stale_days`` (90) calendar days.

Days are local days: the days since the last original post are counted from
its local day to the check's local day, and an account is silent for N days
when that is more than N.  With the check at local midnight starting DATE, a
post on DATE − N still counts, one on DATE − N − 1 does not.  The report and
the digest both call :func:`compliance`, so they agree.

An account huisheng could not read is not judged (无法读取): one never read
successfully (``first_success_at`` unset), or whose reads were failing at the
check (its current run of errors began before it).  It is counted apart and is
never vetoed, warned or marked as having no interaction: a missing post may
only be a post huisheng could not see.

``[compliance]`` in the config sets the thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huisheng.config import Key, Table, register_table
from huisheng.storage.models import Account, Flag, Post, Unit
from huisheng.config.settings import Settings
from huisheng.vocabulary import UnitLevel


@dataclass(frozen=True)
class ComplianceSettings:
    inactive_days: int = 14
    warning_days: int = 10
    #: the window of recent posts looked at for closed comments
    interaction_days: int = 14
    stale_days: int = 90


def _check(values) -> list[tuple[str, str]]:
    if values["warning_days"] > values["inactive_days"]:
        return [("warning_days", f"预警天数 {values['warning_days']} 不应大于否决天数 {values['inactive_days']}")]
    return []


register_table("compliance", Table({
    "inactive_days": Key("int", default=14, low=1, high=3650,
                         doc="days without an original post that fail the check (单项否决)"),
    "warning_days": Key("int", default=10, low=1, high=3650, doc="days without an original post that warn"),
    "interaction_days": Key("int", default=14, low=1, high=3650,
                            doc="recent posts looked at for closed comments (no interaction)"),
    "stale_days": Key("int", default=90, low=1, high=3650, doc="calendar days a flag may stay unanswered"),
}, check=_check))


def compliance_from_settings(settings: Settings) -> ComplianceSettings:
    values = settings.extra.get("compliance")
    if values is None:
        return ComplianceSettings()
    return ComplianceSettings(**{k: values[k] for k in ("inactive_days", "warning_days", "interaction_days",
                                                         "stale_days")})


@dataclass(frozen=True)
class AccountCompliance:
    account_id: int
    platform: str
    uid: str
    name: str
    unit_id: int
    unit_name: str
    level: str
    last_post_at: datetime | None
    #: whole local days from the last original post's day to the check's (None: never)
    days_since_post: int | None
    inactive: bool
    warning: bool
    recent_posts: int
    closed_posts: int
    no_interaction: bool
    stale_flags: int
    #: not judged: never read, or reads failing at the check
    unreadable: bool = False
    #: since when: the failing run's start, or (never read) when the account was added
    unreadable_since: datetime | None = None
    #: the last error's kind (None: never read and never tried yet)
    unreadable_error: str | None = None
    never_read: bool = False
    last_success_at: datetime | None = None


def check_instant(day: date, tz: tzinfo) -> datetime:
    """The check of ``day``: local midnight starting it, in UTC."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(timezone.utc)


def days_since(last: datetime | None, at: datetime, tz: tzinfo) -> int | None:
    """Whole local days from ``last``'s day to ``at``'s (None when ``last`` is)."""
    return None if last is None else (at.astimezone(tz).date() - last.astimezone(tz).date()).days


def silent(days: int | None, threshold: int) -> bool:
    """No original post in the ``threshold`` days before the check's day."""
    return days is None or days > threshold


def unreadable(account: Account, at: datetime) -> tuple[datetime | None, str | None, bool] | None:
    """(since, error kind, never read) when huisheng could not read ``account``
    for a check at ``at``, else None."""
    if account.first_success_at is None:
        return account.created_at, account.last_error_kind, True
    if account.failing_since is not None and account.failing_since < at:
        return account.failing_since, account.last_error_kind, False
    return None


def _last_original_posts(db: Session, at: datetime) -> dict[int, datetime]:
    query = (select(Post.account_id, func.max(Post.created_at))
             .where(Post.account_id.is_not(None), Post.repost_of.is_(None), Post.deleted_at.is_(None),
                    Post.created_at < at)
             .group_by(Post.account_id))
    # max() keeps the column's type (aware UTC) on both backends
    return dict(db.execute(query).all())


def compliance(db: Session, *, at: datetime, rules: ComplianceSettings, tz: tzinfo,
               include_history: bool = False) -> list[AccountCompliance]:
    """Every enabled account at ``at`` (ordered by unit level, unit, account).
    Historical flags (written before monitoring began) count as stale only
    with ``include_history``."""
    last = _last_original_posts(db, at)
    recent_from = at - timedelta(days=rules.interaction_days)
    recent: dict[int, tuple[int, int]] = {}
    for account_id, is_open in db.execute(
            select(Post.account_id, Post.comments_open)
            .where(Post.account_id.is_not(None), Post.repost_of.is_(None), Post.deleted_at.is_(None),
                   Post.created_at >= recent_from, Post.created_at < at)):
        total, closed = recent.get(account_id, (0, 0))
        recent[account_id] = (total + 1, closed + (is_open is False))
    stale_before = at - timedelta(days=rules.stale_days)
    stale_query = (select(Flag.account_id, func.count())
                   .where(Flag.status.in_(("open", "acknowledged")), Flag.started_at < stale_before)
                   .group_by(Flag.account_id))
    if not include_history:
        stale_query = stale_query.where(Flag.historical.is_(False))
    stale = dict(db.execute(stale_query).all())
    out = []
    rows = db.execute(select(Account, Unit).join(Unit, Unit.id == Account.unit_id)
                      .where(Account.enabled.is_(True)))
    for a, unit in rows:
        last_at = last.get(a.id)
        days = days_since(last_at, at, tz)
        total, closed = recent.get(a.id, (0, 0))
        unread = unreadable(a, at)
        judged = unread is None
        since, error, never = unread or (None, None, False)
        out.append(AccountCompliance(
            account_id=a.id, platform=a.platform, uid=a.uid, name=a.name, unit_id=unit.id, unit_name=unit.name,
            level=unit.level, last_post_at=last_at, days_since_post=days,
            inactive=judged and silent(days, rules.inactive_days), warning=judged and silent(days, rules.warning_days),
            recent_posts=total, closed_posts=closed, no_interaction=judged and total > 0 and closed == total,
            stale_flags=stale.get(a.id, 0), unreadable=not judged, unreadable_since=since, unreadable_error=error,
            never_read=never, last_success_at=a.last_success_at))
    levels = UnitLevel.values()
    out.sort(key=lambda c: (levels.index(c.level) if c.level in levels else len(levels), c.unit_name, c.name))
    return out
