"""A small district with administrators and flags set by hand, for digest tests.

Now is Thursday 2026-11-05 08:30 in Shanghai (00:30 UTC).  Units: 示范区 (the
district) → 交通局 (a department) and 东城街道 (a street) → 东城第1社区 (a
community).  Each unit has one account and one administrator; 交通局's account
also has an administrator of its own.  The flags (``f*`` 交通局, ``g*`` the
community, ``h*`` the street) are described where they are made.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from huisheng import migrations
from huisheng.storage.db import make_engine, session_factory
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account, Comment, Flag, FlagEvent, OutboxMessage, Post, Unit
from huisheng.config.settings import AccountSpec, Matrix, UnitSpec

NOW = datetime(2026, 11, 5, 0, 30, tzinfo=timezone.utc)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

DISTRICT, TRANSPORT, STREET, COMMUNITY = "district@example.org", "jt@example.org", "street@example.org", \
    "c1@example.org"
TRANSPORT_ACCOUNT = "jt-weibo@example.org"

MATRIX = Matrix(
    units=(UnitSpec("D", "示范区", "district", admins=(DISTRICT,)),
           UnitSpec("B03", "交通局", "department", "D", admins=(TRANSPORT,)),
           UnitSpec("S00", "东城街道", "street", "D", admins=(STREET,)),
           UnitSpec("S00C01", "东城第1社区", "community", "S00", admins=(COMMUNITY,))),
    accounts=(AccountSpec("weibo", "1001", "示范区发布", "D"),
              AccountSpec("weibo", "1002", "示范区交通局", "B03", admins=(TRANSPORT_ACCOUNT,)),
              AccountSpec("weibo", "1003", "东城街道", "S00"),
              AccountSpec("weibo", "1004", "东城第1社区", "S00C01")))


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def days(n: float) -> timedelta:
    return timedelta(days=n)


class DigestKit:
    def __init__(self, db_url: str):
        migrations.upgrade(db_url)
        self.engine = make_engine(db_url)
        self.sessions = session_factory(self.engine)
        with self.sessions.begin() as session:
            sync_matrix(session, MATRIX, T0)
            # every account has been read since T0 (an unread one is never judged silent), so
            # nothing here is history
            session.execute(update(Account).values(first_success_at=T0, last_success_at=T0,
                                                   monitoring_start=T0))
        with self.sessions() as session:
            self.unit = {u.code: u.id for u in session.scalars(select(Unit))}
            self.account = {a.uid: a.id for a in session.scalars(select(Account))}
        self.posts: dict[str, int] = {}
        self.flag: dict[str, int] = {}
        self._next = 4_000_000_000_000_000

    def _ext(self) -> str:
        self._next += 1
        return str(self._next)

    def post(self, uid: str, at: datetime) -> int:
        with self.sessions.begin() as session:
            ext = self._ext()
            row = Post(platform="weibo", external_id=ext, account_id=self.account[uid], short_id=f"P{uid}",
                       url=f"https://weibo.com/{uid}/P{uid}", author_id=uid, author_name=uid, created_at=at,
                       text="通知", content_hash="h", first_seen_at=at, last_seen_at=at, raw={})
            session.add(row)
            session.flush()
            self.posts[uid] = row.id
            return row.id

    def make_flag(self, name: str, uid: str, unit: str, *, text: str, created: datetime, due: datetime,
                  category: str = "consultation", urgent: bool = False, status: str = "open",
                  author: str = "张三", **fields) -> int:
        with self.sessions.begin() as session:
            comment = Comment(platform="weibo", external_id=self._ext(), post_id=self.posts[uid],
                              author_id="9001", author_name=author, created_at=created, text=text,
                              content_hash="c", first_seen_at=created, last_seen_at=created, raw={},
                              decided_at=created)
            session.add(comment)
            session.flush()
            flag = Flag(comment_id=comment.id, post_id=self.posts[uid], account_id=self.account[uid],
                        unit_id=self.unit[unit], routing="account", routing_reason=f"评论在账号 {uid} 下",
                        category=category, urgent=urgent, author_id="9001", author_name=author,
                        status=status, started_at=created, created_at=created, due_at=due,
                        updated_at=created, **{"reasons": [], **fields})
            session.add(flag)
            session.flush()
            self.flag[name] = flag.id
            if status == "replied":
                session.add(FlagEvent(flag_id=flag.id, at=fields["first_reply_at"], kind="replied",
                                      actor="rule:replies", note="", data={}))
            return flag.id

    def last_digest(self, recipient: str, until: datetime) -> None:
        with self.sessions.begin() as session:
            period = until.date().isoformat()
            session.add(OutboxMessage(dedup_key=f"{recipient}|digest|{period}", recipient=recipient, kind="digest",
                                      period=period, covers_from=until - days(1), covers_until=until,
                                      subject="earlier", message_id="<x@huisheng>", message="", status="sent",
                                      attempts=1, next_attempt_at=until, created_at=until, sent_at=until))

    def failing(self, uid: str, since: datetime, errors: int, kind: str, message: str) -> None:
        with self.sessions.begin() as session:
            account = session.get(Account, self.account[uid])
            account.consecutive_errors = errors
            account.last_error_kind = kind
            account.last_error_message = message
            account.failing_since = since
            account.last_error_at = NOW - hours(0.2)

    def close(self) -> None:
        self.engine.dispose()


def scenario(db_url: str) -> DigestKit:
    """The hand-computed scenario the digest tests check against."""
    kit = DigestKit(db_url)
    kit.post("1001", NOW - days(11))   # district account: silent 11 days → 10-day warning
    kit.post("1002", NOW - days(1))
    kit.post("1003", NOW - days(15))   # street account: silent 15 days → 14-day veto
    kit.post("1004", NOW - days(2))
    N = NOW
    # 交通局 (B03) under its account 1002
    kit.make_flag("f1", "1002", "B03", text="紧急！幸福路井盖丢失，有人掉进去了", created=N - hours(2),
                  due=N + days(5), category="help", urgent=True)
    kit.make_flag("f2", "1002", "B03", text="公交12路末班车太早，投诉", created=N - hours(3), due=N + days(9),
                  category="complaint")
    kit.make_flag("f3", "1002", "B03", text="请问地铁5号线什么时候通车？", created=N - hours(1),
                  due=N + days(2))
    kit.make_flag("f4", "1002", "B03", text="请问驾照换证在哪里办？", created=N - days(2), due=N + hours(6),
                  status="acknowledged", acknowledged_at=N - days(1))
    kit.make_flag("f5", "1002", "B03", text="路口红绿灯坏了一周了", created=N - days(10), due=N - days(2),
                  category="complaint", reminded_at=N - days(3), escalated_at=N - days(1))
    kit.make_flag("f6", "1002", "B03", text="人行道被占用", created=N - days(20), due=N - days(10),
                  category="help", reminded_at=N - days(11), escalated_at=N - days(9),
                  noticed_at=N - days(3))
    kit.make_flag("f7", "1002", "B03", text="停车场收费标准是多少？", created=N - days(3), due=N + days(1),
                  status="replied", first_reply_at=N - hours(5), reply_seconds=1.0, reply_working_seconds=1.0)
    kit.make_flag("f8", "1002", "B03", text="公交站牌字太小", created=N - days(5), due=N - days(2),
                  category="suggestion", status="replied", first_reply_at=N - hours(30), reply_seconds=1.0,
                  reply_working_seconds=1.0)
    kit.make_flag("f9", "1002", "B03", text="广告", created=N - days(4), due=N - days(1), status="dismissed",
                  dismissed_reason="spam")
    kit.make_flag("f10", "1002", "B03", text="建议增加共享单车停放点", created=N - hours(30), due=N + days(3),
                  category="suggestion")
    # 东城第1社区 (S00C01): one overdue (reminded), one not yet due
    kit.make_flag("g1", "1004", "S00C01", text="小区垃圾没人清运", created=N - days(6), due=N - days(1),
                  category="complaint", reminded_at=N - days(2))
    kit.make_flag("g2", "1004", "S00C01", text="请问社区食堂几点开门？", created=N - days(1), due=N + days(4))
    # 东城街道 (S00): a stale one, outside every coverage window
    kit.make_flag("h1", "1003", "S00", text="老旧小区加装电梯的申请", created=N - days(100), due=N - days(90),
                  category="help", reminded_at=N - days(91), escalated_at=N - days(89),
                  noticed_at=N - days(83), stale_at=N - days(10))
    kit.last_digest(TRANSPORT, N - hours(2.5))
    kit.failing("1003", N - hours(6), 3, "server_error", "timeline: HTTP 502")
    return kit
