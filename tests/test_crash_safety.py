"""Crash safety of ``huisheng run`` as a real process against the simulator.

The simulator runs here on a frozen clock, so the world stops changing and its
ground truth is fixed; the daemon runs on real time in its own process with a
short lease and a slow enough pace that a full first read takes seconds.
``kill -9`` lands at random moments of polling several times; after the last
restart the database must hold exactly the ground truth, with nothing stored
twice.  SIGTERM must stop the daemon cleanly: in-flight polls end, no lease is
left behind, exit status 0.
"""

from __future__ import annotations

import random
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness import compare_with_truth
from huisheng.clock import FakeClock
from huisheng.config import load_settings
from huisheng.config.matrix import dump_matrix
from huisheng.storage.models import Account, Comment, Post
from huisheng.app import Runtime, build_runtime
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.sample import sample_matrix

HUISHENG = str(Path(sys.executable).with_name("huisheng"))
ACCOUNTS = 10
LEASE_SECONDS = 3
STARTUP_TIMEOUT = 20.0  # a cold start imports SQLAlchemy, APScheduler, requests…
STOP_TIMEOUT = 20.0


@dataclass
class Setup:
    config: Path
    server: SimServer
    runtime: Runtime  # the test's own view of the database
    log_dir: Path


def _write_config(tmp: Path, db_url: str, base_url: str) -> Path:
    (tmp / "matrix.toml").write_text(dump_matrix(sample_matrix(ACCOUNTS, streets=2)), encoding="utf-8")
    config = tmp / "huisheng.toml"
    # min_interval makes a first full read take several seconds (so kills land
    # mid-poll); window_refresh_interval=1 makes every poll after a restart a
    # window re-read; lease_seconds is short so a killed worker's lease expires.
    config.write_text(f"""\
matrix = "matrix.toml"
log_level = "INFO"

[database]
url = "{db_url}"

[polling]
interval = 2
recent_window_days = 7
window_refresh_interval = 1
tick = 0.2
workers = 2
lease_seconds = {LEASE_SECONDS}
backoff_base = 1.0
backoff_cap = 2.0

[platforms.weibo]
min_interval = 0.05
concurrency = 1
# the search's own pace (5 s by default) would outlast the test's real-time catch-up
search_min_interval = 0.001
base_url = "{base_url}"
ajax_base_url = "{base_url}"
mode = "mobile"
""", encoding="utf-8")
    return config


def _cli(config: Path, *args: str) -> None:
    done = subprocess.run([HUISHENG, *args, "--config", str(config)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, (args, done.stdout, done.stderr)


@pytest.fixture
def setup(db_url, tmp_path):
    # The world is frozen at real "now": it holds a few days of history and
    # never changes while the daemon (on real time) reads it.  No post is
    # deleted in it: one deleted before the daemon's first look is in the
    # ground truth, but no monitor could ever have seen it.
    frozen = datetime.now(timezone.utc).replace(microsecond=0)
    world = World(sample_matrix(ACCOUNTS, streets=2), seed=23, start=frozen - timedelta(days=2),
                  config=WorldConfig(history_days=3, edit_share=0.2, post_delete_share=0.0,
                                     comment_delete_share=0.1, long_share=0.3))
    server = SimServer(world, FakeClock(frozen))
    base = server.start()
    config = _write_config(tmp_path, db_url, base)
    _cli(config, "db", "upgrade")
    _cli(config, "matrix", "sync")
    runtime = build_runtime(load_settings(config))
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    try:
        yield Setup(config, server, runtime, log_dir)
    finally:
        runtime.close()
        server.stop()


class Daemon:
    """``huisheng run`` as a child process, its stderr in a file."""

    def __init__(self, setup: Setup, name: str):
        self.log = setup.log_dir / f"{name}.log"
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen([HUISHENG, "run", "--config", str(setup.config)],
                                     stdout=self._out, stderr=subprocess.STDOUT)

    @property
    def owner(self) -> str:
        """The lease owner the dispatcher in this process writes."""
        return f"{socket.gethostname()}:{self.proc.pid}"

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for_line(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert self.proc.poll() is None, f"daemon exited early:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {needle!r} within {timeout}s:\n{self.text()}"
            time.sleep(0.05)

    def signal(self, signum: int) -> int:
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        finally:
            self._out.close()

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
        self._out.close()


def _accounts(runtime: Runtime) -> list[Account]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Account).order_by(Account.id)))


