"""A slow server never freezes polling: every request has a total deadline.

A real socket server here answers slowly in every way a request can be held
open (one byte of the body, of a header line, of a chunked body every few
milliseconds, on a fresh or a kept-alive connection), and the ``Http`` seam must
give up at its deadline with a typed ``Timeout``.  The poller records it on the
account, ``status --failing`` shows it, and a daemon told to stop while a
request trickles exits within its stop grace.
"""

from __future__ import annotations

import json
import signal
import socketserver
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from huisheng import errors
from huisheng.adapters.base import Cancel, Http, Pace
from huisheng.cli import main
from huisheng.clock import Clock
from huisheng.storage.db import make_engine, session_factory
from huisheng.config.matrix import dump_matrix
from huisheng.storage.models import Account
from huisheng.polling.pace import HostPacer
from huisheng.simulator.sample import sample_matrix

HUISHENG = str(Path(sys.executable).with_name("huisheng"))
#: one byte every DRIP seconds: each read is fast, the whole never ends
DRIP = 0.02
DEADLINE = 0.4
#: what the deadline may overrun by (thread wake-up, a loaded CI machine)
SLACK = 0.6

OK_BODY = json.dumps({"ok": 1, "data": {"cards": []}}).encode()


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server: Trickle = self.server  # type: ignore[assignment]
        server.connections += 1
        buffer = b""
        while not server.closing.is_set():
            while b"\r\n\r\n" not in buffer:
                data = self.request.recv(4096)
                if not data:
                    return
                buffer += data
            _, buffer = buffer.split(b"\r\n\r\n", 1)
            mode = server.modes.pop(0) if len(server.modes) > 1 else server.modes[0]
            server.requests += 1
            try:
                if mode == "ok":
                    self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                         b"Content-Length: %d\r\n\r\n" % len(OK_BODY) + OK_BODY)
                    continue
                head, drop = {
                    "body": (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{", b" "),
                    "headers": (b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a"),
                    "chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\n \r\n"),
                }[mode]
                self.request.sendall(head)
                while not server.closing.wait(DRIP):
                    self.request.sendall(drop)
            except OSError:  # the client gave up: what the tests want
                return
            return


class Trickle(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *modes: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.modes = list(modes)
        self.closing = threading.Event()
        self.connections = 0
        self.requests = 0
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


@pytest.fixture
def trickle():
    servers: list[Trickle] = []

    def start(*modes: str) -> Trickle:
        servers.append(Trickle(*modes))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _timed_get(http: Http, url: str) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        http.get(url + "/api/container/getIndex", endpoint="timeline")
    except errors.AdapterError as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


@pytest.mark.parametrize("mode", ["body", "headers", "chunked"])
def test_a_trickling_answer_is_a_timeout_at_the_total_deadline(trickle, mode):
    server = trickle(mode)
    elapsed, error = _timed_get(Http(timeout=DEADLINE), server.url)
    assert isinstance(error, errors.Timeout), error
    assert error.endpoint == "timeline" and error.kind == "timeout"
    # each byte arrives well within the deadline: only a total deadline ends it
    assert DEADLINE <= elapsed < DEADLINE + SLACK


def test_a_kept_alive_connection_that_starts_trickling_times_out_too(trickle):
    server = trickle("ok", "headers")
    http = Http(timeout=DEADLINE)
    assert http.get(server.url + "/a", endpoint="timeline").json() == json.loads(OK_BODY)
    elapsed, error = _timed_get(http, server.url)
    assert isinstance(error, errors.Timeout)
    assert elapsed < DEADLINE + SLACK
    assert (server.connections, server.requests) == (1, 2)  # the same socket, reused


def test_a_fast_answer_is_read_whole_and_the_connection_kept(trickle):
    server = trickle("ok")
    http = Http(timeout=DEADLINE)
    for _ in range(3):
        response = http.get(server.url + "/a", endpoint="timeline")
        assert response.content == OK_BODY
    assert (server.connections, server.requests) == (1, 3)
    time.sleep(DEADLINE + 0.1)  # a deadline passing after the request does nothing
    assert http.get(server.url + "/a", endpoint="timeline").content == OK_BODY


def test_cancel_cuts_a_request_in_flight_at_once(trickle):
    server = trickle("body")
    cancel = Cancel()
    http = Http(timeout=60, cancel=cancel)
    threading.Timer(0.2, cancel.set).start()
    elapsed, error = _timed_get(http, server.url)
    assert isinstance(error, errors.Cancelled)
    assert elapsed < 0.2 + SLACK
    # and no new request starts
    assert isinstance(_timed_get(http, server.url)[1], errors.Cancelled)
    assert server.requests == 1


def test_cancel_ends_a_wait_for_a_paused_host():
    pacer = HostPacer(Clock())
    pace = Pace(min_interval=0.01)
    pacer.pause("m.weibo.cn", 600, pace)  # Weibo's 418: ten minutes
    cancel = Cancel()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(errors.Cancelled):
        with pacer.gate("m.weibo.cn", pace, cancel):
            pass
    assert time.monotonic() - started < 0.2 + SLACK


# --- through the poller, the CLI and the daemon -------------------------------------------------


def _config(tmp_path: Path, db_url: str, base: str, *, accounts: int, polling: str) -> Path:
    (tmp_path / "matrix.toml").write_text(dump_matrix(sample_matrix(accounts, streets=1)), encoding="utf-8")
    config = tmp_path / "huisheng.toml"
    config.write_text(f"""\
matrix = "matrix.toml"
log_level = "INFO"
[database]
url = "{db_url}"
[polling]
{polling}
[platforms.weibo]
min_interval = 0.001
base_url = "{base}"
ajax_base_url = "{base}"
mode = "mobile"
""", encoding="utf-8")
    for args in (["db", "upgrade"], ["matrix", "sync"]):
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
    return config


def _accounts(db_url: str) -> list[Account]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(Account).order_by(Account.id)))
    finally:
        engine.dispose()


def test_a_poll_against_a_trickling_server_is_a_timeout_on_the_account(trickle, tmp_path, db_url):
    server = trickle("body")
    config = _config(tmp_path, db_url, server.url, accounts=1, polling=f"request_timeout = {DEADLINE}")
    uid = sample_matrix(1, streets=1).accounts[0].uid
    started = time.monotonic()
    result = CliRunner().invoke(main, ["poll", uid, "--config", str(config)])
    assert time.monotonic() - started < 5
    assert result.exit_code == 1 and "error=timeout" in result.output, result.output
    (account,) = _accounts(db_url)
    assert account.last_error_kind == "timeout" and account.consecutive_errors == 1
    assert account.next_check_at is not None and account.lease_owner is None
    failing = json.loads(CliRunner().invoke(main, ["status", "--failing", "--format", "json",
                                                   "--config", str(config)]).output)
    assert [(row["uid"], row["last_error_kind"]) for row in failing] == [(uid, "timeout")]


def test_sigterm_during_a_trickling_request_stops_within_the_grace(trickle, tmp_path, db_url):
    # A request deadline far beyond the grace: only the stop's cut ends it.
    server = trickle("body")
    grace = 4.0
    config = _config(tmp_path, db_url, server.url, accounts=3,
                     polling=f"request_timeout = 120\nstop_grace = {grace}\ntick = 0.1")
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([HUISHENG, "run", "--config", str(config)], stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while server.requests == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.requests == 1, log.read_text()
            time.sleep(0.3)  # well inside the trickle
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            code = proc.wait(timeout=30)
            elapsed = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert code == 0, text
    assert elapsed < grace, text
    assert "outcome=interrupted" in text
    accounts = _accounts(db_url)
    assert all(a.lease_owner is None and a.consecutive_errors == 0 for a in accounts)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    polled = [a for a in accounts if a.last_check_at is not None]
    # the cut poll is due again at once: its unit is read at the next start
    assert polled and all(_naive(a.next_check_at) <= now for a in polled)


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo else value
