"""``report``: the coverage report over 1 M flags ÷ a full scan of the comments
table on the same database.

A fresh SQLite file with the migrations applied gets a district of 176 units and
accounts, 20 000 posts, 1 000 000 comments and one flag per comment, created
over 22 months (2025-01 … 2026-10, Asia/Shanghai): 80 % owned by the unit of
the account they were written under, 20 % written under the district's account
and routed to any unit; 90 % replied (log-normal first-reply times, median
10 h; a reply that would fall after the report's "now" is left open), 3 %
dismissed, the rest open.  Rows go in with raw ``sqlite3`` ``executemany``.
The daemon's rollup job then runs once (its time is printed to stderr).

Figure: ``huisheng report coverage --by unit`` over every flag (all 22 months),
the function the command calls, on a read-only engine, best of RUNS.
Baseline: a full scan of the comments table, ``SELECT * FROM comments`` read to
the end with plain ``sqlite3``, best of RUNS.  ratio = report ÷ scan.
"""

from __future__ import annotations

import math
import os
import random
import sqlite3
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from bench._common import emit, note
from huisheng import migrations
from huisheng.flags.workcal import WorkCalendar
from huisheng.storage.db import make_engine, session_factory
from huisheng.reports.coverage import coverage
from huisheng.reports.rollup import RollupJob

FLAGS = int(os.environ.get("HUISHENG_BENCH_FLAGS", "1000000"))
POSTS = 20_000
ACCOUNTS = 176
RUNS = int(os.environ.get("HUISHENG_BENCH_RUNS", "3"))
SEED = 20261126
TZ = ZoneInfo("Asia/Shanghai")
FIRST = datetime(2025, 1, 1, tzinfo=TZ)
END = datetime(2026, 11, 1, tzinfo=TZ)
NOW = datetime(2026, 11, 5, 12, tzinfo=TZ)
CATEGORIES = ("consultation", "complaint", "help", "suggestion")
DUE_DAYS = {"consultation": 2, "complaint": 7, "help": 5, "suggestion": 5}
TEXT = "请问幸福路和人民大街路口的红绿灯什么时候能修好？已经反映很多次了，一直没人管。[怒]"