def _duplicates(runtime: Runtime) -> list[tuple]:
    with runtime.sessions() as session:
        found = []
        for model in (Post, Comment):
            found += session.execute(
                select(model.platform, model.external_id, func.count())
                .group_by(model.platform, model.external_id).having(func.count() > 1)).all()
    return found


def _counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.sessions() as session:
        return (session.scalar(select(func.count()).select_from(Post)),
                session.scalar(select(func.count()).select_from(Comment)))


def _caught_up(runtime: Runtime, since: datetime) -> bool:
    """Every account has succeeded, and re-read its window, since ``since``."""
    return all(a.last_success_at is not None and a.last_success_at > since
               and a.window_checked_at is not None and a.window_checked_at >= since
               for a in _accounts(runtime))


def test_kill_9_at_random_moments_then_restart_holds_exactly_the_truth(setup):
    rng = random.Random(20261126)
    truth = setup.server.truth()
    kills_mid_poll = 0
    progress = []
    for round_no in range(6):
        daemon = Daemon(setup, f"kill{round_no}")
        try:
            daemon.wait_for_line("dispatcher started", STARTUP_TIMEOUT)
            time.sleep(rng.uniform(0.3, 2.5))
            daemon.proc.send_signal(signal.SIGKILL)
            assert daemon.proc.wait(timeout=STOP_TIMEOUT) == -signal.SIGKILL
        finally:
            daemon.ensure_dead()
        assert _duplicates(setup.runtime) == []
        # A lease the killed process left behind marks a poll cut off mid-way.
        kills_mid_poll += any(a.lease_owner == daemon.owner for a in _accounts(setup.runtime))
        progress.append(_counts(setup.runtime))
    # Shown when the test fails: the world (frozen at as_of) and how far each life got.
    print(f"world as of {truth['as_of']}: {len(truth['posts'])} posts, {len(truth['comments'])} "
          f"comments; kills mid-poll {kills_mid_poll}; (posts, comments) after each kill {progress}")
    # The kills really cut polls short, and the work was spread over several
    # lives of the daemon rather than done by the first one.
    assert kills_mid_poll >= 3, (kills_mid_poll, progress)
    assert progress[0][1] < len(truth["comments"]) / 2, progress

    restart = datetime.now(timezone.utc)
    daemon = Daemon(setup, "final")
    try:
        daemon.wait_for_line("dispatcher started", STARTUP_TIMEOUT)
        # Leases of killed workers expire, then every account is polled again.
        deadline = time.monotonic() + 40
        while not _caught_up(setup.runtime, restart):
            assert daemon.proc.poll() is None, daemon.text()
            assert time.monotonic() < deadline, [
                (a.name, a.last_success_at, a.window_checked_at, a.lease_owner, a.last_error_kind)
                for a in _accounts(setup.runtime)]
            time.sleep(0.2)
        assert daemon.signal(signal.SIGTERM) == 0, daemon.text()
    finally:
        daemon.ensure_dead()

    assert _duplicates(setup.runtime) == []
    compare_with_truth(setup.runtime, truth)
    assert all(a.consecutive_errors == 0 for a in _accounts(setup.runtime))


def test_sigterm_stops_cleanly_with_no_lease_left(setup):
    daemon = Daemon(setup, "term")
    try:
        daemon.wait_for_line("dispatcher started", STARTUP_TIMEOUT)
        # Stop while the first (long) read of the world is in flight.
        deadline = time.monotonic() + 10
        while not (in_flight := [a.name for a in _accounts(setup.runtime) if a.lease_owner]):
            assert time.monotonic() < deadline, daemon.text()
            time.sleep(0.05)
        stopped_at = datetime.now(timezone.utc)
        assert daemon.signal(signal.SIGTERM) == 0, daemon.text()
    finally:
        daemon.ensure_dead()
    log = daemon.text()
    assert "SIGTERM received, finishing polls in flight" in log
    assert f"dispatcher stopped owner={daemon.owner}" in log
    assert "Traceback" not in log and "outcome=crash" not in log, log
    accounts = {a.name: a for a in _accounts(setup.runtime)}
    assert [name for name, a in accounts.items() if a.lease_owner or a.lease_until] == []
    for name in in_flight:
        # Each poll in flight ended on its own: whole, or cut between two
        # committed units and due again at once rather than an interval later.
        assert re.search(rf"account={re.escape(name)} .*outcome=(ok|interrupted)", log), (name, log)
        if f"account={name} platform=weibo outcome=interrupted" in log:
            assert accounts[name].next_check_at <= datetime.now(timezone.utc), name
            assert accounts[name].next_check_at >= stopped_at, name
    assert _duplicates(setup.runtime) == []
