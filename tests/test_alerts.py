"""Urgent alerts: who gets them, once, in Chinese (English on request), the
hostile comment text escaped and cut in both parts, and the whole way from a
stored comment through the decide step to a real SMTP server in one tick."""

from __future__ import annotations

import email
from dataclasses import replace
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from digestkit import COMMUNITY, NOW, TRANSPORT, TRANSPORT_ACCOUNT, DigestKit, days, hours
from huisheng.flags.process import Decider
from huisheng.flags.rules import load_rules
from huisheng.flags.sla import calendar_from_settings, sla_from_settings
from huisheng.clock import FakeClock
from huisheng.config import load_settings
from huisheng.storage.models import Comment, FlagEvent, OutboxMessage, Unit
from huisheng.notify.alerts import TEXT_LIMIT, AlertJob
from huisheng.notify.mail import mail_from_settings
from huisheng.notify.outbox import Sender
from huisheng.notify.sink import free_port
from tests.mailkit import Inbox

DUTY = "duty@example.org"
HOSTILE = ("<script>alert('x')</script><b onclick=\"steal()\">紧急！</b> 井盖丢失 "
           "\u202eevil.exe\u202c 😀👨‍👩‍👧 " + "长" * 10_000)


def config(tmp_path: Path, db_url: str, **mail) -> Path:
    values = {"host": "127.0.0.1", "port": 2525, "security": "none", "from_address": "huisheng@example.org",
              "duty_address": DUTY, **mail}
    lines = [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in values.items()]
    path = tmp_path / "huisheng.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n\n[mail]\n' + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def kit(db_url):
    kit = DigestKit(db_url)
    for uid in ("1001", "1002", "1003", "1004"):
        kit.post(uid, NOW - days(1))
    yield kit
    kit.close()


def alerts(kit) -> list[OutboxMessage]:
    with kit.sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert")
                                    .order_by(OutboxMessage.id)))


