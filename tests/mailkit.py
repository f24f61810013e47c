"""A real SMTP server (aiosmtpd) for tests, keeping what it receives."""

from __future__ import annotations

import contextlib
import email
import email.message
from email.policy import default as default_policy
from typing import Iterator

from aiosmtpd.controller import Controller

from huisheng.notify.sink import free_port


class Inbox:
    """An aiosmtpd handler: ``received`` the raw messages, ``messages`` the
    same parsed, in the order they arrived."""

    def __init__(self):
        self.received: list[bytes] = []
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.original_content)
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=default_policy))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def bodies(self, address: str) -> list[str]:
        """The plain-text bodies of what ``address`` received."""
        return [m.get_body(("plain",)).get_content() for m in self.to(address)]

    def take(self) -> list[tuple[str, str]]:
        """(recipient, subject) of what arrived since the last take, sorted."""
        got = sorted((m["To"], m["Subject"]) for m in self.messages)
        self.received.clear()
        self.messages.clear()
        return got


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A mail server on a free local port while the block runs: (inbox, port)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
