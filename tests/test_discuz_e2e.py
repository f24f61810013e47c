"""A Discuz! board end to end: the daemon polls two forums of the simulator's
board (one served in GBK) through the real poller, stores every citizen's
thread whole as a message to its forum's account, flags what needs a reply
and finds the official user's answer in the thread — all checked against the
simulator's ground truth."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from harness import FrozenAfter, START, make_settings
from huisheng import migrations
from huisheng.adapters.base import Pace
from huisheng.app import build_runtime
from huisheng.clock import FakeClock
from huisheng.config.settings import AccountSpec, Matrix, PlatformSettings, UnitSpec
from huisheng.polling.dispatcher import Dispatcher
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account, Comment, Flag, Post, Unit

MATRIX = Matrix(
    units=(UnitSpec("D", "示范区", "district"), UnitSpec("S00", "东城街道", "street", "D", aliases=("东城",))),
    accounts=(AccountSpec("discuz", "36", "示范区网络问政", "D"), AccountSpec("discuz", "41", "东城街道论坛", "S00")))


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def test_forum_threads_flags_and_official_answers_match_the_ground_truth(db_url, tmp_path):
    clock = FakeClock(START)
    sim_clock = FrozenAfter(clock)
    world = World(MATRIX, seed=5, start=START, config=WorldConfig(
        history_days=1, mentions_per_day=(("district", 16.0), ("street", 12.0))))
    server = SimServer(world, sim_clock)
    base = server.start()
    settings = make_settings(db_url, base, tmp_path, interval=1200, tick=60.0)
    settings = type(settings)(**{**settings.__dict__, "platforms": {
        **settings.platforms, "discuz": PlatformSettings(name="discuz", pace=Pace(min_interval=0.01),
                                                       options=server.adapter_options("discuz"))}})
    migrations.upgrade(db_url)
    runtime = build_runtime(settings, clock, http_timeout=5.0)
    with runtime.sessions.begin() as session:
        sync_matrix(session, MATRIX, clock.now())
    dispatcher = Dispatcher(settings, runtime.sessions, clock, runtime.poller, jobs=runtime.jobs())
    try:
        dispatcher.run_virtual(clock, clock.now() + timedelta(hours=12))
        sim_clock.freeze()
        dispatcher.run_virtual(clock, clock.now() + timedelta(hours=2))
        truth = server.truth()
        with runtime.sessions() as session:
            posts = {p.external_id: p for p in session.scalars(select(Post).where(Post.platform == "discuz"))}
            items = {c.external_id: c for c in session.scalars(select(Comment).where(Comment.platform == "discuz"))}
            flags = {ext: f for f, ext in session.execute(
                select(Flag, Comment.external_id).join(Comment, Comment.id == Flag.comment_id)
                .where(Comment.platform == "discuz")).all()}
            accounts = {a.id: a.uid for a in session.scalars(select(Account))}
            units = {u.id: u.code for u in session.scalars(select(Unit))}
    finally:
        dispatcher.close()
        server.stop()
        runtime.close()

    threads = {p["id"]: p for p in truth["posts"] if p["platform"] == "discuz" and not p["deleted"]}
    recent = {tid for tid, p in threads.items() if _parse(p["created_at"]) > START - timedelta(days=1)}
    assert len(recent) > 15 and {p["account_uid"] for p in threads.values()} == {"36", "41"}
    # every citizen's thread: stored whole (title and first post, GBK forum too) as its own root item
    assert recent <= set(posts), "threads missed"
    for tid in recent:
        assert posts[tid].text == threads[tid]["text"], tid
        assert items[tid].item == "post" and items[tid].author_id == threads[tid]["author_id"]
        assert not posts[tid].is_truncated
    # flagged for the forum's account and the unit the truth names
    should = {tid for tid in recent if threads[tid]["labels"]["needs_reply"]}
    raised = {tid for tid in flags if tid in recent}
    assert len(should & raised) / len(should) >= 0.85 and len(should & raised) / len(raised) >= 0.9
    for tid in should & raised:
        assert accounts[flags[tid].account_id] == threads[tid]["account_uid"]
        assert units[flags[tid].unit_id] == threads[tid]["labels"]["target_unit"]
    # the official user's post in the thread is the account's answer, at its time
    answers = {c["post_id"]: _parse(c["created_at"]) for c in truth["comments"]
               if c["platform"] == "discuz" and c["labels"].get("role") == "reply"}
    for tid in answers:
        if tid in items:
            answer = next(c for c in truth["comments"] if c["post_id"] == tid and c["is_from_owner"])
            assert items[answer["id"]].author_id == threads[tid]["account_uid"] and items[answer["id"]].is_from_owner
    answered = [tid for tid in should & raised if tid in answers]
    assert len(answered) >= 5
    assert all(flags[tid].first_reply_at == answers[tid] for tid in answered)
    assert all(flags[tid].status in ("open", "acknowledged") for tid in should & raised if tid not in answers)
