"""``cycle``: one full polling cycle of the matrix ÷ the bound its spacing implies.

The 176-account example district, the real ``Clock``, SQLite in a temporary
folder, the simulator over real HTTP, and the daemon's own loop:
``Dispatcher.run()`` (the APScheduler tick job feeding the real thread pool,
the shared per-host pacer).  The example config's pace (3 s between request
starts, one at a time) and tick (5 s) are scaled down by the same factor so a
cycle takes seconds, not ten minutes: spacing ``HUISHENG_BENCH_SPACING``
(default 0.02 s), tick 5 s × 0.02 / 3, and the mention searches' own spacing
over all accounts (``search_min_interval``, 5 s) alike.  Workers and
everything else as configured.

A warm-up (no spacing) reads every account's recent window once; each cycle
measured is then a steady-state one: the simulated world moved on by one
polling interval (900 s of posts, comments, replies, edits and deletions),
every account due at once, a quarter of them also due for their hourly window
re-read (re-reads are spread over the four 15-minute cycles of an hour).

value = seconds from the dispatcher's start to the last poll's end; baseline =
requests in the cycle × spacing ÷ concurrency; ratio = value ÷ baseline.  Best
of ``HUISHENG_BENCH_RUNS`` cycles (the machine is shared).  The simulator runs
in a child process (:func:`serve`) so its work does not contend with the
daemon's threads for the GIL; ``HUISHENG_BENCH_SIM=thread`` runs it in-process
instead, for comparison (the same figure at 10–20 ms spacing, a few per cent
worse at 5 ms).  ``HUISHENG_BENCH_TICK`` overrides the scaled tick.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import requests as http
from sqlalchemy import update

from bench._common import emit, note, weibo_accounts
from huisheng import migrations
from huisheng.adapters.base import HttpSession, Pace
from huisheng.clock import Clock
from huisheng.config import load_settings
from huisheng.polling.dispatcher import Dispatcher
from huisheng.config.matrix import load_matrix
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account
from huisheng.polling.poll import PollResult
from huisheng.app import build_runtime
from huisheng.config.settings import Settings
from huisheng.simulator import SimServer, World

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "huisheng.example.toml"
SEED = 20261102
SPACING = float(os.environ.get("HUISHENG_BENCH_SPACING", "0.02"))
RUNS = int(os.environ.get("HUISHENG_BENCH_RUNS", "3"))
#: the dispatcher tick; default: the configured tick scaled like the spacing
TICK = float(os.environ.get("HUISHENG_BENCH_TICK", "0"))
SIM_MODE = os.environ.get("HUISHENG_BENCH_SIM", "process")
CYCLE_TIMEOUT = 120.0
#: Weibo's search limit as the simulator keeps it: so many searches in any window of seconds
SEARCH_LIMIT, SEARCH_WINDOW = 15, 60.0


class ShiftedClock(Clock):
    """The simulator's clock: real time plus an offset that starts ``behind``
    and is moved forward by a polling interval before each measured cycle, so
    the world gets an interval's activity between cycles without the benchmark
    waiting for it.  (The daemon keeps the real clock: ``Dispatcher.run``
    schedules its first tick by ``clock.now()`` on APScheduler's real time.)
    Post and comment times lag the daemon's clock by at most ``behind``,
    which is nothing next to the 7-day window."""

    def __init__(self, behind: float = 0.0) -> None:
        self.offset = timedelta(seconds=-behind)

    def now(self) -> datetime:
        return super().now() + self.offset


def serve(matrix_path: str, behind: str, search_window: str) -> None:
    """The child process: the simulator on a shifted clock; each stdin line is
    seconds to shift by, acknowledged with a line once applied."""
    clock = ShiftedClock(float(behind))
    server = SimServer(World(load_matrix(Path(matrix_path)), seed=SEED, start=clock.now()), clock,
                       search_limit=(SEARCH_LIMIT, float(search_window)))
    print(server.start(), flush=True)
    try:
        for line in sys.stdin:
            clock.offset += timedelta(seconds=float(line))
            print("ok", flush=True)
    finally:
        server.stop()


class _Simulator:
    """The simulator in a child process or in this one, on a shifted clock."""

    def __init__(self, matrix_path: Path, mode: str, behind: float, search_window: float):
        self.clock = ShiftedClock(behind)
        self.process: subprocess.Popen | None = None
        self.server: SimServer | None = None
        if mode == "thread":
            self.server = SimServer(World(load_matrix(matrix_path), seed=SEED, start=self.clock.now()),
                                    self.clock, search_limit=(SEARCH_LIMIT, search_window))
            self.base = self.server.start()
            return
        command = [sys.executable, "-c", "import sys; from bench.cycle import serve; serve(*sys.argv[1:])",
                   str(matrix_path), str(behind), str(search_window)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        cwd=ROOT)
        self.base = self.process.stdout.readline().strip()
        if not self.base.startswith("http://"):
            self.close()
            raise RuntimeError(f"the simulator did not start (printed {self.base!r})")

    def advance(self, seconds: float) -> None:
        if self.process is None:
            self.clock.offset += timedelta(seconds=seconds)
            return
        self.process.stdin.write(f"{seconds}\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ok":
            raise RuntimeError("the simulator did not acknowledge the clock shift")

    def total_requests(self) -> int:
        if self.server is not None:
            return self.server.stats()["total"]
        return http.get(self.base + "/_sim/stats", timeout=30).json()["total"]

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.process is not None:
            self.process.stdin.close()  # the child stops at end of input
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class _TimedSession(HttpSession):
    """Records when each request really started and ended (after the pacer's wait)."""

    spans: list[tuple[float, float]] = []  # replaced per cycle
    lock = threading.Lock()

    def get(self, *args, **kwargs):
        start = time.monotonic()
        try:
            return super().get(*args, **kwargs)
        finally:
            end = time.monotonic()
            with self.lock:
                self.spans.append((start, end))


@dataclass
class Cycle:
    seconds: float
    requests: int
    server_requests: int
    accounts: int
    errors: int
    spans: list[tuple[float, float]] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0


def _settings(base_settings: Settings, url: str, base: str, pace: Pace, tick: float,
              search_interval: float) -> Settings:
    weibo = base_settings.platforms["weibo"]
    return replace(base_settings, database_url=url,
                   polling=replace(base_settings.polling, tick=tick),
                   platforms={"weibo": replace(weibo, pace=pace, options={
                       **weibo.options, "base_url": base, "ajax_base_url": base,
                       "search_min_interval": search_interval})})


def _run_cycle(settings: Settings, sim: _Simulator, accounts: int) -> Cycle:
    """Run the daemon loop until every account has been polled once."""
    runtime = build_runtime(settings, Clock(), session_factory_http=_TimedSession, http_timeout=30.0)
    results: list[PollResult] = []
    spans: list[tuple[float, float]] = []
    done = threading.Event()
    finished = [0.0]
    lock = threading.Lock()

    def on_result(result: PollResult) -> None:
        with lock:
            if done.is_set():
                return  # polls after the cycle (none unless one account was polled twice)
            results.append(result)
            if len(results) == accounts:
                finished[0] = time.monotonic()
                with _TimedSession.lock:
                    spans.extend(_TimedSession.spans)
                done.set()

    dispatcher = Dispatcher(settings, runtime.sessions, runtime.clock, runtime.poller, on_result=on_result)

    def watchdog() -> None:
        done.wait(CYCLE_TIMEOUT)
        dispatcher.stop()

    _TimedSession.spans = []
    before = sim.total_requests()
    threading.Thread(target=watchdog, daemon=True).start()
    started = time.monotonic()
    try:
        dispatcher.run()  # returns once stopped, its pool drained
    finally:
        runtime.close()
    if not done.is_set():
        raise RuntimeError(f"only {len(results)} of {accounts} accounts polled in {CYCLE_TIMEOUT:g}s")
    return Cycle(seconds=finished[0] - started, requests=sum(r.requests for r in results),
                 server_requests=sim.total_requests() - before, accounts=len({r.account_id for r in results}),
                 errors=sum(1 for r in results if r.outcome != "ok"), spans=spans,
                 started=started, finished=finished[0])


def _make_all_due(settings: Settings, refresh_share: int = 4) -> None:
    """Every account due now; every ``refresh_share``-th also due for its window re-read."""
    runtime = build_runtime(settings, Clock())
    try:
        now = runtime.clock.now()
        stale = now - timedelta(seconds=settings.polling.window_refresh_interval)
        with runtime.sessions.begin() as session:
            session.execute(update(Account).values(next_check_at=None, lease_owner=None, lease_until=None))
            session.execute(update(Account).where(Account.id % refresh_share == 0)
                            .values(window_checked_at=stale))
    finally:
        runtime.close()


def _gaps(cycle: Cycle, spacing: float) -> dict[str, float]:
    """Where the time beyond the bound went: before the first request, pacer
    slots left idle between requests, and after the last request started."""
    starts = sorted(s for s, _ in cycle.spans)
    idle = sum(max(0.0, b - a - spacing) for a, b in zip(starts, starts[1:]))
    return {"head": starts[0] - cycle.started, "idle": idle, "tail": cycle.finished - starts[-1]}


def measure(folder: Path) -> tuple[list[Cycle], int]:
    """The measured cycles and the configured concurrency."""
    base_settings = load_settings(CONFIG)
    matrix = weibo_accounts(load_matrix(base_settings.matrix_path))
    configured = base_settings.platforms["weibo"].pace
    scale = SPACING / configured.min_interval
    pace = Pace(min_interval=SPACING, concurrency=configured.concurrency)
    tick = TICK or base_settings.polling.tick * scale
    # the mention searches' own lane (its spacing over all accounts) is scaled as the host's pace is
    search = float(base_settings.platforms["weibo"].options.get("search_min_interval", 5.0)) * scale
    url = f"sqlite:///{folder / 'bench.sqlite'}"
    migrations.upgrade(url)
    # Weibo's search limit (15 in any 60 s: the simulator answers 418 past it) scaled as the pace is
    sim = _Simulator(base_settings.matrix_path, SIM_MODE, behind=RUNS * base_settings.polling.interval,
                     search_window=SEARCH_WINDOW * scale)
    try:
        settings = _settings(base_settings, url, sim.base, pace, tick, search)
        runtime = build_runtime(settings, Clock())
        with runtime.sessions.begin() as session:
            sync_matrix(session, matrix, runtime.clock.now())
        runtime.close()
        started = time.perf_counter()
        warm = _run_cycle(_settings(base_settings, url, sim.base, Pace(0.0, configured.concurrency), tick, search),
                          sim, len(matrix.accounts))
        note(f"cycle: warm-up (first window reads, no spacing) {warm.requests} requests, "
             f"{warm.seconds:.1f}s ({time.perf_counter() - started:.1f}s in all)")
        cycles = []
        for _ in range(RUNS):
            sim.advance(settings.polling.interval)  # a polling interval of activity since the last cycle
            _make_all_due(settings)
            cycles.append(_run_cycle(settings, sim, len(matrix.accounts)))
        return cycles, configured.concurrency
    finally:
        sim.close()


def main() -> None:
    # A tick scaled down to milliseconds now and then overlaps the previous one;
    # APScheduler's "skipped" warning for that is expected here.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="huisheng-bench-") as tmp:
        cycles, concurrency = measure(Path(tmp))
    for n, c in enumerate(cycles, 1):
        bound = c.requests * SPACING / concurrency
        g = _gaps(c, SPACING)
        note(f"cycle run {n}: {c.accounts} accounts, {c.requests} requests (server saw {c.server_requests}), "
             f"{c.errors} failed, {c.seconds:.3f}s vs bound {bound:.3f}s (ratio {c.seconds / bound:.3f}); "
             f"first request after {g['head'] * 1000:.0f} ms, pacer idle {g['idle'] * 1000:.0f} ms, "
             f"last poll ended {g['tail'] * 1000:.0f} ms after the last request started")
    best = min(cycles, key=lambda c: c.seconds / c.requests)  # the least disturbed run
    emit("cycle", round(best.seconds, 4), "s", round(best.requests * SPACING / concurrency, 4))


if __name__ == "__main__":
    main()
