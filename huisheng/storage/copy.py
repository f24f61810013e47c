"""``huisheng db copy``: a whole installation from one database into an empty
one (a district moving from its SQLite file to the PostgreSQL several
machines share), history and all.

The target's schema comes from the migrations (``db copy`` brings it to the
source's revision, which must be the newest); every table is copied in dependency order with
its ids, in one transaction; PostgreSQL's id sequences are moved past the
highest id copied; the row counts of every table are compared before the
transaction commits.  Any failure leaves the target without a single row
copied (its schema stays: a second run fills it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine, Integer, func, inspect, select, text
from sqlalchemy.engine import make_url

from huisheng.errors import DatabaseUnavailable, HuishengError
from huisheng.storage.db import make_engine
from huisheng.storage.models import Base

#: rows read and written at a time
BATCH = 2000


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int


def shown(url: str) -> str:
    """A URL fit for messages (no password)."""
    return make_url(url).render_as_string(hide_password=True)


def _source_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or (not database.startswith("file:") and not Path(database).is_file()):
            raise DatabaseUnavailable(f"{database or shown(url)}: 源数据库文件不存在")
    return make_engine(url, readonly=True)


def copy_database(source_url: str, target_url: str,
                  on_table: Callable[[Copied], None] | None = None) -> list[Copied]:
    """Copy every table of ``source_url`` into ``target_url``, whose schema
    (by the migrations, at the source's revision) holds no row yet; the
    tables and their row counts."""
    source = _source_engine(source_url)
    target = make_engine(target_url)
    try:
        copied: list[Copied] = []
        with source.connect() as src, target.begin() as dst:
            for table in reversed(Base.metadata.sorted_tables):
                dst.execute(table.delete())  # what the migrations seeded: the source's rows replace it
            for table in Base.metadata.sorted_tables:
                rows = 0
                result = src.execution_options(yield_per=BATCH).execute(
                    select(table).order_by(*table.primary_key.columns))
                for part in result.partitions():
                    dst.execute(table.insert(), [dict(row._mapping) for row in part])
                    rows += len(part)
                if target.dialect.name == "postgresql":
                    _move_sequence(dst, table)
                expected = src.scalar(select(func.count()).select_from(table))
                found = dst.scalar(select(func.count()).select_from(table))
                if not rows == expected == found:
                    raise HuishengError(f"表 {table.name}：源数据库 {expected} 行，读出 {rows} 行，目标数据库 {found} 行；"
                                        f"未复制任何数据")
                copied.append(Copied(table.name, rows))
                if on_table is not None:
                    on_table(copied[-1])
        return copied
    finally:
        source.dispose()
        target.dispose()


def require_empty(url: str) -> None:
    """The target may hold huisheng's schema (a run that failed), never rows."""
    engine = make_engine(url)
    try:
        _require_empty(engine, url)
    finally:
        engine.dispose()


def require_source(url: str) -> None:
    """The source is there (a SQLite file is never created by reading it)."""
    _source_engine(url).dispose()


#: the tables an installation's data is in: a target with a row in one is not empty
#: (others may hold what the migrations seeded, e.g. a counter's first row)
DATA_TABLES = ("units", "accounts", "posts", "comments", "flags", "outbox", "users")


def _require_empty(engine: Engine, url: str) -> None:
    """The target may hold huisheng's schema (a run that failed), never data."""
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        for name in DATA_TABLES:
            if name in present:
                n = conn.scalar(select(func.count()).select_from(Base.metadata.tables[name]))
                if n:
                    raise HuishengError(f"目标数据库 {shown(url)} 不是空的：表 {name} 已有 {n} 行"
                                        f"（db copy 只写入空数据库，不会覆盖或合并）")
        # the task queue's own tables (db upgrade with [scale] engine = "procrastinate") may be there
        others = {name for name in present - set(Base.metadata.tables) - {"alembic_version"}
                  if not name.startswith("procrastinate_")}
        if others:
            raise HuishengError(f"目标数据库 {shown(url)} 不是空的：有不属于 huisheng 的表 "
                                f"{'、'.join(sorted(others)[:5])}")


def _move_sequence(conn, table) -> None:
    """The next id PostgreSQL hands out follows the highest id copied."""
    (column,) = table.primary_key.columns if len(table.primary_key.columns) == 1 else (None,)
    if column is None or not isinstance(column.type, Integer) or column.autoincrement is False:
        return
    sequence = conn.scalar(text("SELECT pg_get_serial_sequence(:table, :column)"),
                           {"table": table.name, "column": column.name})
    if sequence is None:
        return
    top = conn.scalar(select(func.max(column)))
    conn.execute(text("SELECT setval(:sequence, :value, :called)"),
                 {"sequence": sequence, "value": top or 1, "called": top is not None})
