"""The daily digest: one e-mail per administrator.

An administrator is an e-mail address in ``Unit.admins`` or ``Account.admins``.
A unit's administrator covers the flags owned by the unit and the unit's
accounts; an account's administrator covers the flags under that account's
posts that its unit owns.  Administrators of a parent unit (the district, a
street over its communities) also get the overdue flags of every unit below.

A digest holds: new flags awaiting a reply since the recipient's last digest
(the ``covers_until`` of their newest queued digest; the first one covers the
last 24 hours), urgent first then by category; flags due within one working
day; overdue flags with their ladder step; flags replied since the last
digest; reply coverage over 7 and 30 days beside the district's; and source
health (accounts failing to poll, accounts never read, accounts without an
original post for 10 and 14 days — judged by the compliance report's own
function, at the same check: local midnight starting today — and threads
the platform has not shown in full for a day or more).  Historical
flags (written before their account's monitoring start) are in none of the
lists.  Each flag shows its number, the comment's own time, a link to the
comment itself (the platform's adapter builds it) and what to do next
(:func:`next_step`); a list cut at ``max_items`` says how many it holds.

Gathering reads what every digest needs in a fixed number of queries (units,
accounts, unanswered and recently replied flags, the last digests, coverage,
inactive accounts), then splits it per recipient in memory, so all digests
cost about as much as their sum and no digest scans a table of its own.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from huisheng.adapters import Adapter, load as load_adapter
from huisheng.errors import ConfigError
from huisheng.flags.lifecycle import SOLVABLE
from huisheng.flags.sla import calendar_from_settings
from huisheng.flags.workcal import WorkCalendar
from huisheng.clock import Clock
from huisheng.storage.models import Account, Comment, Flag, FlagEvent, OutboxMessage, Post, Unit
from huisheng.config.settings import Settings
from huisheng.storage.threads import STAYS_UNREADABLE, UnreadThread, unread_threads
from huisheng.notify import outbox
from huisheng.notify.mail import mail_from_settings
from huisheng.notify.render import labels, render
from huisheng.notify.schedule import cron_trigger, digest_from_settings, latest_fire, start_of_day
from huisheng.reports.compliance import (AccountCompliance, ComplianceSettings, check_instant, compliance,
                                         compliance_from_settings)
from huisheng.reports.coverage import coverage
from huisheng.users import signin

log = logging.getLogger("huisheng.digest")

UNANSWERED = ("open", "acknowledged")
#: the order of the category groups after the urgent one
CATEGORY_ORDER = ("complaint", "help", "consultation", "suggestion", "praise")
FIRST_DIGEST_HOURS = 24
#: overdue flags listed per subordinate unit in the escalation section (the rest are counted)
ESCALATION_ITEMS = 3
#: subordinate units whose overdue flags are listed (the others appear with their counts only)
ESCALATION_UNITS = 10
#: unreadable threads listed (the rest are counted)
THREADS_LISTED = 10


# --- records -------------------------------------------------------------------


@dataclass(frozen=True)
class FlagItem:
    id: int
    unit_id: int
    account_id: int
    unit: str
    account: str
    category: str
    urgent: bool
    status: str
    author: str
    text: str
    url: str | None
    routing: str
    routing_reason: str
    created_at: datetime
    due_at: datetime
    due_uncertain: bool
    first_reply_at: datetime | None
    replied_offline: bool
    #: the furthest ladder step taken: reminded | escalated | noticed | stale | None
    step: str | None
    #: when the reply was recorded (the "replied" event), for flags replied lately
    replied_recorded_at: datetime | None = None
    #: when the citizen wrote the comment (the flag's clock starts there)
    written_at: datetime | None = None
    #: the comment's own page on the platform, when it has one (else ``url``, the post)
    comment_url: str | None = None
    #: the date promised for getting it done (办结时间表)
    promised_at: datetime | None = None

    @property
    def on_time(self) -> bool:
        return self.first_reply_at is not None and self.first_reply_at <= self.due_at

    @property
    def action(self) -> str | None:
        return next_step(self.status, self.category, self.promised_at)


@dataclass(frozen=True)
class Section:
    """Items listed (at most ``max_items``) and how many there are in all."""

    items: tuple[FlagItem, ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)


@dataclass(frozen=True)
class Group:
    #: "urgent", a category, or a unit's name
    key: str
    section: Section


@dataclass(frozen=True)
class Rate:
    flags: int
    coverage: float | None
    on_time: float | None


@dataclass(frozen=True)
class CoverageLine:
    label: str
    days7: Rate
    days30: Rate


@dataclass(frozen=True)
class AccountHealth:
    account: str
    unit: str
    errors: int = 0
    error_kind: str | None = None
    error_message: str | None = None
    failing_since: datetime | None = None
    last_post_at: datetime | None = None


@dataclass(frozen=True)
class Digest:
    recipient: str
    #: what the recipient administers: unit names, then account names
    names: tuple[str, ...]
    since: datetime
    until: datetime
    new: tuple[Group, ...]
    new_total: int
    due_soon: Section
    overdue: Section
    replied: Section
    escalation: tuple[Group, ...]
    escalation_total: int
    coverage: tuple[CoverageLine, ...]
    district: CoverageLine
    failing: tuple[AccountHealth, ...]
    silent14: tuple[AccountHealth, ...]
    silent10: tuple[AccountHealth, ...]
    #: never read successfully and not failing either (not polled yet): not judged
    unread: tuple[AccountHealth, ...] = ()
    #: the compliance thresholds silent14 and silent10 stand for
    veto_days: int = 14
    warning_days: int = 10
    #: threads the platform has not shown in full for a day or more (``storage.threads``):
    #: the oldest few, and how many there are
    unread_threads: tuple[UnreadThread, ...] = ()
    unread_threads_total: int = 0

    @property
    def empty(self) -> bool:
        return not (self.new_total or self.due_soon.total or self.overdue.total or self.replied.total
                    or self.escalation_total or self.failing or self.silent14 or self.silent10 or self.unread
                    or self.unread_threads)


@dataclass(frozen=True)
class Scope:
    recipient: str
    units: frozenset[int]
    accounts: frozenset[int]
    #: units below the administered ones (their overdue flags are escalated here)
    subordinates: frozenset[int]


# --- who administers what ------------------------------------------------------------


def scopes(units: Sequence[Unit], accounts: Sequence[Account]) -> dict[str, Scope]:
    """Every administrator's scope, by e-mail address (case-folded)."""
    children: dict[int, list[int]] = defaultdict(list)
    for unit in units:
        if unit.parent_id is not None:
            children[unit.parent_id].append(unit.id)
    admin_units: dict[str, set[int]] = defaultdict(set)
    admin_accounts: dict[str, set[int]] = defaultdict(set)
    for unit in units:
        if unit.enabled:
            for email in unit.admins or ():
                admin_units[email.strip().lower()].add(unit.id)
    for account in accounts:
        if account.enabled:
            for email in account.admins or ():
                admin_accounts[email.strip().lower()].add(account.id)

    def below(unit_id: int) -> set[int]:
        found, stack = set(), list(children.get(unit_id, ()))
        while stack:
            child = stack.pop()
            if child not in found:
                found.add(child)
                stack.extend(children.get(child, ()))
        return found

    out = {}
    for email in sorted(set(admin_units) | set(admin_accounts)):
        own = admin_units.get(email, set())
        sub = set().union(*(below(u) for u in own)) - own if own else set()
        out[email] = Scope(email, frozenset(own), frozenset(admin_accounts.get(email, ())), frozenset(sub))
    return out


