"""``huisheng users …``: the people who use the workbench."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select

from huisheng.cli._common import config_option, fail_cleanly, require_schema
from huisheng.storage.models import Unit, User
from huisheng.cli.tables import text_table
from huisheng.users import ROLE_LABELS, Role, UserError, add_user, find_user, set_role, sync_matrix_users

ROLE_CHOICES = [str(r) for r in Role]


class _Db:
    def __init__(self, config: Path):
        from huisheng.clock import Clock
        from huisheng.config import load_settings
        from huisheng.storage.db import make_engine, session_factory

        self.settings = load_settings(config)
        require_schema(self.settings.database_url)
        self.engine = make_engine(self.settings.database_url)
        self.sessions = session_factory(self.engine)
        self.now = Clock().now()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.engine.dispose()


def _units(session, keys: tuple[str, ...]) -> list[Unit]:
    units = []
    for key in keys:
        found = session.scalars(select(Unit).where((Unit.code == key) | (Unit.name == key))).all()
        if len(found) != 1:
            raise UserError(f"找不到单位“{key}”（请给出单位代码或全称）")
        units.append(found[0])
    return units


def _user(session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise UserError(f"没有用户 {email}（huisheng users list 列出全部）")
    return user


@click.group("users")
def users_group() -> None:
    """Workbench users (用户): matrix administrators and people added by hand."""


@users_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@config_option
@fail_cleanly
def list_users(fmt: str, config: Path) -> None:
    """Every user, with role, units and how they came to be one."""
    with _Db(config) as env, env.sessions.begin() as session:
        sync_matrix_users(session, env.now)
        users = session.scalars(select(User).order_by(User.email)).all()
        records = [{"email": u.email, "name": u.name, "role": u.role, "units": [x.name for x in u.units],
                    "source": u.source, "enabled": u.enabled, "password": u.password_hash is not None}
                   for u in users]
    if fmt == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
        return
    rows = [("邮箱", "姓名", "角色", "单位", "来源", "状态", "密码")]
    for r in records:
        rows.append((r["email"], r["name"], ROLE_LABELS[Role(r["role"])]["zh"], "、".join(r["units"]) or "—",
                     "矩阵" if r["source"] == "matrix" else "手动", "启用" if r["enabled"] else "停用",
                     "有" if r["password"] else "—"))
    click.echo(text_table(rows))
    click.echo(f"{len(records)} 个用户")


@users_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLE_CHOICES), default=str(Role.UNIT_ADMIN), show_default=True)
@click.option("--unit", "units", multiple=True, help="Unit code or name (unit administrators; repeatable).")
@click.option("--name", default="", help="The person's name, as shown in the workbench.")
@config_option
@fail_cleanly
def add(email: str, role: str, units: tuple[str, ...], name: str, config: Path) -> None:
    """Add a person (an auditor, a district administrator, a unit's extra staff)."""
    with _Db(config) as env, env.sessions.begin() as session:
        user = add_user(session, email, role=Role(role), units=_units(session, units), name=name, now=env.now)
        label = ROLE_LABELS[Role(role)]["zh"]
        click.echo(f"已添加用户 {user.email}（{label}）")


def _set_enabled(config: Path, email: str, enabled: bool) -> None:
    with _Db(config) as env, env.sessions.begin() as session:
        user = _user(session, email)
        user.enabled = enabled
        user.updated_at = env.now
        click.echo(f"已{'启用' if enabled else '停用'}用户 {user.email}")


@users_group.command("disable")
@click.argument("email")
@config_option
@fail_cleanly
def disable(email: str, config: Path) -> None:
    """Disable a user: their sessions and sign-in links stop working at once."""
    _set_enabled(config, email, False)


@users_group.command("enable")
@click.argument("email")
@config_option
@fail_cleanly
def enable(email: str, config: Path) -> None:
    """Enable a user again."""
    _set_enabled(config, email, True)


@users_group.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLE_CHOICES))
@click.option("--unit", "units", multiple=True, help="Replace the user's units (unit administrators).")
@config_option
@fail_cleanly
def role(email: str, role: str, units: tuple[str, ...], config: Path) -> None:
    """Change a user's role (and units)."""
    with _Db(config) as env, env.sessions.begin() as session:
        user = _user(session, email)
        set_role(user, Role(role), units=_units(session, units) if units else None, now=env.now)
        click.echo(f"{user.email} 现为{ROLE_LABELS[Role(role)]['zh']}")


@users_group.command("password")
@click.argument("email")
@click.option("--clear", is_flag=True, help="Remove the password (sign-in by e-mailed link only).")
@config_option
@fail_cleanly
def password(email: str, clear: bool, config: Path) -> None:
    """Set a user's password (asked for twice; never given on the command line)."""
    from huisheng.users.signin import hash_password

    with _Db(config) as env, env.sessions.begin() as session:
        user = _user(session, email)
        if clear:
            user.password_hash = None
        else:
            value = click.prompt("新密码", hide_input=True, confirmation_prompt="再输入一次")
            user.password_hash = hash_password(value)
        user.updated_at = env.now
        click.echo(f"已{'清除' if clear else '设置'} {user.email} 的密码")


def register(main: click.Group) -> None:
    main.add_command(users_group)


