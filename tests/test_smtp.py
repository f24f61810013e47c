"""Delivery through a real SMTP server (aiosmtpd on 127.0.0.1): plain,
STARTTLS with AUTH against a self-signed certificate made here, implicit TLS,
the server down for hours, a crash between sending and marking sent, and a
recipient the server refuses."""

from __future__ import annotations

import email
import smtplib
import ssl
import subprocess
from datetime import datetime, timedelta, timezone
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from huisheng import migrations
from huisheng.clock import FakeClock
from huisheng.storage.db import make_engine, session_factory
from huisheng.storage.models import OutboxMessage
from huisheng.notify.mail import MailSettings
from huisheng.notify.outbox import Sender, _Due, connect, enqueue, retry
from huisheng.notify.sink import MailSink, free_port

T0 = datetime(2026, 11, 5, 0, 30, tzinfo=timezone.utc)
USER, PASSWORD = "huisheng", "s3cret-Pa55"


class Inbox:
    """An aiosmtpd handler keeping what it receives; refuses one address."""

    def __init__(self, refuse: str | None = None, refuse_sender: bool = False):
        self.received: list[tuple[str, list[str], bytes]] = []
        self.refuse = refuse
        self.refuse_sender = refuse_sender

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_sender:
            return "550 5.7.1 sender not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(data, policy=default_policy) for _, _, data in self.received]


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == \
        (USER.encode(), PASSWORD.encode())
    # handled=False: aiosmtpd answers 535 itself
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cert file, key file)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


AUTH_PLAIN_ONLY = {"authenticator": authenticate, "auth_exclude_mechanism": ["LOGIN"]}


def server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def start():
    controllers = []

    def start(handler, port=None, **kwargs) -> int:
        port = port or free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def db(db_url):
    migrations.upgrade(db_url)
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


def settings(port: int, **kwargs) -> MailSettings:
    values = dict(host="127.0.0.1", port=port, security="none", from_address="huisheng@example.org",
                  retry_base=60, retry_cap=1800, max_attempts=30, timeout=5)
    values.update(kwargs)
    return MailSettings(**values)


def queue(sessions, mail, recipient="jt@example.org", period="2026-11-05", now=T0, text="你好，正文 😀"):
    with sessions.begin() as session:
        row = enqueue(session, recipient=recipient, kind="digest", period=period, subject="【回声】测试 新增 1 条",
                      text=text, html=f"<p>{text}</p>", now=now, mail=mail)
        return row.id, row.message_id


def rows(sessions) -> list[OutboxMessage]:
    with sessions() as session:
        return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_delivery_sends_the_stored_message_unchanged(db, start):
    inbox = Inbox()
    mail = settings(start(inbox))
    row_id, message_id = queue(db, mail)
    clock = FakeClock(T0)
    result = Sender(db, clock, mail).run(T0)
    assert result.sent == [row_id]
    [(mail_from, rcpt, data)] = inbox.received
    assert (mail_from, rcpt) == ("huisheng@example.org", ["jt@example.org"])
    [row] = rows(db)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 1, T0, None)
    # byte for byte what was stored (aiosmtpd gives the DATA without the final CRLF.CRLF)
    assert data.rstrip(b"\r\n") == row.message.encode("ascii").rstrip(b"\r\n")
    [message] = inbox.messages()
    assert message["Message-ID"] == message_id
    assert message["Subject"] == "【回声】测试 新增 1 条"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().strip() == "你好，正文 😀"
    assert message.get_body(("html",)).get_content().strip() == "<p>你好，正文 😀</p>"
    # nothing left: a second run sends nothing
    assert Sender(db, clock, mail).run(T0 + timedelta(hours=1)).sent == []
    assert len(inbox.received) == 1


def test_starttls_with_auth(db, start, certificate):
    inbox = Inbox()
    port = start(inbox, tls_context=server_context(certificate), require_starttls=True, auth_required=True,
                 **AUTH_PLAIN_ONLY)
    mail = settings(port, security="starttls", user=USER, password=PASSWORD, ca_file=str(certificate[0]))
    row_id, _ = queue(db, mail)
    assert Sender(db, FakeClock(T0), mail).run(T0).sent == [row_id]
    assert len(inbox.received) == 1


