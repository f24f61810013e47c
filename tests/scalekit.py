"""Several machines in one test: ``huisheng worker`` processes against the
simulator and a PostgreSQL schema of their own, a TCP proxy that can take the
database away from them, and a world clock that runs hours in seconds."""

from __future__ import annotations

import re
import selectors
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, func, or_, select, text, update
from sqlalchemy.engine import make_url

from huisheng.clock import Clock
from huisheng.storage.db import normalize_url
from huisheng.storage.models import Account, AccountSource, Comment, Post

HUISHENG = str(Path(sys.executable).with_name("huisheng"))
STARTUP_TIMEOUT = 30.0  # a cold start on a busy 2-core machine
STOP_TIMEOUT = 30.0


class PgSchema:
    """An empty schema on the test PostgreSQL; ``url(port=…)`` reaches it
    (through a proxy when given its port)."""

    def __init__(self, base_url: str):
        self.base = normalize_url(base_url)
        self.name = f"t_{uuid.uuid4().hex[:12]}"
        self.admin = create_engine(self.base, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))

    def url(self, port: int | None = None) -> str:
        parsed = make_url(self.base)
        if port is not None:
            parsed = parsed.set(host="127.0.0.1", port=port)
        rendered = parsed.render_as_string(hide_password=False)
        sep = "&" if "?" in rendered else "?"
        return f"{rendered}{sep}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


class CatchingUp(Clock):
    """The world's clock: starts ``hours`` in the past and runs ``speed``
    times faster than real time until it reaches real now (then follows it),
    so workers on the real clock see hours of activity in seconds and never
    an item from their future.  ``freeze()`` stops the world."""

    def __init__(self, hours: float, seconds: float):
        self.t0 = time.monotonic()
        self.start = datetime.now(timezone.utc) - timedelta(hours=hours)
        self.speed = hours * 3600 / seconds
        self.frozen: datetime | None = None

    def now(self) -> datetime:
        if self.frozen is not None:
            return self.frozen
        real = datetime.now(timezone.utc)
        return min(real, self.start + timedelta(seconds=(time.monotonic() - self.t0) * self.speed))

    def freeze(self) -> None:
        self.frozen = self.now()


class Proxy:
    """A TCP proxy between the workers and PostgreSQL.  ``cut()`` drops every
    connection and refuses new ones (the server is gone as far as the workers
    can tell); ``restore()`` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = _free_port()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self.restore()

    def restore(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut while this one was being connected
                    client.close()
                    upstream.close()
                    return
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        try:
            sel.register(a, selectors.EVENT_READ, b)
            sel.register(b, selectors.EVENT_READ, a)
            while True:
                for key, _ in sel.select(timeout=0.5):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):  # cut (ValueError: closed before it was registered)
            return
        finally:
            sel.close()
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
        if listener is not None:
            # close() alone leaves a thread blocked in accept() listening (Linux)
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.cut()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(path: Path, db_url: str, base_url: str, *, matrix: str, lease: float = 3,
                 heartbeat: float = 0.5, stall: float = 2.0, interval: int = 2, spacing: float = 0.02,
                 extra: str = "") -> Path:
    path.write_text(f"""\
matrix = "{matrix}"
log_level = "INFO"

[database]
url = "{db_url}"

[polling]
interval = {interval}
recent_window_days = 7
window_refresh_interval = 1
tick = 1.0
workers = 2
lease_seconds = {lease}
backoff_base = 1.0
backoff_cap = 2.0
stop_grace = 15
request_timeout = 5

[platforms.weibo]
min_interval = {spacing}
concurrency = 2
base_url = "{base_url}"
ajax_base_url = "{base_url}"
mode = "mobile"
search_min_interval = {spacing}

[scale]
engine = "procrastinate"
dispatch_interval = 1
heartbeat = {heartbeat}
stall_timeout = {stall}
{extra}""", encoding="utf-8")
    return path


def cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([HUISHENG, *args, "--config", str(config)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


class WorkerProcess:
    """``huisheng worker`` as a child process, its output in a file."""

    def __init__(self, config: Path, log_dir: Path, name: str, egress: str, life: int = 0):
        self.name = name
        self.log = log_dir / f"{name}.{life}.log"
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen([HUISHENG, "worker", "--config", str(config), "--name", name,
                                      "--egress", egress], stdout=self._out, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, needle: str, timeout: float, *, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text()[after:]:
            assert self.proc.poll() is None, f"{self.name} exited early:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {needle!r} from {self.name} within {timeout}s:\n{self.text()}"
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT)
        self._out.close()

    def terminate(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        finally:
            self._out.close()

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
        self._out.close()


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d) ")


def poll_spans(logs: list[tuple[str, datetime | None]]) -> dict[str, list[tuple[datetime, datetime, str]]]:
    """Each account's polls from the workers' logs: (start, end, where) — a
    poll cut by a kill -9 ends when its worker died (``logs``: each log's text
    and when its process was killed, or None)."""
    spans: dict[str, list[tuple[datetime, datetime, str]]] = {}
    for n, (log, killed_at) in enumerate(logs):
        open_: dict[str, tuple[str, datetime]] = {}
        for line in log.splitlines():
            stamp = _STAMP.match(line)
            m = re.search(r"poll (start|end) account_id=(\d+) job=(\d+)", line)
            if not (stamp and m):
                continue
            at = datetime.fromisoformat(stamp.group(1))
            key = m.group(3)
            if m.group(1) == "start":
                open_[key] = (m.group(2), at)
            elif key in open_:
                account, began = open_.pop(key)
                spans.setdefault(account, []).append((began, at, f"log {n} job {key}"))
        for key, (account, began) in open_.items():
            end = killed_at or datetime.now(timezone.utc)
            spans.setdefault(account, []).append((began, end, f"log {n} job {key} (cut)"))
    return spans


def overlaps(spans: dict[str, list[tuple[datetime, datetime, str]]]) -> list[tuple]:
    found = []
    for account, items in spans.items():
        items = sorted(items)
        for (s1, e1, w1), (s2, e2, w2) in zip(items, items[1:]):
            if s2 < e1:
                found.append((account, w1, w2, s1, e1, s2))
    return found


def duplicates(sessions) -> list[tuple]:
    with sessions() as session:
        found = []
        for model in (Post, Comment):
            found += session.execute(
                select(model.platform, model.external_id, func.count())
                .group_by(model.platform, model.external_id).having(func.count() > 1)).all()
    return found


def caught_up(sessions, since: datetime) -> bool:
    """Every account has succeeded, re-read its window and read its mention
    sources since ``since``.  A source not read since then is made due now:
    its interval is far longer than a test (and a read in flight when the
    world stopped has just put it off)."""
    with sessions.begin() as session:
        session.execute(update(AccountSource).where(or_(AccountSource.last_success_at.is_(None),
                                                        AccountSource.last_success_at <= since))
                        .values(next_check_at=None))
        accounts = list(session.scalars(select(Account)))
        sources = list(session.scalars(select(AccountSource)))
    return all(a.last_success_at is not None and a.last_success_at > since
               and a.window_checked_at is not None and a.window_checked_at >= since for a in accounts) \
        and all(s.last_success_at is not None and s.last_success_at > since for s in sources)


def wait_until(condition, timeout: float, describe) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, describe()
        time.sleep(0.2)
