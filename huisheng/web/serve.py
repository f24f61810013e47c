"""Serving the workbench with waitress, alone (``huisheng web``) or beside the
daemon's polling (``huisheng run`` with ``[web] enabled``)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from huisheng.clock import Clock
from huisheng.config.settings import Settings
from huisheng.notify.mail import mail_from_settings
from huisheng.notify.outbox import Sender
from huisheng.users import signin, sync_matrix_users
from huisheng.web.app import create_app
from huisheng.web.config import secret_key, web_from_settings

log = logging.getLogger("huisheng.web")


def build_app(settings: Settings, sessions: sessionmaker[Session], clock: Clock | None = None) -> Flask:
    """The application with its own sender for sign-in mail (sent at once,
    sign-in links filled in at delivery), users in step with the matrix."""
    clock = clock or Clock()
    key = secret_key(web_from_settings(settings))
    sender = Sender(sessions, clock, mail_from_settings(settings),
                    finalize=lambda data: signin.fill_message(data, key))
    with sessions.begin() as session:
        sync_matrix_users(session, clock.now())
    return create_app(settings, sessions, clock, key=key, send_now=sender.run)


@dataclass
class WebServer:
    """A waitress server that can be stopped from another thread."""

    server: object
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.server.effective_host}:{self.server.effective_port}"  # type: ignore[attr-defined]

    def serve_forever(self) -> None:
        self.server.run()  # type: ignore[attr-defined]

    def start(self) -> WebServer:
        self.thread = threading.Thread(target=self.serve_forever, name="web", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.close()  # type: ignore[attr-defined]
        if self.thread is not None:
            self.thread.join(timeout=5)


def make_server(app: Flask, host: str, port: int, threads: int = 4) -> WebServer:
    from waitress import create_server

    server = create_server(app, host=host, port=port, threads=threads, ident="huisheng",
                           clear_untrusted_proxy_headers=True)
    return WebServer(server)
