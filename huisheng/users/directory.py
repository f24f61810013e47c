"""Users, roles and what each may see.

A unit administrator sees and acts on the flags of their units and of those
units' subordinate units (a street administrator sees the street's
communities); an auditor sees everything and acts on nothing; a district
administrator sees and does everything, users included.

The administrators named in the matrix (a unit's ``admins``, an account's
``admins``) are users by that fact: :func:`sync_matrix_users` keeps them in step
with the units table after every ``matrix sync``.  People added by hand
(``huisheng users add``) are never touched by it.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from huisheng.errors import HuishengError
from huisheng.storage.models import Account, Unit, User


class Role(StrEnum):
    UNIT_ADMIN = "unit_admin"
    AUDITOR = "auditor"
    DISTRICT_ADMIN = "district_admin"


ROLE_LABELS = {
    Role.UNIT_ADMIN: {"zh": "单位管理员", "en": "Unit administrator"},
    Role.AUDITOR: {"zh": "考评员", "en": "Auditor"},
    Role.DISTRICT_ADMIN: {"zh": "区管理员", "en": "District administrator"},
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserError(HuishengError):
    """A user operation that cannot be done (unknown user, bad role, …)."""


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise UserError(f"不是有效的电子邮件地址：{email!r}")
    return email


def find_user(session: Session, email: str) -> User | None:
    try:
        email = normalize_email(email)
    except UserError:
        return None
    return session.scalars(select(User).where(User.email == email)).one_or_none()


def add_user(session: Session, email: str, *, role: Role, units: Iterable[Unit] = (), name: str = "",
             now: datetime) -> User:
    email = normalize_email(email)
    units = list(units)
    if find_user(session, email) is not None:
        raise UserError(f"用户 {email} 已存在（用 huisheng users role 修改角色）")
    if role == Role.UNIT_ADMIN and not units:
        raise UserError("单位管理员须指定所属单位（--unit）")
    user = User(email=email, name=name, role=str(role), source="manual", enabled=True, created_at=now,
                updated_at=now, units=units)
    session.add(user)
    session.flush()
    return user


def set_role(user: User, role: Role, *, units: Iterable[Unit] | None = None, now: datetime) -> None:
    if units is not None:
        user.units = list(units)
    if role == Role.UNIT_ADMIN and not user.units:
        raise UserError("单位管理员须指定所属单位（--unit）")
    user.role = str(role)
    user.updated_at = now


def sync_matrix_users(session: Session, now: datetime) -> list[str]:
    """Make every administrator named in the matrix a unit administrator of the
    units naming them (an account's admins: of the account's owner unit).
    A matrix user named nowhere any more is disabled; one named again is
    enabled.  A role changed by hand (``users role``) is kept.  Returns lines
    describing the changes, for the command that ran the sync."""
    named: dict[str, set[int]] = {}
    for unit in session.scalars(select(Unit).where(Unit.enabled.is_(True))):
        for email in unit.admins or ():
            named.setdefault(email.strip().lower(), set()).add(unit.id)
    for account in session.scalars(select(Account).where(Account.enabled.is_(True))):
        for email in account.admins or ():
            named.setdefault(email.strip().lower(), set()).add(account.unit_id)
    units = {u.id: u for u in session.scalars(select(Unit))}
    existing = {u.email: u for u in session.scalars(select(User))}
    changes: list[str] = []
    for email, unit_ids in sorted(named.items()):
        user = existing.get(email)
        wanted = [units[i] for i in sorted(unit_ids)]
        if user is None:
            session.add(User(email=email, name="", role=str(Role.UNIT_ADMIN), source="matrix", enabled=True,
                             created_at=now, updated_at=now, units=wanted))
            changes.append(f"新增用户 {email}（{'、'.join(u.name for u in wanted)}）")
        elif user.source == "matrix":
            if [u.id for u in user.units] != [u.id for u in wanted] or not user.enabled:
                user.units = wanted
                user.enabled = True
                user.updated_at = now
                changes.append(f"更新用户 {email}（{'、'.join(u.name for u in wanted)}）")
    for email, user in existing.items():
        if user.source == "matrix" and user.enabled and email not in named:
            user.enabled = False
            user.updated_at = now
            changes.append(f"停用用户 {email}（矩阵中已无此管理员）")
    session.flush()
    return _condensed(changes)


#: change lines listed one by one at most (a first sync adds every administrator)
LIST_LIMIT = 10


def _condensed(changes: list[str]) -> list[str]:
    if len(changes) <= LIST_LIMIT:
        return changes
    kinds: dict[str, int] = {}
    for line in changes:
        kinds[line[:4]] = kinds.get(line[:4], 0) + 1
    summary = "，".join(f"{kind} {n} 个" for kind, n in kinds.items())
    return changes[:LIST_LIMIT] + [f"……共 {summary}（huisheng users list 列出全部）"]


def visible_units(session: Session, user: User) -> set[int] | None:
    """The unit ids whose flags ``user`` may see; None means all of them."""
    if user.role in (Role.AUDITOR, Role.DISTRICT_ADMIN):
        return None
    children: dict[int, list[int]] = {}
    for unit_id, parent_id in session.execute(select(Unit.id, Unit.parent_id)):
        if parent_id is not None:
            children.setdefault(parent_id, []).append(unit_id)
    seen: set[int] = set()
    stack = [u.id for u in user.units]
    while stack:
        unit_id = stack.pop()
        if unit_id not in seen:
            seen.add(unit_id)
            stack.extend(children.get(unit_id, ()))
    return seen


def can_see(scope: set[int] | None, unit_id: int) -> bool:
    return scope is None or unit_id in scope


def can_act(user: User, scope: set[int] | None, unit_id: int) -> bool:
    """Auditors only look; a district administrator acts anywhere; a unit
    administrator on their own units' flags."""
    if user.role == Role.AUDITOR:
        return False
    return can_see(scope, unit_id)
