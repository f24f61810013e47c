"""The digest job: its schedule (cron in Asia/Shanghai, working days only),
delivery into the outbox once per day, empty digests, the locale, config."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_string, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from huisheng.errors import ConfigError
from huisheng.clock import FakeClock
from huisheng.config import load_settings
from huisheng.storage.models import Flag, FlagEvent, OutboxMessage
from huisheng.config.settings import Settings
from huisheng.notify.digest import DigestJob
from huisheng.notify.schedule import cron_trigger, fire_times
from digestkit import (COMMUNITY, DISTRICT, NOW, STREET, TRANSPORT, TRANSPORT_ACCOUNT, days, hours,
                             scenario)

SHANGHAI = timezone(timedelta(hours=8))
ALL = sorted([DISTRICT, TRANSPORT, STREET, COMMUNITY, TRANSPORT_ACCOUNT])


def settings(tmp_path: Path, db_url: str, mail: bool = True, **digest) -> Settings:
    """Through the config file, as the daemon loads it."""
    lines = [f'[database]\nurl = "{db_url}"', "[digest]"]
    for key, value in digest.items():
        lines.append(f"{key} = " + ("true" if value is True else "false" if value is False else f'"{value}"'))
    if mail:
        lines.append('[mail]\nhost = "127.0.0.1"\nport = 2525\nfrom_address = "huisheng@example.org"')
    path = tmp_path / "huisheng.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_settings(path, environ={})


@pytest.fixture
def kit(db_url):
    kit = scenario(db_url)
    yield kit
    kit.close()


def outbox(kit, period=None) -> list[OutboxMessage]:
    with kit.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by(OutboxMessage.recipient)
        if period:
            query = query.where(OutboxMessage.period == period)
        return list(session.scalars(query))


def test_runs_when_the_cron_time_has_passed_once_a_day(kit, db_url, tmp_path):
    clock = FakeClock(NOW - timedelta(minutes=1))
    job = DigestJob(kit.sessions, clock, settings(tmp_path, db_url))
    assert job.run(NOW - timedelta(minutes=1)) == []  # 08:29 in Shanghai
    outcomes = job.run(NOW + timedelta(minutes=1))
    assert sorted(o.recipient for o in outcomes if o.status == "queued") == ALL
    sent = outbox(kit, "2026-11-05")
    assert [m.recipient for m in sent] == ALL
    mine = next(m for m in sent if m.recipient == TRANSPORT)
    assert mine.subject == "【回声】交通局 新增待回复 2 条，超期 2 条"
    assert mine.covers_from == NOW - hours(2.5) and mine.covers_until == NOW + timedelta(minutes=1)
    parsed = message_from_string(mine.message, policy=policy.default)
    assert parsed.get_body(("plain",)).get_content().startswith("您好！以下是 交通局")
    assert "<h2" in parsed.get_body(("html",)).get_content()

    # later the same day: nothing new; a restarted daemon (a new job) queues nothing twice
    assert job.run(NOW + hours(3)) == []
    again = DigestJob(kit.sessions, clock, settings(tmp_path, db_url)).run(NOW + hours(4))
    assert {o.status for o in again} == {"duplicate"}
    assert len(outbox(kit, "2026-11-05")) == len(ALL)

    # the next morning: the next digest starts where this one ended
    nxt = job.run(NOW + days(1) + timedelta(minutes=2))
    assert sorted(o.recipient for o in nxt if o.status == "queued") == ALL
    tomorrow = {m.recipient: m for m in outbox(kit, "2026-11-06")}
    assert tomorrow[TRANSPORT].covers_from == NOW + timedelta(minutes=1)
    assert tomorrow[TRANSPORT].subject == "【回声】交通局 新增待回复 0 条，超期 3 条"  # f4 too now


def test_nothing_is_queued_without_a_mail_server(kit, db_url, tmp_path):
    job = DigestJob(kit.sessions, FakeClock(NOW), settings(tmp_path, db_url, mail=False))
    assert job.run(NOW + timedelta(minutes=1)) == []
    assert [m.recipient for m in outbox(kit)] == [TRANSPORT]  # only the earlier one


def test_a_failed_run_is_tried_again(kit, db_url, tmp_path, monkeypatch):
    import huisheng.notify.digest as digest

    real = digest.gather

    def broken(*args, **kwargs):
        raise OSError("database unreachable")

    job = DigestJob(kit.sessions, FakeClock(NOW), settings(tmp_path, db_url))
    monkeypatch.setattr(digest, "gather", broken)
    with pytest.raises(OSError):
        job.run(NOW + timedelta(minutes=1))
    monkeypatch.setattr(digest, "gather", real)
    outcomes = job.run(NOW + timedelta(minutes=2))
    assert sorted(o.recipient for o in outcomes if o.status == "queued") == ALL


def test_working_days_only_skips_a_holiday(kit, db_url, tmp_path):
    national_day = datetime(2026, 10, 1, 8, 31, tzinfo=SHANGHAI)  # a Thursday, 国庆
    make_up = datetime(2026, 10, 10, 8, 31, tzinfo=SHANGHAI)      # a Saturday worked (调休)
    weekend = datetime(2026, 10, 11, 8, 31, tzinfo=SHANGHAI)
    job = DigestJob(kit.sessions, FakeClock(national_day), settings(tmp_path, db_url, working_days_only=True,
                                                                      send_empty=True))
    assert job.run(national_day) == []
    assert {o.status for o in job.run(make_up)} == {"queued"}
    assert job.run(weekend) == []
    assert {m.period for m in outbox(kit) if m.subject != "earlier"} == {"2026-10-10"}
    every_day = DigestJob(kit.sessions, FakeClock(national_day), settings(tmp_path, db_url, send_empty=True))
    assert {o.status for o in every_day.run(national_day)} == {"queued"}


def test_empty_digest_is_not_sent_unless_configured(kit, db_url, tmp_path):
    with kit.sessions.begin() as session:
        g1 = session.get(Flag, kit.flag["g1"])
        g1.status, g1.first_reply_at = "replied", NOW - days(2)
        session.add(FlagEvent(flag_id=g1.id, at=NOW - days(2), kind="replied", actor="t", note="", data={}))
    kit.last_digest(COMMUNITY, NOW - hours(1))
    at = NOW + timedelta(minutes=1)
    outcomes = {o.recipient: o.status for o in DigestJob(kit.sessions, FakeClock(at),
                                                         settings(tmp_path, db_url)).send(at)}
    assert outcomes[COMMUNITY] == "empty" and outcomes[STREET] == "queued"
    assert COMMUNITY not in [m.recipient for m in outbox(kit, "2026-11-05")]
    job = DigestJob(kit.sessions, FakeClock(at), settings(tmp_path, db_url, send_empty=True))
    outcomes = {o.recipient: o.status for o in job.send(at)}
    assert outcomes[COMMUNITY] == "queued" and outcomes[STREET] == "duplicate"


def test_dry_run_queues_nothing(kit, db_url, tmp_path):
    job = DigestJob(kit.sessions, FakeClock(NOW), settings(tmp_path, db_url))
    outcomes = job.send(NOW, dry_run=True)
    assert sorted(o.recipient for o in outcomes if o.status == "dry-run") == ALL
    assert [m.recipient for m in outbox(kit)] == [TRANSPORT]  # only the earlier one


def test_locale_en(kit, db_url, tmp_path):
    job = DigestJob(kit.sessions, FakeClock(NOW), settings(tmp_path, db_url, locale="en"))
    job.send(NOW)
    mine = next(m for m in outbox(kit, "2026-11-05") if m.recipient == STREET)
    assert mine.subject == "[Huisheng] 东城街道: 0 new to answer, 1 overdue, 1 overdue below"
    text = message_from_string(mine.message, policy=policy.default).get_body(("plain",)).get_content()
    assert "Overdue in subordinate units (1)" in text and "Ladder: reminded" in text


def test_preview(kit, db_url, tmp_path):
    job = DigestJob(kit.sessions, FakeClock(NOW), settings(tmp_path, db_url))
    rendered = job.preview(TRANSPORT.upper(), NOW)
    assert rendered.subject == "【回声】交通局 新增待回复 2 条，超期 2 条"
    assert job.preview("nobody@example.org", NOW) is None
    assert [m.recipient for m in outbox(kit)] == [TRANSPORT]


def test_cron_weekdays_are_crontab_weekdays():
    trigger = cron_trigger("30 8 * * 1-5", "Asia/Shanghai")
    start = datetime(2026, 11, 1, tzinfo=SHANGHAI)  # a Sunday
    fired = [t.strftime("%a %H:%M") for t in fire_times(trigger, start, start + days(7))]
    assert fired == ["Mon 08:30", "Tue 08:30", "Wed 08:30", "Thu 08:30", "Fri 08:30"]
    sundays = [t.strftime("%a") for t in fire_times(cron_trigger("0 9 * * 0,7", "Asia/Shanghai"), start,
                                                      start + days(14))]
    assert sundays == ["Sun", "Sun"]


def test_config_table(tmp_path):
    path = tmp_path / "huisheng.toml"
    path.write_text('[digest]\ncron = "0 9 * * 1-5"\nworking_days_only = true\nlocale = "en"\n', encoding="utf-8")
    values = load_settings(path, environ={}).extra["digest"]
    assert values == {"cron": "0 9 * * 1-5", "working_days_only": True, "send_empty": False, "locale": "en",
                      "max_items": 50}
    path.write_text('[digest]\ncron = "30 25 * *"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    assert "digest.cron" in str(error.value) and "cron" in str(error.value)
