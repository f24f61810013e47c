"""The cluster for ``huisheng status``: each worker (name, egress, last
heartbeat, polls in flight) and the task queue (jobs waiting, running,
failed, per task)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from huisheng.scale.settings import ScaleSettings
from huisheng.storage.models import ScaleWorker

#: a worker that died is still listed this long after its last heartbeat
SHOW_DEAD_FOR = timedelta(days=1)


@dataclass(frozen=True)
class WorkerRow:
    name: str
    egress: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    in_flight: int
    polls: int
    alive: bool


@dataclass(frozen=True)
class QueueRow:
    task: str
    waiting: int
    running: int
    failed: int


def workers(session: Session, now: datetime, scale: ScaleSettings) -> list[WorkerRow]:
    """Running workers, and those that stopped answering within a day (not
    those stopped cleanly)."""
    rows = session.scalars(select(ScaleWorker).where(ScaleWorker.stopped_at.is_(None))
                           .where(ScaleWorker.heartbeat_at >= now - SHOW_DEAD_FOR)
                           .order_by(ScaleWorker.egress, ScaleWorker.name, ScaleWorker.id))
    return [WorkerRow(r.name, r.egress, r.host, r.pid, r.started_at, r.heartbeat_at, r.in_flight, r.polls,
                      alive=(now - r.heartbeat_at).total_seconds() <= scale.stall_timeout) for r in rows]


def queue(session: Session) -> list[QueueRow] | None:
    """Jobs per task that wait, run, or failed (kept a day); None when the
    database has no queue (``huisheng db upgrade`` makes it)."""
    if session.scalar(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")) is not True:
        return None
    rows = session.execute(text(
        "SELECT task_name, count(*) FILTER (WHERE status = 'todo'), count(*) FILTER (WHERE status = 'doing'), "
        "count(*) FILTER (WHERE status = 'failed') FROM procrastinate_jobs "
        "WHERE status IN ('todo', 'doing', 'failed') GROUP BY task_name ORDER BY task_name")).all()
    return [QueueRow(task, waiting, running, failed) for task, waiting, running, failed in rows]
