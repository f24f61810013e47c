"""``huisheng db upgrade | downgrade | current``: the schema migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

import click
from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

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

    from huisheng.config import load_settings
    from huisheng.scale.settings import require_distributed, scale_from_settings

    settings = load_settings(config)
    url = settings.database_url
    distributed = scale_from_settings(settings).distributed
    if distributed:
        require_distributed(settings)  # not on SQLite
    _ensure_sqlite_dir(url)
    _migrating(lambda: migrations.upgrade(url, revision))
    click.echo(f"数据库版本: {_describe(_migrating(lambda: migrations.current(url)), migrations.head())}")
    if distributed:
        from huisheng.scale.schema import apply_queue_schema

        click.echo(_migrating(lambda: apply_queue_schema(url)))


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


@db.command("copy")
@click.argument("source_url")
@click.argument("target_url")
@fail_cleanly
def copy_(source_url: str, target_url: str) -> None:
    """Copy a whole installation (e.g. sqlite:////var/lib/huisheng/huisheng.sqlite) into an
    empty database (e.g. postgresql://huisheng@db.example.org/huisheng): schema by
    migrations, every table with its ids, sequences moved on, row counts compared."""
    from huisheng.storage.copy import copy_database, require_empty, require_source, shown

    for url, name in ((source_url, "SOURCE_URL"), (target_url, "TARGET_URL")):
        try:
            backend = make_url(url).get_backend_name()
        except ArgumentError:
            raise HuishengError(f"{name}: 无法解析的数据库 URL（应形如 sqlite:////var/lib/huisheng/huisheng.sqlite "
                                f"或 postgresql://huisheng@db.example.org/huisheng）") from None
        if backend not in ("sqlite", "postgresql", "postgres"):
            raise HuishengError(f"{name}: 不支持的数据库 \"{backend}\"（应为 sqlite 或 postgresql）")
    from huisheng import migrations

    require_source(source_url)
    revision, head = _migrating(lambda: migrations.current(source_url)), migrations.head()
    if revision != head:
        raise HuishengError(f"源数据库 {shown(source_url)} 的结构版本为 {revision or '无'}，不是最新的 {head}："
                            f"请先对它运行 huisheng db upgrade")
    _migrating(lambda: require_empty(target_url))
    _migrating(lambda: migrations.upgrade(target_url, head))
    copied = _migrating(lambda: copy_database(
        source_url, target_url, on_table=lambda c: click.echo(f"{c.table}: {c.rows} 行")))
    click.echo(f"已复制 {len(copied)} 个表、{sum(c.rows for c in copied)} 行到 {shown(target_url)}"
               f"（每个表的行数已核对）")


def register(main: click.Group) -> None:
    main.add_command(db)
