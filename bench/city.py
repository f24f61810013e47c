"""``city``: one full polling cycle of a city's districts with 4 workers on 4
egress labels ÷ the bound the per-egress pace implies.

Procrastinate workers (``huisheng worker`` processes, one per egress label)
share a PostgreSQL schema; the simulator runs in a child process.  Each
egress keeps its spacing (``HUISHENG_BENCH_SPACING``, default 1 s, within
Weibo's real 1–3 s) for all its requests, through the database.  A warm-up
cycle (no spacing) reads every account's recent window; the measured cycle
then polls every account once more, from the first claim to the last poll's
end.  baseline = requests × spacing ÷ 4 (the bound four paced egresses
imply); goal ratio ≤ 1.1.

``HUISHENG_BENCH_DISTRICTS`` copies of the 176-account sample district: 3 by
default (528 accounts, about four minutes); Chongqing's 38 (6,688 accounts)
take half an hour at this spacing, by the pace alone.  The spacing must stay
well above what one request costs the machine, or the bench measures the
machine (a 2-core box running the workers, PostgreSQL and the simulator does
a few polls a second).
"""

from __future__ import annotations

import os
from pathlib import Path

from bench import _cluster
from bench._common import emit, note

DISTRICTS = int(os.environ.get("HUISHENG_BENCH_DISTRICTS", "3"))
SPACING = float(os.environ.get("HUISHENG_BENCH_SPACING", "1.0"))
EGRESSES = ["e0", "e1", "e2", "e3"]


def main() -> None:
    matrix = _cluster.city_matrix(DISTRICTS, 176)
    with _cluster.folder() as tmp:
        cluster = _cluster.start(Path(tmp), matrix, latency=0.0, spacing=0.001, concurrency=4, worker_concurrency=4,
                                 history_days=0)
        try:
            warm = _cluster.cycle(cluster, EGRESSES, timeout=3600)
            note(f"city: warm-up (first reads) {warm[2]} accounts, {warm[1]} requests, {warm[0]:.1f}s")
            text = cluster.config.read_text(encoding="utf-8")
            cluster.config.write_text(text.replace("min_interval = 0.001", f"min_interval = {SPACING}")
                                      .replace("concurrency = 4\nbase_url", "concurrency = 1\nbase_url"),
                                      encoding="utf-8")
            seconds, requests, accounts = _cluster.cycle(cluster, EGRESSES, timeout=3600)
        finally:
            _cluster.close(cluster)
    bound = requests * SPACING / len(EGRESSES)
    note(f"city: {DISTRICTS} districts, {accounts} accounts, {requests} requests in {seconds:.1f}s vs bound "
         f"{bound:.1f}s ({len(EGRESSES)} egresses at one request per {SPACING * 1000:.0f} ms)")
    emit("city", round(seconds, 2), "s", round(bound, 2))


if __name__ == "__main__":
    main()