def ladder_step(flag: object) -> str | None:
    """The furthest ladder step a flag (or a row of its columns) has taken."""
    for step, column in (("stale", "stale_at"), ("noticed", "noticed_at"), ("escalated", "escalated_at"),
                         ("reminded", "reminded_at")):
        if getattr(flag, column, None) is not None:
            return step
    return None


@lru_cache(maxsize=None)
def _adapter(platform: str) -> type[Adapter] | None:
    try:
        return load_adapter(platform)
    except ConfigError:  # adapter uninstalled since: the flags stay listed, without links
        return None


def post_link(platform: str, url: str | None, author_id: str, short_id: str | None,
              external_id: str) -> str | None:
    """The post on the platform: its stored URL, else the one its adapter builds."""
    if url:
        return url
    adapter = _adapter(platform)
    return adapter.post_url(author_id=author_id, external_id=external_id, short_id=short_id) if adapter else None


def comment_link(platform: str, post_external_id: str, external_id: str,
                 root_external_id: str | None, post_url: str | None = None) -> str | None:
    """The comment's own page on the platform, when its adapter knows one
    (``post_url``: the post's stored address)."""
    adapter = _adapter(platform)
    if adapter is None:
        return None
    return adapter.comment_url(post_external_id=post_external_id, external_id=external_id,
                               root_external_id=root_external_id, post_url=post_url)


