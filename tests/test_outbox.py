"""The outbox without a server: what enqueue stores, deduplication, backoff,
the [mail] config table and ``huisheng outbox list/retry``."""

from __future__ import annotations

import email
from datetime import datetime, timedelta, timezone
from email.policy import default as default_policy
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from huisheng import migrations
from huisheng.errors import ConfigError
from huisheng.cli import main
from huisheng.config import load_settings
from huisheng.storage.db import make_engine, session_factory
from huisheng.storage.models import OutboxMessage
from huisheng.notify.mail import MailSettings, mail_from_settings
from huisheng.notify.outbox import backoff, enqueue

T0 = datetime(2026, 11, 5, 0, 30, tzinfo=timezone.utc)
MAIL = MailSettings(host="127.0.0.1", from_address="huisheng@qu.example.gov.cn", from_name="回声·示范区")


@pytest.fixture
def db(db_url):
    migrations.upgrade(db_url)
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


def put(sessions, recipient="jt@example.org", kind="digest", period="2026-11-05", html="<p>正文</p>", **kw):
    with sessions.begin() as session:
        row = enqueue(session, recipient=recipient, kind=kind, period=period, subject="【回声】交通局 新增待回复 5 条",
                      text="正文 😀", html=html, now=T0, mail=MAIL, **kw)
        return None if row is None else row.id


def all_rows(sessions) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_enqueue_stores_a_complete_message_and_sends_nothing(db):
    row_id = put(db, covers_from=T0 - timedelta(days=1), covers_until=T0)
    [row] = all_rows(db)
    assert (row.id, row.status, row.attempts, row.next_attempt_at, row.sent_at) == (row_id, "pending", 0, T0, None)
    assert (row.recipient, row.kind, row.period, row.dedup_key) == (
        "jt@example.org", "digest", "2026-11-05", "jt@example.org|digest|2026-11-05")
    assert (row.covers_from, row.covers_until) == (T0 - timedelta(days=1), T0)
    assert row.message.isascii()  # 7-bit: any server takes it as stored
    parsed = email.message_from_string(row.message, policy=default_policy)
    assert parsed["Subject"] == row.subject == "【回声】交通局 新增待回复 5 条"
    assert parsed["From"] == "回声·示范区 <huisheng@qu.example.gov.cn>"
    assert parsed["To"] == "jt@example.org"
    assert parsed["Date"].datetime == T0 and parsed["Date"] == "Thu, 05 Nov 2026 08:30:00 +0800"
    assert parsed["Message-ID"] == row.message_id and row.message_id.endswith("@qu.example.gov.cn>")
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    assert plain.get_content().strip() == "正文 😀" and html.get_content().strip() == "<p>正文</p>"


def test_text_only_and_a_subject_cannot_inject_headers(db):
    with db.begin() as session:
        row = enqueue(session, recipient=" c1@example.org ", kind="alert", period="7",
                      subject="紧急\r\nBcc: victim@example.org", text="x", html=None, now=T0, mail=MAIL)
    parsed = email.message_from_string(row.message, policy=default_policy)
    assert parsed.get_content_type() == "text/plain"
    assert parsed["Subject"] == "紧急 Bcc: victim@example.org" and parsed["Bcc"] is None
    assert row.recipient == "c1@example.org"


def test_a_second_enqueue_is_a_no_op(db):
    first = put(db)
    assert put(db) is None
    assert put(db, recipient="JT@Example.org ") is None  # the same mailbox
    assert put(db, period="2026-11-06") is not None
    assert put(db, kind="alert") is not None
    assert len(all_rows(db)) == 3
    assert all_rows(db)[0].id == first


def test_enqueue_in_a_session_that_started_before_the_other_committed(db):
    # another process queued the same message after this session began:
    # no IntegrityError, just None
    with db() as late:
        late.execute(select(OutboxMessage.id)).all()
        assert put(db) is not None
        assert enqueue(late, recipient="jt@example.org", kind="digest", period="2026-11-05", subject="s",
                       text="t", html=None, now=T0, mail=MAIL) is None
        late.commit()
    assert len(all_rows(db)) == 1


def test_backoff_doubles_up_to_the_cap():
    mail = MailSettings(retry_base=60, retry_cap=1800)
    assert [backoff(n, mail) for n in range(1, 8)] == [60, 120, 240, 480, 960, 1800, 1800]


