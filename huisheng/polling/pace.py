"""Politeness and backoff: the one place that decides when a request may go.

:class:`HostPacer` is shared by every worker of a process: per host it keeps a
minimum spacing between request starts and a cap on requests in flight, and it
can pause a whole host when the platform signals rate limiting (HTTP 418, 429).
Each caller *reserves* a start slot under the lock and then sleeps outside it,
so concurrent workers queue up in order instead of racing.
"""

from __future__ import annotations

import contextlib
import random
import threading
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from huisheng import errors
from huisheng.adapters.base import Cancel, Pace
from huisheng.clock import Clock
from huisheng.storage.models import EgressPace


@dataclass
class _HostState:
    pace: Pace
    next_start: float = 0.0
    in_flight: int = 0
    requests: int = 0


class HostPacer:
    def __init__(self, clock: Clock):
        self.clock = clock
        self._cond = threading.Condition()
        self._hosts: dict[str, _HostState] = {}

    def _state(self, host: str, pace: Pace) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _HostState(pace=pace)
        return state

    @contextlib.contextmanager
    def gate(self, host: str, pace: Pace, cancel: Cancel | None = None) -> Iterator[None]:
        """Hold while one request to ``host`` is in flight.  A set ``cancel``
        (the process is stopping) ends the wait with ``Cancelled``."""
        with self._cond:
            state = self._state(host, pace)
            while state.in_flight >= max(1, state.pace.concurrency):
                if cancel is not None and cancel.is_set():
                    raise errors.Cancelled(f"stopped waiting for {host}")
                # Woken by the request that finishes; the timeout only guards
                # against a missed notify.
                self._cond.wait(timeout=1.0)
            state.in_flight += 1
            state.requests += 1
            start = self._reserve_local(state)
        try:
            delay = self._delay(host, state.pace, start)
            if cancel is None:
                self.clock.sleep(delay)
            elif self.clock.wait(cancel.event, delay):
                # a host paused for minutes (a rate limit) must not hold up a stop
                raise errors.Cancelled(f"stopped waiting for {host}")
            yield
        finally:
            with self._cond:
                state.in_flight -= 1
                self._cond.notify_all()

    def _reserve_local(self, state: _HostState) -> float:
        """Take the next start slot (on the clock's monotonic time); called
        under the lock so that workers queue in order."""
        start = max(self.clock.monotonic(), state.next_start)
        state.next_start = start + state.pace.min_interval
        return start

    def _delay(self, host: str, pace: Pace, start: float) -> float:
        """Seconds to wait before the request reserved for ``start`` may go."""
        return start - self.clock.monotonic()

    def pause(self, host: str, seconds: float, pace: Pace) -> None:
        """No request to ``host`` starts for ``seconds`` (platform-wide slowdown)."""
        with self._cond:
            state = self._state(host, pace)
            state.next_start = max(state.next_start, self.clock.monotonic() + seconds)

    def requests(self, host: str) -> int:
        with self._cond:
            state = self._hosts.get(host)
            return state.requests if state else 0


class EgressPacer(HostPacer):
    """The pace of one egress address, kept in the database so that every
    worker behind the address (on any machine) shares it: a request start
    takes the address's next slot toward the host in one upsert, and a
    platform-wide slow-down (418/429) moves that slot for all of them.  The
    cap on requests in flight still holds per process.  Slots are wall-clock
    seconds of the injected clock (the machines keep NTP time)."""

    def __init__(self, clock: Clock, sessions: sessionmaker[Session], egress: str):
        super().__init__(clock)
        self.sessions = sessions
        self.egress = egress

    def _reserve_local(self, state: _HostState) -> float:
        return 0.0  # the slot is taken from the database in _delay, outside the lock

    def _delay(self, host: str, pace: Pace, start: float) -> float:
        now = self.clock.now().timestamp()
        interval = pace.min_interval
        with self.sessions.begin() as session:
            moved = _greatest(session, EgressPace.next_start, now) + interval
            slot_end = session.scalar(self._upsert(session, host, now + interval, moved, requests=1)
                                      .returning(EgressPace.next_start))
        return slot_end - interval - now

    def pause(self, host: str, seconds: float, pace: Pace) -> None:
        until = self.clock.now().timestamp() + seconds
        with self.sessions.begin() as session:
            session.execute(self._upsert(session, host, until, _greatest(session, EgressPace.next_start, until),
                                         requests=0))

    def _upsert(self, session: Session, host: str, first: float, moved, *, requests: int):
        """This egress's row for ``host``: ``first`` as its next start when
        new, else ``moved``."""
        insert = (pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert)(EgressPace)
        return (insert.values(egress=self.egress, host=host, next_start=first, requests=requests)
                .on_conflict_do_update(index_elements=[EgressPace.egress, EgressPace.host],
                                       set_={"next_start": moved, "requests": EgressPace.requests + requests}))


def _greatest(session: Session, column, value: float):
    return (func.greatest if session.bind.dialect.name == "postgresql" else func.max)(column, value)


def backoff_delay(consecutive_errors: int, *, base: float, cap: float, jitter: float,
                  retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``consecutive_errors``-th error in a row:
    exponential from ``base``, capped at ``cap``, spread by ±``jitter`` (a
    fraction) so accounts that failed together don't retry together, and never
    sooner than the platform's Retry-After."""
    rng = rng or random.Random()
    exponent = max(0, consecutive_errors - 1)
    delay = min(cap, base * (2.0 ** min(exponent, 32)))
    delay *= 1.0 + rng.uniform(-jitter, jitter)
    delay = min(delay, cap)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(0.0, delay)