def next_step(status: str, category: str, promised_at: datetime | None) -> str | None:
    """What the owner does next with a flag, a key of the labels' ``todo``:
    reply (and, for what takes time to get done, promise a date), then record
    it done and close it (办结销号); None when nothing is left to do."""
    solvable = category in SOLVABLE
    if status in ("open", "acknowledged"):
        if not solvable:
            return "reply"
        return "reply_promised" if promised_at is not None else "reply_or_promise"
    if status == "replied":
        return "promise" if solvable and promised_at is None else "resolve"
    if status == "resolved":
        return "close"
    return None


def workbench_url(settings: Settings) -> str | None:
    """The workbench's address (``[web] public_url``): flags link to their page there."""
    url = (settings.extra.get("web") or {}).get("public_url")
    return url.rstrip("/") if url else None


# --- gathering -----------------------------------------------------------------------


@dataclass
class _District:
    units: dict[int, Unit]
    accounts: dict[int, Account]
    flags_by_unit: dict[int, list[FlagItem]] = field(default_factory=dict)
    last_digest: dict[str, datetime] = field(default_factory=dict)
    coverage: dict[str, dict[str, Rate]] = field(default_factory=dict)
    #: the compliance check of every enabled account, by account id
    checks: dict[int, AccountCompliance] = field(default_factory=dict)
    rules: ComplianceSettings = ComplianceSettings()
    #: threads that stay unreadable, by account id
    threads: dict[int, list[UnreadThread]] = field(default_factory=dict)


def _rate(row: object | None) -> Rate:
    if row is None:
        return Rate(0, None, None)
    return Rate(row.flags, row.coverage, row.on_time_coverage)


def _coverage(session: Session, calendar: WorkCalendar, now: datetime,
              unit_ids: Iterable[int] | None) -> dict[str, dict[str, Rate]]:
    """Rates per window ("days7", "days30"), keyed by unit id (as text) and "district"."""
    wanted = None if unit_ids is None else sorted(set(unit_ids))
    out: dict[str, dict[str, Rate]] = defaultdict(dict)
    for window, days in (("days7", 7), ("days30", 30)):
        start = now - timedelta(days=days)
        for row in coverage(session, by="unit", start=start, end=now, calendar=calendar, units=wanted, now=now):
            out[str(row.ref_id)][window] = _rate(row)
        district = coverage(session, by="district", start=start, end=now, calendar=calendar, now=now)
        out["district"][window] = _rate(district[0] if district else None)
    return out


