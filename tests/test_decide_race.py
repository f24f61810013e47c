"""``huisheng poll`` racing the running daemon on the same account: both read
the same comments, store them and decide them at the same moment.  Each
comment is stored once, decided once and flagged once, with no error on either
side (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from flagkit import Kit
from harness import START, make_settings
from huisheng import migrations
from huisheng.app import build_runtime
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.sample import sample_matrix
from huisheng.flags.process import Decider
from huisheng.flags.rules import load_rules
from huisheng.clock import FakeClock
from huisheng.storage.db import make_engine, session_factory
from huisheng.storage.models import Comment, Flag, Post

SH = timezone(timedelta(hours=8))
DISTRICT_UID = "1000000001"
ROUNDS = 3
COMMENTS = 60


def test_two_deciders_at_once_flag_each_comment_once(db_url):
    kit = Kit(db_url)
    engines = [make_engine(db_url) for _ in range(2)]  # two processes: their own connections
    rules = load_rules()
    try:
        at = datetime(2026, 11, 2, 10, 0, tzinfo=SH)
        post = kit.post(DISTRICT_UID, at)
        expected = 0
        for round_ in range(ROUNDS):
            for i in range(COMMENTS):
                kit.comment(post, at, f"请问第{round_}-{i}号楼门口的路灯坏了找谁修？", author=(f"9{round_}{i:03d}", f"市民{i}"))
            expected += COMMENTS
            deciders = [Decider(session_factory(engine), FakeClock(at + timedelta(minutes=1)), rules,
                                kit.calendar, kit.sla, batch_size=COMMENTS // 3)
                        for engine in engines]
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []
            decided: list[int] = []

            def run(decider: Decider) -> None:
                try:
                    barrier.wait()
                    result = decider.run()
                    decided.append(result.decided)
                except Exception as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(d,)) for d in deciders]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            # together they decided every comment of the round, none twice
            with kit.sessions() as session:
                pending = session.scalar(select(func.count()).select_from(Comment)
                                         .where(Comment.decided_at.is_(None)))
                if pending:  # one stopped early after losing a batch: the next run takes the rest
                    deciders[0].run()
                flags = session.execute(select(Flag.comment_id, func.count()).group_by(Flag.comment_id)).all()
            assert sum(decided) <= COMMENTS
            assert all(n == 1 for _, n in flags)
            assert len(flags) == expected
    finally:
        for engine in engines:
            engine.dispose()
        kit.close()


def test_a_poll_racing_the_daemons_poll_of_the_same_account_stores_and_flags_once(db_url, tmp_path):
    matrix = sample_matrix(2, streets=1)
    clock = FakeClock(START)
    server = SimServer(World(matrix, seed=3, start=START, config=WorldConfig(history_days=5)), clock)
    settings = make_settings(db_url, server.start(), tmp_path)
    migrations.upgrade(db_url)
    runtimes = [build_runtime(settings, clock) for _ in range(2)]  # the daemon and `huisheng poll`
    try:
        with runtimes[0].sessions.begin() as session:
            sync_matrix(session, matrix, clock.now())
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []
        outcomes: list[str] = []

        def poll_then_decide(runtime) -> None:
            try:
                barrier.wait()
                outcomes.append(runtime.poller.poll(1).outcome)
                runtime.decider.run()
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=poll_then_decide, args=(rt,)) for rt in runtimes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and outcomes == ["ok", "ok"]
        runtimes[0].decider.run()  # what a lost batch left
        with runtimes[0].sessions() as session:
            comments = session.scalar(select(func.count()).select_from(Comment))
            distinct = session.scalar(select(func.count(func.distinct(Comment.external_id))))
            assert comments == distinct > 0
            assert session.scalar(select(func.count()).select_from(Post)) == session.scalar(
                select(func.count(func.distinct(Post.external_id))))
            assert session.scalar(select(func.count()).select_from(Comment)
                                  .where(Comment.decided_at.is_(None))) == 0
            flagged = session.execute(select(Flag.comment_id, func.count()).group_by(Flag.comment_id)).all()
            assert flagged and all(n == 1 for _, n in flagged)
    finally:
        for runtime in runtimes:
            runtime.close()
        server.stop()
