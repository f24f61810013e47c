"""What ``scaleout`` and ``city`` share: ``huisheng worker`` processes over a
PostgreSQL schema of their own, against the simulator in a child process
(optionally answering each request after a fixed latency), and one timed
polling cycle: every account due at once, until each has been polled.

PostgreSQL: ``HUISHENG_BENCH_DATABASE_URL``, else ``HUISHENG_TEST_DATABASE_URL``,
else the local server (postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests as http
from sqlalchemy import create_engine, func, select, text, update

from huisheng.config.matrix import dump_matrix
from huisheng.config.settings import AccountSpec, Matrix
from huisheng.simulator.sample import sample_matrix
from huisheng.storage.db import make_engine, normalize_url
from huisheng.storage.models import Account

ROOT = Path(__file__).resolve().parent.parent
HUISHENG = str(Path(sys.executable).with_name("huisheng"))
#: search pages the simulator answers per account before its rate limit (418)
SEARCH_PAGES_PER_ACCOUNT = 5
PG = os.environ.get("HUISHENG_BENCH_DATABASE_URL") or os.environ.get("HUISHENG_TEST_DATABASE_URL") \
    or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def serve(matrix_path: str, latency: str, history_days: str) -> None:
    """The child process: the simulator on a frozen clock, each request
    answered after ``latency`` seconds (a network's round trip)."""
    from huisheng.clock import FakeClock
    from huisheng.config.matrix import load_matrix
    from huisheng.simulator import SimServer, World, WorldConfig
    from huisheng.simulator import server as sim_server

    delay = float(latency)

    class Slow(sim_server._Handler):  # the bench's own latency, not a fault the simulator knows
        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            if delay and not self.path.startswith("/_sim/"):
                time.sleep(delay)
            super().do_GET()

    class Server(SimServer):
        def start(self) -> str:
            sim_server._Handler, original = Slow, sim_server._Handler
            try:
                return super().start()
            finally:
                sim_server._Handler = original

    now = datetime.now(timezone.utc)
    matrix = load_matrix(Path(matrix_path))
    world = World(matrix, seed=20261205, start=now - timedelta(hours=1),
                  config=WorldConfig(history_days=int(history_days)))
    # The clock is frozen, so the search limit's window never slides: every
    # search of the run counts against it.  The warm-up reads each account's
    # mention search once (a few pages at most), faster than Weibo would
    # allow; the limit must fit that, or its 418 pauses the egress for minutes.
    server = Server(world, FakeClock(now), search_limit=(SEARCH_PAGES_PER_ACCOUNT * len(matrix.accounts), 60.0))
    print(server.start(), flush=True)
    sys.stdin.read()  # until the bench closes it
    server.stop()


def city_matrix(districts: int, accounts_each: int) -> Matrix:
    """``districts`` copies of the sample district, codes and uids apart,
    under one root (a matrix is one district's: each copy's departments and
    streets hang from the city, its own accounts belong to the city)."""
    one = sample_matrix(accounts_each, streets=8)
    root = next(u for u in one.units if u.parent is None)
    units, accounts = [root], []
    for d in range(districts):
        prefix = f"Q{d:02d}-"

        def code(unit: str) -> str:
            return root.code if unit == root.code else prefix + unit

        units += [replace(u, code=code(u.code), parent=code(u.parent), name=f"{d + 1}区{u.name}", aliases=())
                  for u in one.units if u is not root]
        accounts += [AccountSpec(a.platform, str(2_000_000_001 + d * 10_000 + i), f"{d + 1}区{a.name}", code(a.unit))
                     for i, a in enumerate(one.accounts)]
    return Matrix(tuple(units), tuple(accounts))


@dataclass
class Cluster:
    folder: Path
    config: Path
    schema: str
    url: str
    sim: subprocess.Popen
    base: str
    workers: list[subprocess.Popen]

    def requests(self) -> int:
        return http.get(self.base + "/_sim/stats", timeout=60).json()["total"]

    def faults(self) -> dict[str, int]:
        """Faults the simulator answered (a rate limit among them), by kind."""
        return http.get(self.base + "/_sim/stats", timeout=60).json()["faults"]


def start(folder: Path, matrix: Matrix, *, latency: float, spacing: float, concurrency: int,
          worker_concurrency: int, history_days: int = 1) -> Cluster:
    (folder / "matrix.toml").write_text(dump_matrix(matrix), encoding="utf-8")
    sim = subprocess.Popen([sys.executable, "-c", "import sys; from bench._cluster import serve; serve(*sys.argv[1:])",
                            str(folder / "matrix.toml"), str(latency), str(history_days)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    base = sim.stdout.readline().strip()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_url(PG), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in PG else "?"
    url = f"{normalize_url(PG)}{sep}options=-csearch_path%3D{schema}"
    config = folder / "huisheng.toml"
    config.write_text(f"""\
matrix = "matrix.toml"
log_level = "WARNING"
[database]
url = "{url}"
[polling]
interval = 86400
window_refresh_interval = 86400
lease_seconds = 600
request_timeout = 30
[platforms.weibo]
min_interval = {spacing}
concurrency = {concurrency}
base_url = "{base}"
ajax_base_url = "{base}"
mode = "mobile"
# the mention search's own lane: read once in the warm-up, not due again in the measured cycle
search_min_interval = 0.001
mentions_interval = 2592000
[scale]
engine = "procrastinate"
dispatch_interval = 1
concurrency = {worker_concurrency}
queue_depth = 2000
heartbeat = 5
stall_timeout = 60
""", encoding="utf-8")
    cluster = Cluster(folder, config, schema, url, sim, base, [])
    for args in (["db", "upgrade"], ["matrix", "sync"]):
        done = subprocess.run([HUISHENG, *args, "--config", str(config)], capture_output=True, text=True, timeout=600)
        if done.returncode:
            close(cluster)
            raise RuntimeError(f"huisheng {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return cluster


def run_workers(cluster: Cluster, egresses: list[str]) -> None:
    log = (cluster.folder / "workers.log").open("ab")
    cluster.workers = [subprocess.Popen([HUISHENG, "worker", "--config", str(cluster.config), "--name", f"w{i}",
                                         "--egress", egress], stdout=log, stderr=subprocess.STDOUT)
                       for i, egress in enumerate(egresses)]


def stop_workers(cluster: Cluster) -> None:
    for p in cluster.workers:
        p.send_signal(signal.SIGTERM)
    for p in cluster.workers:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
    cluster.workers = []


def cycle(cluster: Cluster, egresses: list[str], timeout: float) -> tuple[float, int, int]:
    """Start the workers; once every one is up, every account due now;
    seconds until every account was polled (from the first poll's start),
    requests made, accounts."""
    engine = make_engine(cluster.url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM procrastinate_jobs WHERE status = 'todo'"))
        total = conn.scalar(select(func.count()).select_from(Account))
        registered = conn.scalar(text("SELECT count(*) FROM procrastinate_workers"))
    run_workers(cluster, egresses)
    deadline = time.monotonic() + timeout
    checked = time.monotonic()
    try:
        # Nothing due before all are up: a worker still starting (imports on a
        # busy machine) must not count against the cluster's rate.  Each
        # process runs two procrastinate workers (polls; everything else).
        while True:
            with engine.connect() as conn:
                if conn.scalar(text("SELECT count(*) FROM procrastinate_workers")) >= registered + 2 * len(egresses):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the workers did not start in {timeout:g}s (see {cluster.folder / 'workers.log'})")
            time.sleep(0.2)
        before = cluster.requests()
        mark = datetime.now(timezone.utc)
        with engine.begin() as conn:
            conn.execute(update(Account).values(next_check_at=None, lease_owner=None, lease_until=None))
        while True:
            with engine.connect() as conn:
                done = conn.scalar(select(func.count()).select_from(Account).where(Account.last_success_at > mark))
                # of the accounts this cycle polled: a dispatch that read the clock just
                # before the mark may have claimed them (its claim time is their start)
                first = conn.scalar(select(func.min(Account.last_check_at)).where(Account.last_success_at > mark))
                last = conn.scalar(select(func.max(Account.last_success_at)))
            if done == total:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done} of {total} accounts polled in {timeout:g}s "
                                   f"(see {cluster.folder / 'workers.log'})")
            if time.monotonic() - checked > 5:
                # a fault (a 418 above all) pauses an egress for minutes: no figure then
                if faults := cluster.faults():
                    raise RuntimeError(f"the simulator answered faults {faults}: {done} of {total} accounts polled")
                checked = time.monotonic()
            time.sleep(0.2)
    finally:
        stop_workers(cluster)
        engine.dispose()
    return (last - first).total_seconds(), cluster.requests() - before, total


def close(cluster: Cluster) -> None:
    stop_workers(cluster)
    cluster.sim.stdin.close()
    try:
        cluster.sim.wait(timeout=10)
    except subprocess.TimeoutExpired:
        cluster.sim.kill()
    admin = create_engine(normalize_url(PG), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{cluster.schema}" CASCADE'))
    admin.dispose()


def folder() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="huisheng-bench-")
