"""``digest``: rendering every administrator's digest at once ÷ N × rendering one.

The 176-account example district (config/example-district, one administrator
per unit, 175 addresses) gets 20 days of the simulator's world: posts,
residents' comments (hostile ones included) and the accounts' replies, stored
day by day with the decide step and the ladder run at the end of each day, so
flags are raised, answered, reminded, escalated and noticed as in the daemon.
Five accounts are failing to poll; the world has silent accounts of its own.

Measured at 08:30 on the next working day: the digest job's work for all N
administrators (gather + render into HTML and text, no queuing) against the
sum of the same work done for each administrator alone (one gather of its own
and one render), i.e. N × the mean time to render one.  ratio = all ÷ (N × one);
goal ≤ 1.2 (linear: what all digests need is read in a few queries, then split
in memory; no digest scans a table of its own).
"""

from __future__ import annotations

import gc
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select, update

from bench._common import emit, note
from huisheng import migrations
from huisheng.flags.ladder import Ladder
from huisheng.flags.process import Decider
from huisheng.flags.rules import load_rules
from huisheng.flags.sla import Sla
from huisheng.flags.workcal import WorkCalendar
from huisheng.storage import store
from huisheng.clock import FakeClock
from huisheng.storage.db import make_engine, session_factory
from huisheng.config.matrix import load_matrix
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account, Flag
from huisheng.notify.digest import gather, render_digest
from huisheng.records import Comment, Post
from huisheng.simulator import World, WorldConfig

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 2, 0, 30, tzinfo=timezone.utc)  # Monday 08:30 in Shanghai
DAYS = 20
RUNS = 3


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def build(url: str) -> None:
    """The district after DAYS simulated days, as the daemon would have left it."""
    matrix = load_matrix(ROOT / "config" / "example-district")
    migrations.upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    first = START - timedelta(days=DAYS)
    with sessions.begin() as session:
        sync_matrix(session, matrix, first - timedelta(days=1))
        # monitored since the matrix was loaded: the simulated days are live, not history
        session.execute(update(Account).values(first_success_at=first - timedelta(days=1),
                                               monitoring_start=first - timedelta(days=1)))
    with sessions() as session:
        accounts = {a.uid: a.id for a in session.scalars(select(Account))}
    world = World(matrix, seed=7, start=START, config=WorldConfig(history_days=DAYS))
    truth = world.truth(START)
    posts = {p["id"]: p for p in truth["posts"] if not p["deleted"] and p["account_uid"] in accounts}
    rows = {}
    with sessions.begin() as session:
        for p in posts.values():
            record = Post("weibo", p["id"], p["account_uid"], p["author_id"], p["author_name"],
                          _when(p["created_at"]), False, p["text"], short_id=p["bid"],
                          url=f"https://weibo.com/{p['author_id']}/{p['bid']}", repost_of=p["repost_of"])
            result = store.upsert_posts(session, [record], account_id=accounts[p["account_uid"]],
                                        account=("weibo", p["account_uid"]), now=_when(p["created_at"]))
            rows[p["id"]] = result.ids[p["id"]]
    by_day: dict[int, dict[str, list[Comment]]] = {}
    for c in truth["comments"]:
        if c["deleted"] or c["post_id"] not in posts:
            continue
        at = _when(c["created_at"])
        day = max(0, (at - first).days)
        by_day.setdefault(day, {}).setdefault(c["post_id"], []).append(Comment(
            "weibo", c["id"], c["post_id"], c["author_id"], c["author_name"], at, False, c["text"],
            root_id=c["root_id"], parent_id=c["parent_id"], is_from_owner=c["is_from_owner"]))
    clock = FakeClock(first)
    calendar = WorkCalendar()
    sla = Sla(deadlines={"consultation": 2, "help": 5, "suggestion": 5, "complaint": 7})
    decider = Decider(sessions, clock, load_rules(), calendar, sla)
    ladder = Ladder(sessions, clock, calendar, sla)
    for day in range(DAYS + 1):
        end = min(first + timedelta(days=day + 1), START)
        for post_id, comments in by_day.get(day, {}).items():
            with sessions.begin() as session:
                store.upsert_comments(session, comments, post_row_ids={post_id: rows[post_id]}, now=end)
        decider.run(end)
        ladder.run(end)
    with sessions.begin() as session:
        failing = session.scalars(select(Account.id).order_by(Account.id).limit(5)).all()
        session.execute(update(Account).where(Account.id.in_(failing)).values(
            consecutive_errors=4, last_error_kind="http", last_error_message="HTTP 502 Bad Gateway",
            failing_since=START - timedelta(hours=7), last_error_at=START - timedelta(minutes=10)))
    with sessions() as session:
        flags = session.scalar(select(func.count()).select_from(Flag))
        open_ = session.scalar(select(func.count()).select_from(Flag).where(Flag.status.in_(("open", "acknowledged"))))
    note(f"digest: {len(accounts)} accounts, {len(posts)} posts, {flags} flags ({open_} unanswered)")
    engine.dispose()


def _all(sessions, calendar) -> tuple[float, int, int]:
    started = time.perf_counter()
    with sessions() as session:
        digests = gather(session, now=START, calendar=calendar)
    size = sum(len(r.html) + len(r.text) for r in (render_digest(d) for d in digests))
    return time.perf_counter() - started, len(digests), size


def _each(sessions, calendar, recipients: list[str]) -> float:
    total = 0.0
    for recipient in recipients:
        started = time.perf_counter()
        with sessions() as session:
            (digest,) = gather(session, now=START, calendar=calendar, recipients=[recipient])
        render_digest(digest)
        total += time.perf_counter() - started
    return total


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'digest.sqlite'}"
        build(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        calendar = WorkCalendar()
        _all(sessions, calendar)  # warm: templates compiled, calendar years built
        with sessions() as session:
            recipients = [d.recipient for d in gather(session, now=START, calendar=calendar)]
        gc.collect()
        whole = min(_all(sessions, calendar)[0] for _ in range(RUNS))
        each = min(_each(sessions, calendar, recipients) for _ in range(RUNS))
        _, n, size = _all(sessions, calendar)
        engine.dispose()
    note(f"digest: {n} digests ({size / n / 1000:.1f} kB each on average) in {whole:.3f} s at once; "
         f"one at a time {each / n * 1000:.1f} ms each")
    emit("digest", round(whole, 4), "s", round(each, 4))


if __name__ == "__main__":
    main()