def write_config(tmp_path: Path, mail: str, db_url: str = "sqlite:///h.sqlite") -> Path:
    path = tmp_path / "huisheng.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n\n[mail]\n{mail}', encoding="utf-8")
    return path


def test_mail_config_with_the_password_from_the_environment(tmp_path):
    path = write_config(tmp_path, 'host = "smtp.example.gov.cn"\nsecurity = "tls"\nuser = "huisheng"\n'
                                  'password_env = "HUISHENG_SMTP_PASSWORD"\nfrom_address = "hs@example.gov.cn"\n'
                                  'duty_address = "zhiban@example.gov.cn"\nlocale = "en"\n')
    mail = mail_from_settings(load_settings(path, environ={"HUISHENG_SMTP_PASSWORD": "pw-123456"}))
    assert (mail.host, mail.effective_port, mail.security, mail.user, mail.password) == (
        "smtp.example.gov.cn", 465, "tls", "huisheng", "pw-123456")
    assert (mail.duty_address, mail.locale, mail.max_attempts, mail.retry_base, mail.retry_cap) == (
        "zhiban@example.gov.cn", "en", 30, 60.0, 3600.0)
    assert mail.enabled and "pw-123456" not in repr(mail)
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    assert "HUISHENG_SMTP_PASSWORD" in str(err.value)


def test_mail_config_errors(tmp_path):
    path = write_config(tmp_path, 'host = "smtp.example.gov.cn"\nsecurity = "ssl"\npassword = "inline"\n'
                                  'duty_address = "not-an-address"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    text = str(err.value)
    assert "mail.security" in text and "\"ssl\"" in text
    assert "mail.password: 密钥不得直接写在配置文件中" in text
    assert "mail.duty_address" in text
    assert "mail.from_address: 配置了 host 时必须填写发件地址" in text


def test_without_a_mail_table_mail_is_off(tmp_path):
    path = tmp_path / "huisheng.toml"
    path.write_text('[database]\nurl = "sqlite:///h.sqlite"\n', encoding="utf-8")
    mail = mail_from_settings(load_settings(path, environ={}))
    assert not mail.enabled and mail.locale == "zh"


def test_outbox_list_and_retry(db, db_url, tmp_path):
    put(db)
    sent = put(db, recipient="c1@example.org")
    failed = put(db, recipient="gone@example.org")
    with db.begin() as session:
        row = session.get(OutboxMessage, sent)
        row.status, row.sent_at, row.attempts = "sent", T0 + timedelta(minutes=1), 1
        row = session.get(OutboxMessage, failed)
        row.status, row.attempts, row.last_error = "failed", 30, "recipient refused: gone@example.org: 550 no"
    path = tmp_path / "huisheng.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(main, ["outbox", "list", "--config", str(path)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith(f"#{failed}  发送失败  digest  gone@example.org  创建 2026-11-05 08:30  尝试 30 次  已放弃")
    assert lines[2] == "    错误：recipient refused: gone@example.org: 550 no"
    assert f"#{sent}  已发送  digest  c1@example.org" in out.output and "发送于 2026-11-05 08:31" in out.output
    assert "待发送  digest  jt@example.org" in out.output and "下次尝试 2026-11-05 08:30" in out.output
    only = runner.invoke(main, ["outbox", "list", "--status", "pending", "--config", str(path)])
    assert only.exit_code == 0 and "jt@example.org" in only.output and "gone@" not in only.output
    again = runner.invoke(main, ["outbox", "retry", str(failed), "--config", str(path)])
    assert again.exit_code == 0 and f"邮件 #{failed} 已重新排队" in again.output
    assert [r.status for r in all_rows(db)] == ["pending", "sent", "pending"]
    twice = runner.invoke(main, ["outbox", "retry", str(failed), "--config", str(path)])
    assert twice.exit_code == 1 and f"没有发送失败的邮件 #{failed}" in twice.output
    off = runner.invoke(main, ["outbox", "send", "--config", str(path)])
    assert off.exit_code == 1 and "未配置邮件服务器" in off.output


def test_a_sender_without_a_server_configured_leaves_the_queue_alone(db):
    from huisheng.clock import FakeClock
    from huisheng.notify.outbox import Sender

    put(db)
    result = Sender(db, FakeClock(T0), MailSettings()).run(T0)
    assert (result.sent, result.retrying, result.failed) == ([], [], [])
    assert [(r.status, r.attempts) for r in all_rows(db)] == [("pending", 0)]
