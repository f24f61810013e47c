"""The decide step on a real database: flags raised and routed, replies linked,
acknowledgements, follow-ups, idempotency, and the working-day clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from flagkit import Kit
from huisheng.flags.process import Decider
from huisheng.flags.rules import load_rules
from huisheng.clock import FakeClock
from huisheng.storage.models import Account, Comment, Flag, FlagEvent

SH = timezone(timedelta(hours=8))
DISTRICT_UID = "1000000001"  # 示范区发布 (district)
STREET_UID = None


@pytest.fixture
def kit(db_url):
    kit = Kit(db_url)
    yield kit
    kit.close()


def decider(kit, now):
    clock = FakeClock(now)
    return Decider(kit.sessions, clock, load_rules(), kit.calendar, kit.sla), clock


def test_consultation_becomes_a_flag_with_a_working_day_deadline(kit):
    at = datetime(2026, 9, 30, 17, 30, tzinfo=SH)
    post = kit.post(DISTRICT_UID, at - timedelta(hours=3))
    kit.comment(post, at, "投诉：小区门口占道经营的摊贩天天堵路，城管管不管？")
    d, _ = decider(kit, at + timedelta(minutes=5))
    result = d.run()
    (flag,) = kit.flags()
    assert result.flags == [flag.id]
    assert flag.category == "complaint" and flag.status == "open"
    # 7 working days from 2026-09-30 17:30 across National Day / Mid-Autumn and
    # the make-up Saturday 10-10: due 10-15 17:30.
    assert flag.due_at == datetime(2026, 10, 15, 17, 30, tzinfo=SH)
    assert flag.started_at == at and not flag.due_uncertain
    assert flag.routing_reason


def test_praise_emoticons_and_government_comments_raise_nothing(kit):
    at = datetime(2026, 11, 2, 10, 0, tzinfo=SH)
    post = kit.post(DISTRICT_UID, at)
    kit.comment(post, at, "[赞][赞][赞]")
    kit.comment(post, at, "感谢社区网格员的耐心帮助！")
    kit.comment(post, at, "转发微博")
    street = kit.matrix.accounts[5]
    kit.comment(post, at, "请问这个活动在哪里报名？", author=(street.uid, street.name))
    d, _ = decider(kit, at)
    assert d.run().decided == 4
    assert kit.flags() == []


def test_child_reply_marks_the_flag_replied_with_latency(kit):
    at = datetime(2026, 11, 2, 17, 0, tzinfo=SH)  # Monday
    post = kit.post(DISTRICT_UID, at)
    _, root = kit.comment(post, at, "请问办理居住证需要带什么材料？")
    owner = kit.account(DISTRICT_UID)
    reply_at = datetime(2026, 11, 3, 10, 0, tzinfo=SH)
    kit.comment(post, reply_at, "您好，需携带身份证和租房合同", author=(owner.uid, owner.name), root=root,
                owner=True)
    d, _ = decider(kit, reply_at + timedelta(minutes=1))
    result = d.run()
    (flag,) = kit.flags()
    assert result.replied == [flag.id]
    assert flag.status == "replied" and flag.first_reply_at == reply_at
    assert flag.reply_seconds == 17 * 3600
    assert flag.reply_working_seconds == 2 * 3600  # 17:00–18:00 and 09:00–10:00


def test_acknowledgement_then_reply(kit):
    at = datetime(2026, 11, 2, 9, 0, tzinfo=SH)
    post = kit.post(DISTRICT_UID, at)
    _, root = kit.comment(post, at, "小区路灯坏了一个月了，一直没人修，投诉")
    owner = kit.account(DISTRICT_UID)
    kit.comment(post, at + timedelta(minutes=10), "已收到，正在处理", author=(owner.uid, owner.name), root=root,
                owner=True)
    d, clock = decider(kit, at + timedelta(minutes=20))
    d.run()
    (flag,) = kit.flags()
    assert flag.status == "acknowledged" and flag.first_reply_at is None
    kit.comment(post, at + timedelta(hours=5), "回复@张三:已修复，感谢监督", author=(owner.uid, owner.name),
                root=root, reply_to="张三", owner=True)
    d.run()
    (flag,) = kit.flags()
    assert flag.status == "replied" and flag.first_reply_at == at + timedelta(hours=5)


def test_follow_up_after_a_reply_opens_a_linked_flag_and_repeat_before_does_not(kit):
    at = datetime(2026, 11, 2, 9, 0, tzinfo=SH)
    post = kit.post(DISTRICT_UID, at)
    _, root = kit.comment(post, at, "楼下烧烤油烟太大，投诉！")
    kit.comment(post, at + timedelta(minutes=5), "还有噪音，晚上根本睡不着，投诉", root=root)  # same case, still open
    owner = kit.account(DISTRICT_UID)
    kit.comment(post, at + timedelta(hours=2), "已联系城管到现场处理", author=(owner.uid, owner.name),
                root=root, owner=True)
    kit.comment(post, at + timedelta(days=1), "回复@示范区发布:根本没有处理，今晚还在烧烤，投诉", root=root,
                reply_to="示范区发布")
    d, _ = decider(kit, at + timedelta(days=1, minutes=5))
    d.run()
    first, second = kit.flags()
    assert first.status == "replied"
    assert second.follow_up_of == first.id and second.status == "open"
    with kit.sessions() as session:  # both raised in one batch: the record names the earlier flag too
        created = session.scalars(select(FlagEvent).where(FlagEvent.flag_id == second.id,
                                                          FlagEvent.kind == "created")).one()
        assert created.data["follow_up_of"] == first.id


def test_rerunning_never_duplicates_or_resets(kit):
    at = datetime(2026, 11, 2, 9, 0, tzinfo=SH)
    post = kit.post(DISTRICT_UID, at)
    kit.comment(post, at, "请问学位申请什么时候开始？")
    d, _ = decider(kit, at)
    d.run()
    with kit.sessions.begin() as session:
        session.execute(Flag.__table__.update().values(status="acknowledged"))
    assert d.run().decided == 0
    (flag,) = kit.flags()
    assert flag.status == "acknowledged"
    with kit.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FlagEvent)) == 1  # created, once
        assert session.scalar(select(func.count()).select_from(Comment)
                              .where(Comment.decided_at.is_(None))) == 0


def test_reply_stored_before_the_comment_it_answers_still_counts(kit):
    at = datetime(2026, 11, 2, 9, 0, tzinfo=SH)
    post = kit.post(DISTRICT_UID, at)
    owner = kit.account(DISTRICT_UID)
    root_ext = "4999999999999999"
    kit.comment(post, at + timedelta(hours=1), "您好，已安排人员处理", author=(owner.uid, owner.name),
                root=root_ext, owner=True)
    d, _ = decider(kit, at + timedelta(hours=2))
    d.run()
    # the citizen's comment arrives later (a thread read in pieces)
    from huisheng.records import Comment as Rec
    from huisheng.storage import store

    with kit.sessions.begin() as session:
        store.upsert_comments(session, [Rec("weibo", root_ext, kit.post_ext[post], "9001", "张三", at, False,
                                            "小区垃圾三天没人清运，投诉")],
                              post_row_ids={kit.post_ext[post]: post}, now=at + timedelta(hours=3))
    d.run()
    (flag,) = kit.flags()
    assert flag.status == "replied" and flag.first_reply_at == at + timedelta(hours=1)


def test_uncovered_year_deadline_is_marked_uncertain(kit):
    at = datetime(2026, 12, 30, 17, 0, tzinfo=SH)
    post = kit.post(DISTRICT_UID, at)
    kit.comment(post, at, "请问元旦期间社区服务中心开门吗")
    d, _ = decider(kit, at)
    d.run()
    (flag,) = kit.flags()
    assert flag.due_uncertain
    with kit.sessions() as session:
        event = session.scalars(select(FlagEvent)).one()
    assert event.data["uncovered_years"] == [2027]


def test_an_account_added_while_running_is_picked_up(kit):
    at = datetime(2026, 11, 2, 9, 0, tzinfo=SH)
    post = kit.post(DISTRICT_UID, at)
    kit.comment(post, at, "请问学位申请什么时候开始？")
    d, _ = decider(kit, at)
    d.run()  # the matrix is cached now
    from huisheng.storage.matrix_sync import sync_matrix
    from huisheng.config.settings import AccountSpec, Matrix

    newcomer = AccountSpec("weibo", "2000000001", "新开账号", kit.matrix.accounts[3].unit)
    with kit.sessions.begin() as session:
        sync_matrix(session, Matrix(kit.matrix.units, kit.matrix.accounts + (newcomer,)), at)
    new_post = kit.post("2000000001", at + timedelta(hours=1))
    kit.comment(new_post, at + timedelta(hours=1), "小区垃圾三天没人清运，投诉")
    # stored by its first poll, still running: decided once its monitoring start is known
    assert d.run().decided == 0
    with kit.sessions.begin() as session:
        session.execute(update(Account).where(Account.uid == "2000000001").values(
            first_success_at=at + timedelta(hours=1), monitoring_start=at))
    result = d.run()
    assert result.decided == 1 and len(result.flags) == 1
