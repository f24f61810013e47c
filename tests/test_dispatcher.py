"""Claiming due accounts: leases keep two dispatchers (two processes, or two
machines on PostgreSQL) from polling one account at once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from flagkit import Kit
from huisheng.clock import FakeClock
from huisheng.polling.dispatcher import Dispatcher
from huisheng.storage.models import Account
from huisheng.config.settings import PollingSettings, Settings


def test_concurrent_claimers_never_share_an_account(db_url, tmp_path):
    kit = Kit(db_url, accounts=40)
    clock = FakeClock(datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc))
    settings = Settings(path=tmp_path / "x.toml", database_url=db_url, polling=PollingSettings(lease_seconds=600))
    claimers = [Dispatcher(settings, kit.sessions, clock, poller=None, workers=1, owner=f"worker-{i}")
                for i in range(4)]
    claimed: dict[str, list[int]] = {d.owner: [] for d in claimers}
    start = threading.Barrier(len(claimers))

    def claim(dispatcher):
        start.wait()
        # Claimers that read the same due accounts at once all but one come away
        # empty-handed: how many calls it takes depends on the scheduling, so each
        # keeps claiming until every account is taken (bounded, never forever).
        for _ in range(500):
            if sum(map(len, claimed.values())) >= 40:
                return
            claimed[dispatcher.owner] += dispatcher.claim_due(2)

    threads = [threading.Thread(target=claim, args=(d,)) for d in claimers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [a for ids in claimed.values() for a in ids]
    assert len(everything) == len(set(everything)) == 40
    with kit.sessions() as session:
        leases = {a.id: a.lease_owner for a in session.scalars(select(Account))}
    for owner, ids in claimed.items():
        assert all(leases[a] == owner for a in ids)
    for d in claimers:
        d.close()
    kit.close()


def test_a_claim_moves_the_account_forward_and_an_expired_lease_is_reclaimed(db_url, tmp_path):
    kit = Kit(db_url, accounts=3)
    clock = FakeClock(datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc))
    settings = Settings(path=tmp_path / "x.toml", database_url=db_url,
                        polling=PollingSettings(interval=900, lease_seconds=1200))
    first = Dispatcher(settings, kit.sessions, clock, poller=None, owner="dead-worker")
    assert len(first.claim_due(10)) == 3
    with kit.sessions() as session:
        due = {a.next_check_at for a in session.scalars(select(Account))}
    assert due == {clock.now() + timedelta(seconds=900)}  # set before fetching
    second = Dispatcher(settings, kit.sessions, clock, poller=None, owner="other")
    clock.advance(900)
    assert second.claim_due(10) == []  # still leased by the worker that died
    clock.advance(301)
    assert len(second.claim_due(10)) == 3
    first.close()
    second.close()
    kit.close()
