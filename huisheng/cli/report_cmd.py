"""``huisheng report …``: coverage, compliance, overdue and ranking (考评)
reports for auditors.  Read-only: the database is opened read-only (SQLite
``query_only``, a PostgreSQL read-only session) and nothing is written."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from huisheng.cli._common import config_option, fail_cleanly, require_schema
from huisheng.errors import HuishengError
from huisheng.textsafe import json_text
from huisheng.cli.tables import render
from huisheng.reports.output import FORMATS, LANGS, Column, json_rows, render_csv, utc_offset
from huisheng.reports.ranking import MIN_FLAGS, RANKED_LEVELS
from huisheng.reports.tables import (BY_NAMES, COMPLIANCE_COLUMNS, LEVEL_SUMMARY_COLUMNS, OVERDUE_COLUMNS,
                                     RANKING_COLUMNS, compliance_records, compliance_sheets, coverage_columns,
                                     coverage_records, coverage_sheets, in_range, last_complete_month, level_summary,
                                     month_end, overdue_records, overdue_sheets, parse_day, parse_month, period,
                                     period_text, ranking_records, ranking_sheets)


class _Context:
    def __init__(self, config: Path, now: str | None, lang: str | None):
        from huisheng.flags.sla import calendar_from_settings
        from huisheng.clock import Clock
        from huisheng.config import load_settings
        from huisheng.storage.db import make_engine, session_factory

        self.settings = load_settings(config)
        require_schema(self.settings.database_url)
        self.tz = ZoneInfo(self.settings.timezone)
        self.calendar = calendar_from_settings(self.settings)
        self.now = _parse_now(now, self.tz) if now else Clock().now()
        self.lang = lang or (self.settings.extra.get("mail") or {}).get("locale") or "zh"
        if self.lang not in LANGS:
            self.lang = "zh"
        self.engine = make_engine(self.settings.database_url, readonly=True)
        self.sessions = session_factory(self.engine)

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.tz).astimezone(timezone.utc)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    @property
    def offset(self) -> str:
        return utc_offset(self.now.astimezone(self.tz))

    def render(self, records: list[dict[str, Any]], columns: list[Column], fmt: str) -> str:
        return render(records, columns, fmt=fmt, lang=self.lang, tz=self.tz)

    def close(self) -> None:
        self.engine.dispose()


def _parse_now(text: str, tz) -> datetime:
    try:
        value = datetime.fromisoformat(text)
        in_range(value.date(), "--now")
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(timezone.utc)
    except ValueError as exc:
        raise HuishengError(f"--now: 应为 ISO 时间（如 2026-11-02T10:00），实际为 {text!r}") from exc


def _no_data(ctx: "_Context") -> str:
    return "无数据\n" if ctx.lang == "zh" else "no data\n"


def _common(func):
    func = click.option("--lang", type=click.Choice(LANGS), default=None,
                        help="Language of headers and values (default: the mail locale, else zh).")(func)
    func = click.option("--now", "now", default=None, hidden=True,
                        help="Report as of this instant (ISO; local time if naive).")(func)
    return func


@click.group("report")
def report_group() -> None:
    """Read-only reports for auditors (coverage, compliance, overdue, ranking)."""


def _history(func):
    return click.option("--include-history", "include_history", is_flag=True,
                        help="Count historical flags (written before their account's monitoring start) "
                             "in the figures too.")(func)


@report_group.command("coverage")
@click.option("--by", type=click.Choice(tuple(BY_NAMES)), default="unit", show_default=True)
@click.option("--from", "start", default=None,
              help="First local day (YYYY-MM-DD) of the comments counted (default: the first of the month).")
@click.option("--to", "end", default=None,
              help="Last local day, inclusive (default: the end of --from's month, or today after --from).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_history
@_common
@config_option
@fail_cleanly
def coverage_cmd(by, start, end, fmt, include_history, now, lang, config: Path) -> None:
    """Reply coverage of the comments written between two days (cohorts by the
    comment's own time); without --from/--to, the current month."""
    from huisheng.reports.coverage import coverage
    from huisheng.reports.stats import EXACT_LIMIT

    ctx = _Context(config, now, lang)
    try:
        first, last = period(start, end, ctx.today)
        with ctx.sessions() as session:
            rows = coverage(session, by=by, start=ctx.midnight(first), end=ctx.midnight(last + timedelta(days=1)),
                            calendar=ctx.calendar, now=ctx.now, include_history=include_history)
    finally:
        ctx.close()
    zh = ctx.lang == "zh"
    records = coverage_records(rows, first, last, by, ctx.lang)
    columns = coverage_columns(by, fmt)
    if fmt == "json":
        click.echo(ctx.render(records, columns, fmt), nl=False)
        return
    if fmt == "csv":
        click.echo(render_csv(coverage_sheets(records, by), lang=ctx.lang, tz=ctx.tz), nl=False)
        return
    span = period_text(first, last, ctx.offset, zh)
    history = (("历史留言计入各项" if include_history else "历史留言（监测开始前所写）不计入分母，单列于“历史”")
               if zh else ("historical flags counted in" if include_history else
                           "historical flags (written before monitoring began) outside the denominators"))
    click.echo(f"{span}所写留言中的需回复，按{BY_NAMES[by][0]}统计（{history}；已驳回不计入分母，线下回复不计为"
               f"回复；已回复逾 {EXACT_LIMIT} 条时首次回复用时取自直方图，误差在一个分桶内）" if zh else
               f"flags of comments written {span}, by {by} ({history}; dismissed flags are outside the "
               f"denominators, an offline reply is not a reply; over {EXACT_LIMIT} replies, first-reply times "
               f"come from a histogram)")
    click.echo(ctx.render(records, columns, fmt) if records else _no_data(ctx), nl=False)


@report_group.command("compliance")
@click.option("--at", "at", default=None, help="The check's day (YYYY-MM-DD; default today): "
              "the N days before it are looked at.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_history
@_common
@config_option
@fail_cleanly
def compliance_cmd(at, fmt, include_history, now, lang, config: Path) -> None:
    """Per account: 14-day single veto, 10-day warning, no interaction, stale flags;
    accounts huisheng could not read are not judged (无法读取)."""
    from huisheng.reports.compliance import check_instant, compliance, compliance_from_settings

    ctx = _Context(config, now, lang)
    rules = compliance_from_settings(ctx.settings)
    try:
        day = parse_day(at, "--at") if at else ctx.today
        with ctx.sessions() as session:
            rows = compliance(session, at=check_instant(day, ctx.tz), rules=rules, tz=ctx.tz,
                              include_history=include_history)
    finally:
        ctx.close()
    zh = ctx.lang == "zh"
    records = compliance_records(rows, day, ctx.lang)
    summary = level_summary(rows, ctx.lang)
    if fmt == "json":
        columns = COMPLIANCE_COLUMNS[:-1] + [Column("unreadable_error", "", "unreadable error"),
                                             Column("never_read", "", "never read", "bool")]
        click.echo(json_text({"at": day.isoformat(), "inactive_days": rules.inactive_days,
                              "warning_days": rules.warning_days, "stale_days": rules.stale_days,
                              "accounts": json_rows(records, columns, ctx.tz), "levels": summary}, indent=1))
        return
    if fmt == "csv":
        click.echo(render_csv(compliance_sheets(records, summary, day), lang=ctx.lang, tz=ctx.tz), nl=False)
        return
    title = (f"检查日 {day.isoformat()}（UTC{ctx.offset}，当日零时检查）：{rules.inactive_days} 天无原创为单项否决，"
             f"{rules.warning_days} 天预警；超过 {rules.stale_days} 天未回复为长期未回复"
             f"{'（含历史留言）' if include_history else ''}；无法读取的账号（从未读取成功，或检查时读取失败）不作判定"
             if zh else
             f"check day {day.isoformat()} (UTC{ctx.offset}, checked at midnight): {rules.inactive_days} days "
             f"without an original post fail (veto), {rules.warning_days} warn; unanswered over {rules.stale_days} "
             f"days is stale{' (historical flags included)' if include_history else ''}; accounts huisheng could "
             f"not read (never read, or failing at the check) are not judged")
    if not records:
        click.echo(title + "\n\n" + _no_data(ctx), nl=False)
        return
    click.echo(title + "\n\n" + ctx.render(records, COMPLIANCE_COLUMNS, fmt) + "\n"
               + ctx.render(summary, LEVEL_SUMMARY_COLUMNS, fmt), nl=False)


@report_group.command("overdue")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_common
@config_option
@fail_cleanly
def overdue_cmd(fmt, now, lang, config: Path) -> None:
    """Unanswered flags past their deadline, with their ladder step (督办).
    Historical flags have no deadline and are not listed."""
    from huisheng.reports.overdue import overdue

    ctx = _Context(config, now, lang)
    try:
        with ctx.sessions() as session:
            rows = overdue(session, now=ctx.now, calendar=ctx.calendar)
    finally:
        ctx.close()
    zh = ctx.lang == "zh"
    records = overdue_records(rows, ctx.now, ctx.lang, fmt)
    if fmt == "json":
        click.echo(ctx.render(records, OVERDUE_COLUMNS + [Column("urgent", "紧急", "urgent", "bool")], fmt), nl=False)
    elif fmt == "csv":
        click.echo(render_csv(overdue_sheets(records), lang=ctx.lang, tz=ctx.tz), nl=False)
    else:
        as_of = ctx.now.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M") + ctx.offset
        click.echo(f"截至 {as_of} 超期未回复的需回复（历史留言不计）" if zh
                   else f"flags unanswered past their deadline as of {as_of} (historical flags not listed)")
        click.echo(ctx.render(records, OVERDUE_COLUMNS, fmt) if records else _no_data(ctx), nl=False)


@report_group.command("ranking")
@click.option("--period", type=click.Choice(("month",)), default="month", show_default=True)
@click.option("--month", "month", default=None, help="YYYY-MM (default: the last complete month).")
@click.option("--level", type=click.Choice(RANKED_LEVELS), default=None,
              help="Rank this level's units (default: each level, ranked within itself).")
@click.option("--min-flags", "min_flags", type=click.IntRange(1, 1_000_000), default=MIN_FLAGS, show_default=True,
              help="Fewer flags than this in the month: listed, not ranked.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_history
@_common
@config_option
@fail_cleanly
def ranking_cmd(period, month, level, min_flags, fmt, include_history, now, lang, config: Path) -> None:
    """Units ranked within their level by on-time coverage, then median
    first-reply working time (考评)."""
    from huisheng.reports.ranking import ranking

    ctx = _Context(config, now, lang)
    try:
        first = parse_month(month, "--month") if month else last_complete_month(ctx.today)
        last = month_end(first)
        with ctx.sessions() as session:
            ranked = ranking(session, start=ctx.midnight(first), end=ctx.midnight(last + timedelta(days=1)),
                             calendar=ctx.calendar, now=ctx.now, level=level, min_flags=min_flags,
                             include_history=include_history)
    finally:
        ctx.close()
    zh = ctx.lang == "zh"
    records = ranking_records(ranked, first, last, min_flags, ctx.lang)
    if fmt == "json":
        click.echo(ctx.render(records, RANKING_COLUMNS, fmt), nl=False)
    elif fmt == "csv":
        click.echo(render_csv(ranking_sheets(records), lang=ctx.lang, tz=ctx.tz), nl=False)
    else:
        click.echo(f"{first.strftime('%Y-%m')}（UTC{ctx.offset}）考评排名：各层级单位分别排名，先比按时回复率（高者在前），"
                   f"再比首次回复用时中位数(工作小时)（短者在前）；需回复少于 {min_flags} 条的单位列于其后，不排名"
                   f"{'；历史留言计入' if include_history else ''}" if zh else
                   f"{first.strftime('%Y-%m')} (UTC{ctx.offset}) ranking within each level by on-time coverage, then "
                   f"median first-reply working time; units with fewer than {min_flags} flags listed after, "
                   f"unranked{'; historical flags counted' if include_history else ''}")
        click.echo(ctx.render(records, RANKING_COLUMNS, fmt) if records else _no_data(ctx), nl=False)


def register(main: click.Group) -> None:
    main.add_command(report_group)
