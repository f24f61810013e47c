"""Builds adapters for polls: the right class for a platform, its options from
the config, HTTP through the shared per-host pacer."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any, Callable, Mapping

import requests

from huisheng import adapters
from huisheng.adapters.base import Adapter, Cancel, Http, HttpSession, Pace
from huisheng.clock import Clock
from huisheng.polling.pace import HostPacer
from huisheng.config.settings import Settings


def lane_paces(cls: type[Adapter], options: Mapping[str, Any]) -> dict[str, Pace]:
    """The adapter's lanes, each with the spacing its ``<lane>_min_interval``
    option sets, else its default."""
    out = {}
    for lane, default in cls.lanes.items():
        spacing = options.get(f"{lane}_min_interval")
        out[lane] = replace(default, min_interval=float(spacing)) if spacing else default
    return out


class AdapterFactory:
    """One ``requests.Session`` per worker thread (sessions are not meant to be
    shared across threads), one pacer for all of them.  ``session_factory`` is
    the transport seam: tests may hand in their own sessions."""

    def __init__(self, settings: Settings, pacer: HostPacer, clock: Clock, *,
                 session_factory: Callable[[], requests.Session] = HttpSession,
                 timeout: float | None = None):
        self.settings = settings
        self.pacer = pacer
        self.clock = clock
        self.session_factory = session_factory
        self.timeout = settings.polling.request_timeout if timeout is None else timeout
        #: set when the process must stop now: cuts every request of every poll
        self.cancel = Cancel()
        self._local = threading.local()
        self._classes: dict[str, type[Adapter]] = {}

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self.session_factory()
        return session

    def adapter(self, platform: str) -> Adapter:
        """A fresh adapter (with its own request counter) for one poll."""
        cls = self._classes.get(platform)
        if cls is None:
            cls = self._classes[platform] = adapters.load(platform)
        platform_settings = self.settings.platform(platform)
        pace = platform_settings.pace
        lanes = lane_paces(cls, platform_settings.options)

        def gate(host: str):
            # "HOST#LANE": an endpoint's own stricter pace (Http.get(lane=…))
            lane = host.partition("#")[2]
            return self.pacer.gate(host, lanes.get(lane, pace) if lane else pace, self.cancel)

        http = Http(self._session(), gate=gate, timeout=self.timeout, cancel=self.cancel)
        return cls(http, platform_settings.options, now=self.clock.now)

    def slow_down(self, adapter: Adapter, seconds: float) -> None:
        """Pause every host this adapter talks to (rate limiting is per IP)."""
        pace = self.settings.platform(adapter.name).pace
        for host in adapter.request_hosts():
            self.pacer.pause(host, seconds, pace)
