"""The database-driven dispatcher behind ``huisheng run``.

One APScheduler interval job (``max_instances=1``, ``coalesce=True``) *claims*
due accounts — enabled, ``next_check_at`` passed, no live lease — in one short
transaction that also moves their ``next_check_at`` forward and leases them, so
a crash mid-poll still moves the account on and a second dispatcher (another
process, on PostgreSQL another machine) never polls the same account at once.
Claimed accounts go to a bounded thread pool; the shared :class:`HostPacer`
keeps every worker within the per-host pace.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy import Integer, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from huisheng.clock import Clock, FakeClock
from huisheng.errors import DatabaseUnavailable
from huisheng.storage.db import transaction
from huisheng.storage.models import Account, UTCDateTime
from huisheng.polling.poll import Poller, PollResult
from huisheng.config.settings import Settings

log = logging.getLogger("huisheng.dispatcher")

#: share of the stop grace given to polls to finish the unit they are in; then
#: their requests are cut (the unit is read again at the next start)
CUT_SHARE = 0.75


# The claim's statements, built once (building them cost more than running them).
_ACCOUNTS = Account.__table__
_NOW = bindparam("now", type_=UTCDateTime())
_FREE = or_(_ACCOUNTS.c.lease_until.is_(None), _ACCOUNTS.c.lease_until < _NOW)
#: the due accounts, the never-polled first, then the longest overdue
_DUE = (select(_ACCOUNTS.c.id, _ACCOUNTS.c.platform, _ACCOUNTS.c.poll_interval)
        .where(_ACCOUNTS.c.enabled.is_(True),
               or_(_ACCOUNTS.c.next_check_at.is_(None), _ACCOUNTS.c.next_check_at <= _NOW), _FREE)
        .order_by(_ACCOUNTS.c.next_check_at.is_not(None), _ACCOUNTS.c.next_check_at, _ACCOUNTS.c.id)
        .limit(bindparam("limit", type_=Integer)))
#: on PostgreSQL rows another dispatcher is claiming are skipped, not waited for
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True)
_LEASE = (update(_ACCOUNTS).where(_ACCOUNTS.c.id.in_(bindparam("ids", expanding=True)), _FREE)
          .values(lease_owner=bindparam("owner"), lease_until=bindparam("lease_until", type_=UTCDateTime()),
                  last_check_at=_NOW, next_check_at=bindparam("next_check", type_=UTCDateTime())))
#: of some accounts, those this claim leased (its owner and lease end are its own)
_LEASED = select(_ACCOUNTS.c.id).where(_ACCOUNTS.c.id.in_(bindparam("ids", expanding=True)),
                                       _ACCOUNTS.c.lease_owner == bindparam("owner"),
                                       _ACCOUNTS.c.lease_until == bindparam("lease_until", type_=UTCDateTime()))


@dataclass(frozen=True)
class PeriodicJob:
    """A job beside polling (deciding flags, the ladder, digests …): ``run(now)``
    every ``interval`` seconds, never two at once."""

    name: str
    interval: float
    run: Callable[[datetime], object]
    #: the job only has work after polls stored something (deciding new
    #: comments): on virtual time it runs after each round of polls instead of
    #: stopping the clock every ``interval``
    after_polls: bool = False


class Dispatcher:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], clock: Clock,
                 poller: Poller, *, workers: int | None = None, owner: str | None = None,
                 on_result: Callable[[PollResult], None] | None = None,
                 jobs: Sequence[PeriodicJob] = ()):
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.poller = poller
        self.workers = workers or settings.polling.workers
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.on_result = on_result
        self.jobs = tuple(jobs)
        self._job_last_run: dict[str, datetime] = {}
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="poll")
        self._in_flight: set[Future] = set()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        #: under run() (real time) a finished poll claims the next account itself
        self._refill = False
        #: a freed worker waits for the tick under way (see _refill_now)
        self._refill_wanted = False
        self._active = 0
        self._tick_lock = threading.Lock()
        #: cuts every request of this process's polls (None: no poller, tests)
        self.cancel = poller.factory.cancel if poller is not None else None
        self._cut: threading.Timer | None = None

    # -- claiming ---------------------------------------------------------------------

    def claim_due(self, limit: int) -> list[int]:
        """Lease up to ``limit`` due accounts and move their next check forward."""
        if limit <= 0:
            return []
        now = self.clock.now()
        lease_until = now + timedelta(seconds=self.settings.polling.lease_seconds)
        with transaction(self.sessions) as connection:
            due = _DUE_LOCKED if connection.dialect.name == "postgresql" else _DUE
            by_interval: dict[int, list[int]] = {}
            for account_id, platform, poll_interval in connection.execute(due, {"now": now, "limit": limit}):
                by_interval.setdefault(self.settings.interval_for(platform, poll_interval), []).append(account_id)
            claimed = []
            for interval, ids in by_interval.items():
                # The lease is checked again in the UPDATE: on SQLite the SELECT
                # above takes no lock, so another process may have claimed some
                # of them in between; only those the UPDATE matched are won.
                lease = {"ids": ids, "now": now, "owner": self.owner, "lease_until": lease_until,
                         "next_check": now + timedelta(seconds=interval)}
                if connection.execute(_LEASE, lease).rowcount == len(ids):
                    claimed += ids
                else:
                    claimed += connection.scalars(_LEASED, lease).all()
        return claimed

    # -- ticking ----------------------------------------------------------------------

    def tick(self) -> list[int]:
        """Claim as many due accounts as there are idle workers; start them."""
        with self._tick_lock:
            return self._tick_locked()

    def _tick_locked(self) -> list[int]:
        if self.stopping.is_set():
            return []
        with self._lock:
            self._in_flight = {f for f in self._in_flight if not f.done()}
            free = self.workers - self._active
        claimed = self.claim_due(free)
        for account_id in claimed:
            with self._lock:
                self._active += 1
                self._in_flight.add(self._pool.submit(self._poll, account_id))
        return claimed

    def _poll(self, account_id: int) -> PollResult | None:
        try:
            result = self.poller.poll(account_id, lease_owner=self.owner,
                                      should_stop=self.stopping.is_set)
        except DatabaseUnavailable:  # said by the poll; polled again once its lease runs out
            result = None
        except Exception:  # one broken account never stops the others
            log.exception("account=%s outcome=crash", account_id)
            result = None
        finally:
            with self._lock:
                self._active -= 1
        if result is not None and self.on_result is not None:
            self.on_result(result)
        if self._refill:
            # A freed worker has the next due account taken at once instead of
            # at the next tick, so a fast pace is not throttled by the tick.
            try:
                self._refill_now()
            except Exception:  # the scheduled tick will try again
                log.exception("refill tick failed")
        return result

    def _refill_now(self) -> None:
        """Tick for the workers just freed — unless a tick is under way: it
        ticks once more when it is done, for every worker freed meanwhile.
        Polls end in bursts, and one claim for a burst costs what one claim
        per poll, queued one after the other, cost each."""
        self._refill_wanted = True
        while self._refill_wanted:
            if not self._tick_lock.acquire(blocking=False):
                return  # the tick under way sees the flag once it is done
            try:
                self._refill_wanted = False
                self._tick_locked()
            finally:
                self._tick_lock.release()

    def _run_job(self, job: PeriodicJob) -> None:
        now = self.clock.now()
        self._job_last_run[job.name] = now
        try:
            job.run(now)
        except Exception:  # a failing job is logged and retried next time
            log.exception("job=%s outcome=crash", job.name)

    def run_due_jobs(self, polled: bool) -> None:
        """Run every job whose interval has passed, and the ``after_polls`` jobs
        when polls just ran (virtual-time driving)."""
        now = self.clock.now()
        for job in self.jobs:
            last = self._job_last_run.get(job.name)
            if job.after_polls:
                if polled or last is None:
                    self._run_job(job)
            elif last is None or (now - last).total_seconds() >= job.interval:
                self._run_job(job)

    def wait_idle(self) -> None:
        """Block until every poll started so far has finished (tests, demo)."""
        with self._lock:
            pending = list(self._in_flight)
        for future in pending:
            future.result()

    def next_due_at(self):
        """When the earliest enabled account is due (None: no account)."""
        with self.sessions() as session:
            return session.scalar(select(func.min(Account.next_check_at))
                                  .where(Account.enabled.is_(True)))

    def run_virtual(self, clock: FakeClock, until: datetime,
                    on_step: Callable[[datetime], None] | None = None) -> None:
        """Drive the dispatcher on a fake clock up to ``until``: tick, let the
        polls finish, then jump to the next due time.  The demo, end-to-end
        tests and benchmarks use this to run simulated days in seconds."""
        tick = timedelta(seconds=self.settings.polling.tick)
        while clock.now() < until and not self.stopping.is_set():
            claimed = self.tick()
            self.wait_idle()
            self.run_due_jobs(polled=bool(claimed))
            if on_step is not None:
                on_step(clock.now())
            if claimed:
                continue
            due = self.next_due_at()
            target = min(until, due if due is not None and due > clock.now() else clock.now() + tick,
                         *self._next_job_times())
            clock.advance(max((target - clock.now()).total_seconds(), 0.001))

    def _next_job_times(self) -> list[datetime]:
        return [self._job_last_run[j.name] + timedelta(seconds=j.interval)
                for j in self.jobs if j.name in self._job_last_run and not j.after_polls]

    # -- running ----------------------------------------------------------------------

    def run(self) -> None:
        """Run until :meth:`stop` (or SIGTERM/SIGINT via the CLI)."""
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        self._refill = True
        scheduler = BackgroundScheduler(timezone=self.settings.timezone)
        scheduler.add_job(self.tick, IntervalTrigger(seconds=self.settings.polling.tick),
                          id="dispatcher", max_instances=1, coalesce=True,
                          next_run_time=self.clock.now())
        for job in self.jobs:
            scheduler.add_job(self._run_job, IntervalTrigger(seconds=job.interval), args=(job,),
                              id=job.name, max_instances=1, coalesce=True, next_run_time=self.clock.now())
        scheduler.start()
        log.info("dispatcher started owner=%s workers=%d tick=%ss", self.owner, self.workers,
                 self.settings.polling.tick)
        try:
            # Wake now and then: a SIGTERM the kernel hands to a worker thread
            # runs its Python handler only once the main thread runs again, and
            # an untimed wait could keep it asleep for good.
            while not self.stopping.wait(timeout=0.5):
                pass
        finally:
            scheduler.shutdown(wait=True)
            self.close()

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self.cancel is not None:
            # A unit can be long (a thread of 50 pages, a host paused by a 418):
            # past this share of the grace whatever still runs is cut.  The
            # grace is a real-time budget (systemd's stop timeout), so the
            # timer runs on real time, not on the injected clock.
            self._cut = threading.Timer(self.settings.polling.stop_grace * CUT_SHARE, self.cancel.set)
            self._cut.daemon = True
            self._cut.start()

    def close(self) -> None:
        """Let in-flight polls finish the unit they are in (each commits its
        own units), cut them late in the stop grace, then stop."""
        self._pool.shutdown(wait=True)
        if self._cut is not None:
            self._cut.cancel()
        log.info("dispatcher stopped owner=%s", self.owner)
