"""``huisheng web`` and ``huisheng run`` with ``[web] enabled`` serve the
workbench over real HTTP, listening on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from huisheng import migrations

HUISHENG = str(Path(sys.executable).with_name("huisheng"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 30) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
        try:
            return requests.get(url, timeout=2, allow_redirects=False)
        except requests.ConnectionError:
            assert time.monotonic() < deadline, f"nothing listening at {url}"
            time.sleep(0.1)


@pytest.mark.parametrize("command", ["web", "run"])
def test_the_workbench_is_served(tmp_path, command):
    port = free_port()
    db = tmp_path / "huisheng.sqlite"
    migrations.upgrade(f"sqlite:///{db}")
    config = tmp_path / "huisheng.toml"
    # `web` is told its port on the command line (over the config's); neither is told a host
    configured = free_port() if command == "web" else port
    config.write_text(f'[database]\nurl = "sqlite:///{db}"\n\n[web]\nenabled = true\nport = {configured}\n',
                      encoding="utf-8")
    options = ["--port", str(port)] if command == "web" else []
    # started with SIGINT ignored, as a child of a process that ignores it
    # inherits: Ctrl-C must still stop the workbench
    proc = subprocess.Popen([HUISHENG, "--config", str(config), command, *options], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        page = wait_for(f"http://127.0.0.1:{port}/signin", proc)
        assert page.status_code == 200 and "登录" in page.text
        assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
        inbox = requests.get(f"http://127.0.0.1:{port}/", timeout=5, allow_redirects=False)
        assert inbox.status_code == 302 and "/signin" in inbox.headers["Location"]
        key = tmp_path / "web-secret.key"
        assert key.exists() and key.stat().st_mode & 0o077 == 0  # the key file is the service user's alone
    finally:
        proc.send_signal(signal.SIGTERM if command == "run" else signal.SIGINT)
        assert proc.wait(timeout=30) == 0, proc.stdout.read().decode(errors="replace")
    # listening on the loopback address only, unless configured otherwise
    assert f"http://127.0.0.1:{port}" in proc.stdout.read().decode(errors="replace")
