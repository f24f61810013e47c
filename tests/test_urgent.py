"""Urgent means hours: an urgent flag is due ``urgent_hours`` (default 2) after
the comment, round the clock; its own ladder reminds at half time and
escalates at the deadline to the parent unit and the duty address, by mail at
once; its alert goes to the unit the routing chose.  Injected clock, the real
decide step, real SMTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from digestkit import COMMUNITY, DISTRICT, STREET, TRANSPORT_ACCOUNT, DigestKit
from huisheng.flags.ladder import Ladder
from huisheng.flags.process import Decider
from huisheng.flags.rules import load_rules
from huisheng.flags.sla import calendar_from_settings, sla_from_settings
from huisheng.clock import FakeClock
from huisheng.config import load_settings
from huisheng.storage.models import Comment, Flag, FlagEvent, Unit
from huisheng.notify.alerts import LABELS, AlertJob
from huisheng.notify.mail import mail_from_settings
from huisheng.notify.outbox import Sender
from huisheng.notify.sink import free_port
from tests.mailkit import Inbox

SH = timezone(timedelta(hours=8))
DUTY = "duty@example.org"
FIRE_IN_STREET = "东城街道菜市场着火了，浓烟很大！"
FIRE_IN_COMMUNITY = "东城第1社区3栋着火了，浓烟很大，快来人！"
_ids = count(7_000_000_000_000_000)



@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def kit(db_url):
    kit = DigestKit(db_url)
    for uid in ("1001", "1002", "1003", "1004"):
        kit.post(uid, datetime(2026, 10, 1, tzinfo=SH))
    yield kit
    kit.close()


def subject(key: str, unit: str, text: str) -> str:
    """The subject of an urgent mail (alert, reminder, escalation) as the labels word it."""
    return LABELS["zh"][key].format(unit=unit, text=text)


def settings_for(tmp_path: Path, db_url: str, *, port: int = 2525, flags: str = ""):
    path = tmp_path / "huisheng.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n\n[flags]\n{flags}\n\n'
                    f'[mail]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
                    f'from_address = "huisheng@example.org"\nduty_address = "{DUTY}"\n', encoding="utf-8")
    return load_settings(path)


def comment(kit, uid: str, at: datetime, text: str) -> None:
    with kit.sessions.begin() as session:
        session.add(Comment(platform="weibo", external_id=str(next(_ids)), post_id=kit.posts[uid],
                            author_id="9001", author_name="王五", created_at=at, text=text, content_hash="c",
                            first_seen_at=at, last_seen_at=at, raw={}))


def decide(kit, settings, now: datetime):
    return Decider(kit.sessions, FakeClock(now), load_rules(None), calendar_from_settings(settings),
                   sla_from_settings(settings)).run(now)


def flag_of(kit, text: str) -> Flag:
    with kit.sessions() as session:
        return session.scalars(select(Flag).join(Comment, Comment.id == Flag.comment_id)
                               .where(Comment.text == text)).one()


def test_an_urgent_flag_is_due_in_hours_round_the_clock(kit, tmp_path, db_url):
    saturday_night = datetime(2026, 11, 7, 23, 0, tzinfo=SH)
    comment(kit, "1001", saturday_night, FIRE_IN_STREET)
    comment(kit, "1001", saturday_night, "请问社区服务中心周一几点开门？")
    decide(kit, settings_for(tmp_path, db_url), saturday_night + timedelta(minutes=1))
    fire = flag_of(kit, FIRE_IN_STREET)
    assert fire.urgent and fire.due_at == datetime(2026, 11, 8, 1, 0, tzinfo=SH) and not fire.due_uncertain
    # the same night, an ordinary question waits for office hours: two working days from Monday 09:00
    assert flag_of(kit, "请问社区服务中心周一几点开门？").due_at == datetime(2026, 11, 10, 18, 0, tzinfo=SH)


def test_the_urgent_deadline_is_configurable(kit, tmp_path, db_url):
    at = datetime(2026, 11, 4, 10, 0, tzinfo=SH)
    comment(kit, "1001", at, FIRE_IN_STREET)
    decide(kit, settings_for(tmp_path, db_url, flags="urgent_hours = 0.5"), at + timedelta(minutes=1))
    assert flag_of(kit, FIRE_IN_STREET).due_at == at + timedelta(minutes=30)


def test_the_urgent_ladder_reminds_at_half_time_and_escalates_at_the_deadline_by_mail(kit, tmp_path, db_url,
                                                                                     smtp):
    inbox, port = smtp
    settings = settings_for(tmp_path, db_url, port=port)
    written = datetime(2026, 11, 4, 10, 0, tzinfo=SH)  # a Wednesday
    # an ordinary flag long overdue: not the urgent ladder's business
    late = kit.make_flag("f1", "1002", "B03", text="请问驾照换证在哪里办？", created=written - timedelta(days=10),
                         due=written - timedelta(days=8))
    comment(kit, "1001", written, FIRE_IN_STREET)  # on the district's account, routed to the street
    clock = FakeClock(written + timedelta(seconds=30))
    (fire,) = decide(kit, settings, clock.now()).urgent
    sender = Sender(kit.sessions, clock, mail_from_settings(settings))
    alerts = AlertJob(kit.sessions, clock, settings, sender=sender)
    alerts.run(clock.now())
    alert = subject("subject", "东城街道", FIRE_IN_STREET)
    assert inbox.take() == [(DUTY, alert), (STREET, alert)]

    ladder = Ladder(kit.sessions, clock, calendar_from_settings(settings), sla_from_settings(settings),
                    on_step=alerts.ladder_step)

    def step(at: datetime, **kwargs):
        result = ladder.run(at, **kwargs)
        sender.run(at)
        return result

    before_half = step(written + timedelta(minutes=59), urgent=True)
    assert (before_half.reminded, before_half.escalated) == ([], [])
    half = step(written + timedelta(hours=1), urgent=True)
    assert (half.reminded, half.escalated) == ([fire], [])
    assert inbox.take() == [(STREET, subject("reminder_subject", "东城街道", FIRE_IN_STREET))]
    assert step(written + timedelta(hours=2, seconds=-1), urgent=True).escalated == []
    due = step(written + timedelta(hours=2), urgent=True)
    assert (due.reminded, due.escalated) == ([], [fire])
    # to the street's parent unit (the district) and the duty address
    escalation = subject("escalated_subject", "东城街道", FIRE_IN_STREET)
    assert inbox.take() == [(DISTRICT, escalation), (DUTY, escalation)]
    assert late not in due.escalated and late not in half.reminded

    # the rest of the ladder leaves the urgent flag alone, and takes the ordinary one
    rest = step(written + timedelta(hours=3), urgent=False)
    assert fire not in rest.reminded + rest.escalated and late in rest.escalated
    assert inbox.take() == []
    with kit.sessions() as session:
        events = {e.kind: e for e in session.scalars(select(FlagEvent).where(FlagEvent.flag_id == fire))}
    assert events["reminder"].data["notified"] == [STREET]
    assert events["escalated"].data["notified"] == [DISTRICT, DUTY]
    assert events["escalated"].note == "紧急留言超过 2 小时未回复，提交上级单位和值班督办"


def test_an_urgent_flag_found_after_its_deadline_is_escalated_without_a_separate_reminder(kit, tmp_path,
                                                                                          db_url, smtp):
    inbox, port = smtp
    settings = settings_for(tmp_path, db_url, port=port)
    written = datetime(2026, 11, 4, 10, 0, tzinfo=SH)
    comment(kit, "1001", written, FIRE_IN_STREET)
    clock = FakeClock(written + timedelta(hours=3))  # the account could not be read for three hours
    (fire,) = decide(kit, settings, clock.now()).urgent
    sender = Sender(kit.sessions, clock, mail_from_settings(settings))
    alerts = AlertJob(kit.sessions, clock, settings, sender=sender)
    ladder = Ladder(kit.sessions, clock, calendar_from_settings(settings), sla_from_settings(settings),
                    on_step=alerts.ladder_step)
    result = ladder.run(clock.now(), urgent=True)
    assert (result.reminded, result.escalated) == ([fire], [fire])
    sender.run(clock.now())
    assert [s for _, s in inbox.take()] == [subject("escalated_subject", "东城街道", FIRE_IN_STREET)] * 2


def test_the_alert_goes_to_the_unit_the_routing_chose_or_the_nearest_above_with_admins(kit, tmp_path,
                                                                                      db_url, smtp):
    inbox, port = smtp
    settings = settings_for(tmp_path, db_url, port=port)
    at = datetime(2026, 11, 4, 10, 0, tzinfo=SH)
    clock = FakeClock(at + timedelta(seconds=30))
    sender = Sender(kit.sessions, clock, mail_from_settings(settings))
    # on the transport bureau's account, about a fire in a community: the community is told,
    # with the account's own administrator and the duty address (not the bureau)
    comment(kit, "1002", at, FIRE_IN_COMMUNITY)
    decide(kit, settings, clock.now())
    AlertJob(kit.sessions, clock, settings, sender=sender).run(clock.now())
    alert = subject("subject", "东城第1社区", FIRE_IN_COMMUNITY)
    assert inbox.take() == sorted([(COMMUNITY, alert), (TRANSPORT_ACCOUNT, alert), (DUTY, alert)])

    # a community that has no administrator of its own: its street is told
    with kit.sessions.begin() as session:
        session.execute(update(Unit).where(Unit.code == "S00C01").values(admins=[]))
    comment(kit, "1002", at + timedelta(minutes=5), FIRE_IN_COMMUNITY.replace("3栋", "5栋"))
    clock.advance(300)
    decide(kit, settings, clock.now())
    AlertJob(kit.sessions, clock, settings, sender=sender).run(clock.now())
    alert = subject("subject", "东城第1社区", FIRE_IN_COMMUNITY.replace("3栋", "5栋"))
    assert inbox.take() == sorted([(STREET, alert), (TRANSPORT_ACCOUNT, alert), (DUTY, alert)])
