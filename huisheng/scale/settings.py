"""The ``[scale]`` table: which engine runs the polls, and this worker's name,
egress label and limits when it is procrastinate."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy.engine import make_url

from huisheng.config import ConfigError, Key, Table, register_table
from huisheng.config.settings import Settings

ENGINES = ("embedded", "procrastinate")
#: seconds a periodic task can be spaced by (cron steps that divide a minute or an hour)
_STEPS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 300, 360, 600, 720, 900, 1200, 1800, 3600)


def _check_step(value: int) -> str | None:
    if value not in _STEPS:
        return f"应能整除一分钟或一小时（{', '.join(map(str, _STEPS))} 秒之一），实际为 {value}"
    return None


def _check_label(value: str) -> str | None:
    if not value.strip() or len(value) > 100 or any(ch.isspace() or ord(ch) < 32 for ch in value):
        return f"应为 1–100 个字符、不含空白的名称，实际为 \"{value}\""
    return None


def _check_scale(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    if values["stall_timeout"] < 2 * values["heartbeat"]:
        return [("stall_timeout", f"stall_timeout（{values['stall_timeout']:g}）应至少为 heartbeat 的两倍"
                                  f"（{2 * values['heartbeat']:g}）")]
    return []


SCALE_TABLE = Table({
    "engine": Key("str", default="embedded", choices=ENGINES,
                  doc="embedded: `huisheng run` polls in-process; procrastinate: `huisheng worker` processes "
                      "on any number of machines share the PostgreSQL database and its task queue"),
    "name": Key("str", check=_check_label, doc="this worker's name (default: the host name)"),
    "egress": Key("str", default="default", check=_check_label,
                  doc="the address this worker's requests leave from: workers with one egress share one pace"),
    "concurrency": Key("int", low=1, high=64, doc="polls at once in this worker (default: polling.workers)"),
    "dispatch_interval": Key("int", default=5, check=_check_step,
                             doc="seconds between dispatches of due accounts (one per period across the cluster)"),
    "queue_depth": Key("int", default=500, low=1, high=100_000,
                       doc="poll jobs waiting in the queue at most (the dispatch tops it up)"),
    "heartbeat": Key("float", default=10.0, low=0.2, high=600, doc="seconds between a worker's heartbeats"),
    "stall_timeout": Key("float", default=60.0, low=0.5, high=86400,
                         doc="a worker silent this long is dead: its jobs are retried"),
}, doc="several machines: procrastinate workers", check=_check_scale)

register_table("scale", SCALE_TABLE)


@dataclass(frozen=True)
class ScaleSettings:
    engine: str
    name: str
    egress: str
    concurrency: int
    dispatch_interval: int
    queue_depth: int
    heartbeat: float
    stall_timeout: float

    @property
    def distributed(self) -> bool:
        return self.engine == "procrastinate"


def scale_from_settings(settings: Settings) -> ScaleSettings:
    values: Mapping[str, Any] = settings.extra.get("scale") or {
        k: v.default for k, v in SCALE_TABLE.items.items()}
    return ScaleSettings(engine=values["engine"], name=values["name"] or socket.gethostname(),
                         egress=values["egress"], concurrency=values["concurrency"] or settings.polling.workers,
                         dispatch_interval=values["dispatch_interval"], queue_depth=values["queue_depth"],
                         heartbeat=values["heartbeat"], stall_timeout=values["stall_timeout"])


def require_distributed(settings: Settings) -> ScaleSettings:
    """The ``[scale]`` settings of a procrastinate cluster, or a ConfigError
    saying why this config is not one (the embedded engine, or SQLite)."""
    scale = scale_from_settings(settings)
    where = str(settings.path) if settings.path else None
    if not scale.distributed:
        raise ConfigError("huisheng worker 需要 [scale] engine = \"procrastinate\"（当前为 \"embedded\"：单机请用 "
                          "huisheng run）", file=where, key="scale.engine")
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        raise ConfigError("[scale] engine = \"procrastinate\" 需要 PostgreSQL：多台机器共用的数据库和任务队列不能是 "
                          "SQLite 文件（先用 huisheng db copy 迁移到 PostgreSQL，再把 [database] url 指向它）",
                          file=where, key="scale.engine")
    return scale
