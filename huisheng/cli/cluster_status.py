"""The workers and the task queue in ``huisheng status`` (``[scale] engine =
"procrastinate"``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from huisheng.cli.tables import text_table
from huisheng.config.settings import Settings
from huisheng.scale.settings import scale_from_settings
from huisheng.scale.status import QueueRow, WorkerRow, queue, workers

_WORDS = {
    "zh": {"workers": "工作进程 {n} 个（{alive} 个在线）：",
           "worker_header": ("名称", "出口", "主机", "进程", "最近心跳", "进行中", "已完成轮询", "状态"),
           "alive": "在线", "dead": "无心跳（已停止或失联）",
           "queue": "任务队列：", "queue_header": ("任务", "排队", "运行中", "失败（近一天）"),
           "no_queue": "任务队列尚未建立：请运行 huisheng db upgrade",
           "no_workers": "没有在运行的工作进程（在各台机器上启动 huisheng worker）"},
    "en": {"workers": "Workers: {n} ({alive} alive):",
           "worker_header": ("name", "egress", "host", "pid", "last heartbeat", "in flight", "polls done", "state"),
           "alive": "alive", "dead": "no heartbeat (stopped or lost)",
           "queue": "Task queue:", "queue_header": ("task", "waiting", "running", "failed (last day)"),
           "no_queue": "no task queue yet: run huisheng db upgrade",
           "no_workers": "no worker running (start huisheng worker on each machine)"},
}


def gather(session: Session, settings: Settings, now: datetime
           ) -> tuple[list[WorkerRow], list[QueueRow] | None] | None:
    """The cluster's workers and queue, or None when polling is embedded."""
    scale = scale_from_settings(settings)
    if not scale.distributed:
        return None
    return workers(session, now, scale), queue(session)


def as_json(cluster: tuple[list[WorkerRow], list[QueueRow] | None]) -> dict[str, Any]:
    found, jobs = cluster
    return {"workers": [{"name": w.name, "egress": w.egress, "host": w.host, "pid": w.pid,
                         "started_at": w.started_at.isoformat(), "last_heartbeat": w.heartbeat_at.isoformat(),
                         "in_flight": w.in_flight, "polls": w.polls, "alive": w.alive} for w in found],
            "queue": None if jobs is None else [{"task": q.task, "waiting": q.waiting, "running": q.running,
                                                 "failed": q.failed} for q in jobs]}


def as_text(cluster: tuple[list[WorkerRow], list[QueueRow] | None], tz: ZoneInfo, lang: str) -> str:
    words = _WORDS[lang]
    found, jobs = cluster
    parts = []
    if found:
        table = [words["worker_header"]]
        for w in found:
            table.append((w.name, w.egress, w.host, str(w.pid), w.heartbeat_at.astimezone(tz).strftime("%m-%d %H:%M:%S"),
                          str(w.in_flight), str(w.polls), words["alive"] if w.alive else words["dead"]))
        parts += [words["workers"].format(n=len(found), alive=sum(w.alive for w in found)), text_table(table)]
    else:
        parts.append(words["no_workers"])
    if jobs is None:
        parts.append(words["no_queue"])
    else:
        table = [words["queue_header"]] + [(q.task, str(q.waiting), str(q.running), str(q.failed)) for q in jobs]
        parts += [words["queue"], text_table(table)]
    return "\n".join(parts)
