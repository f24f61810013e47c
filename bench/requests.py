"""``requests``: requests the daemon makes over a simulated day ÷ the minimal.

The 176-account example district (``config/example-district``) is polled by the
real dispatcher and poller (``Dispatcher.run_virtual`` on a ``FakeClock``) over
real HTTP against the in-process simulator, on SQLite in a temporary folder,
with the polling defaults and Weibo pace of ``config/huisheng.example.toml``
(interval 900 s, 7-day recent window re-read every 3600 s, 3 s between
requests, one at a time; each account's @NAME searched every 1800 s, searches
5 s apart; the pacer's waits advance the fake clock, so the spacing shapes
when polls happen just as it would in real time).  The first five accounts
also read their own mention inbox (a cookie each).  The minimal counts the
mention sources too (see :mod:`huisheng.simulator.minimal`).

A warm-up runs until every account has read its recent window once (at 3 s a
request that takes about two simulated hours); then the simulator's counters
are reset and one simulated day (``HUISHENG_BENCH_SPAN_HOURS``, default 24) is
polled: about 17 000 polls, two minutes of real time on 2 cores
(``HUISHENG_BENCH_ACCOUNTS`` and a shorter span make quick trial runs).  The
minimal (:mod:`huisheng.simulator.minimal`) is computed over the warm-up's and
the day's poll instants together minus the warm-up's alone, so the day's first
poll of each account is charged only for what changed since the warm-up's last
poll (resetting alone would charge it the whole window as if nothing was known).
Requests made are every request the simulator answered during the day.

Two lines: ``requests`` (value = requests made, baseline = minimal) and
``requests_naive`` (value = what re-reading every recent thread at each of the
same polls would cost, same baseline) for contrast.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench._common import emit, note, weibo_accounts
from huisheng import migrations
from huisheng.clock import FakeClock
from huisheng.config import load_settings
from huisheng.polling.dispatcher import Dispatcher
from huisheng.config.matrix import load_matrix
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.app import build_runtime
from huisheng.simulator import SimServer, World, minimal_requests

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "huisheng.example.toml"
SEED = 20261102
START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)  # a Monday, 09:00 in Shanghai
SPAN_HOURS = float(os.environ.get("HUISHENG_BENCH_SPAN_HOURS", "24"))
ACCOUNTS = int(os.environ.get("HUISHENG_BENCH_ACCOUNTS", "0"))  # 0: the whole matrix
#: the first accounts of the matrix have their own cookie: their mention inbox is read too
INBOX_ACCOUNTS = 5


def _merge(*polls: dict[str, list[datetime]]) -> dict[str, list[datetime]]:
    merged: dict[str, list[datetime]] = {}
    for part in polls:
        for uid, instants in part.items():
            merged.setdefault(uid, []).extend(instants)
    return merged


def measure(folder: Path) -> dict:
    base_settings = load_settings(CONFIG)
    matrix = weibo_accounts(load_matrix(base_settings.matrix_path))
    if ACCOUNTS:
        matrix = replace(matrix, accounts=matrix.accounts[:ACCOUNTS])
    # a few accounts read their own mention inbox with their own cookie
    inbox = {a.uid for a in matrix.accounts[:INBOX_ACCOUNTS]}
    for uid in inbox:
        os.environ[f"HUISHENG_BENCH_COOKIE_{uid}"] = f"SUB=sim-{uid}"
    matrix = replace(matrix, accounts=tuple(replace(a, cookie_env=f"HUISHENG_BENCH_COOKIE_{a.uid}")
                                            if a.uid in inbox else a for a in matrix.accounts))
    clock = FakeClock(START)
    world = World(matrix, seed=SEED, start=START)
    server = SimServer(world, clock)
    base = server.start()
    weibo = base_settings.platforms["weibo"]
    settings = replace(
        base_settings, database_url=f"sqlite:///{folder / 'bench.sqlite'}",
        platforms={"weibo": replace(weibo, options={**weibo.options, "base_url": base,
                                                    "ajax_base_url": base})})
    polling = settings.polling
    migrations.upgrade(settings.database_url)
    runtime = build_runtime(settings, clock, http_timeout=30.0)
    dispatcher = Dispatcher(settings, runtime.sessions, clock, runtime.poller)
    results = []
    dispatcher.on_result = results.append
    try:
        with runtime.sessions.begin() as session:
            sync_matrix(session, matrix, clock.now())
        world.ensure(START + timedelta(hours=SPAN_HOURS + 2))  # generate outside the timing
        started = time.perf_counter()
        # Warm-up: until every account has read its recent window once (at
        # 3 s a request the first reads of 176 windows take hours of simulated time).
        while len(server.polls()) < len(matrix.accounts):
            dispatcher.run_virtual(clock, clock.now() + timedelta(seconds=polling.interval))
        warm_polls, warm_sources = server.polls(), server.source_polls()
        note(f"requests: warm-up {clock.now() - START} simulated, {sum(map(len, warm_polls.values()))} polls, "
             f"{server.stats()['total']} requests in {time.perf_counter() - started:.1f}s")
        server.reset_stats()
        results.clear()
        day_start = clock.now()
        dispatcher.run_virtual(clock, day_start + timedelta(hours=SPAN_HOURS))
        stats = server.stats()
        day_polls, day_sources = server.polls(), server.source_polls()
        elapsed = time.perf_counter() - started
        window = polling.recent_window_days
        warm = minimal_requests(world, warm_polls, window, warm_sources)
        both = minimal_requests(world, _merge(warm_polls, day_polls), window,
                                {e: _merge(warm_sources.get(e, {}), day_sources.get(e, {}))
                                 for e in {*warm_sources, *day_sources}})
        kinds = {k: both["by_kind"][k] - warm["by_kind"][k] for k in both["by_kind"]}
        return {
            "made": stats["total"], "by_endpoint": stats["by_endpoint"], "faults": stats["faults"],
            "minimal": both["minimal"] - warm["minimal"], "naive": both["naive"] - warm["naive"],
            "minimal_by_kind": kinds, "polls": sum(map(len, day_polls.values())),
            "accounts": len(matrix.accounts), "polled_accounts": len(day_polls),
            "reset_only_minimal": minimal_requests(world, day_polls, window, day_sources)["minimal"],
            "errors": sum(1 for r in results if r.outcome != "ok"),
            "span": clock.now() - day_start, "seconds": elapsed,
            "budget": stats["total"] * settings.platforms["weibo"].pace.min_interval
            / (clock.now() - day_start).total_seconds(),
        }
    finally:
        dispatcher.close()
        server.stop()
        runtime.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="huisheng-bench-") as tmp:
        r = measure(Path(tmp))
    note(f"requests: {r['accounts']} accounts ({r['polled_accounts']} polled), {r['span']} simulated, "
         f"{r['polls']} polls, {r['errors']} failed, {r['seconds']:.1f}s real; the pace's spacing was "
         f"busy {r['budget']:.0%} of the span")
    note(f"requests: made {r['made']} {r['by_endpoint']}; minimal {r['minimal']} {r['minimal_by_kind']} "
         f"(after a bare stats reset it would be {r['reset_only_minimal']}); naive {r['naive']}")
    emit("requests", r["made"], "requests", r["minimal"])
    emit("requests_naive", r["naive"], "requests", r["minimal"])


if __name__ == "__main__":
    main()
