"""A thread Weibo answers with nothing (or far too little) while its counter
says otherwise is not a complete read: it is recorded as incomplete with its
reason, nothing is tombstoned from it, its read marker stays, and it is read
again on its own backoff — through /api/comments/show where there is one —
until a read is whole.  Real HTTP against the simulator's ``empty`` fault."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from harness import compare_with_truth, scenario
from huisheng.cli import main
from huisheng.flags.sla import calendar_from_settings
from huisheng.storage.models import Account, Comment, Post, Unit
from huisheng.notify.digest import gather, render_digest
from huisheng.simulator import FaultRule

BROKEN = "1000000001"  # the district account: the most comment activity
RETRY_BASE = 1800.0


def _post(sc, external_id: str) -> Post:
    with sc.runtime.sessions() as session:
        return session.scalar(select(Post).where(Post.external_id == external_id))


def _comment(sc, external_id: str) -> Comment:
    with sc.runtime.sessions() as session:
        return session.scalar(select(Comment).where(Comment.external_id == external_id))


def _live_comments(sc, post_row_id: int, root: str | None = None) -> set[str]:
    query = select(Comment.external_id).where(Comment.post_id == post_row_id, Comment.deleted_at.is_(None))
    if root is not None:
        query = query.where(Comment.root_external_id == root)
    with sc.runtime.sessions() as session:
        return set(session.scalars(query))


def _account(sc, uid: str) -> Account:
    with sc.runtime.sessions() as session:
        return session.scalar(select(Account).where(Account.uid == uid))


def _requests(sc, endpoint: str) -> int:
    return sc.server.stats()["by_account"].get(BROKEN, {}).get(endpoint, 0)


def _until(sc, predicate, *, step_minutes: float = 5, hours: float = 3) -> None:
    """Run the daemon in short steps until ``predicate()`` holds."""
    end = sc.clock.now() + timedelta(hours=hours)
    while not predicate():
        assert sc.clock.now() < end, "never happened"
        sc.run_for(minutes=step_minutes)


def test_an_empty_answer_is_incomplete_tombstones_nothing_and_is_read_later_through_the_fallback(
        db_url, tmp_path):
    sc = scenario(db_url, tmp_path, accounts=3, thread_retry_base=RETRY_BASE, thread_retry_cap=4 * RETRY_BASE)
    try:
        sc.run_for(minutes=30)
        sc.settle()  # the world stops; every thread is read whole
        now = sc.sim_clock.now()
        post = max((p for p in sc.world.account_posts(BROKEN)
                    if p.alive(now) and not p.pinned and len(p.live_comments(now)) >= 2),
                   key=lambda p: p.created_at)
        row = _post(sc, post.id)
        stored_before = _live_comments(sc, row.id)
        assert len(stored_before) >= 2 and row.comments_read_count == post.comment_count(now)

        # hotflow now answers "还没有人评论" for the district's threads; a new
        # comment moves this post's counter, so its thread is read again
        sc.server.set_faults([FaultRule(fault="empty", account=BROKEN, endpoint="comments")])
        added = sc.world.script_comment(post, now - timedelta(seconds=1), "请问新的办事指南什么时候发布？")
        claimed = post.comment_count(now)
        _until(sc, lambda: _post(sc, post.id).comments_incomplete_reason is not None)
        row = _post(sc, post.id)
        assert row.comments_incomplete_reason == f"empty 0/{claimed}"
        assert row.comments_read_count == claimed - 1  # not advanced as if complete
        assert row.comments_retry_attempts == 1
        wait = (row.comments_retry_at - row.comments_incomplete_since).total_seconds()
        assert 0.8 * RETRY_BASE <= wait <= 1.2 * RETRY_BASE
        assert _live_comments(sc, row.id) == stored_before  # nothing tombstoned
        assert _account(sc, BROKEN).consecutive_errors == 0  # a short thread is not a failing account
        hotflow, fallback = _requests(sc, "comments"), _requests(sc, "comments_old")
        assert fallback == 0

        # not retried every cycle: the account is polled, the thread waits for its time
        polls = len(sc.server.polls()[BROKEN])
        sc.run_for(seconds=(row.comments_retry_at - sc.clock.now()).total_seconds() - 60)
        assert len(sc.server.polls()[BROKEN]) > polls
        assert (_requests(sc, "comments"), _requests(sc, "comments_old")) == (hotflow, 0)
        assert _post(sc, post.id).comments_incomplete_reason is not None

        # due (though the counter never moved again): read through the fallback, whole
        _until(sc, lambda: _post(sc, post.id).comments_incomplete_reason is None, step_minutes=2, hours=1)
        row = _post(sc, post.id)
        assert row.comments_read_count == claimed and row.comments_retry_at is None
        assert row.comments_retry_attempts == 0 and row.comments_incomplete_since is None
        assert _requests(sc, "comments_old") > 0 and _requests(sc, "comments") == hotflow
        assert _live_comments(sc, row.id) == stored_before | {added.id}

        sc.server.set_faults([])
        sc.settle()
        compare_with_truth(sc.runtime, sc.server.truth())
    finally:
        sc.close()


def test_an_error_page_for_replies_is_incomplete_and_read_again_later(db_url, tmp_path):
    sc = scenario(db_url, tmp_path, accounts=3, thread_retry_base=RETRY_BASE, thread_retry_cap=4 * RETRY_BASE)
    try:
        sc.run_for(minutes=30)
        sc.settle()  # the world stops; every thread is read whole
        now = sc.sim_clock.now()
        # a comment with more replies than hotflow lists inline: they come from hotFlowChild
        root = max((c for p in sc.world.account_posts(BROKEN) if p.alive(now)
                    for c in p.live_comments(now) if len(c.live_children(now)) >= 3),
                   key=lambda c: c.created_at)
        post_row = _post(sc, root.post.id)
        replies_before = _live_comments(sc, post_row.id, root=root.id)
        assert len(replies_before) == len(root.live_children(now))

        sc.server.set_faults([FaultRule(fault="empty", account=BROKEN, endpoint="child_comments")])
        added = sc.world.script_comment(root.post, now - timedelta(seconds=1), "同问", root=root)
        _until(sc, lambda: _comment(sc, root.id).replies_incomplete_reason is not None)
        stored = _comment(sc, root.id)
        claimed = len(root.live_children(now))
        assert stored.replies_incomplete_reason == f"empty 0/{claimed}"
        assert stored.replies_read_count == claimed - 1 and stored.replies_retry_attempts == 1
        assert _live_comments(sc, post_row.id, root=root.id) == replies_before  # nothing tombstoned
        # the thread itself was read whole
        assert _post(sc, root.post.id).comments_incomplete_reason is None
        children = _requests(sc, "child_comments")

        sc.run_for(seconds=(stored.replies_retry_at - sc.clock.now()).total_seconds() - 60)
        assert _requests(sc, "child_comments") == children  # waits for its own time
        sc.server.set_faults([])  # Weibo serves the replies again
        _until(sc, lambda: _comment(sc, root.id).replies_incomplete_reason is None, step_minutes=2, hours=1)
        stored = _comment(sc, root.id)
        assert stored.replies_read_count == claimed and stored.replies_retry_at is None
        assert _live_comments(sc, post_row.id, root=root.id) == replies_before | {added.id}
        sc.settle()
        compare_with_truth(sc.runtime, sc.server.truth())
    finally:
        sc.close()


def test_a_thread_that_stays_unreadable_backs_off_alternates_endpoints_and_shows_in_status_and_digest(
        db_url, tmp_path):
    sc = scenario(db_url, tmp_path, accounts=3, thread_retry_base=RETRY_BASE, thread_retry_cap=4 * RETRY_BASE)
    try:
        sc.run_for(minutes=30)
        sc.settle()
        now = sc.sim_clock.now()
        post = max((p for p in sc.world.account_posts(BROKEN)
                    if p.alive(now) and not p.pinned and len(p.live_comments(now)) >= 2),
                   key=lambda p: p.created_at)
        row = _post(sc, post.id)
        stored_before, read_count = _live_comments(sc, row.id), row.comments_read_count
        reads = []  # (when, endpoint) of every thread read of the district account
        record = sc.server.record

        def recording(endpoint, account):
            if account == BROKEN and endpoint in ("comments", "comments_old"):
                reads.append((sc.clock.now(), endpoint))
            record(endpoint, account)

        sc.server.record = recording
        # both comment endpoints answer nothing from now on
        sc.server.set_faults([FaultRule(fault="empty", account=BROKEN, endpoint="comments"),
                              FaultRule(fault="empty", account=BROKEN, endpoint="comments_old")])
        sc.world.script_comment(post, now - timedelta(seconds=1), "请问新的办事指南什么时候发布？")
        claimed = post.comment_count(now)
        sc.run_for(hours=30)

        row = _post(sc, post.id)
        assert row.comments_incomplete_reason == f"empty 0/{claimed}"
        assert row.comments_read_count == read_count  # never advanced
        assert _live_comments(sc, row.id) == stored_before  # nothing tombstoned, however often read
        assert row.comments_retry_attempts == len(reads)
        assert timedelta(0) <= reads[0][0] - row.comments_incomplete_since < timedelta(minutes=1)  # the poll's start
        # the first read on hotflow; retries through the fallback, then hotflow again, in turn
        assert [e for _, e in reads] == [("comments", "comments_old")[i % 2] for i in range(len(reads))]
        # exponential from the base, capped (±20% jitter; a retry waits for the account's next poll)
        gaps = [(b - a).total_seconds() for (a, _), (b, _) in zip(reads, reads[1:])]
        # a retry falls due within a poll and waits for the account's next one: slack both ways
        assert 0.8 * RETRY_BASE - 900 <= gaps[0] <= 1.2 * RETRY_BASE + 1500, gaps
        assert all(gap <= 4 * RETRY_BASE + 1500 for gap in gaps), gaps  # capped
        assert max(gaps) >= 0.8 * 4 * RETRY_BASE and gaps[-1] > 2 * gaps[0], gaps  # it grew to the cap
        assert 10 <= len(reads) <= 20  # never forgotten, never every cycle (180 polls in 30 hours)

        config = tmp_path / "status.toml"
        config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
        _assert_status(config, row, claimed)
        _assert_digest(sc, row, claimed)

        sc.server.set_faults([])  # Weibo serves the thread again: the next retry reads it whole
        _until(sc, lambda: _post(sc, post.id).comments_incomplete_reason is None, hours=3)
        assert _post(sc, post.id).comments_read_count == claimed
        assert "评论未能读全" not in CliRunner().invoke(main, ["status", "--config", str(config)]).output
    finally:
        sc.close()


def _assert_status(config, row, claimed):
    zh = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert zh.exit_code == 0, zh.output
    assert "评论未能读全的帖子 1 个" in zh.output and row.url in zh.output
    assert f"微博返回空白，计数为 {claimed:,} 条" in zh.output
    en = CliRunner().invoke(main, ["status", "--config", str(config), "--lang", "en"]).output
    assert "Threads the platform would not show in full (1;" in en and f"Weibo answered empty; the counter says {claimed:,}" in en
    listed = json.loads(CliRunner().invoke(main, ["status", "--config", str(config), "--format", "json"]).output)
    threads = {r["uid"]: r["unread_threads"] for r in listed}
    assert [t["post"] for t in threads[BROKEN]] == [row.external_id]
    assert threads[BROKEN][0]["reason"] == f"empty 0/{claimed}"
    assert all(not t for uid, t in threads.items() if uid != BROKEN)


def _assert_digest(sc, row, claimed):
    with sc.runtime.sessions.begin() as session:
        district = session.scalar(select(Unit).where(Unit.level == "district"))
        district.admins = ["duty@example.org"]
    calendar = calendar_from_settings(sc.runtime.settings)
    with sc.runtime.sessions() as session:
        # not yet a day: a retry may still read it, no one is told
        early = gather(session, now=row.comments_incomplete_since + timedelta(hours=23), calendar=calendar,
                       recipients=["duty@example.org"])[0]
        digest = gather(session, now=sc.clock.now(), calendar=calendar, recipients=["duty@example.org"])[0]
    assert early.unread_threads == ()
    assert [t.post_external_id for t in digest.unread_threads] == [row.external_id]
    assert digest.unread_threads_total == 1 and not digest.empty
    zh = render_digest(digest)
    assert "评论未能读全的帖子（一天以上；系统自动重试）（1）" in zh.text
    assert f"示范区发布：帖子的评论 {row.url}；微博返回空白，计数为 {claimed:,} 条" in zh.text
    assert f'<a href="{row.url}">帖子的评论</a>' in zh.html
    en = render_digest(digest, locale="en")
    assert "Threads the platform has not shown in full for a day or more" in en.text
    assert f"Weibo answered empty; the counter says {claimed:,}" in en.html