def test_starttls_verifies_the_certificate_and_a_bad_password_is_not_logged(db, start, certificate):
    inbox = Inbox()
    port = start(inbox, tls_context=server_context(certificate), require_starttls=True, auth_required=True,
                 **AUTH_PLAIN_ONLY)
    # the system trust store does not know the self-signed certificate
    untrusted = settings(port, security="starttls", user=USER, password=PASSWORD)
    row_id, _ = queue(db, untrusted)
    result = Sender(db, FakeClock(T0), untrusted).run(T0)
    assert result.retrying == [row_id]
    [row] = rows(db)
    assert row.status == "pending" and "CERTIFICATE_VERIFY_FAILED" in row.last_error
    wrong = settings(port, security="starttls", user=USER, password="wrong-password-123",
                     ca_file=str(certificate[0]))
    later = T0 + timedelta(minutes=1)
    assert Sender(db, FakeClock(later), wrong).run(later).retrying == [row_id]
    [row] = rows(db)
    assert "535" in row.last_error and "wrong-password-123" not in row.last_error
    assert inbox.received == []


def test_implicit_tls(db, start, certificate):
    inbox = Inbox()
    port = start(inbox, ssl_context=server_context(certificate))
    mail = settings(port, security="tls", ca_file=str(certificate[0]))
    row_id, _ = queue(db, mail)
    assert Sender(db, FakeClock(T0), mail).run(T0).sent == [row_id]
    assert len(inbox.received) == 1


def test_server_down_for_hours_then_delivered_exactly_once(db, start):
    port = free_port()  # nothing listens here yet
    mail = settings(port)
    first, _ = queue(db, mail)
    second, _ = queue(db, mail, recipient="c1@example.org")
    clock = FakeClock(T0)
    sender = Sender(db, clock, mail)
    connects = []

    def counting(m):
        connects.append(clock.now())
        return connect(m)

    sender.smtp_factory = counting
    # the daemon's send job every minute for five hours, the server down
    for _ in range(5 * 60):
        result = sender.run(clock.now())
        assert result.sent == []
        clock.advance(60)
    attempts = [r.attempts for r in rows(db)]
    assert all(r.status == "pending" for r in rows(db))
    assert "ConnectionRefusedError" in rows(db)[0].last_error
    # backoff: 60, 120, 240, 480, 960, then 1800 s: 14 attempts in 5 hours, not 300
    assert attempts == [14, 14]
    assert len(connects) == 14
    waits = [(b - a).total_seconds() for a, b in zip(connects, connects[1:])]
    assert waits[:6] == [60, 120, 240, 480, 960, 1800]
    inbox = Inbox()
    start(inbox, port=port)
    due = rows(db)[0].next_attempt_at
    clock = FakeClock(due)
    sender.clock = clock
    assert sorted(sender.run(due).sent) == [first, second]
    for _ in range(10):
        clock.advance(600)
        assert sender.run(clock.now()).sent == []
    assert sorted(r for _, [r], _ in inbox.received) == ["c1@example.org", "jt@example.org"]
    assert [r.status for r in rows(db)] == ["sent", "sent"]


def test_gives_up_after_max_attempts_and_retry_requeues(db):
    mail = settings(free_port(), max_attempts=3, retry_base=10, retry_cap=10)
    row_id, _ = queue(db, mail)
    clock = FakeClock(T0)
    sender = Sender(db, clock, mail)
    outcomes = []
    for _ in range(4):
        result = sender.run(clock.now())
        outcomes.append((result.retrying, result.failed))
        clock.advance(10)
    assert outcomes == [([row_id], []), ([row_id], []), ([], [row_id]), ([], [])]
    [row] = rows(db)
    assert (row.status, row.attempts) == ("failed", 3)
    with db.begin() as session:
        assert retry(session, row_id, clock.now()) is not None
    [row] = rows(db)
    assert (row.status, row.attempts) == ("pending", 0)


