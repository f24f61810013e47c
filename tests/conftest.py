"""Shared fixtures.  ``db_url`` runs a test on SQLite and, when
``HUISHENG_TEST_DATABASE_URL`` is set (as in CI), on PostgreSQL too, each test
in its own schema so tests never see each other's rows."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("HUISHENG_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parent.parent


def pytest_generate_tests(metafunc):
    if "db_url" in metafunc.fixturenames:
        backends = ["sqlite"] + (["postgresql"] if PG_URL else [])
        metafunc.parametrize("db_backend", backends, indirect=True)


@pytest.fixture
def db_backend(request):
    return request.param


@pytest.fixture
def db_url(db_backend, tmp_path):
    """A URL to an empty database (no tables) of the requested backend."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'huisheng.sqlite'}"
        return
    from huisheng.storage.db import normalize_url

    base = normalize_url(PG_URL)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
