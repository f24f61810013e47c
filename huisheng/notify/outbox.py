"""The outbox: e-mails are rendered and stored before anything is sent, then
delivered by :class:`Sender` with retries.

Guarantee: at least once.  A queued message stays in the table until the SMTP
server has accepted it; while the server is down it waits (attempts back off
exponentially up to ``retry_cap``; after ``max_attempts`` it is marked failed
and listed, never deleted).  The stored message is sent byte for byte, so if
the process dies after the server accepted a message but before it was marked
sent, the next run sends it again with the same Message-ID (mail clients and
many servers fold such duplicates).  Nothing else can send a message twice:
each attempt first claims the row with a conditional UPDATE that moves its
next attempt into the future, so two senders never deliver the same row at
once.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import Policy
from email.utils import format_datetime, make_msgid
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from huisheng.errors import StoreError
from huisheng.clock import Clock
from huisheng.storage.models import OutboxMessage
from huisheng.notify.mail import MailSettings

log = logging.getLogger(__name__)

#: messages delivered per run at most (the rest wait for the next run)
BATCH = 200


def dedup_key(recipient: str, kind: str, period: str) -> str:
    return f"{recipient.strip().lower()}|{kind}|{period}"


def _one_line(text: str) -> str:
    # a header may not hold a line break (header injection)
    return " ".join(text.split())


class _Subject(str):
    """The Subject, folded here: non-ASCII as RFC 2047 encoded words that
    carry every space inside them, ASCII at its spaces.  The email package's
    own folder can break the line at a space between two encoded words, where
    decoders drop it (``【回声】东城第1社区 新增…`` arrived as
    ``【回声】东城第1社区新增…``), and folds some long ASCII subjects right after
    ``Subject:``, so they arrive with a leading space.  (A header value with a
    ``name`` is a header object to the email policy: stored as it is and
    asked to fold itself.)"""

    name = "Subject"

    def fold(self, *, policy: Policy) -> str:
        charset = "us-ascii" if self.isascii() else "utf-8"
        encoded = Header(str(self), charset, header_name=self.name).encode(linesep=policy.linesep)
        return f"{self.name}: {encoded}{policy.linesep}"


def build_message(*, recipient: str, subject: str, text: str, html: str | None, now: datetime,
                  mail: MailSettings) -> EmailMessage:
    """A UTF-8 message: text/plain, or multipart/alternative text + HTML.
    Bodies are base64 and headers RFC 2047, so the serialized message is
    7-bit ASCII and any SMTP server takes it unchanged."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["Subject"] = _Subject(_one_line(subject))
    message["From"] = Address(display_name=_one_line(mail.from_name), addr_spec=mail.from_address)
    message["To"] = recipient
    message["Date"] = format_datetime(now.astimezone(ZoneInfo(mail.timezone)))
    domain = mail.from_address.rsplit("@", 1)[-1]
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # no out-of-office replies
    message.set_content(text, charset="utf-8", cte="base64")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    return message


