"""``decide``: comments decided and stored per second ÷ the store's raw ingest
rate of the same comments.

Residents' comments (and the accounts' own replies) come from the simulator's
world for the 176-account example matrix: realistic Chinese of every kind,
threads with replies.  Both runs store them thread by thread (one transaction
per thread, as the poller does) into a fresh migrated SQLite file.  The
baseline only stores them; the measured run also runs the decide step after
every 20 threads (as the daemon's decide job does between polls): the pure
decision, routing, deadlines in working time, flags and their events, reply
detection.  ratio = (store + decide) rate ÷ store rate; goal ≥ 0.5.  The runs
are interleaved in ``HUISHENG_BENCH_RUNS`` rounds (default 5): each figure is
that of the round with the median ratio, against the same round's store rate.

``decide_learned`` is the same with a routing model in place (trained on
another simulated world's labelled comments and the hand-written 问政
messages, as ``huisheng routing train`` would), against the same baseline;
goal ≥ 0.5 too.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select, update

from bench._common import emit, note
from huisheng import migrations
from huisheng.flags.process import Decider
from huisheng.flags.relearn import ModelHandle
from huisheng.flags.rules import load_rules
from huisheng.flags.sla import Sla
from huisheng.flags.workcal import WorkCalendar
from huisheng.storage import store
from huisheng.clock import FakeClock
from huisheng.storage.db import make_engine, session_factory
from huisheng.config.matrix import load_matrix
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account, Flag
from huisheng.records import Comment, Post
from huisheng.simulator import World, WorldConfig

START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parent.parent
DECIDE_EVERY = 20
RUNS = int(os.environ.get("HUISHENG_BENCH_RUNS", "5"))


def _threads(matrix):
    world = World(matrix, seed=7, start=START, config=WorldConfig(history_days=6))
    truth = world.truth(START)
    posts = {p["id"]: p for p in truth["posts"] if not p["deleted"]}
    threads: dict[str, list[Comment]] = {}
    for c in truth["comments"]:
        if c["deleted"] or c["post_id"] not in posts:
            continue
        at = datetime.fromisoformat(c["created_at"].replace("Z", "+00:00"))
        threads.setdefault(c["post_id"], []).append(Comment(
            "weibo", c["id"], c["post_id"], c["author_id"], c["author_name"], at, False, c["text"],
            root_id=c["root_id"], parent_id=c["parent_id"], is_from_owner=c["is_from_owner"]))
    return posts, threads


def _prepare(tmp: Path, name: str, matrix, posts):
    url = f"sqlite:///{tmp / name}"
    migrations.upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        sync_matrix(session, matrix, START)
        # monitored since before the corpus: every comment is decided as a live one, not history
        since = START - timedelta(days=30)
        session.execute(update(Account).values(first_success_at=since, monitoring_start=since))
    with sessions() as session:
        accounts = {a.uid: a.id for a in session.scalars(__import__("sqlalchemy").select(Account))}
    rows = {}
    with sessions.begin() as session:
        for p in posts.values():
            record = Post("weibo", p["id"], p["account_uid"], p["author_id"], p["author_name"],
                          datetime.fromisoformat(p["created_at"].replace("Z", "+00:00")), False, p["text"])
            result = store.upsert_posts(session, [record], account_id=accounts[p["account_uid"]],
                                        account=("weibo", p["account_uid"]), now=START)
            rows[p["id"]] = result.ids[p["id"]]
    return engine, sessions, rows


def _run(sessions, rows, threads, decider):
    n = 0
    started = time.perf_counter()
    for i, (post_id, comments) in enumerate(threads.items(), 1):
        with sessions.begin() as session:
            store.upsert_comments(session, comments, post_row_ids={post_id: rows[post_id]}, now=START)
        n += len(comments)
        if decider is not None and i % DECIDE_EVERY == 0:
            decider.run()
    if decider is not None:
        decider.run()
    return n / (time.perf_counter() - started)


def main() -> None:
    matrix = load_matrix(ROOT / "config" / "example-district")
    posts, threads = _threads(matrix)
    # The corpus (the simulated world) belongs to the harness, not to the code
    # measured: frozen, the collector's full passes in both runs skip it.
    gc.collect()
    gc.freeze()
    rates: dict[str, list[float]] = {"store": [], "decide": [], "learned": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model, examples = _routing_model(tmp / "routing.model", matrix)

        def measure(kind: str, round_: int):
            engine, sessions, rows = _prepare(tmp, f"{kind}-{round_}.sqlite", matrix, posts)
            decider = None if kind == "store" else Decider(
                sessions, FakeClock(START + timedelta(days=1)), load_rules(), WorkCalendar(),
                Sla(deadlines={"consultation": 2, "help": 5, "suggestion": 5, "complaint": 7}),
                learned=ModelHandle(model, 0.5) if kind == "learned" else None)
            gc.collect()
            rates[kind].append(_run(sessions, rows, threads, decider))
            with sessions() as session:
                counts = (session.scalar(select(func.count()).select_from(Flag)),
                          session.scalar(select(func.count()).select_from(Flag).where(Flag.first_reply_at.is_not(None))),
                          session.scalar(select(func.count()).select_from(Flag).where(Flag.routing == "learned")))
            engine.dispose()
            return counts

        # Rounds of the three runs side by side, each round's ratio its own: the
        # machine is shared, and a slow spell should not fall on one side only.
        for round_ in range(RUNS):
            measure("store", round_)
            flags, replied, _ = measure("decide", round_)
            _, _, learned = measure("learned", round_)
    note("decide: rates per round (comments/s): " + "; ".join(
        f"{k} {', '.join(f'{r:.0f}' for r in v)}" for k, v in rates.items()))
    # each kind's figure from its median round, against that round's own store rate
    figures = {}
    for kind in ("decide", "learned"):
        ratios = sorted(range(RUNS), key=lambda r: rates[kind][r] / rates["store"][r])
        middle = ratios[len(ratios) // 2]
        figures[kind] = (rates[kind][middle], rates["store"][middle])
    total = sum(len(c) for c in threads.values())
    note(f"decide: {total} comments in {len(threads)} threads; {flags} flags, {replied} replied")
    note(f"decide_learned: a routing model of {examples} examples in place; {learned} flags routed by it")
    emit("decide", round(figures["decide"][0], 1), "comments/s", round(figures["decide"][1], 1))
    emit("decide_learned", round(figures["learned"][0], 1), "comments/s", round(figures["learned"][1], 1))


def _routing_model(path: Path, matrix) -> tuple[Path, int]:
    """A model of another simulated world's residents' comments (their true
    units) and the hand-written messages, written to ``path``."""
    import csv

    from huisheng.flags.learn import Example, save, train
    from huisheng.flags.relearn import router_text, routing_levels
    from huisheng.flags.route import build_directory

    rules, directory = load_rules(), build_directory(matrix)
    world = World(matrix, seed=8, start=START, config=WorldConfig(history_days=14))
    # as from settled flags: those under the accounts where the rules route (relearn.settled_flags)
    examples = [Example(router_text(c["text"], rules, directory, "weibo"), c["labels"]["target_unit"])
                for c in world.truth(START)["comments"]
                if c["labels"].get("role") == "resident" and c["labels"].get("needs_reply")
                and c["labels"].get("target_unit")
                and directory.level(directory.account_units.get(("weibo", str(c["account_uid"])))) in routing_levels(rules)]
    with open(ROOT / "tests" / "data" / "routing-messages.csv", encoding="utf-8") as f:
        examples += [Example(router_text(r["text"], rules, directory, "weibo"), r["unit"]) for r in csv.DictReader(f)]
    save(train(examples, now=START), path)
    return path, len(examples)


if __name__ == "__main__":
    main()
