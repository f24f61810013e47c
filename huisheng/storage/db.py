"""Engines and sessions.  SQLite runs in WAL mode with a busy timeout and
foreign keys on; PostgreSQL through psycopg 3."""

from __future__ import annotations

import functools
import json
import os
import time
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping, Sequence

from sqlalchemy import Engine, Table, create_engine, event, insert
from sqlalchemy.engine import Connection, Dialect, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

from huisheng.errors import DatabaseUnavailable
from huisheng.storage.sqlite import TurnTakingConnection

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: seconds a pooled PostgreSQL connection may sit idle and still be handed out unpinged
PING_AFTER_IDLE = 1.0


#: one encoder for every JSON column (``json.dumps`` with options builds a new one per call)
_json_dumps = json.JSONEncoder(ensure_ascii=False).encode
_raw_decode = json.JSONDecoder().raw_decode


def _json_loads(text: str | bytes):
    """``json.loads`` without its two whitespace scans for what we wrote
    ourselves (no surrounding whitespace); anything else (bytes from psycopg
    too) takes the full path."""
    if not isinstance(text, str):
        return json.loads(text)
    try:
        value, end = _raw_decode(text)
    except ValueError:
        return json.loads(text)  # raises the usual error, or parses leading whitespace
    return value if end == len(text) else json.loads(text)


def insert_many(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ``rows`` (mappings with the same keys, every column with a
    Python-side default among them) into ``table``, in one executemany.

    ``connection.execute(insert(table), rows)`` builds a parameter dict per row
    and then processes it: for the decide step's flags that cost twice the
    database's own insert.  Here the statement is compiled once per shape and
    each value goes through its column's bind processing straight into the
    driver's executemany."""
    if not rows:
        return
    sql, order, values_of, processed, named = _compiled_insert(connection.dialect, table, tuple(rows[0]))
    params: list[Any] = []
    for row in rows:
        if len(row) != len(order):
            raise ValueError(f"insert_many into {table.name}: rows of different columns ({sorted(row)})")
        values = list(values_of(row))
        for i, process in processed:
            values[i] = process(values[i])
        params.append(dict(zip(order, values)) if named else tuple(values))
    connection.exec_driver_sql(sql, params)


@functools.lru_cache(maxsize=32)
def _compiled_insert(dialect: Dialect, table: Table, keys: tuple[str, ...]
                     ) -> tuple[str, tuple[str, ...], Callable[[Mapping[str, Any]], tuple[Any, ...]],
                                tuple[tuple[int, Callable[[Any], Any]], ...], bool]:
    """The driver's SQL for an insert of these columns, and how to make a row's parameters."""
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
    if compiled.insert_prefetch:  # a default SQLAlchemy would have filled in per row
        missing = ", ".join(sorted(c.key for c in compiled.insert_prefetch))
        raise ValueError(f"insert_many into {table.name}: give the columns with defaults too ({missing})")
    order = tuple(compiled.positiontup) if compiled.positional else keys
    if set(order) != set(keys):
        raise ValueError(f"insert_many into {table.name}: columns {sorted(set(keys) - set(order))} not inserted")
    getter = itemgetter(*order)
    values_of = getter if len(order) > 1 else (lambda row: (getter(row),))
    processed = tuple((i, process) for i, key in enumerate(order)
                      if (process := table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) is not None)
    return compiled.string, order, values_of, processed, not compiled.positional


def normalize_url(url: str) -> str:
    """Plain ``postgresql://`` URLs use psycopg 3 (the one driver we install)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, readonly: bool = False, **kwargs) -> Engine:
    url = normalize_url(url)
    is_sqlite = url.startswith("sqlite")
    if is_sqlite:
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        connect_args.setdefault("factory", TurnTakingConnection)
    else:
        # The most recently used connection is handed out again (LIFO), and
        # pinged only after it sat idle (see _ping_when_idle).
        kwargs.setdefault("pool_use_lifo", True)
    # Chinese text stays readable (and half the size) in JSON columns.
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", _json_loads)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "handle_error", _unavailable)
    if not is_sqlite and not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    if is_sqlite:
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            if not readonly:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            if readonly:
                cur.execute("PRAGMA query_only=ON")
            cur.close()
    elif readonly:
        @event.listens_for(engine, "connect")
        def _pg_readonly(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cur.close()
            dbapi_conn.commit()
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled PostgreSQL connection on checkout only when it sat idle
    for :data:`PING_AFTER_IDLE` seconds or more: one that served a
    transaction a moment ago is alive, and a ping on every checkout was a
    round trip per transaction (a poll makes several).  A dead connection
    found by the ping invalidates the pool and a new one is opened, as
    ``pool_pre_ping`` does; one that died within the last moment fails its
    statement as a connection lost mid-transaction does (an outage: the work
    is tried again)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, _proxy):
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return  # a new connection, or one in use a moment ago
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_conn, None):
                raise InvalidatePoolError() from error
            raise


def current_user() -> str:
    """The name of the user this process runs as (its uid when it has no name)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid())