def _insert(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(OutboxMessage)
    if dialect == "sqlite":
        return sqlite.insert(OutboxMessage)
    raise StoreError(f"unsupported database: {dialect}")


def enqueue(session: Session, *, recipient: str, kind: str, period: str, subject: str, text: str,
            html: str | None, now: datetime, mail: MailSettings, covers_from: datetime | None = None,
            covers_until: datetime | None = None) -> OutboxMessage | None:
    """Store a message for ``recipient``; None when (recipient, kind, period)
    is already queued (also when another process queued it a moment ago).
    Nothing is sent here; the caller commits."""
    recipient = recipient.strip()
    message = build_message(recipient=recipient, subject=subject, text=text, html=html, now=now, mail=mail)
    stmt = (_insert(session).values(
        dedup_key=dedup_key(recipient, kind, period), recipient=recipient, kind=kind, period=period,
        covers_from=covers_from, covers_until=covers_until, subject=str(message["Subject"]),
        message_id=message["Message-ID"], message=message.as_string(), status="pending", attempts=0,
        next_attempt_at=now, last_error=None, created_at=now, sent_at=None)
        .on_conflict_do_nothing(index_elements=["dedup_key"]).returning(OutboxMessage.id))
    row_id = session.execute(stmt).scalar_one_or_none()
    if row_id is None:
        return None
    return session.get(OutboxMessage, row_id)


# --- delivery ----------------------------------------------------------------------


def backoff(attempts: int, mail: MailSettings) -> float:
    """Seconds to wait after the ``attempts``-th attempt (1-based)."""
    return min(mail.retry_cap, mail.retry_base * 2 ** max(attempts - 1, 0))


def describe(exc: BaseException) -> str:
    """An error for ``last_error``: the server's code and text or the socket
    error, never the credentials (smtplib does not put them in exceptions,
    and only these fields are kept)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items()]
        return "recipient refused: " + "; ".join(parts)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"[:500]


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))[:300]


def _permanent(exc: BaseException) -> bool:
    """A 5xx answer about this message (unknown mailbox, rejected content):
    retrying cannot help.  Connection, login and sender problems are never
    permanent: they are the configuration's, an administrator can fix them,
    and the messages must then go out."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600
    return False


def connect(mail: MailSettings) -> smtplib.SMTP:
    """An SMTP connection, secured and logged in as configured."""
    context = None
    if mail.security in ("starttls", "tls"):
        context = ssl.create_default_context(cafile=mail.ca_file)
        if not mail.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    if mail.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(mail.host, mail.effective_port, timeout=mail.timeout,
                                              context=context)
    else:
        smtp = smtplib.SMTP(mail.host, mail.effective_port, timeout=mail.timeout)
    try:
        smtp.ehlo()
        if mail.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if mail.user:
            smtp.login(mail.user, mail.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


@dataclass
class SendResult:
    sent: list[int] = field(default_factory=list)
    #: attempts that failed (the message waits for its next attempt)
    retrying: list[int] = field(default_factory=list)
    #: given up: status failed
    failed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Due:
    id: int
    attempts: int
    next_attempt_at: datetime


class Sender:
    """Delivers due pending messages over one SMTP connection per run.

    Each message is first claimed (attempts + 1, next attempt moved to its
    backoff time, in its own committed transaction), then sent, then marked
    sent in another transaction.  A crash anywhere leaves it pending: it is
    sent (again) at its next attempt time.
    """

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, mail: MailSettings,
                 smtp_factory: Callable[[MailSettings], smtplib.SMTP] | None = None,
                 finalize: Callable[[str], str] | None = None):
        self.sessions = sessions
        self.clock = clock
        self.mail = mail
        self.smtp_factory = smtp_factory or connect
        #: turns a stored message into the one sent (fills in sign-in links,
        #: which are never stored); the same input always gives the same output
        self.finalize = finalize or (lambda data: data)

    def run(self, now: datetime | None = None) -> SendResult:
        now = now or self.clock.now()
        result = SendResult()
        if not self.mail.enabled:
            return result  # no [mail] host: messages wait in the outbox
        with self.sessions() as session:
            due = [_Due(*row) for row in session.execute(
                select(OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.next_attempt_at)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(BATCH))]
        if not due:
            return result
        try:
            smtp = self.smtp_factory(self.mail)
        except (OSError, smtplib.SMTPException) as exc:
            error = describe(exc)
            log.warning("SMTP server %s:%s unavailable, %d message(s) wait: %s", self.mail.host,
                        self.mail.effective_port, len(due), error)
            for item in due:
                if self._claim(item, now):
                    self._record_failure(item.id, error, now, result, permanent=False)
            return result
        try:
            for item in due:
                if not self._claim(item, now):
                    continue  # another sender has it
                with self.sessions() as session:
                    row = session.get(OutboxMessage, item.id)
                    sender, recipient, data = self.mail.from_address, row.recipient, row.message
                try:
                    smtp.sendmail(sender, [recipient], self.finalize(data).encode("ascii"))
                except (OSError, smtplib.SMTPException) as exc:
                    self._record_failure(item.id, describe(exc), now, result, permanent=_permanent(exc))
                    # (SMTPException is an OSError: a socket error is one that is not)
                    if isinstance(exc, smtplib.SMTPServerDisconnected) or \
                            not isinstance(exc, smtplib.SMTPException):
                        break  # the connection is gone: the rest wait for the next run
                    continue
                self._mark_sent(item.id, now)
                result.sent.append(item.id)
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        if result.sent or result.retrying or result.failed:
            log.info("outbox: sent=%d retrying=%d failed=%d", len(result.sent), len(result.retrying),
                     len(result.failed))
        return result

    def _claim(self, item: _Due, now: datetime) -> bool:
        """Count the attempt and move the next one to its backoff time, unless
        another sender changed the row since it was read."""
        attempts = item.attempts + 1
        retry_at = now + timedelta(seconds=backoff(attempts, self.mail))
        with self.sessions.begin() as session:
            claimed = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == item.id, OutboxMessage.status == "pending",
                       OutboxMessage.attempts == item.attempts)
                .values(attempts=attempts, next_attempt_at=retry_at)
                .execution_options(synchronize_session=False)).rowcount
        return claimed == 1

    def _mark_sent(self, row_id: int, now: datetime) -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                            .values(status="sent", sent_at=now, last_error=None)
                            .execution_options(synchronize_session=False))

    def _record_failure(self, row_id: int, error: str, now: datetime, result: SendResult, *,
                        permanent: bool) -> None:
        with self.sessions.begin() as session:
            row = session.get(OutboxMessage, row_id)
            row.last_error = error
            if permanent or row.attempts >= self.mail.max_attempts:
                row.status = "failed"
                result.failed.append(row_id)
                log.error("outbox message %d to %s given up after %d attempt(s): %s", row_id, row.recipient,
                          row.attempts, error)
            else:
                result.retrying.append(row_id)


def retry(session: Session, row_id: int, now: datetime) -> OutboxMessage | None:
    """Put a failed message back in the queue (attempts start again)."""
    row = session.get(OutboxMessage, row_id)
    if row is None or row.status != "failed":
        return None
    row.status, row.attempts, row.next_attempt_at = "pending", 0, now
    return row
