"""A thread Weibo answers with nothing (or far too little) while its counter
says otherwise is not a complete read: it is recorded as incomplete with its
reason, nothing is tombstoned from it, its read marker stays, and it is read
again on its own backoff — through /api/comments/show where there is one —
until a read is whole.  Real HTTP against the simulator's ``empty`` fault."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from harness import compare_with_truth, scenario
from huisheng.monitor.models import Account, Comment, Post
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