def _load(session: Session, now: datetime, calendar: WorkCalendar, wanted: Mapping[str, Scope] | None,
          all_scopes: Mapping[str, Scope], units: dict[int, Unit], accounts: dict[int, Account],
          rules: ComplianceSettings) -> _District:
    district = _District(units, accounts, rules=rules)
    chosen = all_scopes if wanted is None else wanted
    restrict = wanted is not None
    unit_ids: set[int] = set()
    for scope in chosen.values():
        unit_ids |= scope.units | scope.subordinates
        unit_ids |= {accounts[a].unit_id for a in scope.accounts}

    query = select(OutboxMessage.recipient, func.max(OutboxMessage.covers_until)).where(
        OutboxMessage.kind == "digest", OutboxMessage.covers_until <= now).group_by(OutboxMessage.recipient)
    if restrict:
        query = query.where(OutboxMessage.recipient.in_(list(chosen)))
    district.last_digest = {r.lower(): at for r, at in session.execute(query) if at is not None}
    earliest = min([district.last_digest.get(r, now - timedelta(hours=FIRST_DIGEST_HOURS))
                    for r in chosen] or [now])

    replied = select(FlagEvent.flag_id, func.max(FlagEvent.at)).where(
        FlagEvent.kind == "replied", FlagEvent.at > earliest, FlagEvent.at <= now).group_by(FlagEvent.flag_id)
    replied_at = dict(session.execute(replied).all())

    flags = (select(Flag.id, Flag.unit_id, Flag.account_id, Flag.category, Flag.urgent, Flag.status,
                    Flag.author_name, Comment.text, Post.platform, Post.url, Post.author_id, Post.short_id,
                    Post.external_id, Flag.routing, Flag.routing_reason, Flag.created_at, Flag.due_at,
                    Flag.due_uncertain, Flag.first_reply_at, Flag.replied_offline, Flag.reminded_at,
                    Flag.escalated_at, Flag.noticed_at, Flag.stale_at, Flag.started_at, Flag.promised_at,
                    Comment.external_id.label("comment_external_id"), Comment.root_external_id)
             .join(Comment, Comment.id == Flag.comment_id).join(Post, Post.id == Flag.post_id)
             # history (written before the account's monitoring start) is no one's backlog
             .where(Flag.created_at <= now, Flag.historical.is_(False)))
    wanted_flags = Flag.status.in_(UNANSWERED)
    if replied_at:
        wanted_flags = or_(wanted_flags, Flag.id.in_(
            select(FlagEvent.flag_id).where(FlagEvent.kind == "replied", FlagEvent.at > earliest,
                                            FlagEvent.at <= now)))
    flags = flags.where(wanted_flags)
    if restrict:
        flags = flags.where(Flag.unit_id.in_(sorted(unit_ids)))
    for row in session.execute(flags):
        account = accounts.get(row.account_id)
        unit = units.get(row.unit_id)
        item = FlagItem(
            id=row.id, unit_id=row.unit_id, account_id=row.account_id, unit=unit.name if unit else "",
            account=account.name if account else "", category=row.category, urgent=row.urgent,
            status=row.status, author=row.author_name, text=row.text,
            url=post_link(row.platform, row.url, row.author_id, row.short_id, row.external_id),
            routing=row.routing, routing_reason=row.routing_reason, created_at=row.created_at,
            due_at=row.due_at, due_uncertain=row.due_uncertain, first_reply_at=row.first_reply_at,
            replied_offline=row.replied_offline, step=ladder_step(row),
            replied_recorded_at=replied_at.get(row.id), written_at=row.started_at,
            comment_url=comment_link(row.platform, row.external_id, row.comment_external_id,
                                     row.root_external_id, row.url),
            promised_at=row.promised_at)
        district.flags_by_unit.setdefault(row.unit_id, []).append(item)

    district.coverage = _coverage(session, calendar, now, unit_ids if restrict else None)
    # the same check as `report compliance` of today
    at = check_instant(now.astimezone(calendar.tz).date(), calendar.tz)
    district.checks = {c.account_id: c for c in compliance(session, at=at, rules=rules, tz=calendar.tz)}
    for thread in unread_threads(session, incomplete_before=now - STAYS_UNREADABLE):
        district.threads.setdefault(thread.account_id, []).append(thread)
    return district


