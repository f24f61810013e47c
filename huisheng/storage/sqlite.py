"""SQLite connections for a process of many threads: its writers take turns.

SQLite lets one connection write at a time.  Another one that tries meets a
busy database, and SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25 … ms
between its tries, however soon the writer is done.  With a pool of poll
threads each writing a few short transactions, those sleeps, not the writes,
were most of a poll's database time.  So within one process the connections to
one file queue on a lock before their first write instead, and the next writer
goes the moment the last one commits or rolls back.  Other processes (the web
app beside the daemon, ``huisheng poll``) still meet the busy handler, as
before; a turn not had within :data:`TURN_WAIT` goes to SQLite as it is (a
thread writing through two connections at once waits that long, then fails
as it always did).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

#: seconds a writer waits for its turn before it tries SQLite anyway
TURN_WAIT = 30.0
#: statements that start a write transaction in the sqlite3 module's default mode
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")

_turns: dict[str, threading.Lock] = {}
_turns_lock = threading.Lock()


def _turn_of(database: Any) -> threading.Lock:
    key = str(database)
    if key in (":memory:", ""):  # a database of this connection alone: no one to take turns with
        return threading.Lock()
    if not key.startswith("file:"):
        key = os.path.realpath(key)
    with _turns_lock:
        return _turns.setdefault(key, threading.Lock())


class TurnTakingConnection(sqlite3.Connection):
    """A ``sqlite3`` connection that waits for its process's turn to write
    (pass as ``factory=`` to ``sqlite3.connect``)."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any):
        super().__init__(database, *args, **kwargs)
        self._turn = _turn_of(database)
        self._holding = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _TurnTakingCursor)

    # the shortcuts make their cursor in C, past cursor() above
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().executemany(sql, parameters)

    def _before(self, sql: str) -> None:
        # (in autocommit mode every statement is its own transaction: nothing to hold)
        if (not self._holding and not self.in_transaction and self.isolation_level is not None
                and sql.lstrip()[:6].upper() in _WRITES):
            self._holding = self._turn.acquire(timeout=TURN_WAIT)

    def _after_failure(self) -> None:
        if not self.in_transaction:  # the write never began: nothing to commit or roll back
            self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self._turn.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


class _TurnTakingCursor(sqlite3.Cursor):
    connection: TurnTakingConnection

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection._before(sql)
        try:
            return super().execute(sql, parameters)
        except BaseException:
            self.connection._after_failure()
            raise

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection._before(sql)
        try:
            return super().executemany(sql, parameters)
        except BaseException:
            self.connection._after_failure()
            raise
