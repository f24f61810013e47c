"""An exception outside the adapters' error tree (a bug, a payload no parser
foresaw) is a failure like any other: recorded on that account with backoff,
shown by ``status --failing``, logged with its traceback; the other accounts
keep polling."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from harness import scenario
from huisheng.adapters.weibo.adapter import WeiboAdapter
from huisheng.cli import main
from huisheng.storage.models import Account

BROKEN = "1000000001"


@pytest.mark.parametrize("crash", [OverflowError("cannot convert float infinity to integer"),
                                   RecursionError("maximum recursion depth exceeded")],
                         ids=["overflow", "recursion"])
def test_an_unexpected_exception_is_recorded_backed_off_and_shown(db_url, tmp_path, monkeypatch, caplog,
                                                                  crash):
    original = WeiboAdapter.timeline

    def timeline(self, account, cursor=None):
        if account.uid == BROKEN:
            raise crash
        return original(self, account, cursor)

    monkeypatch.setattr(WeiboAdapter, "timeline", timeline)
    sc = scenario(db_url, tmp_path, accounts=3, interval=600, backoff_base=300.0, backoff_cap=3600.0,
                  workers=1)
    attempts = []
    sc.dispatcher.on_result = lambda r: r.error_kind == "crash" and attempts.append(sc.clock.now())
    try:
        with caplog.at_level(logging.ERROR, logger="huisheng.poll"):
            sc.run_for(hours=2)
        with sc.runtime.sessions() as session:
            accounts = {a.uid: a for a in session.scalars(select(Account))}
    finally:
        sc.close()
    broken = accounts.pop(BROKEN)
    assert broken.last_error_kind == "crash"
    assert type(crash).__name__ in broken.last_error_message
    assert broken.consecutive_errors == len(attempts) and broken.failing_since is not None
    assert broken.lease_owner is None
    # backed off like any error: far fewer than the 12 attempts of 2 healthy
    # hours (waits of 300, 600, 1200, 2400 s, then the cap, each -20 % at worst,
    # leave room for 6), each wait about twice the one before until the cap
    assert 2 <= len(attempts) <= 6
    gaps = [(b - a).total_seconds() for a, b in zip(attempts, attempts[1:])]
    assert all(gap >= 300 * 0.8 for gap in gaps)
    assert all(later >= 1.3 * earlier or later >= 0.8 * 3600 for earlier, later in zip(gaps, gaps[1:]))
    # one broken account never stops the others
    assert accounts and all(a.last_success_at is not None and a.consecutive_errors == 0
                            for a in accounts.values())
    crashes = [r for r in caplog.records if "outcome=crash" in r.getMessage()]
    assert crashes and crashes[0].exc_info is not None  # logged with its traceback

    config = tmp_path / "status.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    failing = json.loads(CliRunner().invoke(main, ["status", "--failing", "--format", "json",
                                                   "--config", str(config)]).output)
    assert [(row["uid"], row["last_error_kind"]) for row in failing] == [(BROKEN, "crash")]


def test_an_adapter_that_cannot_even_be_built_is_a_crash_on_the_account(db_url, tmp_path, monkeypatch):
    sc = scenario(db_url, tmp_path, accounts=1)
    try:
        def broken(platform):
            raise ImportError("a plugin's dependency is missing")

        monkeypatch.setattr(sc.runtime.factory, "adapter", broken)
        result = sc.runtime.poller.poll(1)
        with sc.runtime.sessions() as session:
            account = session.get(Account, 1)
    finally:
        sc.close()
    assert (result.outcome, result.error_kind, result.requests) == ("error", "crash", 0)
    assert account.last_error_kind == "crash" and "ImportError" in account.last_error_message
    assert account.consecutive_errors == 1 and account.next_check_at > sc.clock.now()
