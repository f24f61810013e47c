"""The task queue of several machines: procrastinate tasks over huisheng's
own units of work, in the PostgreSQL database every worker shares.

* ``huisheng.dispatch`` — periodic, one job per period across the cluster
  (procrastinate's periodic defers are unique per timestamp, and a queueing
  lock keeps a late one from piling up): claims due accounts exactly as the
  embedded dispatcher does (lease, ``next_check_at`` moved on before any
  fetch, ``FOR UPDATE SKIP LOCKED``) and defers one ``huisheng.poll`` job per
  account with a queueing lock (never two waiting for one account) and a lock
  (never two running).  It tops the queue up to ``[scale] queue_depth``.
* ``huisheng.poll`` — the same ``Poller.poll(account)`` as ``huisheng run``.
  The job takes the account's lease over from the dispatch (or keeps its own
  when it is a retry of itself), so the lease rules of the embedded daemon
  hold: a poll from the command line is never run beside it.
* ``huisheng.job.<name>`` — the jobs beside polling (decide, alerts, the
  ladders, digests, the sender, rollups, retraining), each periodic with a
  lock and a queueing lock: once per period across the cluster, never two at
  once.
* ``huisheng.retry_stalled`` — periodic: the jobs of a worker whose heartbeat
  stopped (killed, its machine gone) go back to the queue; one run at a time
  under a PostgreSQL advisory lock (a dead worker's session lets it go).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta

from procrastinate import App, JobContext, PsycopgConnector, RetryStrategy, exceptions
from procrastinate.jobs import Status
from sqlalchemy import or_, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError

from huisheng.app import Runtime
from huisheng.errors import DatabaseUnavailable
from huisheng.polling.dispatcher import Dispatcher
from huisheng.scale.settings import ScaleSettings
from huisheng.storage.db import normalize_url
from huisheng.storage.models import Account

log = logging.getLogger("huisheng.queue")

POLL_TASK = "huisheng.poll"
DISPATCH_TASK = "huisheng.dispatch"
RETRY_STALLED_TASK = "huisheng.retry_stalled"
CLEANUP_TASK = "huisheng.cleanup"
#: the polls' queue, and that of everything else (which must not wait behind a long poll)
POLL_QUEUE = "poll"
CONTROL_QUEUE = "control"
JOB_TASK_PREFIX = "huisheng.job."
#: the lease owner of an account whose poll job waits in the queue
QUEUED = "queue"
#: finished jobs are kept this long (for `status` and inquiries), then removed
KEEP_FINISHED_HOURS = 24
#: a poll that met a database outage is tried again this often, this many times
#: (after that its lease expires and the dispatch queues the account anew)
DB_RETRY_WAIT = 5
DB_RETRY_ATTEMPTS = 12
#: seconds to connect, or to get a connection from the pool
CONNECT_TIMEOUT = 5
#: retrying stalled jobs, one at a time per installation (schema) of the database
_RETRY_STALLED_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '/huisheng.retry_stalled'))"


def conninfo(url: str) -> str:
    """libpq's form of a SQLAlchemy PostgreSQL URL (options such as a
    ``search_path`` kept)."""
    return make_url(normalize_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def cron_for(seconds: float) -> str:
    """The cron schedule (procrastinate's sixth field is seconds) closest to
    every ``seconds`` without being more often: steps that divide a minute,
    an hour or a day."""
    step = max(1, int(seconds))
    if step < 60:
        return f"* * * * * */{max(d for d in _DIVISORS_60 if d <= step)}"
    if step < 3600:
        return f"*/{max(d for d in _DIVISORS_60 if d <= step // 60)} * * * * 0"
    if step < 86400:
        return f"0 */{max(d for d in _DIVISORS_24 if d <= step // 3600)} * * * 0"
    return "0 0 * * * 0"


_DIVISORS_60 = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)
_DIVISORS_24 = (1, 2, 3, 4, 6, 8, 12)


class Queue:
    """The procrastinate app of one worker process, its tasks bound to the
    process's :class:`~huisheng.app.Runtime`."""

    def __init__(self, runtime: Runtime, scale: ScaleSettings, *, pool_size: int | None = None):
        self.runtime = runtime
        self.scale = scale
        size = pool_size or scale.concurrency + 8
        # Waits for a connection are short: a database that went away must end
        # the worker soon (it waits for the database and starts again) rather
        # than hold its heartbeat for the pool's default half-minute.
        self.app = App(connector=PsycopgConnector(conninfo=conninfo(runtime.settings.database_url),
                                                  min_size=1, max_size=size, timeout=CONNECT_TIMEOUT,
                                                  kwargs={"connect_timeout": CONNECT_TIMEOUT}))
        self._claimer = Dispatcher(runtime.settings, runtime.sessions, runtime.clock, poller=None, workers=1,
                                   owner=QUEUED)
        self._lock = threading.Lock()
        #: polls running in this process, and finished by it
        self.in_flight = 0
        self.polls = 0
        self._register()

    # -- tasks --------------------------------------------------------------------------

    def _register(self) -> None:
        app, scale = self.app, self.scale
        every = cron_for(scale.dispatch_interval)
        outage = RetryStrategy(max_attempts=DB_RETRY_ATTEMPTS, wait=DB_RETRY_WAIT,
                               retry_exceptions={DatabaseUnavailable, OperationalError, InterfaceError})
        self.poll_task = app.task(name=POLL_TASK, queue=POLL_QUEUE, pass_context=True, retry=outage)(self._poll)
        dispatch = app.task(name=DISPATCH_TASK, queue=CONTROL_QUEUE, queueing_lock="dispatch",
                            lock="dispatch")(self._dispatch)
        app.periodic(cron=every)(dispatch)
        # No procrastinate lock here (see _retry_stalled): only one waiting at a time.
        stalled = app.task(name=RETRY_STALLED_TASK, queue=CONTROL_QUEUE,
                           queueing_lock="retry-stalled")(self._retry_stalled)
        app.periodic(cron=every)(stalled)
        for job in self.runtime.jobs():
            def run(timestamp: int, job=job) -> None:
                job.run(self.runtime.clock.now())
            task = app.task(name=JOB_TASK_PREFIX + job.name, queue=CONTROL_QUEUE, queueing_lock=job.name,
                            lock=job.name)(run)
            # a job that runs "after polls" in-process runs each dispatch period here
            app.periodic(cron=cron_for(scale.dispatch_interval if job.after_polls else job.interval))(task)
        cleanup = app.task(name=CLEANUP_TASK, queue=CONTROL_QUEUE, queueing_lock="cleanup",
                           lock="cleanup")(self._cleanup)
        app.periodic(cron=cron_for(3600))(cleanup)

    def _poll(self, context: JobContext, account_id: int) -> str:
        owner = f"job-{context.job.id}"
        if not self._take_lease(account_id, owner):
            log.info("account_id=%s job=%s outcome=skipped (leased by another poll)", account_id, context.job.id)
            return "skipped"
        log.info("poll start account_id=%s job=%s worker=%s", account_id, context.job.id, self.scale.name)
        with self._lock:
            self.in_flight += 1
        outcome = "crash"
        try:
            outcome = self.runtime.poller.poll(account_id, lease_owner=owner,
                                               should_stop=context.should_abort).outcome
        except DatabaseUnavailable:  # said by the poll in one line; the job is retried (DB_RETRY_WAIT)
            outcome = "database_unavailable"
            raise
        finally:
            with self._lock:
                self.in_flight -= 1
                self.polls += 1
            log.info("poll end account_id=%s job=%s outcome=%s", account_id, context.job.id, outcome)
        return outcome

    def _take_lease(self, account_id: int, owner: str) -> bool:
        """The account's lease, from the dispatch that queued this job or from
        an earlier attempt of it (a retry after its worker died), or when the
        lease has run out; never from a poll that holds it."""
        now = self.runtime.clock.now()
        until = now + timedelta(seconds=self.runtime.settings.polling.lease_seconds)
        with self.runtime.sessions.begin() as session:
            return bool(session.execute(
                update(Account).where(Account.id == account_id)
                .where(or_(Account.lease_owner.in_((QUEUED, owner)), Account.lease_until.is_(None),
                           Account.lease_until < now))
                .values(lease_owner=owner, lease_until=until)).rowcount)

    async def _dispatch(self, timestamp: int) -> int:
        claimed = await asyncio.to_thread(self._claim)
        deferred = 0
        for account_id in claimed:
            try:
                await self.poll_task.configure(queueing_lock=f"poll-{account_id}",
                                               lock=f"account-{account_id}").defer_async(account_id=account_id)
                deferred += 1
            except exceptions.AlreadyEnqueued:
                pass  # a retried job of this account waits already: it takes the lease
        if claimed:
            log.info("dispatch claimed=%d deferred=%d", len(claimed), deferred)
        return deferred

    def _claim(self) -> list[int]:
        with self.runtime.sessions() as session:
            waiting = session.scalar(text("SELECT count(*) FROM procrastinate_jobs "
                                          "WHERE task_name = :task AND status = 'todo'"), {"task": POLL_TASK})
        return self._claimer.claim_due(self.scale.queue_depth - waiting)

    async def _retry_stalled(self, timestamp: int) -> int:
        # One at a time across the cluster (two would retry one job twice, the
        # second time while it runs again), under a lock the database drops
        # with the session that holds it.  A procrastinate lock would stay
        # with this task's own job when its worker dies, and no later one
        # would ever run: nothing stalled would be retried again.
        async with self.app.connector.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(_RETRY_STALLED_LOCK)
            if not (await cursor.fetchone())[0]:
                return 0
            manager = self.app.job_manager
            stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=self.scale.stall_timeout)
            for job in stalled:
                try:
                    await manager.retry_job(job)
                except exceptions.UniqueViolation:
                    # The account was queued anew meanwhile (its lease ran out):
                    # that job polls it, this one is done with.
                    await manager.finish_job(job, status=Status.FAILED, delete_job=False)
                log.warning("job=%s task=%s outcome=retried (its worker stopped answering)", job.id, job.task_name)
        return len(stalled)

    async def _cleanup(self, timestamp: int) -> None:
        await self.app.job_manager.delete_old_jobs(nb_hours=KEEP_FINISHED_HOURS, include_failed=True,
                                                   include_cancelled=True, include_aborted=True)

