"""The ladder (督办) with an injected clock: each step once, at its time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from flagkit import Kit
from huisheng.flags.ladder import Ladder
from huisheng.flags.process import Decider
from huisheng.flags.rules import load_rules
from huisheng.clock import FakeClock
from huisheng.storage.models import FlagEvent

SH = timezone(timedelta(hours=8))


@pytest.fixture
def kit(db_url):
    kit = Kit(db_url)
    yield kit
    kit.close()


def events(kit, kind):
    with kit.sessions() as session:
        return session.scalars(select(FlagEvent).where(FlagEvent.kind == kind)).all()


def test_each_step_once_at_its_time(kit):
    raised = datetime(2026, 11, 2, 10, 0, tzinfo=SH)  # Monday; consultation: 2 working days
    post = kit.post("1000000001", raised)
    kit.comment(post, raised, "请问居住证办理需要多久？")
    clock = FakeClock(raised)
    Decider(kit.sessions, clock, load_rules(), kit.calendar, kit.sla).run()
    (flag,) = kit.flags()
    assert flag.due_at == datetime(2026, 11, 4, 10, 0, tzinfo=SH)
    ladder = Ladder(kit.sessions, clock, kit.calendar, kit.sla)

    def at(when):
        return ladder.run(when.astimezone(timezone.utc))

    assert at(datetime(2026, 11, 3, 9, 59, tzinfo=SH)).reminded == []
    assert at(datetime(2026, 11, 3, 10, 0, tzinfo=SH)).reminded == [flag.id]   # 1 wd before due
    assert at(datetime(2026, 11, 3, 11, 0, tzinfo=SH)).reminded == []          # once
    assert at(datetime(2026, 11, 4, 17, 0, tzinfo=SH)).escalated == []         # overdue, same day
    assert at(datetime(2026, 11, 5, 8, 59, tzinfo=SH)).escalated == []
    assert at(datetime(2026, 11, 5, 9, 0, tzinfo=SH)).escalated == [flag.id]   # the day after due
    # notice at due + 5 working days: Wed 11-04 10:00 → Wed 11-11 10:00
    assert at(datetime(2026, 11, 11, 9, 59, tzinfo=SH)).noticed == []
    assert at(datetime(2026, 11, 11, 10, 0, tzinfo=SH)).noticed == [flag.id]
    assert at(datetime(2027, 1, 31, 9, 0, tzinfo=SH)).stale == []
    assert at(datetime(2027, 1, 31, 10, 0, tzinfo=SH)).stale == [flag.id]     # 90 days
    for kind in ("reminder", "escalated", "notice", "stale"):
        assert len(events(kit, kind)) == 1
    (escalated,) = events(kit, "escalated")
    with kit.sessions() as session:
        from huisheng.storage.models import Unit

        assert escalated.data["to_unit"] == session.get(Unit, flag.unit_id).parent_id


def test_escalation_skips_a_holiday_and_a_missed_run_catches_up(kit):
    raised = datetime(2026, 9, 28, 10, 0, tzinfo=SH)  # consultation due Wed 09-30 10:00
    post = kit.post("1000000002", raised)
    kit.comment(post, raised, "请问国庆期间政务中心开放吗")
    clock = FakeClock(raised)
    Decider(kit.sessions, clock, load_rules(), kit.calendar, kit.sla).run()
    (flag,) = kit.flags()
    ladder = Ladder(kit.sessions, clock, kit.calendar, kit.sla)
    # The first working day after 09-30 is 10-08 (National Day holidays 10-01…10-07).
    # The job did not run for days: the missed reminder comes at its first run.
    first = ladder.run(datetime(2026, 10, 7, 12, 0, tzinfo=SH))
    assert first.reminded == [flag.id] and first.escalated == []
    second = ladder.run(datetime(2026, 10, 8, 9, 30, tzinfo=SH))
    assert second.reminded == [] and second.escalated == [flag.id]


def test_replied_flags_leave_the_ladder(kit):
    raised = datetime(2026, 11, 2, 10, 0, tzinfo=SH)
    post = kit.post("1000000001", raised)
    _, root = kit.comment(post, raised, "请问居住证办理需要多久？")
    owner = kit.account("1000000001")
    kit.comment(post, raised + timedelta(hours=1), "一般5个工作日", author=(owner.uid, owner.name), root=root,
                owner=True)
    clock = FakeClock(raised)
    Decider(kit.sessions, clock, load_rules(), kit.calendar, kit.sla).run()
    result = Ladder(kit.sessions, clock, kit.calendar, kit.sla).run(raised + timedelta(days=30))
    assert (result.reminded, result.escalated, result.noticed) == ([], [], [])
