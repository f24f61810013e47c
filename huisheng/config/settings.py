"""Validated configuration as frozen records (what the rest of the code reads).

``huisheng.config`` turns files into these; nothing else parses files.
Durations are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Mapping

from huisheng.adapters.base import Pace


@dataclass(frozen=True)
class PollingSettings:
    #: default seconds between polls of one account
    interval: int = 900
    #: posts younger than this have their counters refreshed and threads re-read on change
    recent_window_days: int = 7
    #: seconds between re-reads of the timeline pages covering the recent window
    window_refresh_interval: int = 3600
    #: timeline pages read at most per poll (a safety net; backfill ignores it)
    max_timeline_pages: int = 5
    #: comment pages read at most per thread and poll
    max_comment_pages: int = 50
    #: a thread read that fell far short of its counter is read again after
    #: this, doubling per short read up to the cap (however its counter moves)
    thread_retry_base: float = 3600.0
    thread_retry_cap: float = 86400.0
    #: dispatcher tick (seconds) and the number of accounts polled at once
    tick: float = 5.0
    workers: int = 4
    #: a claimed account's lease; an expired lease means its worker died
    lease_seconds: int = 600
    backoff_base: float = 60.0
    backoff_cap: float = 6 * 3600.0
    backoff_jitter: float = 0.2
    #: the whole of one HTTP request (connecting to the last byte of the body)
    request_timeout: float = 20.0
    #: seconds a stop (SIGTERM) may take: polls finish the unit in flight, and
    #: whatever still runs near the end is cut (the unit is read again later)
    stop_grace: float = 45.0


@dataclass(frozen=True)
class PlatformSettings:
    name: str
    pace: Pace
    #: seconds between polls of one account on this platform (None: polling.interval)
    interval: int | None = None
    #: adapter options with secrets already resolved from their environment variables
    options: Mapping[str, Any] = field(default_factory=dict)
    #: names of the environment variables secrets came from (for messages; never values)
    secret_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    path: Path
    database_url: str
    timezone: str = "Asia/Shanghai"
    matrix_path: Path | None = None
    polling: PollingSettings = field(default_factory=PollingSettings)
    platforms: Mapping[str, PlatformSettings] = field(default_factory=dict)
    log_level: str = "INFO"
    #: the decision rules (YAML); None: the packaged defaults
    rules_path: Path | None = None
    #: everything else, by top-level table, for later features (mail, rules, …)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def platform(self, name: str) -> PlatformSettings:
        from huisheng import adapters

        if name in self.platforms:
            return self.platforms[name]
        return PlatformSettings(name=name, pace=adapters.load(name).default_pace)

    def interval_for(self, platform: str, override: int | None) -> int:
        if override:
            return override
        return self.platform(platform).interval or self.polling.interval


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    #: district | department | street | community
    level: str
    parent: str | None = None
    aliases: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountSpec:
    platform: str
    uid: str
    name: str
    unit: str
    poll_interval: int | None = None
    admins: tuple[str, ...] = ()
    enabled: bool = True
    #: what was written before is history (a date: local midnight; a datetime
    #: without offset: local time); None: the first successful poll minus the grace
    monitoring_start: date | datetime | None = None
    #: the environment variable holding the account's own logged-in cookie
    #: (read at each poll, never stored)
    cookie_env: str | None = None


@dataclass(frozen=True)
class Matrix:
    """政务新媒体矩阵: the unit tree and every account in it."""

    units: tuple[UnitSpec, ...]
    accounts: tuple[AccountSpec, ...]
    source: Path | None = None

    def unit(self, code: str) -> UnitSpec:
        for unit in self.units:
            if unit.code == code:
                return unit
        raise KeyError(code)