class CrashingSender(Sender):
    """Dies once right after the server accepted a message, before marking it."""

    crashed = False

    def _mark_sent(self, row_id, now):
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("power cut")
        super()._mark_sent(row_id, now)


def test_crash_between_send_and_mark_resends_once_with_the_same_message_id(db, start):
    inbox = Inbox()
    mail = settings(start(inbox))
    row_id, message_id = queue(db, mail)
    clock = FakeClock(T0)
    sender = CrashingSender(db, clock, mail)
    with pytest.raises(RuntimeError):
        sender.run(T0)
    assert len(inbox.received) == 1
    [row] = rows(db)
    assert (row.status, row.attempts) == ("pending", 1)
    # not before its retry time, then exactly once more
    assert sender.run(T0 + timedelta(seconds=30)).sent == []
    assert sender.run(T0 + timedelta(seconds=60)).sent == [row_id]
    assert sender.run(T0 + timedelta(hours=2)).sent == []
    assert len(inbox.received) == 2
    first, second = inbox.received
    assert first[2] == second[2]  # the same bytes
    assert [m["Message-ID"] for m in inbox.messages()] == [message_id, message_id]
    [row] = rows(db)
    assert (row.status, row.sent_at) == ("sent", T0 + timedelta(seconds=60))


def test_a_refused_recipient_fails_at_once_and_the_others_go_out(db, start):
    inbox = Inbox(refuse="gone@example.org")
    mail = settings(start(inbox))
    bad, _ = queue(db, mail, recipient="gone@example.org")
    good, _ = queue(db, mail, recipient="jt@example.org")
    result = Sender(db, FakeClock(T0), mail).run(T0)
    assert (result.sent, result.failed) == ([good], [bad])
    bad_row = rows(db)[0]
    assert bad_row.status == "failed" and "550" in bad_row.last_error


def test_a_refused_sender_address_is_the_configuration_s_fault_and_retried(db, start):
    inbox = Inbox(refuse_sender=True)
    mail = settings(start(inbox))
    row_id, _ = queue(db, mail)
    result = Sender(db, FakeClock(T0), mail).run(T0)
    assert (result.retrying, result.failed) == ([row_id], [])
    [row] = rows(db)
    assert row.status == "pending" and "550" in row.last_error
    inbox.refuse_sender = False  # the administrator fixed it
    later = T0 + timedelta(minutes=1)
    assert Sender(db, FakeClock(later), mail).run(later).sent == [row_id]


def test_two_senders_never_claim_the_same_attempt(db, start):
    inbox = Inbox()
    mail = settings(start(inbox))
    row_id, _ = queue(db, mail)
    clock = FakeClock(T0)
    one, two = Sender(db, clock, mail), Sender(db, clock, mail)
    [row] = rows(db)
    seen = _Due(row.id, row.attempts, row.next_attempt_at)
    assert one._claim(seen, T0) is True
    assert two._claim(seen, T0) is False


def test_mail_sink_writes_eml_files(tmp_path, db):
    sink = MailSink(tmp_path / "mail", clock=FakeClock(T0))
    host, port = sink.start()
    try:
        mail = settings(port, host=host)
        queue(db, mail)
        queue(db, mail, recipient="c1@example.org")
        assert len(Sender(db, FakeClock(T0), mail).run(T0).sent) == 2
    finally:
        sink.stop()
    files = sink.files()
    assert [f.name for f in files] == ["20261105T003000-0001.eml", "20261105T003000-0002.eml"]
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=default_policy)
    assert parsed["Subject"] == "【回声】测试 新增 1 条"
    assert {email.message_from_bytes(f.read_bytes())["To"] for f in files} == {"jt@example.org",
                                                                                "c1@example.org"}


def test_connect_refuses_plain_login_without_tls_on_a_tls_only_server(start, certificate):
    # a server requiring STARTTLS: our "none" mode cannot log in, and says so
    port = start(Inbox(), tls_context=server_context(certificate), require_starttls=True,
                 auth_required=True, **AUTH_PLAIN_ONLY)
    with pytest.raises(smtplib.SMTPException):
        connect(settings(port, user=USER, password=PASSWORD))
