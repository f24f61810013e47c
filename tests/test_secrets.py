"""No secret ever appears in a log line, an error message or the database."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from huisheng.cli import main
from huisheng.clock import FakeClock
from huisheng.storage.db import make_engine
from huisheng.config.matrix import dump_matrix
from huisheng.storage.models import Account
from huisheng.simulator import FaultRule, SimServer, World, WorldConfig
from huisheng.simulator.sample import sample_matrix

COOKIE = "SUB=_2A25Lsecret-cookie-value-9f8e7d; SUBP=0033WrSXqPxfM725Ws9jqgMF55529P9D9W5"


@pytest.mark.parametrize("fault", ["login_wall", "redirect_login", "500", "truncated_json", "reset",
                                   "renamed_field", "432"])
def test_cookie_never_leaks_into_logs_errors_or_status(tmp_path, fault, monkeypatch, caplog):
    matrix = sample_matrix(2, streets=1)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    world = World(matrix, seed=3, start=now - timedelta(days=2), config=WorldConfig(history_days=3))
    server = SimServer(world, FakeClock(now), faults=[FaultRule(fault=fault)])
    base = server.start()
    try:
        (tmp_path / "m").mkdir()
        (tmp_path / "m" / "matrix.toml").write_text(dump_matrix(matrix), encoding="utf-8")
        config = tmp_path / "huisheng.toml"
        config.write_text(f"""
matrix = "m"
[platforms.weibo]
min_interval = 0.001
base_url = "{base}"
ajax_base_url = "{base}"
mode = "ajax"
cookie_env = "TEST_WEIBO_COOKIE"
""", encoding="utf-8")
        monkeypatch.setenv("TEST_WEIBO_COOKIE", COOKIE)
        runner = CliRunner()
        outputs = []
        for args in (["db", "upgrade"], ["matrix", "sync"], ["poll", matrix.accounts[0].uid],
                     ["status"], ["status", "--format", "json"], ["config", "check"]):
            with caplog.at_level(logging.DEBUG):
                result = runner.invoke(main, ["--config", str(config), *args])
            outputs.append(result.output)
            if result.exception and not isinstance(result.exception, SystemExit):
                outputs.append(repr(result.exception))
        assert "outcome=error" in outputs[2]  # the fault really happened
        engine = make_engine(f"sqlite:///{tmp_path / 'huisheng.sqlite'}")
        with engine.connect() as conn:
            stored = [str(v) for v in conn.execute(
                select(Account.last_error_message, Account.adapter_state)).all()]
        engine.dispose()
        text = "\n".join(outputs + stored + [r.getMessage() for r in caplog.records])
        for piece in ("secret-cookie-value", "0033WrSXqPxfM725Ws9jqgMF55529P9D9W5"):
            assert piece not in text
    finally:
        server.stop()