def parts(row: OutboxMessage) -> tuple[str, str, email.message.EmailMessage]:
    parsed = email.message_from_string(row.message, policy=default_policy)
    text, html = (parsed.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html"))
    return text, html, parsed


def test_each_urgent_flag_is_alerted_once_to_unit_account_admins_and_duty(kit, db_url, tmp_path):
    settings = load_settings(config(tmp_path, db_url))
    urgent = kit.make_flag("f1", "1002", "B03", text="紧急！幸福路井盖丢失，有人掉进去了", created=NOW - hours(0.1),
                           due=NOW + days(2), urgent=True, category="help")
    # routed away from the account's unit: the community's and the account's administrators
    routed = kit.make_flag("g1", "1002", "S00C01", text="小区停电老人被困电梯，快来人", created=NOW - hours(0.1),
                           due=NOW + days(2), urgent=True)
    kit.make_flag("f2", "1002", "B03", text="请问公交几点发车", created=NOW - hours(0.1), due=NOW + days(2))
    kit.make_flag("f3", "1002", "B03", text="着火了", created=NOW - hours(0.1), due=NOW + days(2), urgent=True,
                  status="replied", first_reply_at=NOW - hours(0.05))
    job = AlertJob(kit.sessions, FakeClock(NOW), settings)
    result = job.run(NOW)
    assert result.alerted == {urgent: [TRANSPORT, TRANSPORT_ACCOUNT, DUTY],
                              routed: [COMMUNITY, TRANSPORT_ACCOUNT, DUTY]}
    rows = alerts(kit)
    assert [(r.recipient, r.period, r.dedup_key) for r in rows] == [
        (TRANSPORT, str(urgent), f"{TRANSPORT}|alert|{urgent}"),
        (TRANSPORT_ACCOUNT, str(urgent), f"{TRANSPORT_ACCOUNT}|alert|{urgent}"),
        (DUTY, str(urgent), f"{DUTY}|alert|{urgent}"),
        (COMMUNITY, str(routed), f"{COMMUNITY}|alert|{routed}"),
        (TRANSPORT_ACCOUNT, str(routed), f"{TRANSPORT_ACCOUNT}|alert|{routed}"),
        (DUTY, str(routed), f"{DUTY}|alert|{routed}")]
    assert rows[0].subject == "【回声·紧急】交通局：紧急！幸福路井盖丢失，有人掉进去了"
    assert len({r.message_id for r in rows}) == 6
    text, html, parsed = parts(rows[0])
    assert parsed["To"] == TRANSPORT
    assert "交通局 收到一条判定为紧急的群众留言" in text
    assert "留言内容：\n紧急！幸福路井盖丢失，有人掉进去了" in text
    assert "回复期限：2026-11-07 08:30" in text
    assert f"huisheng flags show {urgent}" in text
    assert '<a href="https://weibo.com/1002/P1002">查看原帖</a>' in html
    # again, and again later: nothing new
    assert job.run(NOW).alerted == {}
    assert AlertJob(kit.sessions, FakeClock(NOW), settings).run(NOW + hours(1)).alerted == {}
    assert len(alerts(kit)) == 6
    with kit.sessions() as session:
        events = session.scalars(select(FlagEvent).where(FlagEvent.kind == "alerted")
                                 .order_by(FlagEvent.flag_id)).all()
    assert [(e.flag_id, e.actor, e.data["recipients"]) for e in events] == [
        (urgent, "rule:alerts", [TRANSPORT, TRANSPORT_ACCOUNT, DUTY]),
        (routed, "rule:alerts", [COMMUNITY, TRANSPORT_ACCOUNT, DUTY])]


def test_a_flag_with_nobody_to_tell_is_recorded_not_retried(kit, db_url, tmp_path):
    settings = load_settings(config(tmp_path, db_url, duty_address="x@example.org"))
    # the district's own account has no account administrators; the district unit has one
    flag = kit.make_flag("d1", "1001", "D", text="紧急！", created=NOW, due=NOW + days(2), urgent=True)
    with kit.sessions.begin() as session:
        unit = session.scalars(select(Unit).where(Unit.code == "D")).one()
        unit.admins = []
    job = AlertJob(kit.sessions, FakeClock(NOW), settings,
                   mail=replace(mail_from_settings(settings), duty_address=None))
    assert job.run(NOW).alerted == {flag: []}
    assert alerts(kit) == []
    assert job.run(NOW).alerted == {}


def test_hostile_text_is_escaped_and_cut_in_both_parts(kit, db_url, tmp_path):
    settings = load_settings(config(tmp_path, db_url))
    flag = kit.make_flag("f1", "1002", "B03", text=HOSTILE, created=NOW, due=NOW + days(2), urgent=True,
                         author="<img src=x onerror=alert(1)>\u202e李四")
    AlertJob(kit.sessions, FakeClock(NOW), settings).run(NOW)
    row = alerts(kit)[0]
    text, html, parsed = parts(row)
    # HTML: no live markup from the comment or the author
    assert "<script>" not in html and "<b onclick" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;李四" in html
    # both parts: no bidi override, emoji kept whole, the 10 000 characters cut
    for part in (text, html):
        assert "\u202e" not in part and "\u202c" not in part
        assert "😀👨‍👩‍👧" in part
        assert "长" * (TEXT_LIMIT - 100) in part and "长" * (TEXT_LIMIT + 1) not in part
        assert "长…" in part
        assert len(part) < 4000
    # the text part shows the text as written (it is not HTML)
    assert "<script>alert('x')</script>" in text
    # the subject: one line, cut, without the override
    assert "\u202e" not in row.subject and len(row.subject) < 80 and "\n" not in row.subject
    assert row.subject.startswith("【回声·紧急】交通局：<script>")
    assert parsed["Subject"] == row.subject
    assert row.period == str(flag)


def test_english_on_request(kit, db_url, tmp_path):
    settings = load_settings(config(tmp_path, db_url, locale="en"))
    kit.make_flag("f1", "1002", "B03", text="紧急！井盖丢失", created=NOW, due=NOW + days(2), urgent=True,
                  category="help")
    AlertJob(kit.sessions, FakeClock(NOW), settings).run(NOW)
    row = alerts(kit)[0]
    text, html, _ = parts(row)
    assert row.subject == "[Huisheng URGENT] 交通局: 紧急！井盖丢失"
    assert "交通局 received a comment classified as urgent" in text
    assert "Category: Help request" in text
    assert '<html lang="en">' in html



def test_a_stored_urgent_comment_is_mailed_within_one_tick(kit, db_url, tmp_path):
    """Decide, then alerts, then the sender: what the daemon runs each tick."""
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = load_settings(config(tmp_path, db_url, port=port))
        with kit.sessions.begin() as session:
            session.add(Comment(platform="weibo", external_id="77", post_id=kit.posts["1002"], author_id="9001",
                                author_name="王五", created_at=NOW, text="小区对面的楼着火了，浓烟很大！",
                                content_hash="c", first_seen_at=NOW, last_seen_at=NOW, raw={}))
        clock = FakeClock(NOW + timedelta(seconds=5))
        now = clock.now()
        decided = Decider(kit.sessions, clock, load_rules(None), calendar_from_settings(settings),
                          sla_from_settings(settings)).run(now)
        assert len(decided.urgent) == 1
        sender = Sender(kit.sessions, clock, mail_from_settings(settings))
        # the alert job hands what it queued to the sender at once: mailed in this tick
        assert AlertJob(kit.sessions, clock, settings, sender=sender).run(now).alerted == {
            decided.urgent[0]: [TRANSPORT, TRANSPORT_ACCOUNT, DUTY]}
        assert len(inbox.received) == 3
        assert sender.run(now + timedelta(minutes=1)).sent == []
    finally:
        controller.stop()
    received = [email.message_from_bytes(data, policy=default_policy) for data in inbox.received]
    assert sorted(m["To"] for m in received) == sorted([TRANSPORT, TRANSPORT_ACCOUNT, DUTY])
    body = received[0].get_body(("plain",)).get_content()
    assert "紧急判定依据：着火了" in body and "留言人：王五" in body


def test_without_mail_nothing_is_queued_until_it_is_configured(kit, db_url, tmp_path):
    path = tmp_path / "off.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    flag = kit.make_flag("f1", "1002", "B03", text="着火了", created=NOW, due=NOW + days(2), urgent=True)
    assert AlertJob(kit.sessions, FakeClock(NOW), load_settings(path)).run(NOW).alerted == {}
    assert alerts(kit) == []
    on = load_settings(config(tmp_path, db_url))
    assert list(AlertJob(kit.sessions, FakeClock(NOW), on).run(NOW).alerted) == [flag]
