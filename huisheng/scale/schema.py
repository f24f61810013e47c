"""procrastinate's own schema (its jobs, workers, locks and functions) beside
huisheng's tables, applied by ``huisheng db upgrade`` when ``[scale] engine =
"procrastinate"``.

A fresh database gets procrastinate's ``schema.sql``; the procrastinate
version it came from is recorded as the comment of ``procrastinate_jobs``, and
a later ``db upgrade`` under a newer procrastinate applies the migration
files that version ships (named by the version that introduced them) past
the recorded one, in order.
"""

from __future__ import annotations

import re
from pathlib import Path

import procrastinate
import psycopg
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url

from huisheng.errors import DatabaseUnavailable, HuishengError
from huisheng.scale.queue import conninfo

_MARK = "huisheng: procrastinate schema "
_MIGRATION = re.compile(r"^(\d+)\.(\d+)\.(\d+)_(\d+)_.*\.sql$")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def installed_version(conn: psycopg.Connection) -> tuple[int, ...] | None:
    """The procrastinate version whose schema the database holds (None: no
    queue yet)."""
    row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL, "
                       "obj_description(to_regclass('procrastinate_jobs'), 'pg_class')").fetchone()
    if not row[0]:
        return None
    if not (row[1] or "").startswith(_MARK):
        raise HuishengError("数据库中已有 procrastinate 的表，但不是 huisheng db upgrade 建立的（没有版本记录）："
                            "无法判断应补哪些迁移")
    return _version(row[1][len(_MARK):])


def apply_queue_schema(url: str) -> str:
    """Create or migrate the task queue's schema; what was done, in words."""
    try:
        conn = psycopg.connect(conninfo(url), connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"{make_url(url).render_as_string(hide_password=True)}: 无法连接数据库"
                                  f"（{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}）") from exc
    try:
        return _apply(conn)
    except psycopg.Error as exc:
        raise HuishengError(f"任务队列（procrastinate）的表建立失败: {str(exc).strip().splitlines()[0]}") from exc


def _apply(conn: psycopg.Connection) -> str:
    current = _version(procrastinate.__version__)
    with conn:
        installed = installed_version(conn)
        if installed is None:
            conn.execute(SchemaManager.get_schema())
            done = f"任务队列（procrastinate {procrastinate.__version__}）已建立"
        elif installed >= current:
            return f"任务队列（procrastinate {'.'.join(map(str, installed))}）无需更新"
        else:
            files = sorted((m.groups(), path) for path in Path(SchemaManager.get_migrations_path()).iterdir()
                           if (m := _MIGRATION.match(path.name)))
            applied = 0
            for groups, path in files:
                version = tuple(int(g) for g in groups[:3])
                if installed < version <= current:
                    conn.execute(path.read_text(encoding="utf-8"))
                    applied += 1
            done = f"任务队列已由 procrastinate {'.'.join(map(str, installed))} 升级（{applied} 个迁移）"
        conn.execute(f"COMMENT ON TABLE procrastinate_jobs IS '{_MARK}{procrastinate.__version__}'")
    return done
