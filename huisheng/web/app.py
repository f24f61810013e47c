"""The Flask application: sessions, CSRF, who is signed in, and the pages.

Flask (with waitress to serve it) fits the rest of huisheng: synchronous
SQLAlchemy sessions, jinja2 templates, no event loop to bridge.  Every page
except sign-in and the static assets needs a signed-in user; every POST
carries the session's CSRF token; every page is rendered with autoescaping,
so nothing a citizen wrote becomes markup.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from huisheng.clock import Clock
from huisheng.config.settings import Settings
from huisheng.flags.actions import FlagActions
from huisheng.flags.sla import calendar_from_settings, sla_from_settings
from huisheng.web import audit, auth, flag, inbox
from huisheng.web.config import secret_key, web_from_settings
from huisheng.web.context import TEMPLATES, WebContext, install


def create_app(settings: Settings, sessions: sessionmaker[Session], clock: Clock | None = None, *,
               key: bytes | None = None, send_now: Callable[[], Any] | None = None) -> Flask:
    web = web_from_settings(settings)
    clock = clock or Clock()
    key = key if key is not None else secret_key(web)
    actions = FlagActions(calendar_from_settings(settings), sla_from_settings(settings), ZoneInfo(settings.timezone))
    app = Flask("huisheng.web", template_folder=str(TEMPLATES),
                static_folder=str(Path(__file__).resolve().parent / "static"))
    secure = bool(web.public_url and web.public_url.startswith("https://"))
    app.config.update(SECRET_KEY=key, SESSION_COOKIE_NAME="huisheng_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=secure,
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=web.session_hours),
                      MAX_CONTENT_LENGTH=256 * 1024, TEMPLATES_AUTO_RELOAD=False)
    if web.behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.extensions["huisheng"] = WebContext(settings, web, sessions, clock, key, actions, send_now)
    install(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(flag.bp)
    app.register_blueprint(audit.bp)
    return app


