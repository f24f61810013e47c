"""Injected time.  Nothing in huisheng calls ``datetime.now`` or ``time.sleep``
directly; it asks a clock, so tests and the demo can move time by hand."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone


class Clock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep ``seconds`` unless ``event`` is set first; whether it is set."""
        return event.wait(seconds) if seconds > 0 else event.is_set()


class FakeClock(Clock):
    """Time that moves only when told to (``advance``) or when slept on.

    ``sleep`` advances the clock instead of waiting, so code that paces itself
    runs instantly under test while still seeing time pass.
    """

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
        self._mono = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if not event.is_set():
            self.sleep(seconds)
        return event.is_set()
