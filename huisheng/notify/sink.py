"""A local SMTP server that writes each message it receives to a folder as an
``.eml`` file (open it with any mail client), for the demo.

aiosmtpd comes with the test extras (``make demo`` installs them), so it is
imported only when a sink starts.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from huisheng.clock import Clock


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (aiosmtpd needs a real one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class _Writer:
    def __init__(self, folder: Path, clock: Clock):
        self.folder = folder
        self.clock = clock
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.count += 1
            stamp = self.clock.now().strftime("%Y%m%dT%H%M%S")
            path = self.folder / f"{stamp}-{self.count:04d}.eml"
        # the bytes as received: the headers, Message-ID and encodings as sent
        path.write_bytes(envelope.original_content)
        return "250 Message accepted for delivery"


class MailSink:
    """``start()`` → (host, port) to point ``[mail]`` at (security "none");
    ``stop()`` when done.  Files: ``<UTC timestamp>-<n>.eml``."""

    def __init__(self, folder: Path | str, host: str = "127.0.0.1", port: int | None = None,
                 clock: Clock | None = None):
        self.folder = Path(folder)
        self.host = host
        self.port = port
        self.clock = clock or Clock()
        self._controller = None

    def start(self) -> tuple[str, int]:
        from aiosmtpd.controller import Controller

        self.folder.mkdir(parents=True, exist_ok=True)
        port = self.port or free_port(self.host)
        self._controller = Controller(_Writer(self.folder, self.clock), hostname=self.host, port=port)
        self._controller.start()
        self.port = port
        return self.host, port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.eml"))

    def __enter__(self) -> MailSink:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