def _section(items: list[FlagItem], limit: int) -> Section:
    return Section(tuple(items[:limit]), len(items))


def _digest(scope: Scope, district: _District, now: datetime, soon: datetime, limit: int) -> Digest:
    units, accounts = district.units, district.accounts
    since = district.last_digest.get(scope.recipient, now - timedelta(hours=FIRST_DIGEST_HOURS))
    own: list[FlagItem] = []
    for unit_id in sorted(scope.units):
        own.extend(district.flags_by_unit.get(unit_id, ()))
    for account_id in sorted(scope.accounts):
        account = accounts[account_id]
        if account.unit_id not in scope.units:
            own.extend(f for f in district.flags_by_unit.get(account.unit_id, ()) if f.account_id == account_id)

    waiting = [f for f in own if f.status in UNANSWERED]
    new = sorted((f for f in waiting if f.created_at > since), key=lambda f: (f.created_at, f.id))
    groups = []
    urgent = [f for f in new if f.urgent]
    if urgent:
        groups.append(Group("urgent", _section(urgent, limit)))
    for category in CATEGORY_ORDER + tuple(sorted({f.category for f in new} - set(CATEGORY_ORDER))):
        items = [f for f in new if not f.urgent and f.category == category]
        if items:
            groups.append(Group(category, _section(items, limit)))
    due_soon = sorted((f for f in waiting if now <= f.due_at <= soon), key=lambda f: (f.due_at, f.id))
    overdue = sorted((f for f in waiting if f.due_at < now), key=lambda f: (f.due_at, f.id))
    replied = sorted((f for f in own if f.replied_recorded_at is not None and f.replied_recorded_at > since),
                     key=lambda f: (f.replied_recorded_at, f.id))

    escalation = []
    for unit_id in scope.subordinates:
        late = sorted((f for f in district.flags_by_unit.get(unit_id, ())
                       if f.status in UNANSWERED and f.due_at < now), key=lambda f: (f.due_at, f.id))
        if late:
            escalation.append(Group(units[unit_id].name, _section(late, min(limit, ESCALATION_ITEMS))))
    # the units that let most slip first; a district has many units, so only the worst few list
    # their oldest flags (the rest are counted in the section's summary)
    escalation.sort(key=lambda g: (-g.section.total, g.key))
    escalation = [g if n < ESCALATION_UNITS else Group(g.key, Section((), g.section.total))
                  for n, g in enumerate(escalation)]
    escalation_total = sum(g.section.total for g in escalation)

    cover_units = sorted(scope.units | {accounts[a].unit_id for a in scope.accounts})
    empty_rate = Rate(0, None, None)

    def line(label: str, key: str) -> CoverageLine:
        rates = district.coverage.get(key, {})
        return CoverageLine(label, rates.get("days7", empty_rate), rates.get("days30", empty_rate))

    watched_units = scope.units | scope.subordinates
    watched = sorted((a for a in accounts.values()
                      if a.enabled and (a.unit_id in watched_units or a.id in scope.accounts)),
                     key=lambda a: (a.name, a.id))

    def health(account: Account) -> AccountHealth:
        check = district.checks.get(account.id)
        return AccountHealth(account.name, units[account.unit_id].name, account.consecutive_errors,
                             account.last_error_kind, account.last_error_message,
                             account.failing_since or (check.unreadable_since if check else None),
                             check.last_post_at if check else None)

    failing = tuple(health(a) for a in watched if a.consecutive_errors > 0)
    checks = [(a, district.checks[a.id]) for a in watched if a.id in district.checks]
    silent14 = tuple(health(a) for a, c in checks if c.inactive)
    silent10 = tuple(health(a) for a, c in checks if c.warning and not c.inactive)
    unread = tuple(health(a) for a, c in checks if c.never_read and a.consecutive_errors == 0)
    threads = sorted((t for a in watched for t in district.threads.get(a.id, ())), key=lambda t: t.since)

    names = tuple(units[u].name for u in sorted(scope.units, key=lambda u: (units[u].name, u)))
    names += tuple(accounts[a].name for a in sorted(scope.accounts, key=lambda a: (accounts[a].name, a)))
    return Digest(
        recipient=scope.recipient, names=names, since=since, until=now, new=tuple(groups), new_total=len(new),
        due_soon=_section(due_soon, limit), overdue=_section(overdue, limit), replied=_section(replied, limit),
        escalation=tuple(escalation), escalation_total=escalation_total,
        coverage=tuple(line(units[u].name, str(u)) for u in cover_units),
        district=line("district", "district"), failing=failing, silent14=silent14, silent10=silent10,
        unread=unread, veto_days=district.rules.inactive_days, warning_days=district.rules.warning_days,
        unread_threads=tuple(threads[:THREADS_LISTED]), unread_threads_total=len(threads))


