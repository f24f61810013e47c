"""Wires one process together: engine, sessions, pacer, adapters, poller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import requests
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from huisheng.monitor.adapter_factory import AdapterFactory
from huisheng.monitor.clock import Clock
from huisheng.monitor.db import make_engine, session_factory
from huisheng.monitor.pace import HostPacer
from huisheng.monitor.poll import Poller
from huisheng.monitor.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    sessions: sessionmaker[Session]
    pacer: HostPacer
    factory: AdapterFactory
    poller: Poller

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(settings: Settings, clock: Clock | None = None, *,
                  session_factory_http: Callable[[], requests.Session] = requests.Session,
                  http_timeout: float = 20.0) -> Runtime:
    clock = clock or Clock()
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    pacer = HostPacer(clock)
    factory = AdapterFactory(settings, pacer, clock, session_factory=session_factory_http,
                             timeout=http_timeout)
    poller = Poller(settings, sessions, clock, factory)
    return Runtime(settings, clock, engine, sessions, pacer, factory, poller)
