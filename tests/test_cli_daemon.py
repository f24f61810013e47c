"""``huisheng poll``, ``backfill`` and ``status`` through the real command line
code, against the simulator, with a config file on disk."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from huisheng.cli import main
from huisheng.clock import FakeClock
from huisheng.config.matrix import dump_matrix
from huisheng.simulator import FaultRule, SimServer, World, WorldConfig
from huisheng.simulator.sample import sample_matrix


@pytest.fixture
def district(tmp_path, db_url):
    matrix = sample_matrix(3, streets=1)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    world = World(matrix, seed=5, start=now - timedelta(days=5), config=WorldConfig(history_days=10))
    server = SimServer(world, FakeClock(now))
    base = server.start()
    (tmp_path / "matrix").mkdir()
    (tmp_path / "matrix" / "matrix.toml").write_text(dump_matrix(matrix), encoding="utf-8")
    config = tmp_path / "huisheng.toml"
    config.write_text(f"""
matrix = "matrix"
log_level = "WARNING"
[database]
url = "{db_url}"
[platforms.weibo]
min_interval = 0.001
base_url = "{base}"
ajax_base_url = "{base}"
mode = "mobile"
""", encoding="utf-8")
    runner = CliRunner()
    for args in (["db", "upgrade"], ["matrix", "sync"]):
        result = runner.invoke(main, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
    yield config, matrix, server
    server.stop()


def run(config, *args):
    return CliRunner().invoke(main, [*args, "--config", str(config)])


def test_poll_one_account_then_status(district):
    config, matrix, server = district
    uid = matrix.accounts[0].uid
    result = run(config, "poll", uid)
    assert result.exit_code == 0, result.output
    assert "outcome=ok" in result.output and f"account={matrix.accounts[0].name}" in result.output

    status = json.loads(run(config, "status", "--format", "json").output)
    by_uid = {row["uid"]: row for row in status}
    assert by_uid[uid]["last_success_at"] is not None and by_uid[uid]["posts"] > 0
    live = [p for p in server.truth()["posts"] if p["account_uid"] == uid and not p["deleted"] and not p["citizen"]]
    horizon = (server.clock.now() - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    recent = [p for p in live if p["created_at"] >= horizon]
    # The first poll reads the recent window (7 days; the page crossing the
    # horizon whole), not the whole 15-day history.
    assert len(recent) <= by_uid[uid]["posts"] < len(live)
    assert all(by_uid[a.uid]["last_success_at"] is None for a in matrix.accounts[1:])

    # the table speaks the CLI's language: Chinese headers by default, English on request
    table = run(config, "status").output
    assert table.splitlines()[0].split() == ["账号", "平台", "最近成功", "连续出错", "最近错误", "下次检查",
                                             "博文", "评论"]
    assert matrix.accounts[0].name in table and "共 3 个账号，0 个出错" in table
    english = run(config, "status", "--lang", "en").output
    assert english.startswith("account") and "3 accounts, 0 failing" in english


def test_poll_failure_exits_non_zero_and_is_shown(district):
    config, matrix, server = district
    uid = matrix.accounts[1].uid
    server.set_faults([FaultRule(fault="432", account=uid)])
    result = run(config, "poll", uid)
    assert result.exit_code == 1
    assert "error=blocked" in result.output
    failing = run(config, "status", "--failing").output
    assert matrix.accounts[1].name in failing and "被平台风控拦截" in failing


def test_backfill_reads_history_beyond_the_window(district):
    config, matrix, server = district
    uid = matrix.accounts[0].uid
    result = run(config, "backfill", "--days", "30", "--account", uid)
    assert result.exit_code == 0, result.output
    status = {row["uid"]: row for row in json.loads(run(config, "status", "--format", "json").output)}
    # the account's own timeline (citizens' posts that mention it come through the mention sources)
    truth_posts = {p["id"] for p in server.truth()["posts"]
                   if p["account_uid"] == uid and not p["deleted"] and not p["citizen"]}
    assert status[uid]["posts"] == len(truth_posts)


def test_unknown_account_is_a_clear_error(district):
    config, _, _ = district
    result = run(config, "poll", "no-such-account")
    assert result.exit_code == 1
    assert "no account 'no-such-account'" in result.output


def test_poll_refuses_an_account_the_daemon_is_polling(district, db_url):
    """The command takes the account's lease as the dispatcher does: it never
    polls beside the daemon, nor takes the daemon's lease away."""
    from sqlalchemy import update

    from huisheng.storage.db import make_engine
    from huisheng.storage.models import Account

    config, matrix, server = district
    uid = matrix.accounts[0].uid
    engine = make_engine(db_url)
    until = datetime.now(timezone.utc) + timedelta(minutes=10)
    with engine.begin() as conn:
        conn.execute(update(Account).where(Account.uid == uid).values(lease_owner="host:4242", lease_until=until))
    try:
        refused = run(config, "poll", uid)
        assert refused.exit_code == 1 and "正在被轮询" in refused.output and "host:4242" in refused.output
        with engine.connect() as conn:
            held = conn.execute(select_lease(uid)).one()
        assert held.lease_owner == "host:4242" and held.last_success_at is None
        with engine.begin() as conn:  # the daemon's lease expired (it died): the command may poll
            conn.execute(update(Account).where(Account.uid == uid)
                         .values(lease_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
        assert run(config, "poll", uid).exit_code == 0
        with engine.connect() as conn:
            done = conn.execute(select_lease(uid)).one()
        assert done.lease_owner is None and done.last_success_at is not None
    finally:
        engine.dispose()


def select_lease(uid: str):
    from sqlalchemy import select

    from huisheng.storage.models import Account

    return select(Account.lease_owner, Account.last_success_at).where(Account.uid == uid)