def gather(session: Session, *, now: datetime, calendar: WorkCalendar, recipients: Iterable[str] | None = None,
           max_items: int = 50, rules: ComplianceSettings = ComplianceSettings()) -> list[Digest]:
    """The digests of ``recipients`` (default: every administrator), by address;
    ``rules``: the ``[compliance]`` thresholds of source health."""
    units = {u.id: u for u in session.scalars(select(Unit))}
    accounts = {a.id: a for a in session.scalars(select(Account))}
    all_scopes = scopes(list(units.values()), list(accounts.values()))
    wanted = None
    if recipients is not None:
        wanted = {r.strip().lower(): all_scopes[r.strip().lower()] for r in recipients
                  if r.strip().lower() in all_scopes}
    district = _load(session, now, calendar, wanted, all_scopes, units, accounts, rules)
    soon = calendar.add(now, 1).at
    chosen = all_scopes if wanted is None else wanted
    return [_digest(scope, district, now, soon, max_items) for scope in chosen.values()]


# --- rendering -----------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedDigest:
    recipient: str
    subject: str
    text: str
    html: str


def title(names: Sequence[str], locale: str) -> str:
    if len(names) <= 1:
        return names[0] if names else ""
    if locale == "en":
        return f"{names[0]} and {len(names) - 1} more"
    return f"{names[0]} 等 {len(names)} 个单位和账号"


def subject(digest: Digest, locale: str) -> str:
    words = labels(locale)
    text = words["subject"].format(title=title(digest.names, locale), new=digest.new_total,
                                   overdue=digest.overdue.total)
    if digest.escalation_total:
        text += words["subject_escalated"].format(escalated=digest.escalation_total)
    return text


def render_digest(digest: Digest, *, locale: str = "zh", tz: str = "Asia/Shanghai",
                  workbench: str | None = None) -> RenderedDigest:
    """``workbench``: the workbench's address; each flag then links to its page there."""
    context = dict(d=digest, title=title(digest.names, locale), locale=locale, tz=tz, workbench=workbench)
    return RenderedDigest(digest.recipient, subject(digest, locale),
                          render("mail/digest.txt.j2", **context), render("mail/digest.html.j2", **context))


# --- the job -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    recipient: str
    subject: str
    #: queued | duplicate (already queued for the period) | empty (not sent) | dry-run
    status: str


