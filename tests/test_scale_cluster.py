"""Several machines (``[scale] engine = "procrastinate"``): ``huisheng worker``
processes sharing one PostgreSQL and its task queue, against the simulator.

The world runs hours of activity in seconds (:class:`scalekit.CatchingUp`);
the workers run on real time.  Three workers (two behind one egress) poll it,
mention sources included, while one of them is killed with ``kill -9``
mid-poll, again and again, and then the database goes away (a proxy between
the workers and PostgreSQL cut, then restored): they must wait and resume,
never exit.  Then the world stops, the workers catch up, and the database
must hold exactly the ground truth, nothing twice, no account ever polled by
two jobs at once.  One cluster goes through all of it: each worker started
costs seconds of a busy machine.
"""

from __future__ import annotations

import random
import signal
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from harness import compare_with_truth
from huisheng.config.matrix import dump_matrix
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.sample import sample_matrix
from huisheng.storage.db import make_engine, session_factory
from scalekit import (STARTUP_TIMEOUT, CatchingUp, PgSchema, Proxy, WorkerProcess, caught_up, cli, duplicates,
                      overlaps, poll_spans, wait_until, write_config)
from conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (HUISHENG_TEST_DATABASE_URL)")

ACCOUNTS = 9
#: kill -9 rounds, and the real seconds the world runs (three simulated hours)
KILLS = 3
WORLD_SECONDS = 10
LEVELS = ("district", "department", "street", "community")


@pytest.fixture
def schema():
    pg = PgSchema(PG_URL)
    yield pg
    pg.drop()


def _world(clock) -> tuple[World, SimServer, str]:
    matrix = sample_matrix(ACCOUNTS, streets=2)
    # no post deleted: one deleted before the first look is in the truth but
    # could never have been seen by anyone; citizens @ the accounts often
    world = World(matrix, seed=41, start=clock.start,
                  config=WorldConfig(history_days=1, edit_share=0.2, post_delete_share=0.0,
                                     comment_delete_share=0.1, long_share=0.3,
                                     mentions_per_day=tuple((level, 6.0) for level in LEVELS)))
    # The search limit counts on the world's clock, which stands still at the
    # end: every read of a search after that must fit in it (a 418 would pause
    # the platform for ten minutes; the limit has tests of its own).
    server = SimServer(world, clock, search_limit=(1000, 60.0))
    return world, server, server.start()


def _setup(tmp_path, db_url: str, base: str, worker_url: str | None = None):
    (tmp_path / "matrix.toml").write_text(dump_matrix(sample_matrix(ACCOUNTS, streets=2)), encoding="utf-8")
    admin = write_config(tmp_path / "admin.toml", db_url, base, matrix="matrix.toml")
    cli(admin, "db", "upgrade")
    cli(admin, "matrix", "sync")
    # a spacing that makes a poll last long enough for a kill to land in it
    workers = write_config(tmp_path / "huisheng.toml", worker_url or db_url, base, matrix="matrix.toml",
                           spacing=0.05)
    engine = make_engine(db_url)
    return admin, workers, engine, session_factory(engine)


def _polls_in_flight(worker: WorkerProcess) -> int:
    log = worker.text()
    return log.count("poll start") - log.count("poll end")


def _stop_all(workers: list[WorkerProcess]) -> None:
    for w in workers:
        w.proc.send_signal(signal.SIGTERM)
    for w in workers:
        assert w.proc.wait(timeout=30) == 0, w.text()
        w.ensure_dead()


def test_three_workers_through_kill_9_and_a_database_outage_hold_exactly_the_truth(schema, tmp_path):
    clock = CatchingUp(hours=3, seconds=WORLD_SECONDS)
    world, server, base = _world(clock)
    server_url = make_url(PG_URL)
    proxy = Proxy(server_url.host or "127.0.0.1", server_url.port or 5432)
    admin, config, engine, sessions = _setup(tmp_path, schema.url(), base, worker_url=schema.url(port=proxy.port))
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(20261205)
    lives = {"w1": 0, "w2": 0, "w3": 0}
    egress = {"w1": "a", "w2": "a", "w3": "b"}
    workers = {n: WorkerProcess(config, logs, n, egress[n]) for n in lives}
    finished: list[tuple[str, datetime | None]] = []
    kills_mid_poll = 0
    try:
        for w in workers.values():
            w.wait_for("worker started", STARTUP_TIMEOUT)
        began = time.monotonic()
        # kill -9 a worker while it polls, at random moments, and start it again
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 1.0))
            deadline = time.monotonic() + 3
            while not (polling := [n for n in lives if _polls_in_flight(workers[n]) > 0]) \
                    and time.monotonic() < deadline:
                time.sleep(0.02)
            name = rng.choice(polling or list(lives))
            victim = workers[name]
            victim.kill()
            kills_mid_poll += _polls_in_flight(victim) > 0
            finished.append((victim.text(), datetime.now(timezone.utc)))
            lives[name] += 1
            workers[name] = WorkerProcess(config, logs, name, egress[name], lives[name])
        for w in workers.values():
            w.wait_for("worker started", STARTUP_TIMEOUT)
        # the database goes away: every worker waits for it, none exits
        proxy.cut()
        for w in workers.values():
            w.wait_for("waiting for the database", 20)
        time.sleep(1)
        assert all(w.proc.poll() is None for w in workers.values())
        before = {n: len(w.text()) for n, w in workers.items()}
        proxy.restore()
        for n, w in workers.items():  # and poll again: caught up below
            w.wait_for("the database answers again: resuming", 40, after=before[n])
        time.sleep(max(0.0, WORLD_SECONDS - (time.monotonic() - began)))
        clock.freeze()
        frozen = datetime.now(timezone.utc)
        # the killed workers' jobs come back after the stall timeout, their leases expire
        wait_until(lambda: caught_up(sessions, frozen), 60,
                   lambda: [w.text()[-2000:] for w in workers.values()])
        with sessions() as session:
            dispatches = session.scalar(text("SELECT count(*) FROM procrastinate_jobs "
                                             "WHERE task_name = 'huisheng.dispatch'"))
        status = cli(admin, "status", "--workers", "--format", "json").stdout
        _stop_all(list(workers.values()))
        elapsed = time.monotonic() - began
    finally:
        for w in workers.values():
            w.ensure_dead()
        proxy.close()
        server.stop()
    finished += [(w.text(), None) for w in workers.values()]
    retried = sum(log.count("outcome=retried") for log, _ in finished)
    truth = server.truth()
    print(f"world: {len(truth['posts'])} posts, {len(truth['comments'])} comments; kills mid-poll {kills_mid_poll}; "
          f"dispatch jobs {dispatches} in {elapsed:.0f}s; retried {retried}")
    assert kills_mid_poll >= 2 and retried >= 2
    assert duplicates(sessions) == []
    compare_with_truth(SimpleNamespace(sessions=sessions), truth)
    assert any(p["citizen"] for p in truth["posts"])  # mentions were part of it
    spans = poll_spans(finished)
    assert sum(len(v) for v in spans.values()) > 3 * ACCOUNTS
    assert overlaps(spans) == []
    # one dispatch per period (1 s) across the three workers, not one each
    assert dispatches <= elapsed + 3
    assert '"name": "w3"' in status and '"egress": "b"' in status
    engine.dispose()
