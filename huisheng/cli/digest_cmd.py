"""``huisheng digest preview|send``: look at an administrator's digest, or queue
today's digests now."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from huisheng.cli._common import config_option, fail_cleanly, require_schema
from huisheng.errors import HuishengError

STATUS_NAMES = {"queued": "已加入发件队列", "duplicate": "今日已发送过", "empty": "无内容，不发送",
                "dry-run": "将发送（演练）"}


def _job(config: Path, readonly: bool):
    from huisheng.clock import Clock
    from huisheng.config import load_settings
    from huisheng.storage.db import make_engine, session_factory
    from huisheng.notify.digest import DigestJob

    settings = load_settings(config)
    require_schema(settings.database_url)
    engine = make_engine(settings.database_url, readonly=readonly)
    return engine, DigestJob(session_factory(engine), Clock(), settings)


#: the years a digest can be computed for (the working-day calendar's lunar
#: dates end in 2099, and a digest looks working days ahead)
FIRST_YEAR, LAST_YEAR = 2000, 2098


def _at(text: str | None, tz: str, now: datetime) -> datetime:
    if text is None:
        return now
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HuishengError(f"--at: expected an ISO date-time such as 2026-11-05T08:30, got {text!r}") from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise HuishengError(f"--at: 应在 {FIRST_YEAR} 年至 {LAST_YEAR} 年之间，实际为 {text!r}")
    if value.tzinfo is None:  # a wall-clock time in the district's zone
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value


def register(main: click.Group) -> None:
    @main.group("digest")
    def digest() -> None:
        """每日摘要 the administrators' daily digest e-mail."""

    @digest.command("preview")
    @click.option("--admin", "admin", required=True, metavar="EMAIL", help="The administrator's e-mail address.")
    @click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Also write the HTML part to this file.")
    @click.option("--at", "at", default=None, metavar="ISO",
                  help="As of this time (default now; without a zone: the district's local time).")
    @config_option
    @fail_cleanly
    def preview(admin: str, html_path: Path | None, at: str | None, config: Path) -> None:
        """Render ADMIN's digest without sending it: prints the subject and the text part."""
        engine, job = _job(config, readonly=True)
        try:
            rendered = job.preview(admin, _at(at, job.settings.timezone, job.clock.now()))
        finally:
            engine.dispose()
        if rendered is None:
            raise HuishengError(f"{admin} administers no enabled unit or account (see the matrix's admins)")
        click.echo(f"Subject: {rendered.subject}\n")
        click.echo(rendered.text, nl=False)
        if html_path is not None:
            html_path.write_text(rendered.html, encoding="utf-8")
            click.echo(f"\nHTML written to {html_path}", err=True)

    @digest.command("send")
    @click.option("--dry-run", is_flag=True, help="List who would get what; queue nothing.")
    @config_option
    @fail_cleanly
    def send(dry_run: bool, config: Path) -> None:
        """Queue today's digests now (whatever the schedule says); the sender job
        delivers them.  A digest already queued today is not queued again."""
        engine, job = _job(config, readonly=dry_run)
        if not dry_run and not job.mail.enabled:
            engine.dispose()
            raise HuishengError("no mail server configured ([mail] host): digests would only wait in the "
                                "outbox; configure [mail] first, or use --dry-run")
        try:
            outcomes = job.send(job.clock.now(), dry_run=dry_run)
        finally:
            engine.dispose()
        for outcome in outcomes:
            click.echo(f"{STATUS_NAMES[outcome.status]}\t{outcome.recipient}\t{outcome.subject}")
        counts = {status: sum(o.status == status for o in outcomes) for status in STATUS_NAMES}
        click.echo(" · ".join(f"{STATUS_NAMES[s]} {n}" for s, n in counts.items() if n) or "no administrators "
                   "in the matrix (add admins = [...] to units or accounts)")
