"""``feeds``: one polling cycle of huisheng over 176 local feeds ÷ the reference
feed reader's (lemon24/reader, ``Reader.update_feeds()``) on the same feeds.

A feed server in a child process serves 176 RSS 2.0 feeds of 20 entries on
127.0.0.1, each request answered after 50 ms (``HUISHENG_BENCH_LATENCY``), with
ETag and Last-Modified honoured (304).  Both readers first read every feed once
(the warm-up keeps their validators); then, each round, in the same run:

* ``feeds_unchanged``: every feed unchanged since the last read (176 × 304);
* ``feeds_new_entry``: every feed with one new entry (its oldest drops off).

huisheng's cycle is the daemon's own loop, as in the ``cycle`` benchmark:
``Dispatcher.run()`` with its thread pool, the shared per-host pacer and SQLite,
every feed account due at once; value = seconds from the dispatcher's start to
the last poll's end.  Its workers (and the feed host's concurrency, no spacing:
a local host) are each of ``HUISHENG_BENCH_FEED_WORKERS`` (default 16, 32), its best counted.  reader runs
``update_feeds(scheduled=False, workers=W)`` on its own SQLite for each W of
``HUISHENG_BENCH_READER_WORKERS`` (default 1, 4, 8, 16, 32); its baseline is its
best W.  Best of ``HUISHENG_BENCH_RUNS`` rounds on both sides (the machine is
shared).  ratio = huisheng ÷ reader; the goal is ≤ 1.0 for both figures.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import update

from bench._common import emit, note
from bench.cycle import _run_cycle
from huisheng import migrations
from huisheng.adapters.base import Pace
from huisheng.app import build_runtime
from huisheng.clock import Clock
from huisheng.config import load_settings
from huisheng.config.settings import AccountSpec, Matrix, PlatformSettings, Settings, UnitSpec
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "huisheng.example.toml"
FEEDS = 176
ENTRIES = 20
LATENCY = float(os.environ.get("HUISHENG_BENCH_LATENCY", "0.05"))
RUNS = int(os.environ.get("HUISHENG_BENCH_RUNS", "3"))
WORKERS = tuple(int(w) for w in os.environ.get("HUISHENG_BENCH_FEED_WORKERS", "16,32").split(","))
READER_WORKERS = tuple(int(w) for w in os.environ.get("HUISHENG_BENCH_READER_WORKERS", "1,4,8,16,32").split(","))
#: entries are hours apart, the newest a day old when the run starts
START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)


# --- the feed server (child process) ----------------------------------------------------------


class _Feeds:
    """176 feeds; ``add()`` gives each one new entry (the feed keeps its newest 20)."""

    def __init__(self) -> None:
        self.newest = ENTRIES  # entries 1..newest exist; a feed shows the last ENTRIES
        self.lock = threading.Lock()
        self.bodies: dict[str, tuple[bytes, str, str]] = {}
        self._render()

    def add(self) -> None:
        with self.lock:
            self.newest += 1
            self._render()

    def _render(self) -> None:
        self.bodies = {f"/feeds/{i:03d}.xml": self._feed(i) for i in range(FEEDS)}

    def _feed(self, i: int) -> tuple[bytes, str, str]:
        items = []
        for n in range(self.newest, self.newest - ENTRIES, -1):
            at = START + timedelta(hours=n)
            html = (f"<p>第{n}号通知：{i}号单位发布便民服务安排，<b>请居民相互转告</b>。</p>"
                    f"<p>{'办理时间为工作日上午九点至下午五点，节假日另行通知。' * 3}</p>")
            items.append(f"<item><title>第{n}号通知（单位{i}）</title>"
                         f"<link>https://www.example.org/u{i}/{n}</link>"
                         f"<guid isPermaLink=\"true\">https://www.example.org/u{i}/{n}</guid>"
                         f"<pubDate>{format_datetime(at, usegmt=True)}</pubDate>"
                         f"<description>{escape(html)}</description></item>")
        body = ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
                f"<title>单位{i}</title><link>https://www.example.org/u{i}</link><description>单位{i}发布</description>"
                + "".join(items) + "</channel></rss>").encode("utf-8")
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        modified = format_datetime(START + timedelta(hours=self.newest), usegmt=True)
        return body, etag, modified


class _Handler(BaseHTTPRequestHandler):
    feeds: _Feeds
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        time.sleep(LATENCY)  # the server's latency, in this request's own thread
        with self.feeds.lock:
            found = self.feeds.bodies.get(self.path.split("?")[0])
        if found is None:
            self._send(404, b"", {})
            return
        body, etag, modified = found
        validators = {"ETag": etag, "Last-Modified": modified}
        if self.headers.get("If-None-Match") == etag or (
                not self.headers.get("If-None-Match") and self.headers.get("If-Modified-Since") == modified):
            self._send(304, b"", validators)
            return
        self._send(200, body, {"Content-Type": "application/rss+xml; charset=utf-8", **validators})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve() -> None:
    """The child process: the feeds on a free port; each stdin line "add" gives
    every feed a new entry, acknowledged with "ok"; end of input stops it."""
    feeds = _Feeds()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("FeedHandler", (_Handler,), {"feeds": feeds}))
    server.daemon_threads = True
    server.request_queue_size = 256
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    for line in sys.stdin:
        if line.strip() == "add":
            feeds.add()
        print("ok", flush=True)
    server.shutdown()


class _Server:
    def __init__(self) -> None:
        command = [sys.executable, "-c", "from bench.feeds import serve; serve()"]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.base = self.process.stdout.readline().strip()
        if not self.base.startswith("http://"):
            self.close()
            raise RuntimeError(f"the feed server did not start (printed {self.base!r})")
        self.requests = 0

    def add(self) -> None:
        self.process.stdin.write("add\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ok":
            raise RuntimeError("the feed server did not add the entries")

    def total_requests(self) -> int:  # what bench.cycle._run_cycle asks of a simulator
        return 0

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- huisheng -----------------------------------------------------------------------------------


def _matrix() -> Matrix:
    return Matrix(units=(UnitSpec(code="spb", name="示范区", level="district"),),
                  accounts=tuple(AccountSpec(platform="rss", uid=f"/feeds/{i:03d}.xml", name=f"单位{i}订阅源",
                                             unit="spb") for i in range(FEEDS)))


def _settings(url: str, base: str, workers: int) -> Settings:
    settings = load_settings(CONFIG)
    return replace(settings, database_url=url,
                   polling=replace(settings.polling, workers=workers, tick=0.05),
                   platforms={"rss": PlatformSettings(name="rss", pace=Pace(min_interval=0.0, concurrency=workers),
                                                      options={"base_url": base})})


def _all_due(settings: Settings) -> None:
    runtime = build_runtime(settings, Clock())
    try:
        with runtime.sessions.begin() as session:
            session.execute(update(Account).values(next_check_at=None, lease_owner=None, lease_until=None))
    finally:
        runtime.close()


class Huisheng:
    def __init__(self, folder: Path, base: str) -> None:
        url = f"sqlite:///{folder / 'huisheng.sqlite'}"
        migrations.upgrade(url)
        self.url, self.base = url, base
        runtime = build_runtime(_settings(url, base, WORKERS[0]), Clock())
        with runtime.sessions.begin() as session:
            sync_matrix(session, _matrix(), runtime.clock.now())
        runtime.close()

    def cycle(self, server: _Server, workers: int) -> float:
        settings = _settings(self.url, self.base, workers)
        _all_due(settings)
        result = _run_cycle(settings, server, FEEDS)
        if result.errors:
            raise RuntimeError(f"{result.errors} of {FEEDS} feeds failed in huisheng's cycle")
        return result.seconds


# --- reader --------------------------------------------------------------------------------------


class Reference:
    def __init__(self, folder: Path, base: str) -> None:
        from reader import make_reader

        self.reader = make_reader(str(folder / "reader.sqlite"))
        for i in range(FEEDS):
            self.reader.add_feed(f"{base}/feeds/{i:03d}.xml")

    def update(self, workers: int) -> float:
        started = time.perf_counter()
        self.reader.update_feeds(scheduled=False, workers=workers)
        seconds = time.perf_counter() - started
        broken = [f.url for f in self.reader.get_feeds() if f.last_exception]
        if broken:
            raise RuntimeError(f"reader failed on {len(broken)} feeds, e.g. {broken[0]}")
        return seconds

    def close(self) -> None:
        self.reader.close()


def measure(folder: Path) -> dict[str, dict[str, list[float]]]:
    """Seconds per round: {"unchanged"|"new_entry": {"huisheng@W"|"reader@W": [...]}}."""
    server = _Server()
    times: dict[str, dict[str, list[float]]] = {"unchanged": {}, "new_entry": {}}
    try:
        ours, theirs = Huisheng(folder, server.base), Reference(folder, server.base)
        try:
            warm = ours.cycle(server, max(WORKERS)), theirs.update(max(READER_WORKERS))
            note(f"feeds: warm-up (first reads of {FEEDS} feeds): huisheng {warm[0]:.2f}s, reader {warm[1]:.2f}s")
            for _ in range(RUNS):
                for workers in READER_WORKERS:
                    times["unchanged"].setdefault(f"reader@{workers}", []).append(theirs.update(workers))
                for workers in WORKERS:
                    times["unchanged"].setdefault(f"huisheng@{workers}", []).append(ours.cycle(server, workers))
                for workers in READER_WORKERS:
                    server.add()  # each measured read sees exactly one new entry per feed
                    times["new_entry"].setdefault(f"reader@{workers}", []).append(theirs.update(workers))
                ours.cycle(server, max(WORKERS))  # level with the feeds again, unmeasured
                for workers in WORKERS:
                    server.add()
                    times["new_entry"].setdefault(f"huisheng@{workers}", []).append(ours.cycle(server, workers))
                theirs.update(max(READER_WORKERS))  # level with the feeds again, unmeasured
        finally:
            theirs.close()
    finally:
        server.close()
    return times


def main() -> None:
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="huisheng-bench-feeds-") as tmp:
        times = measure(Path(tmp))
    for case, by in times.items():
        note(f"feeds {case}: " + ", ".join(f"{who} best {min(v):.3f}s (runs {', '.join(f'{x:.3f}' for x in v)})"
                                           for who, v in by.items()))
        best = {side: min((min(v), who.split("@")[1]) for who, v in by.items() if who.startswith(side + "@"))
                for side in ("huisheng", "reader")}
        note(f"feeds {case}: best worker counts: huisheng {best['huisheng'][1]}, reader {best['reader'][1]}")
        emit(f"feeds_{case}", round(best["huisheng"][0], 4), "s", round(best["reader"][0], 4))


if __name__ == "__main__":
    main()
