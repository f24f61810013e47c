"""Several machines, piece by piece: the ``[scale]`` table and its refusals,
the pace per egress address shared through the database, the periodic
schedules, ``status --workers``, and ``db copy`` of the demo's SQLite state
into an empty PostgreSQL (identical tables and reports)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from conftest import PG_URL
from harness import START, make_settings
from huisheng import migrations
from huisheng.adapters.base import Pace
from huisheng.app import build_runtime
from huisheng.cli import main
from huisheng.clock import FakeClock
from huisheng.config import load_settings
from huisheng.config.matrix import dump_matrix
from huisheng.errors import DatabaseUnavailable
from huisheng.polling.pace import EgressPacer
from huisheng.scale.queue import CONTROL_QUEUE, RETRY_STALLED_TASK, Queue, cron_for
from huisheng.scale.settings import scale_from_settings
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.sample import sample_matrix
from huisheng.storage.db import make_engine, session_factory
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account, Base, ScaleWorker
from scalekit import HUISHENG, PgSchema, Proxy

needs_pg = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (HUISHENG_TEST_DATABASE_URL)")


def _config(tmp_path: Path, url: str, scale: str = 'engine = "procrastinate"') -> Path:
    path = tmp_path / "huisheng.toml"
    path.write_text(f'log_level = "ERROR"\n[database]\nurl = "{url}"\n[scale]\n{scale}\n', encoding="utf-8")
    return path


# --- the [scale] table -------------------------------------------------------------


def test_worker_is_refused_on_sqlite_and_on_the_embedded_engine(tmp_path):
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'h.sqlite'}")
    for args in (["worker"], ["db", "upgrade"]):
        result = CliRunner().invoke(main, [*args, "--config", str(config)])
        assert result.exit_code == 1, result.output
        assert "需要 PostgreSQL" in result.output and "scale.engine" in result.output, result.output
    assert not (tmp_path / "h.sqlite").exists()  # refused before anything was made
    embedded = _config(tmp_path, "postgresql://huisheng@127.0.0.1:1/h", scale="")
    result = CliRunner().invoke(main, ["worker", "--config", str(embedded)])
    assert result.exit_code == 1 and 'engine = "procrastinate"' in result.output and "huisheng run" in result.output


def test_scale_keys_are_checked(tmp_path):
    config = _config(tmp_path, "postgresql://huisheng@127.0.0.1:1/h",
                     scale='engine = "celery"\ndispatch_interval = 7\nheartbeat = 10\nstall_timeout = 15\nname = "a b"')
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config)])
    for key in ("scale.engine", "scale.dispatch_interval", "scale.stall_timeout", "scale.name"):
        assert key in result.output, result.output


def test_worker_names_the_database_it_cannot_reach_in_one_line(tmp_path):
    config = _config(tmp_path, "postgresql://huisheng@127.0.0.1:1/huisheng")
    result = CliRunner().invoke(main, ["worker", "--config", str(config)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert "127.0.0.1:1/huisheng: 无法连接数据库" in result.output and "Traceback" not in result.output


def test_periodic_schedules_never_run_more_often_than_asked():
    assert cron_for(1) == "* * * * * */1"
    assert cron_for(5) == "* * * * * */5"
    assert cron_for(7) == "* * * * * */6"
    assert cron_for(60) == "*/1 * * * * 0"
    assert cron_for(600) == "*/10 * * * * 0"
    assert cron_for(3600) == "0 */1 * * * 0"
    assert cron_for(7 * 86400) == "0 0 * * * 0"


# --- the pace per egress ------------------------------------------------------------


def test_workers_behind_one_egress_share_one_pace_and_its_slowdown(db_url):
    migrations.upgrade(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = FakeClock(datetime(2026, 12, 5, 2, 0, tzinfo=timezone.utc))
    pace = Pace(min_interval=2.0, concurrency=4)
    # two workers (two pacers, as two machines would have) behind egress "a", one behind "b"
    a1, a2, b = EgressPacer(clock, sessions, "a"), EgressPacer(clock, sessions, "a"), EgressPacer(clock, sessions, "b")
    t0 = clock.now()
    starts: list[tuple[str, float]] = []
    for name, pacer in (("a1", a1), ("a2", a2), ("a1", a1), ("b", b), ("a2", a2)):
        with pacer.gate("m.weibo.cn", pace):  # the fake clock sleeps by moving on
            starts.append((name, (clock.now() - t0).total_seconds()))
    a_starts = [s for n, s in starts if n != "b"]
    # one spacing across both workers of egress a; egress b has its own
    assert all(later - earlier >= 2.0 - 1e-6 for earlier, later in zip(a_starts, a_starts[1:])), starts
    assert starts[3][0] == "b" and starts[3][1] == starts[2][1]  # no wait behind egress a
    # a 418 seen by one worker of egress a pauses the other too, not egress b
    a1.pause("m.weibo.cn", 300.0, pace)
    before = clock.now()
    with a2.gate("m.weibo.cn", pace):
        assert (clock.now() - before).total_seconds() >= 300.0 - 1e-6
    before = clock.now()
    with b.gate("m.weibo.cn", pace):
        assert (clock.now() - before).total_seconds() <= 2.0 + 1e-6
    engine.dispose()


def test_concurrent_requests_of_one_egress_never_share_a_slot(db_url):
    migrations.upgrade(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = FakeClock(datetime(2026, 12, 5, 2, 0, tzinfo=timezone.utc))
    pace = Pace(min_interval=1.0, concurrency=8)
    pacers = [EgressPacer(clock, sessions, "a") for _ in range(4)]
    slots: list[float] = []
    lock = threading.Lock()

    def request(pacer: EgressPacer) -> None:
        for _ in range(3):
            now = clock.now().timestamp()  # the fake clock stands still: every slot is computed from one now
            delay = pacer._delay("m.weibo.cn", pace, 0.0)  # the slot the database hands out
            with lock:
                slots.append(round(now + delay, 6))

    threads = [threading.Thread(target=request, args=(p,)) for p in pacers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(slots) == len(set(slots)) == 12
    engine.dispose()


# --- a database outage mid-poll ------------------------------------------------------


@needs_pg
def test_a_poll_that_loses_the_database_says_so_in_one_line_and_is_polled_again(tmp_path, caplog):
    schema = PgSchema(PG_URL)
    server_url = make_url(PG_URL)
    proxy = Proxy(server_url.host or "127.0.0.1", server_url.port or 5432)
    clock = FakeClock(START)
    matrix = sample_matrix(1, streets=1)
    server = SimServer(World(matrix, seed=3, start=START, config=WorldConfig(history_days=1)), clock)
    base = server.start()
    cut = threading.Event()  # set: the next answer of the platform cuts the database off

    class CuttingSession(requests.Session):
        def send(self, request, **kwargs):
            response = super().send(request, **kwargs)
            if cut.is_set():
                cut.clear()
                proxy.cut()
            return response

    migrations.upgrade(schema.url())
    runtime = build_runtime(make_settings(schema.url(port=proxy.port), base, tmp_path), clock,
                            session_factory_http=CuttingSession, http_timeout=5)
    try:
        with runtime.sessions.begin() as session:
            sync_matrix(session, matrix, clock.now())
            account_id = session.scalar(select(Account.id))
        cut.set()
        with caplog.at_level(logging.INFO, logger="huisheng"):
            with pytest.raises(DatabaseUnavailable):  # the caller tries again (the queue retries the job)
                runtime.poller.poll(account_id, lease_owner="job-1")
        said = [r for r in caplog.records if r.name.startswith("huisheng") and r.levelno >= logging.WARNING]
        assert len(said) == 1 and said[0].exc_info is None, [r.getMessage() for r in said]
        line = said[0].getMessage()
        assert f"account_id={account_id} outcome=database_unavailable" in line and "\n" not in line
        assert "数据库" in line and "crash" not in caplog.text
        proxy.restore()
        assert runtime.poller.poll(account_id, lease_owner="job-1").outcome == "ok"
        with runtime.sessions() as session:
            account = session.get(Account, account_id)
            # an outage is not the account's failure
            assert (account.consecutive_errors, account.last_error_kind, account.lease_owner) == (0, None, None)
    finally:
        runtime.close()
        server.stop()
        proxy.close()
        schema.drop()


@needs_pg
def test_a_retry_of_stalled_jobs_whose_worker_died_does_not_stop_the_next_ones(tmp_path):
    schema = PgSchema(PG_URL)
    engine = make_engine(schema.url())
    runtime = None
    try:
        config = _config(tmp_path, schema.url(), scale='engine = "procrastinate"\nheartbeat = 0.5\nstall_timeout = 1')
        assert CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)]).exit_code == 0
        with engine.begin() as conn:
            # a worker killed while it retried stalled jobs, and a poll of its
            # (as procrastinate's own lock per task would have left them)
            dead = conn.scalar(text("INSERT INTO procrastinate_workers (last_heartbeat) "
                                    "VALUES (now() - interval '1 hour') RETURNING id"))
            stuck = conn.execute(text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, args, status, worker_id) VALUES "
                "('control', 'huisheng.retry_stalled', 'retry-stalled', '{\"timestamp\": 0}', 'doing', :w), "
                "('poll', 'huisheng.poll', 'account-1', '{\"account_id\": 1}', 'doing', :w) RETURNING id"),
                {"w": dead}).scalars().all()
        settings = load_settings(config)
        runtime = build_runtime(settings)
        queue = Queue(runtime, scale_from_settings(settings))

        async def run_control_jobs() -> None:
            async with queue.app.open_async():
                await queue.app.configure_task(RETRY_STALLED_TASK).defer_async(timestamp=1)
                await queue.app.run_worker_async(queues=[CONTROL_QUEUE], wait=False, install_signal_handlers=False)

        asyncio.run(run_control_jobs())
        with engine.connect() as conn:
            status = dict(conn.execute(text("SELECT id, status FROM procrastinate_jobs WHERE id = ANY(:ids)"),
                                       {"ids": stuck}).all())
        assert status[stuck[1]] == "todo"  # the dead worker's poll is queued again
        assert status[stuck[0]] != "doing"
    finally:
        if runtime is not None:
            runtime.close()
        engine.dispose()
        schema.drop()


# --- status --------------------------------------------------------------------------


@needs_pg
def test_status_shows_the_workers_and_the_queue(tmp_path):
    schema = PgSchema(PG_URL)
    try:
        config = _config(tmp_path, schema.url(), scale='engine = "procrastinate"\nstall_timeout = 60')
        assert CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)]).exit_code == 0
        engine = make_engine(schema.url())
        now = datetime.now(timezone.utc)
        with session_factory(engine).begin() as session:
            session.add_all([
                ScaleWorker(name="worker-1", egress="出口甲", host="h1", pid=11, started_at=now, heartbeat_at=now,
                            in_flight=3, polls=120),
                ScaleWorker(name="worker-2", egress="出口乙", host="h2", pid=12, started_at=now,
                            heartbeat_at=now.replace(year=now.year - 1), in_flight=1, polls=5),
                ScaleWorker(name="worker-3", egress="出口乙", host="h3", pid=13, started_at=now,
                            heartbeat_at=now.replace(microsecond=0).replace(second=0), in_flight=0, polls=7,
                            stopped_at=now)])
            session.execute(text("INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) VALUES "
                                 "('poll', 'huisheng.poll', '{}', 'todo'), ('poll', 'huisheng.poll', '{}', 'todo'),"
                                 "('poll', 'huisheng.poll', '{}', 'doing')"))
        engine.dispose()
        result = CliRunner().invoke(main, ["status", "--config", str(config)])
        assert result.exit_code == 0, result.output
        out = result.output
        assert "工作进程 1 个（1 个在线）" in out and "worker-1" in out and "出口甲" in out
        assert "worker-2" not in out and "worker-3" not in out  # a year silent; stopped cleanly
        line = next(x for x in out.splitlines() if x.startswith("huisheng.poll"))
        assert line.split()[1:3] == ["2", "1"]
        result = CliRunner().invoke(main, ["status", "--workers", "--format", "json", "--config", str(config)])
        assert '"in_flight": 3' in result.output and '"waiting": 2' in result.output
    finally:
        schema.drop()


_QUEUE_OBJECTS = """SELECT 'table ' || relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace
                     AND relname LIKE 'procrastinate%'
                   UNION ALL SELECT 'function ' || proname FROM pg_proc
                     WHERE pronamespace = current_schema()::regnamespace AND proname LIKE 'procrastinate%'
                   UNION ALL SELECT 'type ' || typname FROM pg_type
                     WHERE typnamespace = current_schema()::regnamespace AND typname LIKE 'procrastinate%'"""


@needs_pg
def test_db_downgrade_to_base_removes_the_task_queue(tmp_path):
    schema = PgSchema(PG_URL)
    try:
        config = _config(tmp_path, schema.url())
        engine = make_engine(schema.url())
        for _ in range(2):  # and the queue comes back whole on the next upgrade
            result = CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)])
            assert result.exit_code == 0 and "任务队列" in result.output, result.output
            with engine.connect() as conn:
                made = set(conn.execute(text(_QUEUE_OBJECTS)).scalars())
            assert {"table procrastinate_jobs", "type procrastinate_job_status",
                    "function procrastinate_fetch_job_v2"} <= made, made
            result = CliRunner().invoke(main, ["db", "downgrade", "base", "--config", str(config)])
            assert result.exit_code == 0, result.output
            with engine.connect() as conn:
                assert conn.execute(text(_QUEUE_OBJECTS)).scalars().all() == []
                assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        engine.dispose()
    finally:
        schema.drop()


def test_status_workers_is_refused_on_the_embedded_engine(tmp_path):
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'h.sqlite'}", scale="")
    assert CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)]).exit_code == 0
    result = CliRunner().invoke(main, ["status", "--workers", "--config", str(config)])
    assert result.exit_code == 1 and "embedded" in result.output


# --- db copy --------------------------------------------------------------------------


def _demo(tmp_path: Path) -> Path:
    """The demo's state (a small district: a community with administrators,
    three simulated hours) in tmp_path/demo; its config."""
    matrix = sample_matrix(40, streets=2)
    keep = {"D", "B00", "B01", "B02", "B03", "S00", "S01", "S00C01", "S01C01"}
    units = tuple(replace(u, admins=(f"{u.code.lower()}@example.org",)) for u in matrix.units if u.code in keep)
    matrix = replace(matrix, units=units, accounts=tuple(a for a in matrix.accounts if a.unit in keep))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "matrix.toml").write_text(dump_matrix(matrix), encoding="utf-8")
    import sys

    done = subprocess.run([sys.executable, "-m", "huisheng.demo", "--dir", str(tmp_path / "demo"), "--hours", "3",
                           "--matrix", str(tmp_path / "m")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp_path / "demo" / "huisheng.toml"


def _rows(url: str) -> dict[str, list[tuple]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                    for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


REPORTS = (["report", "coverage", "--by", "unit", "--include-history"], ["report", "coverage", "--by", "account"],
           ["report", "compliance"], ["report", "overdue"], ["report", "ranking"], ["flags", "list"])


@needs_pg
def test_db_copy_moves_the_demo_into_postgresql_with_identical_reports(tmp_path):
    demo_config = _demo(tmp_path)
    source = load_settings(demo_config).database_url
    schema = PgSchema(PG_URL)
    try:
        target = schema.url()
        done = subprocess.run([HUISHENG, "db", "copy", source, target], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "comments: " in done.stdout and "每个表的行数已核对" in done.stdout
        assert _rows(source) == _rows(target)  # every table, every row, every id
        pg_config = tmp_path / "demo" / "pg.toml"
        text_ = demo_config.read_text(encoding="utf-8").replace('url = "sqlite:///huisheng.sqlite"', f'url = "{target}"')
        pg_config.write_text(text_, encoding="utf-8")
        for args in REPORTS:
            outputs = []
            for config in (demo_config, pg_config):
                result = subprocess.run([HUISHENG, *args, "--format", "csv", "--config", str(config)]
                                        if args[0] == "report" else [HUISHENG, *args, "--config", str(config)],
                                        capture_output=True, text=True, timeout=60)
                assert result.returncode == 0, (args, result.stderr)
                outputs.append(result.stdout)
            assert outputs[0] == outputs[1], args
            assert args[1] not in ("coverage", "list") or outputs[0].count("\n") > 3, args
        # the sequences moved on: new rows get new ids
        engine = make_engine(target)
        with engine.begin() as conn:
            top = conn.scalar(text("SELECT max(id) FROM flag_events"))
            new = conn.scalar(text("INSERT INTO flag_events (flag_id, at, kind, actor, note, data) "
                                   "SELECT flag_id, at, 'note', 'test', 'x', data FROM flag_events LIMIT 1 RETURNING id"))
            assert new == top + 1
        engine.dispose()
        # a second copy into the now full target is refused, nothing touched
        again = subprocess.run([HUISHENG, "db", "copy", source, target], capture_output=True, text=True, timeout=60)
        assert again.returncode == 1 and "不是空的" in again.stderr and "Traceback" not in again.stderr
    finally:
        schema.drop()


def test_db_copy_refuses_a_source_that_is_not_there(tmp_path):
    result = CliRunner().invoke(main, ["db", "copy", f"sqlite:///{tmp_path / 'nothing.sqlite'}",
                                       f"sqlite:///{tmp_path / 'target.sqlite'}"])
    assert result.exit_code == 1 and "源数据库文件不存在" in result.output
    assert not (tmp_path / "nothing.sqlite").exists() and not (tmp_path / "target.sqlite").exists()
    result = CliRunner().invoke(main, ["db", "copy", "mysql://x/y", f"sqlite:///{tmp_path / 't.sqlite'}"])
    assert result.exit_code == 1 and "SOURCE_URL" in result.output


def test_db_copy_into_sqlite_keeps_every_row(tmp_path):
    source = f"sqlite:///{tmp_path / 's.sqlite'}"
    migrations.upgrade(source)
    engine = make_engine(source)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO units (id, code, name, level, aliases, admins, enabled, created_at, updated_at) "
                          "VALUES (7, 'd', '示范区', 'district', '[]', '[]', 1, '2026-12-05', '2026-12-05')"))
    engine.dispose()
    target = f"sqlite:///{tmp_path / 't.sqlite'}"
    result = CliRunner().invoke(main, ["db", "copy", source, target])
    assert result.exit_code == 0, result.output
    assert _rows(source)["units"] == _rows(target)["units"] != []
    assert "units" in inspect(make_engine(target)).get_table_names()
