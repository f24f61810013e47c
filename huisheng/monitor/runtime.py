"""Wires one process together: engine, sessions, pacer, adapters, poller, and
the jobs beside polling (the decide step, the ladder)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import requests
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from huisheng.flags.ladder import Ladder
from huisheng.flags.process import Decider
from huisheng.flags.rules import load_rules
from huisheng.flags.sla import calendar_from_settings, sla_from_settings
from huisheng.monitor.adapter_factory import AdapterFactory
from huisheng.monitor.clock import Clock
from huisheng.monitor.db import make_engine, session_factory
from huisheng.monitor.dispatcher import PeriodicJob
from huisheng.monitor.pace import HostPacer
from huisheng.monitor.poll import Poller
from huisheng.monitor.settings import Settings


#: seconds between runs of the ladder job (its steps are hours and days apart)
LADDER_INTERVAL = 600.0


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    sessions: sessionmaker[Session]
    pacer: HostPacer
    factory: AdapterFactory
    poller: Poller
    decider: Decider
    ladder: Ladder

    def jobs(self) -> list[PeriodicJob]:
        """What runs beside polling: deciding new comments every dispatcher
        tick (an urgent flag is raised within one tick of being stored) and
        the ladder."""
        return [PeriodicJob("decide", self.settings.polling.tick, self.decider.run, after_polls=True),
                PeriodicJob("ladder", LADDER_INTERVAL, self.ladder.run)]

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
    calendar = calendar_from_settings(settings)
    sla = sla_from_settings(settings)
    decider = Decider(sessions, clock, load_rules(settings.rules_path), calendar, sla)
    ladder = Ladder(sessions, clock, calendar, sla)
    return Runtime(settings, clock, engine, sessions, pacer, factory, poller, decider, ladder)
