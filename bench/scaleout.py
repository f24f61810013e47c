"""``scaleout``: accounts polled per minute by 4 workers ÷ 4 × one worker.

Procrastinate workers (``huisheng worker`` processes) share a PostgreSQL
schema; the simulator (a child process) answers every request after 100 ms of
latency (``HUISHENG_BENCH_LATENCY``); the pace allows it (1 ms spacing, 16 in
flight per egress, each worker its own egress).  A warm-up cycle reads every
account's recent window once; each measured cycle then polls every account
once more (a timeline page each: the world is frozen), from the first claim
to the last poll's end.  value = the 4 workers' rate; baseline = 4 × one
worker's rate; goal ratio ≥ 0.8.  Each worker polls
``HUISHENG_BENCH_WORKER_CONCURRENCY`` accounts at once (1): the four share
one machine here, and once their polls need more CPU than it has (with
PostgreSQL and the simulator on it) the figure measures the machine.
"""

from __future__ import annotations

import os

from bench import _cluster
from bench._common import emit, note
from huisheng.simulator.sample import sample_matrix

ACCOUNTS = int(os.environ.get("HUISHENG_BENCH_ACCOUNTS", "160"))
LATENCY = float(os.environ.get("HUISHENG_BENCH_LATENCY", "0.1"))
WORKER_CONCURRENCY = int(os.environ.get("HUISHENG_BENCH_WORKER_CONCURRENCY", "1"))


def main() -> None:
    with _cluster.folder() as tmp:
        from pathlib import Path

        cluster = _cluster.start(Path(tmp), sample_matrix(ACCOUNTS, streets=8), latency=LATENCY, spacing=0.001,
                                 concurrency=16, worker_concurrency=WORKER_CONCURRENCY)
        try:
            warm = _cluster.cycle(cluster, ["e0", "e1", "e2", "e3"], timeout=600)
            note(f"scaleout: warm-up (first reads) {warm[2]} accounts, {warm[1]} requests, {warm[0]:.1f}s")
            one = _cluster.cycle(cluster, ["e0"], timeout=600)
            four = _cluster.cycle(cluster, ["e0", "e1", "e2", "e3"], timeout=600)
        finally:
            _cluster.close(cluster)
    rate1, rate4 = one[2] / one[0] * 60, four[2] / four[0] * 60
    note(f"scaleout: 1 worker {one[2]} accounts ({one[1]} requests) in {one[0]:.2f}s = {rate1:.0f}/min; "
         f"4 workers {four[2]} accounts ({four[1]} requests) in {four[0]:.2f}s = {rate4:.0f}/min "
         f"(latency {LATENCY * 1000:.0f} ms, {WORKER_CONCURRENCY} polls at once per worker)")
    emit("scaleout", round(rate4, 1), "accounts/min", round(4 * rate1, 1))


if __name__ == "__main__":
    main()
