"""The daemon against the simulator over simulated days: the database ends up
holding exactly the simulator's ground truth."""

from __future__ import annotations

from sqlalchemy import func, select

from harness import compare_with_truth, scenario
from huisheng.storage.models import Account, Flag, ItemEdit, Tombstone
from huisheng.simulator import WorldConfig


def test_several_days_with_edits_and_deletions_match_the_truth(db_url, tmp_path):
    config = WorldConfig(history_days=3, edit_share=0.2, post_delete_share=0.08,
                         comment_delete_share=0.1, long_share=0.3)
    sc = scenario(db_url, tmp_path, accounts=6, config=config, interval=1200)
    try:
        sc.run_for(days=1)
        sc.settle()
        truth = sc.server.truth()
        compare_with_truth(sc.runtime, truth)
        with sc.runtime.sessions() as session:
            edits = session.scalar(select(func.count()).select_from(ItemEdit))
            tombstones = session.scalar(select(func.count()).select_from(Tombstone))
            accounts = session.scalars(select(Account)).all()
        # The scenario really exercised edits and deletions.
        assert edits > 0 and tombstones > 0
        assert all(a.last_success_at is not None and a.consecutive_errors == 0 for a in accounts)
    finally:
        sc.close()


def flags_now(sc):
    with sc.runtime.sessions() as session:
        return sorted((f.comment_id, f.status, f.first_reply_at) for f in session.scalars(select(Flag)))


def test_repolling_an_unchanged_world_stores_nothing_new(db_url, tmp_path):
    sc = scenario(db_url, tmp_path, accounts=4)
    try:
        sc.run_for(hours=2)
        sc.settle()
        before = sc.server.stats()
        flags_before = flags_now(sc)
        assert flags_before, "the world raised flags"
        results = []
        sc.dispatcher.on_result = results.append
        sc.run_for(hours=2)
        assert results, "accounts kept being polled"
        assert sum(r.new_posts + r.new_comments + r.edited + r.tombstoned for r in results) == 0
        # ... and re-polling never duplicates a flag or moves its state.
        assert flags_now(sc) == flags_before
        # An unchanged account costs one timeline request per poll (plus the
        # hourly window re-read), never a comment thread.
        after = sc.server.stats()
        assert after["by_endpoint"].get("hotflow", 0) == before["by_endpoint"].get("hotflow", 0)
        compare_with_truth(sc.runtime, sc.server.truth())
    finally:
        sc.close()
