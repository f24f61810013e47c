"""Claiming due accounts: leases keep two dispatchers (two processes, or two
machines on PostgreSQL) from polling one account at once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from sqlalchemy import event, select, update

from flagkit import Kit
from huisheng.clock import FakeClock
from huisheng.polling.dispatcher import Dispatcher
from huisheng.storage.db import make_engine
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


def test_a_claim_moves_each_account_by_its_own_interval(db_url, tmp_path):
    kit = Kit(db_url, accounts=4)
    clock = FakeClock(datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc))
    with kit.sessions.begin() as session:
        slow = session.scalars(select(Account.id).order_by(Account.id).limit(2)).all()
        session.execute(update(Account).where(Account.id.in_(slow)).values(poll_interval=3600))
    settings = Settings(path=tmp_path / "x.toml", database_url=db_url, polling=PollingSettings(interval=900))
    dispatcher = Dispatcher(settings, kit.sessions, clock, poller=None, owner="me")
    assert len(dispatcher.claim_due(10)) == 4
    with kit.sessions() as session:
        due = {a.id: a.next_check_at - clock.now() for a in session.scalars(select(Account))}
    assert {a: d.total_seconds() for a, d in due.items()} == {
        a: 3600.0 if a in slow else 900.0 for a in due}
    dispatcher.close()
    kit.close()


def test_a_claim_keeps_only_the_accounts_its_update_won(tmp_path):
    """On SQLite the due accounts are read outside the write: another process
    leasing some of them in between leaves this claim the rest, and only them."""
    url = f"sqlite:///{tmp_path / 'claims.sqlite'}"
    kit = Kit(url, accounts=6)
    clock = FakeClock(datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc))
    settings = Settings(path=tmp_path / "x.toml", database_url=url, polling=PollingSettings(lease_seconds=600))
    other = make_engine(url)  # another process's connection
    with kit.sessions() as session:
        taken = session.scalars(select(Account.id).order_by(Account.id).limit(2)).all()

    @event.listens_for(kit.engine, "before_cursor_execute")
    def lease_some_first(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE accounts SET") and "lease_owner" in statement and not lease_some_first.done:
            lease_some_first.done = True
            with other.begin() as theirs:
                theirs.execute(update(Account).where(Account.id.in_(taken)).values(
                    lease_owner="other", lease_until=clock.now() + timedelta(seconds=600)))

    lease_some_first.done = False
    dispatcher = Dispatcher(settings, kit.sessions, clock, poller=None, owner="me")
    won = dispatcher.claim_due(10)
    assert lease_some_first.done
    assert len(won) == 4 and not set(won) & set(taken)
    with kit.sessions() as session:
        leases = {a.id: a.lease_owner for a in session.scalars(select(Account))}
    assert {a for a, owner in leases.items() if owner == "me"} == set(won)
    assert {a for a, owner in leases.items() if owner == "other"} == set(taken)
    dispatcher.close()
    other.dispose()
    kit.close()


class _HeldPoller:
    """Polls that end only when the test lets them (all at once: a burst)."""

    def __init__(self):
        self.factory = SimpleNamespace(cancel=None)
        self.release = threading.Event()
        self.polled: list[int] = []
        self.lock = threading.Lock()

    def poll(self, account_id, *, lease_owner=None, should_stop=None):
        with self.lock:
            self.polled.append(account_id)
        assert self.release.wait(30)
        return None


def test_a_worker_freed_during_a_tick_is_ticked_for(db_url, tmp_path):
    """A freed worker whose refill finds a tick under way leaves it to that
    tick, which then ticks once more: no freed worker is forgotten."""
    kit = Kit(db_url, accounts=4)
    clock = FakeClock(datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc))
    settings = Settings(path=tmp_path / "x.toml", database_url=db_url, polling=PollingSettings(lease_seconds=600))
    poller = _HeldPoller()
    poller.release.set()
    dispatcher = Dispatcher(settings, kit.sessions, clock, poller=poller, workers=2, owner="me")
    claims: list[int] = []
    claim_due = dispatcher.claim_due

    def claim_and_meanwhile_free_a_worker(limit):
        claims.append(limit)
        if len(claims) == 1:  # another poll ends while this tick claims
            other = threading.Thread(target=dispatcher._refill_now)
            other.start()
            other.join()  # at once: it left the claiming to the tick under way
            assert len(claims) == 1
        return claim_due(limit)

    dispatcher.claim_due = claim_and_meanwhile_free_a_worker
    dispatcher._refill_now()
    assert len(claims) == 2
    dispatcher.wait_idle()
    assert len(poller.polled) == len(set(poller.polled)) >= 2
    dispatcher.close()
    kit.close()
