"""A database with a matrix, a post and comments, for flag tests."""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import count

from sqlalchemy import select, update

from huisheng import migrations
from huisheng.flags.sla import Sla
from huisheng.flags.workcal import WorkCalendar
from huisheng.storage import store
from huisheng.storage.db import make_engine, session_factory
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account, Flag, Unit
from huisheng.records import Comment, Post
from huisheng.simulator.sample import sample_matrix

_ids = count(5_000_000_000_000_000)
MONITORED_SINCE = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Kit:
    def __init__(self, db_url: str, accounts: int = 12):
        migrations.upgrade(db_url)
        self.engine = make_engine(db_url)
        self.sessions = session_factory(self.engine)
        self.matrix = sample_matrix(accounts, streets=2)
        with self.sessions.begin() as session:
            sync_matrix(session, self.matrix, MONITORED_SINCE)
            # every account read since the matrix was loaded: the comments of these tests are not history
            session.execute(update(Account).values(first_success_at=MONITORED_SINCE,
                                                   monitoring_start=MONITORED_SINCE))
        self.calendar = WorkCalendar()
        self.sla = Sla(deadlines={"consultation": 2, "help": 5, "suggestion": 5, "complaint": 7})

    def account(self, uid: str) -> Account:
        with self.sessions() as session:
            return session.scalars(select(Account).where(Account.uid == uid)).one()

    def unit(self, code: str) -> Unit:
        with self.sessions() as session:
            return session.scalars(select(Unit).where(Unit.code == code)).one()

    def post(self, uid: str, at: datetime, text: str = "关于近期道路施工的通知") -> int:
        account = self.account(uid)
        ext = str(next(_ids))
        record = Post("weibo", ext, uid, uid, account.name, at, False, text, comments_count=0)
        with self.sessions.begin() as session:
            result = store.upsert_posts(session, [record], account_id=account.id, account=("weibo", uid), now=at)
        self.post_ext = {**getattr(self, "post_ext", {}), result.ids[ext]: ext}
        return result.ids[ext]

    def comment(self, post_row: int, at: datetime, text: str, *, author: tuple[str, str] = ("9001", "张三"),
                root: str | None = None, reply_to: str | None = None, mentions: tuple[str, ...] = (),
                owner: bool = False) -> tuple[int, str]:
        ext = str(next(_ids))
        record = Comment("weibo", ext, self.post_ext[post_row], author[0], author[1], at, False, text,
                         root_id=root, parent_id=root, reply_to_name=reply_to, is_from_owner=owner,
                         mentions=mentions)
        with self.sessions.begin() as session:
            result = store.upsert_comments(session, [record], post_row_ids={self.post_ext[post_row]: post_row},
                                           now=at)
        return result.ids[ext], ext

    def flags(self) -> list[Flag]:
        with self.sessions() as session:
            return session.scalars(select(Flag).order_by(Flag.id)).all()

    def close(self) -> None:
        self.engine.dispose()
