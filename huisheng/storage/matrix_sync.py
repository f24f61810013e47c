"""Loading the matrix into the database (``huisheng matrix sync``).

Idempotent: a second sync of the same matrix changes nothing.  Units and
accounts are upserted by unit code and by (platform, uid).  Nothing is ever
deleted, so history stays attached: an account gone from the matrix (or marked
``enabled = false``) is disabled with ``disabled_at``; a unit gone from it is
disabled.  An owner-unit change is recorded as an :class:`AccountOwnerChange`.
New and re-enabled accounts are due at once (``next_check_at = now``).
An account's ``monitoring_start`` follows the matrix when it names one; when
it does not (or no longer does), it is the first successful poll minus the
grace (``history_start``), or unset while the account has never been read.
A sync that changes anything bumps the matrix's revision
(:func:`matrix_revision`), which tells a running decide step to rebuild its
directory of units and accounts.

The caller owns the transaction: :func:`sync_matrix` flushes, never commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Callable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from huisheng.storage.models import Account, AccountOwnerChange, MatrixRevision, Unit
from huisheng.config.settings import AccountSpec, Matrix, UnitSpec


#: items listed per line of a report (a first sync adds every unit)
LIST_LIMIT = 20


@dataclass(frozen=True)
class OwnerChange:
    platform: str
    uid: str
    old_unit: str | None
    new_unit: str


@dataclass(frozen=True)
class SyncReport:
    """What a sync changed: unit codes and ``platform:uid`` account keys
    (``names`` gives each one's name, for people)."""

    units_added: tuple[str, ...] = ()
    units_updated: tuple[str, ...] = ()
    units_disabled: tuple[str, ...] = ()
    accounts_added: tuple[str, ...] = ()
    accounts_updated: tuple[str, ...] = ()
    accounts_disabled: tuple[str, ...] = ()
    accounts_reenabled: tuple[str, ...] = ()
    owner_changes: tuple[OwnerChange, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict, compare=False)

    def _named(self, key: str | None) -> str:
        if key is None:
            return "（无）"
        name = self.names.get(key)
        return f"{name}（{key}）" if name else key

    @property
    def changed(self) -> bool:
        return any((self.units_added, self.units_updated, self.units_disabled, self.accounts_added,
                    self.accounts_updated, self.accounts_disabled, self.accounts_reenabled,
                    self.owner_changes))

    def lines(self) -> list[str]:
        """Human-readable summary for district staff."""
        if not self.changed:
            return ["矩阵与数据库一致，无变更。"]
        out = []
        for label, items in (("新增单位", self.units_added), ("更新单位", self.units_updated),
                             ("停用单位", self.units_disabled), ("新增账号", self.accounts_added),
                             ("更新账号", self.accounts_updated), ("停用账号", self.accounts_disabled),
                             ("重新启用账号", self.accounts_reenabled)):
            if items:
                shown = "、".join(self._named(k) for k in items[:LIST_LIMIT])
                more = f" 等（另 {len(items) - LIST_LIMIT} 个）" if len(items) > LIST_LIMIT else ""
                out.append(f"{label} {len(items)} 个：{shown}{more}")
        for change in self.owner_changes:
            out.append(f"主办单位变更：{self._named(f'{change.platform}:{change.uid}')} "
                       f"{self._named(change.old_unit)} → {self._named(change.new_unit)}")
        return out


def _unit_values(spec: UnitSpec) -> dict:
    return {"name": spec.name, "level": spec.level, "aliases": list(spec.aliases),
            "admins": list(spec.admins)}


def _account_values(spec: AccountSpec) -> dict:
    return {"name": spec.name, "poll_interval": spec.poll_interval, "admins": list(spec.admins),
            "cookie_env": spec.cookie_env}


def monitoring_start(spec: AccountSpec, tz: ZoneInfo) -> datetime | None:
    """The matrix's start as an aware instant: a date is local midnight, a
    date-time without offset local time."""
    value = spec.monitoring_start
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _apply(row: object, values: dict) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def sync_matrix(session: Session, matrix: Matrix, now: datetime, *, timezone: str = "Asia/Shanghai",
                history_start: Callable[[datetime], datetime] | None = None) -> SyncReport:
    """Make the database's units and accounts match ``matrix`` (see module doc).

    ``history_start`` turns an account's first successful poll into its
    monitoring start (the configured grace, :meth:`huisheng.flags.sla.History.start_for`);
    without it a start the matrix no longer names is left as it is."""
    tz = ZoneInfo(timezone)
    added_u, updated_u, disabled_u = [], [], []
    units = {u.code: u for u in session.scalars(select(Unit).order_by(Unit.id))}
    for spec in matrix.units:
        row = units.get(spec.code)
        if row is None:
            row = Unit(code=spec.code, enabled=True, created_at=now, updated_at=now, **_unit_values(spec))
            session.add(row)
            units[spec.code] = row
            added_u.append(spec.code)
        else:
            changed = _apply(row, {**_unit_values(spec), "enabled": True})
            if changed:
                row.updated_at = now
                updated_u.append(spec.code)
    session.flush()  # ids for parent links
    for spec in matrix.units:
        row = units[spec.code]
        parent_id = units[spec.parent].id if spec.parent else None
        if row.parent_id != parent_id:
            row.parent_id = parent_id
            row.updated_at = now
            if spec.code not in added_u and spec.code not in updated_u:
                updated_u.append(spec.code)
    wanted_units = {u.code for u in matrix.units}
    for code, row in units.items():
        if code not in wanted_units and row.enabled:
            row.enabled = False
            row.updated_at = now
            disabled_u.append(code)

    added_a, updated_a, disabled_a, reenabled_a, owners = [], [], [], [], []
    accounts = {(a.platform, a.uid): a for a in session.scalars(select(Account).order_by(Account.id))}
    wanted = set()
    for spec in matrix.accounts:
        key = (spec.platform, spec.uid)
        label = f"{spec.platform}:{spec.uid}"
        wanted.add(key)
        unit = units[spec.unit]
        row = accounts.get(key)
        if row is None:
            row = Account(platform=spec.platform, uid=spec.uid, unit_id=unit.id, enabled=spec.enabled,
                          disabled_at=None if spec.enabled else now, created_at=now, next_check_at=now,
                          consecutive_errors=0, adapter_state={}, monitoring_start=monitoring_start(spec, tz),
                          **_account_values(spec))
            session.add(row)
            added_a.append(label)
            continue
        changed = _apply(row, _account_values(spec))
        start = monitoring_start(spec, tz)
        if start is None and history_start is not None:
            # the matrix names none (any more): back to the first successful poll
            start = history_start(row.first_success_at) if row.first_success_at is not None else None
        if (start is not None or history_start is not None) and row.monitoring_start != start:
            row.monitoring_start = start
            changed = True
        if row.unit_id != unit.id:
            old = next((c for c, u in units.items() if u.id == row.unit_id), None)
            session.add(AccountOwnerChange(account_id=row.id, old_unit_id=row.unit_id, new_unit_id=unit.id,
                                           changed_at=now))
            owners.append(OwnerChange(spec.platform, spec.uid, old, spec.unit))
            row.unit_id = unit.id
        if changed:
            updated_a.append(label)
        if spec.enabled and not row.enabled:
            row.enabled, row.disabled_at, row.next_check_at = True, None, now
            reenabled_a.append(label)
        elif not spec.enabled and row.enabled:
            row.enabled, row.disabled_at = False, now
            disabled_a.append(label)
    for key, row in accounts.items():
        if key not in wanted and row.enabled:
            row.enabled, row.disabled_at = False, now
            disabled_a.append(f"{row.platform}:{row.uid}")
    session.flush()
    report = SyncReport(units_added=tuple(added_u), units_updated=tuple(updated_u),
                        units_disabled=tuple(disabled_u), accounts_added=tuple(added_a),
                        accounts_updated=tuple(updated_a), accounts_disabled=tuple(disabled_a),
                        accounts_reenabled=tuple(reenabled_a), owner_changes=tuple(owners),
                        names={**{code: row.name for code, row in units.items()},
                               **{f"{row.platform}:{row.uid}": row.name for row in accounts.values()},
                               **{f"{a.platform}:{a.uid}": a.name for a in matrix.accounts}})
    if report.changed:
        _bump_revision(session)
    return report


def _bump_revision(session: Session) -> None:
    # one UPDATE: two syncs at once each count (the migration puts the row there)
    if not session.execute(update(MatrixRevision).where(MatrixRevision.id == 1)
                           .values(revision=MatrixRevision.revision + 1)).rowcount:
        session.execute(insert(MatrixRevision).values(id=1, revision=1))


_REVISION = select(MatrixRevision.revision).where(MatrixRevision.id == 1)


def matrix_revision(db: Session | Connection) -> int:
    """How many syncs have changed the matrix in the database (one primary-key
    read, through the connection: the decide step asks every batch)."""
    connection = db.connection() if isinstance(db, Session) else db
    return connection.scalar(_REVISION) or 0


def matrix_from_db(session: Session) -> tuple[Matrix, dict[str, int], dict[tuple[str, str], int]]:
    """The matrix as the database holds it (units and enabled accounts), with
    unit code → row id and account (platform, uid) → row id (the same uid on
    two platforms is two accounts)."""
    units = session.scalars(select(Unit).where(Unit.enabled.is_(True))).all()
    by_id = {u.id: u for u in units}
    unit_specs = tuple(UnitSpec(code=u.code, name=u.name, level=u.level,
                                parent=by_id[u.parent_id].code if u.parent_id in by_id else None,
                                aliases=tuple(u.aliases or ()), admins=tuple(u.admins or ()))
                       for u in units)
    accounts = session.scalars(select(Account)).all()
    account_specs = tuple(AccountSpec(platform=a.platform, uid=a.uid, name=a.name, unit=by_id[a.unit_id].code,
                                      enabled=a.enabled)
                          for a in accounts if a.unit_id in by_id)
    return (Matrix(units=unit_specs, accounts=account_specs), {u.code: u.id for u in units},
            {(a.platform, a.uid): a.id for a in accounts})
