"""Wires one process together: engine, sessions, pacer, adapters, poller, and
the jobs beside polling (the decide step, the ladder, urgent alerts, digests,
the mail sender)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import requests
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from huisheng.adapters.base import HttpSession
from huisheng.flags.ladder import Ladder, LadderResult
from huisheng.flags.process import Decider
from huisheng.flags.relearn import RetrainJob, handle_from_settings, retrain_job, routing_from_settings, with_priority
from huisheng.flags.rules import load_rules
from huisheng.flags.sla import calendar_from_settings, history_from_settings, sla_from_settings
from huisheng.polling.adapter_factory import AdapterFactory
from huisheng.clock import Clock
from huisheng.storage.db import make_engine, session_factory
from huisheng.polling.dispatcher import PeriodicJob
from huisheng.polling.pace import EgressPacer, HostPacer
from huisheng.polling.poll import Poller
from huisheng.config.settings import Settings
from huisheng.notify.alerts import AlertJob
from huisheng.notify.digest import DigestJob
from huisheng.notify.mail import mail_from_settings
from huisheng.notify.outbox import Sender
from huisheng.reports.rollup import REFRESH_INTERVAL, RollupJob


#: seconds between runs of the ladder job (its steps are hours and days apart)
LADDER_INTERVAL = 600.0
#: seconds between runs of the urgent flags' ladder (their steps are an hour apart)
URGENT_LADDER_INTERVAL = 60.0
#: seconds between checks whether a digest is due (its cron time has passed)
DIGEST_CHECK_INTERVAL = 60.0
#: seconds between deliveries of the outbox (alerts are also sent when queued)
SEND_INTERVAL = 60.0
#: seconds between checks whether the routing model is due for retraining (weekly by default)
RETRAIN_CHECK_INTERVAL = 3600.0


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
    alerts: AlertJob
    digest: DigestJob
    sender: Sender
    rollup: RollupJob
    #: retraining the routing model (None: no model configured, or retraining off)
    retrain: RetrainJob | None = None

    def jobs(self) -> list[PeriodicJob]:
        """What runs beside polling: deciding new comments every dispatcher
        tick, then alerting on the urgent ones in the same tick (queued and
        sent at once), the ladder (the urgent flags' every minute, mailed at
        once), the digests on their cron schedule, and the
        sender delivering (and retrying) the outbox, and the reports' monthly
        rollups kept fresh; with a routing model, retraining it (in a thread of
        its own, so nothing waits for it).  Without a ``[mail]`` host the mail
        jobs do nothing."""
        tick = self.settings.polling.tick
        return [PeriodicJob("decide", tick, self.decider.run, after_polls=True),
                PeriodicJob("alerts", tick, self.alerts.run, after_polls=True),
                PeriodicJob("urgent-ladder", URGENT_LADDER_INTERVAL, self.urgent_ladder),
                PeriodicJob("ladder", LADDER_INTERVAL, lambda now: self.ladder.run(now, urgent=False)),
                PeriodicJob("digest", DIGEST_CHECK_INTERVAL, self.digest.run),
                PeriodicJob("send", SEND_INTERVAL, self.sender.run),
                PeriodicJob("report-rollup", REFRESH_INTERVAL, self.rollup.run)] \
            + ([PeriodicJob("routing-retrain", RETRAIN_CHECK_INTERVAL, self.retrain.run)] if self.retrain else [])

    def urgent_ladder(self, now: datetime) -> LadderResult:
        """The urgent flags' ladder; what it mails goes out at once."""
        result = self.ladder.run(now, urgent=True)
        if result.reminded or result.escalated:
            self.sender.run(now)
        return result

    def close(self) -> None:
        self.engine.dispose()


def signin_links(settings: Settings) -> Callable[[str], str] | None:
    """The sender's finishing step when mail may carry workbench sign-in links
    (a ``[web]`` address is configured): fill them in at delivery."""
    from huisheng.users.signin import fill_message
    from huisheng.web.config import secret_key, web_from_settings

    web = web_from_settings(settings)
    if not (web.public_url or web.enabled):
        return None
    key = secret_key(web)
    return lambda data: fill_message(data, key)


def build_runtime(settings: Settings, clock: Clock | None = None, *,
                  session_factory_http: Callable[[], requests.Session] = HttpSession,
                  http_timeout: float | None = None, egress: str | None = None) -> Runtime:
    """``egress``: a worker of several machines (``huisheng worker``) keeps
    the pace of its egress address in the database, shared with every worker
    behind that address; else the pace is this process's own."""
    clock = clock or Clock()
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    pacer = HostPacer(clock) if egress is None else EgressPacer(clock, sessions, egress)
    factory = AdapterFactory(settings, pacer, clock, session_factory=session_factory_http,
                             timeout=http_timeout)
    calendar = calendar_from_settings(settings)
    history = history_from_settings(settings)
    poller = Poller(settings, sessions, clock, factory, history_start=history.start_for(calendar))
    sla = sla_from_settings(settings)
    rules = with_priority(load_rules(settings.rules_path), routing_from_settings(settings))
    model = handle_from_settings(settings)
    decider = Decider(sessions, clock, rules, calendar, sla, history=history, learned=model)
    mail = mail_from_settings(settings)
    sender = Sender(sessions, clock, mail, finalize=signin_links(settings))
    alerts = AlertJob(sessions, clock, settings, mail, sender=sender)
    ladder = Ladder(sessions, clock, calendar, sla, on_step=alerts.ladder_step)
    digest = DigestJob(sessions, clock, settings)
    rollup = RollupJob(sessions, settings.timezone)
    return Runtime(settings, clock, engine, sessions, pacer, factory, poller, decider, ladder, alerts,
                   digest, sender, rollup, retrain=retrain_job(settings, sessions, clock, rules, model))