def sqlite_place_problem(path: Path) -> str | None:
    """Why this user could not open and write a SQLite database at ``path``,
    or None (a missing folder that can be made is no problem: ``db upgrade``
    makes it)."""
    if path.is_dir():
        return "这是一个文件夹，不是数据库文件"
    folder = existing = path.parent
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"路径中的 {existing} 不是文件夹"
    user = current_user()
    if existing != folder:
        if os.access(existing, os.W_OK | os.X_OK):
            return None
        return (f"文件夹 {folder} 不存在，当前用户（{user}）也无权创建它"
                f"（可由 root 创建并交给该用户：install -d -o {user} {folder}）")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"当前用户（{user}）没有读写这个文件的权限"
    if not os.access(folder, os.W_OK | os.X_OK):  # SQLite writes its journal beside the file
        return f"当前用户（{user}）没有在文件夹 {folder} 中写入的权限"
    return None


def sqlite_open_problem(path: Path) -> str:
    """Why SQLite could not open ``path``, in words, from the file system."""
    problem = sqlite_place_problem(path)
    if problem is None and not path.parent.exists():
        problem = f"文件夹 {path.parent} 不存在（huisheng db upgrade 会创建它）"
    return problem or "无法打开数据库文件"


#: SQLite result codes that mean the file, not the statement, is the problem
_SQLITE_PROBLEMS = {
    "SQLITE_READONLY": "数据库只读，无法写入（检查文件及其文件夹的权限，或磁盘是否以只读方式挂载）",
    "SQLITE_IOERR": "读写数据库文件时出错（磁盘故障，或文件在其他程序中被改动）",
    "SQLITE_NOTADB": "不是 SQLite 数据库文件",
    "SQLITE_CORRUPT": "数据库文件已损坏",
    "SQLITE_FULL": "磁盘已满，无法写入数据库",
    "SQLITE_PERM": "没有访问数据库的权限",
}


def _unavailable(context: ExceptionContext) -> None:
    """A database that cannot be opened or written becomes one
    :class:`DatabaseUnavailable` line naming the file or the server, never a
    driver traceback.  Other errors (a constraint, a lock) are left alone."""
    error, url = context.original_exception, context.engine.url if context.engine else None
    if url is None or context.is_pre_ping:
        return
    if url.get_backend_name() == "sqlite":
        name = getattr(error, "sqlite_errorname", "") or ""
        database = url.database or ""
        path = Path(database[5:].split("?")[0] if database.startswith("file:") else database)
        if name.startswith("SQLITE_CANTOPEN"):
            problem = sqlite_open_problem(path)
        else:
            problem = next((text for code, text in _SQLITE_PROBLEMS.items() if name.startswith(code)), None)
        if problem:
            raise DatabaseUnavailable(f"{path}: {problem}") from error
    elif context.connection is None:  # connecting failed: the server, the network, the login
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatabaseUnavailable(f"{url.render_as_string(hide_password=True)}: 无法连接数据库（{detail}）") from error


def outage(exc: BaseException) -> DatabaseUnavailable | None:
    """``exc`` as the database going away (a server that cannot be reached,
    a connection lost mid-statement, a server shutting down), in one line;
    None for any other error.  An outage is nobody's fault but the network's:
    the work is tried again, not recorded against what it was doing."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if not isinstance(exc, DBAPIError):
        return None
    state = getattr(exc.orig, "sqlstate", None) or ""
    # 08: connection exceptions; 57P01–57P03: the server shuts down or restarts
    if exc.connection_invalidated or state.startswith(("08", "57P")):
        text = str(exc.orig).strip()
        return DatabaseUnavailable(f"数据库连接中断（{text.splitlines()[0] if text else type(exc.orig).__name__}）")
    return None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def transaction(sessions: sessionmaker[Session]) -> ContextManager[Connection]:
    """A transaction on a plain connection of the sessions' engine, for the
    hot paths that use no ORM (a poll's own account row, a claim): an ORM
    session's set-up and commit cost more than such a transaction's statements."""
    return sessions.kw["bind"].begin()
