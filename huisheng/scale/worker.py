"""One ``huisheng worker`` process: a procrastinate worker over the shared
PostgreSQL, its heartbeat in ``scale_workers`` (for ``status``), its requests
paced per egress address through the database.

A database outage never ends the process silently: procrastinate's worker
stops when it loses the database, so this loop logs the outage, waits for the
server to answer again (backing off up to :data:`MAX_WAIT`) and starts a new
worker; the jobs the old one was running are retried once its heartbeat is
stale, and the accounts it had leased come back when their leases run out.
Only a stop (SIGTERM/SIGINT) ends it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
from datetime import timedelta
from typing import Callable

import psycopg
import requests
from procrastinate.exceptions import ConnectorException
from sqlalchemy import delete, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError

from huisheng.adapters.base import HttpSession
from huisheng.app import build_runtime
from huisheng.clock import Clock
from huisheng.config.settings import Settings
from huisheng.errors import DatabaseUnavailable, HuishengError
from huisheng.polling.dispatcher import CUT_SHARE
from huisheng.scale.queue import CONTROL_QUEUE, POLL_QUEUE, Queue, conninfo
from huisheng.scale.settings import ScaleSettings
from huisheng.storage.models import ScaleWorker

log = logging.getLogger("huisheng.worker")

#: longest wait between two tries to reach a database that went away
MAX_WAIT = 30.0
#: a worker row whose heartbeat is older than this is removed when a worker starts
FORGET_AFTER_DAYS = 7
#: procrastinate's fallback poll of the queue (it is woken by LISTEN/NOTIFY first)
FETCH_INTERVAL = 1.0
#: jobs beside polling run at once in one worker (the dispatch, deciding, mail …)
CONTROL_CONCURRENCY = 2


#: what losing the database looks like from here (anything else is a bug: the
#: process exits and systemd restarts it)
_OUTAGES = (psycopg.Error, ConnectorException, OSError, DatabaseUnavailable, OperationalError, InterfaceError)


class Worker:
    def __init__(self, settings: Settings, scale: ScaleSettings, *, clock: Clock | None = None,
                 session_factory_http: Callable[[], requests.Session] = HttpSession,
                 http_timeout: float | None = None):
        self.settings = settings
        self.scale = scale
        self.runtime = build_runtime(settings, clock, session_factory_http=session_factory_http,
                                     http_timeout=http_timeout, egress=scale.egress)
        self.clock = self.runtime.clock
        self.queue = Queue(self.runtime, scale)
        self.stopping = threading.Event()
        self.row_id: int | None = None
        self._tasks: list[asyncio.Task] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cut: threading.Timer | None = None

    # -- the worker's row -----------------------------------------------------------------

    def _register(self) -> None:
        now = self.clock.now()
        with self.runtime.sessions.begin() as session:
            session.execute(delete(ScaleWorker).where(
                ScaleWorker.heartbeat_at < now - timedelta(days=FORGET_AFTER_DAYS)))
            row = ScaleWorker(name=self.scale.name, egress=self.scale.egress, host=socket.gethostname(),
                              pid=os.getpid(), started_at=now, heartbeat_at=now, in_flight=0, polls=0)
            session.add(row)
            session.flush()
            self.row_id = row.id

    def _beat(self, **values) -> None:
        with self.runtime.sessions.begin() as session:
            session.execute(update(ScaleWorker).where(ScaleWorker.id == self.row_id)
                            .values(heartbeat_at=self.clock.now(), in_flight=self.queue.in_flight,
                                    polls=self.queue.polls, **values))

    def _heartbeats(self) -> None:
        failing = False
        while not self.clock.wait(self.stopping, self.scale.heartbeat):
            try:
                self._beat()
                failing = False
            except Exception as exc:  # the database is away: said once, tried again next beat
                if not failing:
                    log.warning("worker=%s heartbeat failed: %s", self.scale.name, _first_line(exc))
                failing = True

    # -- running ---------------------------------------------------------------------------

    def run(self) -> None:
        """Run until :meth:`stop`; returns once every job in flight ended."""
        self._register()
        beats = threading.Thread(target=self._heartbeats, name="heartbeat", daemon=True)
        beats.start()
        log.info("worker started name=%s egress=%s concurrency=%d host=%s pid=%d", self.scale.name,
                 self.scale.egress, self.scale.concurrency, socket.gethostname(), os.getpid())
        try:
            asyncio.run(self._main())
        finally:
            self.stopping.set()
            beats.join(timeout=5)
            if self._cut is not None:
                self._cut.cancel()
            try:
                self._beat(stopped_at=self.clock.now())
            except Exception as exc:
                log.warning("worker=%s could not record its stop: %s", self.scale.name, _first_line(exc))
            self.runtime.close()
            log.info("worker stopped name=%s", self.scale.name)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        wait = 1.0
        while not self.stopping.is_set():
            try:
                async with self.queue.app.open_async():
                    await self._run_workers()
                    wait = 1.0
            except asyncio.CancelledError:
                if self.stopping.is_set():
                    break
                raise
            except _OUTAGES as exc:
                log.error("worker=%s lost the database (%s): waiting for the database, then resuming",
                          self.scale.name, _first_line(exc))
            else:
                if not self.stopping.is_set():
                    log.error("worker=%s: the queue worker stopped (database gone?): waiting for the database, "
                              "then resuming", self.scale.name)
            if self.stopping.is_set():
                break
            wait = await self._wait_for_database(wait)

    async def _run_workers(self) -> None:
        """Two procrastinate workers: the polls, and beside them the dispatch
        and the jobs that must not wait behind a long poll.  When one ends
        (the database went away) the other is stopped too."""
        common = dict(install_signal_handlers=False, update_heartbeat_interval=self.scale.heartbeat,
                      stalled_worker_timeout=self.scale.stall_timeout, fetch_job_polling_interval=FETCH_INTERVAL,
                      abort_job_polling_interval=FETCH_INTERVAL,
                      shutdown_graceful_timeout=self.settings.polling.stop_grace * CUT_SHARE * 0.5)
        app = self.queue.app
        self._tasks = [
            asyncio.create_task(app.run_worker_async(queues=[POLL_QUEUE], name=self.scale.name,
                                                     concurrency=self.scale.concurrency, **common)),
            asyncio.create_task(app.run_worker_async(queues=[CONTROL_QUEUE], name=f"{self.scale.name}/control",
                                                     concurrency=CONTROL_CONCURRENCY, **common))]
        try:
            if self.stopping.is_set():  # stopped while opening
                self._cancel_all()
            done, pending = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            if not self.stopping.is_set():
                # A second cancel would cut procrastinate's graceful shutdown short.
                for task in pending:
                    task.cancel()
            results = await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            self._tasks = []
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result
        if self.stopping.is_set():
            raise asyncio.CancelledError()

    def _cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _wait_for_database(self, wait: float) -> float:
        """Back off until the server answers (or the worker is stopped); the
        next wait to start from."""
        while not self.stopping.is_set():
            if await asyncio.to_thread(self.clock.wait, self.stopping, wait):
                break
            try:
                connection = await psycopg.AsyncConnection.connect(conninfo(self.settings.database_url),
                                                                   connect_timeout=10)
                await connection.close()
                log.warning("worker=%s: the database answers again: resuming", self.scale.name)
                return 1.0
            except psycopg.Error as exc:
                log.warning("worker=%s: database still unavailable (%s); next try in %.0fs", self.scale.name,
                            _first_line(exc), min(wait * 2, MAX_WAIT))
                wait = min(wait * 2, MAX_WAIT)
        return wait

    def stop(self) -> None:
        """Finish the jobs in flight (polls end after the unit they are in),
        cut what still runs late in the stop grace."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        # A stop's grace is a real-time budget (systemd's stop timeout).
        self._cut = threading.Timer(self.settings.polling.stop_grace * CUT_SHARE, self.runtime.factory.cancel.set)
        self._cut.daemon = True
        self._cut.start()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._cancel_all)

    def install_signal_handlers(self, on_signal: Callable[[int], None] | None = None) -> None:
        def handler(signum, _frame):
            if on_signal is not None:
                on_signal(signum)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def check_queue(settings: Settings) -> None:
    """The queue's schema must be there (``huisheng db upgrade`` makes it)."""
    from huisheng.scale.schema import installed_version

    try:
        conn = psycopg.connect(conninfo(settings.database_url), connect_timeout=10)
    except psycopg.OperationalError as exc:
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        raise DatabaseUnavailable(f"{shown}: 无法连接数据库（{_first_line(exc)}）") from exc
    with conn:
        if installed_version(conn) is None:
            raise HuishengError("数据库中还没有任务队列：请先运行 huisheng db upgrade（[scale] engine = \"procrastinate\" 时"
                                "它会建立 procrastinate 的表）")
