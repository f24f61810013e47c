"""``huisheng db upgrade | downgrade | current``: the schema migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

import click
from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from huisheng.cli._common import config_option, fail_cleanly
from huisheng.errors import DatabaseUnavailable, HuishengError

R = TypeVar("R")


def _database_url(config: Path) -> str:
    from huisheng.config import load_settings

    return load_settings(config).database_url


def _ensure_sqlite_dir(url: str) -> None:
    """A fresh install's database folder may not exist yet."""
    from huisheng.storage.db import sqlite_place_problem

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not parsed.database.startswith("file:"):
            path = Path(parsed.database)
            problem = sqlite_place_problem(path)
            if problem:
                raise DatabaseUnavailable(f"{path}: {problem}")
            path.parent.mkdir(parents=True, exist_ok=True)


def _migrating(action: Callable[[], R]) -> R:
    """Alembic's and the driver's failures as one clear message (the URL, which
    may hold a password, is never part of it)."""
    try:
        return action()
    except CommandError as exc:
        raise HuishengError(f"数据库迁移失败: {exc}") from exc
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise HuishengError(f"数据库操作失败: {detail}") from exc


def _describe(revision: str | None, head: str | None) -> str:
    if revision is None:
        return "none（空数据库：请运行 huisheng db upgrade）"
    if revision == head:
        return f"{revision}（最新）"
    return f"{revision}（最新为 {head}：请运行 huisheng db upgrade）"


@click.group()
def db() -> None:
    """数据库结构迁移 (schema migrations)."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@config_option
@fail_cleanly
def upgrade(config: Path, revision: str) -> None:
    """Create or upgrade the database schema."""
    from huisheng import migrations

    url = _database_url(config)
    _ensure_sqlite_dir(url)
    _migrating(lambda: migrations.upgrade(url, revision))
    click.echo(f"数据库版本: {_describe(_migrating(lambda: migrations.current(url)), migrations.head())}")


@db.command()
@click.argument("revision")
@config_option
@fail_cleanly
def downgrade(config: Path, revision: str) -> None:
    """Take the schema back to REVISION (``base`` drops every table)."""
    from huisheng import migrations

    url = _database_url(config)
    _migrating(lambda: migrations.downgrade(url, revision))
    click.echo(f"数据库版本: {_describe(_migrating(lambda: migrations.current(url)), migrations.head())}")


@db.command()
@config_option
@fail_cleanly
def current(config: Path) -> None:
    """Show the schema revision of the database."""
    from huisheng import migrations

    url = _database_url(config)
    click.echo(_describe(_migrating(lambda: migrations.current(url)), migrations.head()))


def register(main: click.Group) -> None:
    main.add_command(db)
