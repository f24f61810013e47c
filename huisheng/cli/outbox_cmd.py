"""``huisheng outbox …``: what mail is waiting, gone or given up; retry and send now."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from huisheng.cli._common import LIMIT, ROW_ID, config_option, fail_cleanly, require_schema
from huisheng.errors import HuishengError

STATUSES = ("pending", "failed", "sent")
STATUS_NAMES = {"pending": "待发送", "failed": "发送失败", "sent": "已发送"}


def _open(config: Path):
    from huisheng.config import load_settings
    from huisheng.storage.db import make_engine, session_factory

    settings = load_settings(config)
    require_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    return settings, engine, session_factory(engine)


def _one_line(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def register(main: click.Group) -> None:
    @main.group("outbox")
    def outbox_group() -> None:
        """E-mail outbox: queued, sent and failed messages."""

    @outbox_group.command("list")
    @config_option
    @click.option("--status", type=click.Choice(STATUSES), default=None,
                  help="Only messages in this state (default: all).")
    @click.option("--limit", type=LIMIT, default=50, show_default=True, help="Newest messages shown at most.")
    @fail_cleanly
    def list_cmd(config: Path, status: str | None, limit: int) -> None:
        """List messages, newest first."""
        from huisheng.storage.models import OutboxMessage

        settings, engine, sessions = _open(config)
        tz = ZoneInfo(settings.timezone)
        try:
            query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            if status:
                query = query.where(OutboxMessage.status == status)
            with sessions() as session:
                rows = session.scalars(query.limit(limit)).all()
        finally:
            engine.dispose()
        if not rows:
            click.echo("发件箱为空" if status is None else f"没有{STATUS_NAMES[status]}的邮件")
            return

        def local(at) -> str:
            return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at else "-"

        for row in rows:
            when = (f"发送于 {local(row.sent_at)}" if row.status == "sent"
                    else f"下次尝试 {local(row.next_attempt_at)}" if row.status == "pending" else "已放弃")
            click.echo(f"#{row.id}  {STATUS_NAMES.get(row.status, row.status)}  {row.kind}  {row.recipient}  "
                       f"创建 {local(row.created_at)}  尝试 {row.attempts} 次  {when}")
            click.echo(f"    {_one_line(row.subject, 100)}")
            if row.last_error and row.status != "sent":
                click.echo(f"    错误：{_one_line(row.last_error, 200)}")

    @outbox_group.command("retry")
    @config_option
    @click.argument("message_id", type=ROW_ID)
    @fail_cleanly
    def retry_cmd(config: Path, message_id: int) -> None:
        """Queue a failed message again (its attempts start over)."""
        from huisheng.clock import Clock
        from huisheng.notify.outbox import retry

        _, engine, sessions = _open(config)
        try:
            with sessions.begin() as session:
                row = retry(session, message_id, Clock().now())
        finally:
            engine.dispose()
        if row is None:
            raise HuishengError(f"没有发送失败的邮件 #{message_id}")
        click.echo(f"邮件 #{message_id} 已重新排队，将在下一次发送时投递")

    @outbox_group.command("send")
    @config_option
    @fail_cleanly
    def send_cmd(config: Path) -> None:
        """Deliver the messages that are due now (the daemon does this every minute)."""
        from huisheng.clock import Clock
        from huisheng.notify.mail import mail_from_settings
        from huisheng.notify.outbox import Sender

        settings, engine, sessions = _open(config)
        mail = mail_from_settings(settings)
        if not mail.enabled:
            engine.dispose()
            raise HuishengError("未配置邮件服务器：请在配置文件的 [mail] 表中填写 host 和 from_address")
        try:
            result = Sender(sessions, Clock(), mail).run()
        finally:
            engine.dispose()
        click.echo(f"已发送 {len(result.sent)} 封，待重试 {len(result.retrying)} 封，放弃 {len(result.failed)} 封")
        if not result.sent and (result.retrying or result.failed):
            raise HuishengError("没有一封邮件发送成功：原因见 huisheng outbox list（连接邮件服务器失败的会按退避时间重试）")
