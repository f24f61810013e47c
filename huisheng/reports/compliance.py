"""Compliance with the official checks of government accounts, per account.

- 单项否决 (single veto): no original post (reposts don't count, deleted posts
  don't either) in the ``inactive_days`` (14) days before the check;
- a warning at ``warning_days`` (10);
- no interaction: every original post in the recent window has its comments
  closed or restricted (``Post.comments_open is False``);
- flags of the account unanswered (open/acknowledged) for more than
  ``stale_days`` (90) calendar days.

"The N days before the check" is [at − N days, at): with the check at local
midnight starting DATE, a post on DATE − N still counts, one on DATE − N − 1
does not.

``[compliance]`` in the config sets the thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huisheng.monitor.config import Key, Table, register_table
from huisheng.monitor.models import Account, Flag, Post, Unit
from huisheng.monitor.settings import Settings


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
    "inactive_days": Key("int", default=14, positive=True,
                         doc="days without an original post that fail the check (单项否决)"),
    "warning_days": Key("int", default=10, positive=True, doc="days without an original post that warn"),
    "interaction_days": Key("int", default=14, positive=True,
                            doc="recent posts looked at for closed comments (no interaction)"),
    "stale_days": Key("int", default=90, positive=True, doc="calendar days a flag may stay unanswered"),
}, check=_check))


def compliance_from_settings(settings: Settings) -> ComplianceSettings:
    values = settings.extra.get("compliance")
    if values is None:
        return ComplianceSettings()
    return ComplianceSettings(**{k: values[k] for k in ("inactive_days", "warning_days", "interaction_days",
                                                         "stale_days")})


@dataclass(frozen=True)
class InactiveAccount:
    account_id: int
    name: str
    unit_id: int
    unit_name: str
    #: the account's last original post before the check, None if none stored
    last_post_at: datetime | None


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
    #: whole days from the last original post's day to the check (None: never)
    days_since_post: int | None
    inactive: bool
    warning: bool
    recent_posts: int
    closed_posts: int
    no_interaction: bool
    stale_flags: int


def _last_original_posts(db: Session, at: datetime) -> dict[int, datetime]:
    query = (select(Post.account_id, func.max(Post.created_at))
             .where(Post.account_id.is_not(None), Post.repost_of.is_(None), Post.deleted_at.is_(None),
                    Post.created_at < at)
             .group_by(Post.account_id))
    # max() keeps the column's type (aware UTC) on both backends
    return dict(db.execute(query).all())


def inactive_accounts(db: Session, *, at: datetime, days: int) -> list[InactiveAccount]:
    """Enabled accounts with no original post in the ``days`` days before ``at``."""
    last = _last_original_posts(db, at)
    cut = at - timedelta(days=days)
    rows = db.execute(select(Account, Unit.name).join(Unit, Unit.id == Account.unit_id)
                      .where(Account.enabled.is_(True)).order_by(Account.id))
    return [InactiveAccount(a.id, a.name, a.unit_id, unit_name, last.get(a.id))
            for a, unit_name in rows if last.get(a.id) is None or last[a.id] < cut]


def compliance(db: Session, *, at: datetime, rules: ComplianceSettings, tz) -> list[AccountCompliance]:
    """Every enabled account at ``at`` (ordered by unit level, unit, account)."""
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
    stale = dict(db.execute(select(Flag.account_id, func.count())
                            .where(Flag.status.in_(("open", "acknowledged")), Flag.started_at < stale_before)
                            .group_by(Flag.account_id)).all())
    at_day = at.astimezone(tz).date()
    out = []
    rows = db.execute(select(Account, Unit).join(Unit, Unit.id == Account.unit_id)
                      .where(Account.enabled.is_(True)))
    for a, unit in rows:
        last_at = last.get(a.id)
        days = (at_day - last_at.astimezone(tz).date()).days if last_at else None
        total, closed = recent.get(a.id, (0, 0))
        out.append(AccountCompliance(
            account_id=a.id, platform=a.platform, uid=a.uid, name=a.name, unit_id=unit.id, unit_name=unit.name,
            level=unit.level, last_post_at=last_at, days_since_post=days,
            inactive=last_at is None or last_at < at - timedelta(days=rules.inactive_days),
            warning=last_at is None or last_at < at - timedelta(days=rules.warning_days),
            recent_posts=total, closed_posts=closed, no_interaction=total > 0 and closed == total,
            stale_flags=stale.get(a.id, 0)))
    from huisheng.reports.coverage import LEVEL_ORDER

    out.sort(key=lambda c: (LEVEL_ORDER.index(c.level) if c.level in LEVEL_ORDER else 9, c.unit_name, c.name))
    return out
