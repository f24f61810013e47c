"""An accelerated clock for the demo: simulated time runs ``speed`` times faster
than real time from a chosen start."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from huisheng.clock import Clock


class AcceleratedClock(Clock):
    def __init__(self, start: datetime, speed: float):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = speed
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def monotonic(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)
