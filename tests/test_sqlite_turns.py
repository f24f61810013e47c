"""SQLite writers of one process take turns on a lock instead of meeting a
busy database (whose handler sleeps between tries): with SQLite's own busy
timeout at zero, any writer that met another one would fail at once."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from huisheng.storage.sqlite import TurnTakingConnection


def connect(path, **kwargs):
    return sqlite3.connect(path, timeout=0, check_same_thread=False, factory=TurnTakingConnection, **kwargs)


def writes_at_once(db) -> bool:
    """Whether ``db`` writes from another thread without waiting for a turn."""
    done = threading.Event()
    threading.Thread(target=lambda: (db.execute("INSERT INTO t VALUES (2, 1)"), db.commit(), done.set())).start()
    return done.wait(10)


@pytest.fixture
def path(tmp_path):
    path = str(tmp_path / "turns.sqlite")
    with connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (writer INTEGER, n INTEGER)")
    return path


def test_concurrent_writers_never_meet_a_busy_database(path):
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def write(writer):
        db = connect(path)
        start.wait()
        try:
            for n in range(40):
                db.execute("INSERT INTO t VALUES (?, ?)", (writer, n))
                db.execute("SELECT count(*) FROM t").fetchone()  # reads inside the write too
                db.execute("UPDATE t SET n = n WHERE writer = ?", (writer,))
                db.commit()
        except BaseException as exc:
            failures.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with connect(path) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (8 * 40,)


def test_plain_connections_do_meet_it(path):
    """What the turns prevent (else the test above proves nothing)."""
    first, second = sqlite3.connect(path, timeout=0), sqlite3.connect(path, timeout=0)
    first.execute("INSERT INTO t VALUES (1, 1)")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        second.execute("INSERT INTO t VALUES (2, 1)")
    first.close()
    second.close()


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_a_writer_ends_its_turn_however_its_transaction_ends(path, end):
    first, second = connect(path), connect(path)
    first.execute("INSERT INTO t VALUES (1, 1)")
    getattr(first, end)()
    assert writes_at_once(second)
    second.close()
    first.close()


def test_a_write_that_fails_before_it_begins_ends_the_turn(path):
    first, second = connect(path), connect(path)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        first.execute("INSERT INTO missing VALUES (1)")
    assert not first.in_transaction
    assert writes_at_once(second)
    first.close()
    second.close()


def test_autocommit_connections_hold_no_turn(path):
    auto, other = connect(path, isolation_level=None), connect(path)
    auto.execute("INSERT INTO t VALUES (1, 1)")  # committed by itself: nothing left to end
    assert writes_at_once(other)
    auto.close()
    other.close()


def test_private_databases_share_no_turn():
    """Each in-memory database is its connection's own: one writing does not
    hold up another, even in the same thread."""
    first, second = connect(":memory:"), connect(":memory:")
    for db in (first, second):
        db.execute("CREATE TABLE t (writer INTEGER, n INTEGER)")
    first.execute("INSERT INTO t VALUES (1, 1)")
    assert writes_at_once(second)
    first.close()
    second.close()