def _stamp(epoch: float) -> str:
    """Naive UTC text as SQLAlchemy stores it on SQLite."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def populate(path: Path, flags: int = FLAGS, seed: int = SEED) -> None:
    migrations.upgrade(f"sqlite:///{path}")
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")  # a scratch file: no journal while loading
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    t0 = _stamp(FIRST.timestamp())
    units = [(1, "D", "示范区", "district", None)]
    units += [(2 + i, f"B{i:02d}", f"部门{i:02d}", "department", 1) for i in range(30)]
    units += [(32 + i, f"S{i:02d}", f"街道{i:02d}", "street", 1) for i in range(25)]
    units += [(57 + i, f"C{i:03d}", f"社区{i:03d}", "community", 32 + i % 25) for i in range(ACCOUNTS - 56)]
    db.executemany("INSERT INTO units (id, code, name, level, parent_id, aliases, admins, enabled, created_at, "
                   "updated_at) VALUES (?, ?, ?, ?, ?, '[]', '[]', 1, ?, ?)", [u + (t0, t0) for u in units])
    db.executemany("INSERT INTO accounts (id, platform, uid, name, unit_id, admins, enabled, created_at, "
                   "consecutive_errors, adapter_state) VALUES (?, 'weibo', ?, ?, ?, '[]', 1, ?, 0, '{}')",
                   [(u[0], str(1_000_000_000 + u[0]), f"{u[2]}发布", u[0], t0) for u in units])
    start, span = FIRST.timestamp(), END.timestamp() - FIRST.timestamp()
    post_times = sorted(start + rng.random() * span for _ in range(POSTS))
    db.executemany("INSERT INTO posts (id, platform, external_id, account_id, author_id, author_name, created_at, "
                   "created_at_approx, text, content_hash, is_pinned, is_truncated, edit_count, first_seen_at, "
                   "last_seen_at, raw) VALUES (?, 'weibo', ?, ?, ?, '发布', ?, 0, '【便民提示】近期道路施工安排', ?, 0, 0, 0, "
                   "?, ?, '{}')",
                   [(p + 1, str(4_900_000_000_000_000 + p), 1 + (0 if p % 5 == 0 else rng.randrange(ACCOUNTS)),
                    str(1_000_000_000 + p % ACCOUNTS), _stamp(at), "0" * 64, _stamp(at), _stamp(at))
                    for p, at in enumerate(post_times)])
    post_account = dict(db.execute("SELECT id, account_id FROM posts"))
    comments, flag_rows = [], []
    for i in range(1, flags + 1):
        post = rng.randrange(POSTS) + 1
        started = min(post_times[post - 1] + rng.expovariate(1 / 7200), END.timestamp() - 1)
        s = _stamp(started)
        account = post_account[post]
        unit = rng.randrange(ACCOUNTS) + 1 if account == 1 else account
        category = CATEGORIES[i % 4]
        due = started + DUE_DAYS[category] * 1.4 * 86400
        raw = ('{"id": %d, "like_count": 3, "source": "来自重庆", '
               '"user": {"id": %d, "screen_name": "市民%05d"}}' % (i, 7_000_000_000 + i % 99_991, i % 99_991))
        comments.append((i, str(5_000_000_000_000_000 + i), post, str(7_000_000_000 + i % 99_991),
                         f"市民{i % 99_991:05d}", s, TEXT, "0" * 64, s, s, raw))
        r = rng.random()
        reply = math.exp(rng.gauss(10.5, 1.3))
        if r < 0.90 and started + reply < NOW.timestamp() - 86400:  # every change lies before NOW
            status, first, seconds, working = "replied", _stamp(started + reply), reply, reply * 0.3
        else:
            status, first, seconds, working = ("dismissed" if r < 0.93 else "open"), None, None, None
        created = _stamp(started + 60)
        flag_rows.append((i, i, post, account, unit, category, status, s, created, _stamp(due), first, seconds,
                          working, first or created))
        if len(comments) == 100_000:
            _flush(db, comments, flag_rows)
    _flush(db, comments, flag_rows)
    db.commit()
    db.close()


def _flush(db: sqlite3.Connection, comments: list, flag_rows: list) -> None:
    db.executemany("INSERT INTO comments (id, platform, external_id, post_id, author_id, author_name, created_at, "
                   "created_at_approx, text, content_hash, is_from_owner, mentions, first_seen_at, last_seen_at, "
                   "raw) VALUES (?, 'weibo', ?, ?, ?, ?, ?, 0, ?, ?, 0, '[]', ?, ?, ?)", comments)
    db.executemany("INSERT INTO flags (id, comment_id, post_id, account_id, unit_id, routing, routing_reason, "
                   "category, urgent, reasons, author_id, author_name, status, started_at, created_at, due_at, "
                   "due_uncertain, first_reply_at, reply_seconds, reply_working_seconds, replied_offline, "
                   "updated_at) VALUES (?, ?, ?, ?, ?, 'account', '账号', ?, 0, '[]', '9001', '张三', ?, ?, ?, ?, 0, "
                   "?, ?, ?, 0, ?)", flag_rows)
    comments.clear()
    flag_rows.clear()


def time_report(url: str) -> tuple[float, int]:
    engine = make_engine(url, readonly=True)
    sessions = session_factory(engine)
    calendar = WorkCalendar()
    best, counted = float("inf"), 0
    try:
        for _ in range(RUNS):
            with sessions() as session:
                begin = time.perf_counter()
                rows = coverage(session, by="unit", start=FIRST, end=END, calendar=calendar, now=NOW)
                best = min(best, time.perf_counter() - begin)
            counted = sum(r.flags + r.dismissed for r in rows)
    finally:
        engine.dispose()
    return best, counted


def time_scan(path: Path) -> float:
    db = sqlite3.connect(path)
    best = float("inf")
    try:
        for _ in range(RUNS):
            begin = time.perf_counter()
            for _row in db.execute("SELECT * FROM comments"):
                pass
            best = min(best, time.perf_counter() - begin)
        begin = time.perf_counter()
        db.execute("SELECT sum(length(text)) FROM comments").fetchone()
        note(f"report: (an in-SQL scan, SELECT sum(length(text)) FROM comments, takes "
             f"{time.perf_counter() - begin:.3f} s)")
    finally:
        db.close()
    return best


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="huisheng-bench-report-") as folder:
        path = Path(folder) / "report.sqlite"
        url = f"sqlite:///{path}"
        begin = time.perf_counter()
        populate(path)
        note(f"report: {FLAGS} comments and flags generated in {time.perf_counter() - begin:.1f} s")
        engine = make_engine(url)
        begin = time.perf_counter()
        months = RollupJob(session_factory(engine), "Asia/Shanghai").run(NOW)
        engine.dispose()
        note(f"report: rollup of {len(months)} months built in {time.perf_counter() - begin:.1f} s")
        scan = time_scan(path)
        report, counted = time_report(url)
        note(f"report: coverage by unit over {counted} flags {report * 1000:.1f} ms; "
             f"SELECT * FROM comments {scan * 1000:.0f} ms")
        emit("report", report, "s", scan)


if __name__ == "__main__":
    main()