class DigestJob:
    """Queues every administrator's digest when the cron time has passed.

    ``run(now)`` is cheap when nothing is due (it runs every minute): it only
    walks the cron times since its last run.  After a restart it looks back to
    the start of the local day, so a digest missed while the daemon was down
    goes out late rather than never; the outbox's dedup key (recipient,
    "digest", local date) keeps a second run the same day from queuing twice.
    Without a ``[mail]`` host it queues nothing (like the alerts).
    """

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, settings: Settings):
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        self.config = digest_from_settings(settings)
        self.calendar = calendar_from_settings(settings)
        self.mail = mail_from_settings(settings)
        self.compliance = compliance_from_settings(settings)
        self.locale = self.config.locale or self.mail.locale
        self.workbench = workbench_url(settings)
        self.trigger = cron_trigger(self.config.cron, settings.timezone)
        self._checked: datetime | None = None

    def run(self, now: datetime | None = None) -> list[Outcome]:
        now = now or self.clock.now()
        since = self._checked or start_of_day(now, self.settings.timezone)
        fired = latest_fire(self.trigger, since, now)
        if fired is None or not self.mail.enabled:  # no [mail] host: no digests pile up unsent
            self._checked = now
            return []
        day = fired.astimezone(self.calendar.tz).date()
        if self.config.working_days_only and not self.calendar.is_workday(day):
            log.info("digest skipped: %s is not a working day", day)
            self._checked = now
            return []
        outcomes = self.send(now, period=day.isoformat())
        # only now: if sending failed (database down), the next run tries again
        self._checked = now
        return outcomes

    def send(self, now: datetime, *, period: str | None = None, dry_run: bool = False,
             recipients: Iterable[str] | None = None) -> list[Outcome]:
        """Gather, render and queue (or, dry, only list) the digests for ``period``
        (default: ``now``'s local date)."""
        period = period or now.astimezone(self.calendar.tz).date().isoformat()
        outcomes = []
        with self.sessions() as session:
            done = set(session.scalars(select(OutboxMessage.recipient).where(
                OutboxMessage.kind == "digest", OutboxMessage.period == period)))
            done = {r.lower() for r in done}
            if recipients is None:
                units = session.scalars(select(Unit)).all()
                accounts = session.scalars(select(Account)).all()
                recipients = list(scopes(units, accounts))
            todo = [r for r in recipients if r.strip().lower() not in done]
            outcomes += [Outcome(r, "", "duplicate") for r in recipients if r.strip().lower() in done]
            if todo:
                digests = gather(session, now=now, calendar=self.calendar, recipients=todo,
                                 max_items=self.config.max_items, rules=self.compliance)
            else:
                digests = []
            for digest in digests:
                if digest.empty and not self.config.send_empty:
                    outcomes.append(Outcome(digest.recipient, subject(digest, self.locale), "empty"))
                    continue
                links = None if dry_run else signin.mail_link_base(session, self.workbench, digest.recipient, now)
                rendered = render_digest(digest, locale=self.locale, tz=self.settings.timezone,
                                         workbench=links or self.workbench)
                if dry_run:
                    outcomes.append(Outcome(digest.recipient, rendered.subject, "dry-run"))
                    continue
                message = outbox.enqueue(session, recipient=digest.recipient, kind="digest", period=period,
                                         subject=rendered.subject, text=rendered.text, html=rendered.html,
                                         now=now, mail=self.mail, covers_from=digest.since,
                                         covers_until=digest.until)
                outcomes.append(Outcome(digest.recipient, rendered.subject,
                                        "queued" if message is not None else "duplicate"))
            if not dry_run:
                session.commit()
        queued = sum(o.status == "queued" for o in outcomes)
        if queued:
            log.info("digests queued for %s: %d", period, queued)
        return outcomes

    def preview(self, recipient: str, now: datetime) -> RenderedDigest | None:
        """The digest ``recipient`` would get at ``now``, rendered, nothing queued."""
        with self.sessions() as session:
            found = gather(session, now=now, calendar=self.calendar, recipients=[recipient],
                           max_items=self.config.max_items, rules=self.compliance)
        if not found:
            return None
        return render_digest(found[0], locale=self.locale, tz=self.settings.timezone, workbench=self.workbench)
