"""A window re-read of an account whose timeline holds none of its posts
(a new account, one that never posted) is a window read all the same: it is
recorded, and the next polls are incremental again, not a walk of the whole
window each time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from harness import scenario
from huisheng.adapters.weibo.adapter import WeiboAdapter
from huisheng.records import Page
from huisheng.storage.models import Account

EMPTY = "1000000001"


def test_an_empty_timeline_still_records_its_window_read(db_url, tmp_path, monkeypatch):
    original = WeiboAdapter.timeline
    reads: list[str | None] = []

    def timeline(self, account, cursor=None):
        if account.uid == EMPTY:
            reads.append(cursor)
            return Page((), None, complete=True)
        return original(self, account, cursor)

    monkeypatch.setattr(WeiboAdapter, "timeline", timeline)
    sc = scenario(db_url, tmp_path, accounts=3, interval=600, workers=1)
    try:
        sc.run_for(hours=1)
        with sc.runtime.sessions() as session:
            accounts = {a.uid: a for a in session.scalars(select(Account))}
    finally:
        sc.close()
    empty = accounts[EMPTY]
    assert len(reads) >= 5 and empty.consecutive_errors == 0
    # read at the first poll (the window refresh is a day apart), not at every poll
    assert empty.window_checked_at is not None
    assert timedelta(0) <= empty.first_success_at - empty.window_checked_at < timedelta(minutes=1)
    assert empty.last_success_at - empty.window_checked_at > timedelta(minutes=30)
    assert all(a.window_checked_at is not None for a in accounts.values())
