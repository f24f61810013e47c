"""What every page of the workbench shares: the application's context, the
request's database session and signed-in user, sessions and CSRF, the hooks
run around each request, and the helpers templates call."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Flask, abort, g, redirect, request, session, url_for
from sqlalchemy.orm import Session, sessionmaker

from huisheng.clock import Clock
from huisheng.config.settings import Settings
from huisheng.flags.actions import FlagActions
from huisheng.notify.render import clean, excerpt, safe_url
from huisheng.storage.models import User
from huisheng.users import ROLE_LABELS, Role, visible_units
from huisheng.web import i18n
from huisheng.web.config import WebSettings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"
#: paths reachable without signing in
PUBLIC = ("auth.", "static")


@dataclass
class WebContext:
    """What the pages need, built once per application."""

    settings: Settings
    web: WebSettings
    sessions: sessionmaker[Session]
    clock: Clock
    key: bytes
    actions: FlagActions
    #: sends the outbox now (sign-in links should not wait for the daemon's sender)
    send_now: Callable[[], Any] | None = None

    @property
    def tz(self) -> ZoneInfo:
        return self.actions.tz


def context() -> WebContext:
    from flask import current_app

    return current_app.extensions["huisheng"]


def db() -> Session:
    """The request's database session (closed when the request ends)."""
    if "db" not in g:
        g.db = context().sessions()
    return g.db


def current_user() -> User | None:
    return g.get("user")


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def install(app: Flask) -> None:
    """The hooks around every request, the error pages and the template helpers."""
    app.jinja_env.filters.update(clean=clean, excerpt=excerpt, safe_url=safe_url)
    app.jinja_env.globals.update(t=t, state_name=_state_name, category_name=_category_name,
                                 level_name=_level_name, step_name=_step_name, event_name=_event_name,
                                 localtime=_localtime, csrf_token=csrf_token, role_name=_role_name,
                                 query_with=_query_with,
                                 has_endpoint=lambda name: name in app.view_functions)
    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, _error_page)
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.teardown_appcontext(_close_db)


# -- per request ----------------------------------------------------------------------


def _load_user() -> Any:
    ctx = context()
    g.locale = session.get("lang") or ctx.web.locale
    if request.args.get("lang") in i18n.LOCALES:
        g.locale = session["lang"] = request.args["lang"]
    g.user = None
    uid = session.get("uid")
    if uid is not None:
        issued = session.get("issued", 0)
        user = db().get(User, uid)
        fresh = ctx.clock.now().timestamp() - issued < ctx.web.session_hours * 3600
        if user is not None and user.enabled and fresh and session.get("epoch") == _epoch(user):
            g.user = user
            g.scope = visible_units(db(), user)
        else:
            session.pop("uid", None)
    endpoint = request.endpoint or ""
    if g.user is None and not endpoint.startswith(PUBLIC):
        if request.method == "GET":
            return redirect(url_for("auth.signin_page", next=request.full_path.rstrip("?")))
        abort(403)
    return None


def _epoch(user: User) -> str:
    """Changes when the password changes: older sessions of that user end."""
    return (user.password_hash or "")[-12:]


def sign_in(user: User) -> None:
    """Start a session for ``user`` (a fresh session: no fixation)."""
    lang = session.get("lang")
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["issued"] = context().clock.now().timestamp()
    session["epoch"] = _epoch(user)
    session["csrf"] = secrets.token_urlsafe(24)
    if lang:
        session["lang"] = lang


def csrf_token() -> str:
    token = session.get("csrf")
    if token is None:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400)


def _headers(response):
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    # sign-in links carry a token in the path: never send it on as a referrer
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _close_db(_exc: BaseException | None) -> None:
    session_ = g.pop("db", None)
    if session_ is not None:
        session_.close()


def _error_page(exc):
    from flask import render_template
    from werkzeug.exceptions import HTTPException

    code = exc.code if isinstance(exc, HTTPException) else 500
    messages = {400: t("csrf"), 403: t("not_allowed"), 404: "Not found" if g.get("locale") == "en" else "未找到",
                405: "Method not allowed", 413: "Too large"}
    return render_template("error.html", code=code, message=messages.get(code, "")), code


# -- template helpers ----------------------------------------------------------------


def t(key: str, **values: Any) -> str:
    text = i18n.words(g.get("locale", "zh")).get(key, key)
    return text.format(**values) if values else text


def _state_name(state: str) -> str:
    return i18n.state_name(state, g.get("locale", "zh"))


def _event_name(kind: str) -> str:
    return i18n.event_name(kind, g.get("locale", "zh"))


def _category_name(category: str) -> str:
    return i18n.category_name(category, g.get("locale", "zh"))


def _level_name(level: str) -> str:
    return i18n.level_name(level, g.get("locale", "zh"))


def _step_name(step: str) -> str:
    return i18n.step_name(step, g.get("locale", "zh"))


def _role_name(role: str) -> str:
    return ROLE_LABELS[Role(role)][g.get("locale", "zh")]


def _localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(context().tz).strftime(fmt) if value else "—"


def _query_with(**changes: Any) -> str:
    """The current query string with ``changes`` applied (None removes a key)."""
    args = {k: v for k, v in request.args.items() if k != "lang"}
    for k, v in changes.items():
        if v is None or v == "":
            args.pop(k, None)
        else:
            args[k] = v
    return "?" + urlencode(args) if args else "?"
