"""Signing in: one-time links, passwords, and limits on attempts.

A sign-in link carries ``<nonce>.<signature>``: the nonce names a
:class:`~huisheng.storage.models.SigninToken` row, the signature is an HMAC of
it under the workbench's secret key.  The database holds nonces only, and a
nonce without the key signs nobody in; so a link may be queued in the outbox
(whose rows are stored) as a placeholder, ``HSSIGNIN-<nonce>``, that the sender
turns into the signed token just before delivery (:func:`fill_placeholders`).

Passwords are argon2 hashes (argon2-cffi).  Every attempt, good or bad, is
recorded; too many failures for one address or from one client within
:data:`WINDOW` refuse further attempts until the window has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_string
from email.policy import SMTP as SMTP_POLICY

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from huisheng.storage.models import AuthAttempt, SigninToken, User
from huisheng.users.directory import UserError, find_user

#: a link asked for on the sign-in page is short-lived; links in digests and
#: alerts live until the next digest would bring fresh ones
LINK_TTL = timedelta(minutes=30)
MAIL_LINK_TTL = timedelta(days=3)
WINDOW = timedelta(minutes=15)
#: failed password attempts allowed per address, and per client, in WINDOW
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20
#: sign-in links e-mailed per address in WINDOW (each is a message in someone's inbox)
MAX_LINKS_PER_EMAIL = 3
MIN_PASSWORD_LENGTH = 10

PLACEHOLDER = "HSSIGNIN-"
_PLACEHOLDER_RE = re.compile(re.escape(PLACEHOLDER) + r"([A-Za-z0-9_-]{16,64})")
_hasher = PasswordHasher()


class SigninRefused(UserError):
    """Too many attempts: try again later."""


def _sign(key: bytes, nonce: str) -> str:
    digest = hmac.new(key, f"signin:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def token_for(key: bytes, nonce: str) -> str:
    return f"{nonce}.{_sign(key, nonce)}"


def new_link(session: Session, user: User, now: datetime, ttl: timedelta = LINK_TTL) -> str:
    """A fresh one-time link for ``user``: returns its placeholder
    (``HSSIGNIN-<nonce>``), to be filled in by :func:`fill_placeholders`."""
    nonce = secrets.token_urlsafe(18)
    session.add(SigninToken(nonce=nonce, user_id=user.id, created_at=now, expires_at=now + ttl))
    session.flush()
    return PLACEHOLDER + nonce


def mail_link_base(session: Session, workbench: str | None, recipient: str, now: datetime) -> str | None:
    """What a message to ``recipient`` puts before a workbench path such as
    ``/flags/12``: for a workbench user, a one-time sign-in link that then
    opens that path (``…/signin/link/HSSIGNIN-<nonce>?next=``); for anyone
    else the workbench's address; None without a workbench."""
    if not workbench:
        return None
    user = find_user(session, recipient)
    if user is None or not user.enabled:
        return workbench
    return f"{workbench}/signin/link/{new_link(session, user, now, MAIL_LINK_TTL)}?next="


def fill_placeholders(text: str, key: bytes) -> str:
    """Every ``HSSIGNIN-<nonce>`` in ``text`` replaced by the signed token."""
    return _PLACEHOLDER_RE.sub(lambda m: token_for(key, m.group(1)), text)


def fill_message(data: str, key: bytes) -> str:
    """A stored RFC 5322 message with its sign-in placeholders filled in.
    Bodies are base64, so the placeholders are looked for in the decoded text
    parts; a message without any is returned as it is, byte for byte."""
    message = message_from_string(data, policy=SMTP_POLICY)
    changed = False
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        content = part.get_content()
        if PLACEHOLDER not in content:
            continue
        part.set_content(fill_placeholders(content, key), subtype=part.get_content_subtype(), charset="utf-8",
                         cte="base64")
        changed = True
    return message.as_string() if changed else data


def redeem(session: Session, token: str, key: bytes, now: datetime) -> User | None:
    """The enabled user a valid, unexpired, unused link signs in (the link is
    used up), else None."""
    nonce, _, signature = token.partition(".")
    if not nonce or not signature or not hmac.compare_digest(signature, _sign(key, nonce)):
        return None
    row = session.scalars(select(SigninToken).where(SigninToken.nonce == nonce)).one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    row.used_at = now
    user = session.get(User, row.user_id)
    if user is None or not user.enabled:
        return None
    user.last_signin_at = now
    return user


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符")
    return _hasher.hash(password)


@dataclass(frozen=True)
class Client:
    """Who is attempting: the address typed in and the client's network address."""

    email: str
    address: str


def _failures(session: Session, key: str, kind: str, since: datetime, *, ok: bool | None = False) -> int:
    query = select(func.count()).select_from(AuthAttempt).where(
        AuthAttempt.key == key, AuthAttempt.kind == kind, AuthAttempt.at > since)
    if ok is not None:
        query = query.where(AuthAttempt.ok.is_(ok))
    return session.scalar(query) or 0


def _record(session: Session, client: Client, kind: str, ok: bool, now: datetime) -> None:
    for key in (f"email:{client.email.strip().lower()[:300]}", f"ip:{client.address}"):
        session.add(AuthAttempt(key=key, kind=kind, ok=ok, at=now))


def check_password(session: Session, client: Client, password: str, now: datetime) -> User | None:
    """The user the e-mail address and password sign in, else None.  Raises
    :class:`SigninRefused` when too many recent attempts failed."""
    since = now - WINDOW
    email_key = f"email:{client.email.strip().lower()[:300]}"
    if (_failures(session, email_key, "password", since) >= MAX_FAILURES_PER_EMAIL
            or _failures(session, f"ip:{client.address}", "password", since) >= MAX_FAILURES_PER_CLIENT):
        raise SigninRefused("尝试次数过多，请 15 分钟后再试")
    user = find_user(session, client.email)
    ok = False
    if user is not None and user.enabled and user.password_hash:
        try:
            ok = _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if ok and _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
    else:
        # the same work as a real check, so timing does not tell who exists
        _hasher.hash(password)
    _record(session, client, "password", ok, now)
    if not ok:
        return None
    user.last_signin_at = now
    return user


def request_link(session: Session, client: Client, now: datetime) -> tuple[User, str] | None:
    """A sign-in link for the enabled user with this address: ``(user,
    placeholder)``, or None for an unknown address (the page says the same
    either way).  Raises :class:`SigninRefused` past the limits."""
    since = now - WINDOW
    email_key = f"email:{client.email.strip().lower()[:300]}"
    if (_failures(session, email_key, "link", since, ok=None) >= MAX_LINKS_PER_EMAIL
            or _failures(session, f"ip:{client.address}", "link", since, ok=None) >= MAX_FAILURES_PER_CLIENT):
        raise SigninRefused("请求过于频繁，请 15 分钟后再试")
    user = find_user(session, client.email)
    found = user is not None and user.enabled
    _record(session, client, "link", found, now)
    if not found:
        return None
    return user, new_link(session, user, now)


def prune(session: Session, now: datetime) -> None:
    """Forget attempts and used or expired links older than a day."""
    cutoff = now - timedelta(days=1)
    session.execute(delete(AuthAttempt).where(AuthAttempt.at < cutoff))
    session.execute(delete(SigninToken).where(SigninToken.expires_at < cutoff))
