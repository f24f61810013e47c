"""Schema migrations (alembic), usable from an installed wheel.

No ``alembic.ini`` is needed: the alembic ``Config`` is built here with the
script location resolved from this package, and the database URL (or an open
connection) is handed to ``env.py`` through ``Config.attributes`` rather than
the ini options, so URLs containing ``%`` need no escaping.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from huisheng.storage.db import make_engine

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    """An alembic Config for this package; give a ``url`` or an open ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.attributes["url"] = url
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Take the database at ``url`` down to ``revision`` (``base`` drops everything)."""
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at, ``None`` when unversioned."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    """The newest revision shipped with this package."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
