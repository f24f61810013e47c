"""Migrations: upgrade → downgrade → upgrade on every backend, and the models
and the migrations agree (alembic's autogenerate comparison finds nothing)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from huisheng import migrations
from huisheng.storage.db import make_engine
from huisheng.storage.models import Base

TABLES = set(Base.metadata.tables)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(db_url, tmp_path, monkeypatch):
    # Run from an unrelated directory: nothing may depend on an alembic.ini in cwd.
    monkeypatch.chdir(tmp_path)
    assert migrations.current(db_url) is None

    migrations.upgrade(db_url)
    assert migrations.current(db_url) == migrations.head()
    assert _tables(db_url) == TABLES

    migrations.downgrade(db_url, "base")
    assert migrations.current(db_url) is None
    assert _tables(db_url) == set()

    migrations.upgrade(db_url, "head")
    assert migrations.current(db_url) == migrations.head()
    assert _tables(db_url) == TABLES


def test_models_and_migrations_agree(db_url):
    migrations.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_on_a_given_connection(db_url):
    # The poller's tests and the demo may migrate inside a connection they own.
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            from alembic import command

            command.upgrade(migrations.alembic_config(connection=conn), "head")
    finally:
        engine.dispose()
    assert migrations.current(db_url) == migrations.head()
