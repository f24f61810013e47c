"""``huisheng report …``: coverage, compliance, overdue and ranking (考评)
reports for auditors.  Read-only: the database is opened read-only (SQLite
``query_only``, a PostgreSQL read-only session) and nothing is written."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from huisheng.cli._common import config_option, fail_cleanly, require_schema
from huisheng.errors import HuishengError
from huisheng.flags.lifecycle import CATEGORY_NAMES
from huisheng.reports.output import FORMATS, LANGS, Column, render

COVERAGE_COLUMNS = [
    Column("key", "键", "key"), Column("label", "名称", "name"),
    Column("flags", "需回复", "flags", "int"), Column("replied", "已回复", "replied", "int"),
    Column("coverage", "回复率", "coverage", "ratio"), Column("on_time", "按期回复", "on time", "int"),
    Column("on_time_coverage", "按期回复率", "on-time coverage", "ratio"),
    Column("frt_median_hours", "首次回复中位(小时)", "first reply median (h)", "hours"),
    Column("frt_p90_hours", "首次回复P90(小时)", "first reply p90 (h)", "hours"),
    Column("frt_median_working_hours", "首次回复中位(工时)", "first reply median (working h)", "hours"),
    Column("frt_p90_working_hours", "首次回复P90(工时)", "first reply p90 (working h)", "hours"),
    Column("overdue_open", "超期未回复", "open overdue", "int"),
    Column("dismissed", "已驳回", "dismissed", "int"), Column("offline", "线下办理", "handled offline", "int"),
]
COMPLIANCE_COLUMNS = [
    Column("level", "层级", "level"), Column("unit_name", "单位", "unit"), Column("name", "账号", "account"),
    Column("uid", "UID", "uid"), Column("last_post_at", "最近原创", "last original post", "datetime"),
    Column("days_since_post", "距今天数", "days since", "int"),
    Column("inactive", "单项否决(未更新)", "inactive (veto)", "bool"),
    Column("warning", "预警", "warning", "bool"),
    Column("recent_posts", "近期原创", "recent posts", "int"),
    Column("closed_posts", "关闭评论", "comments closed", "int"),
    Column("no_interaction", "无互动", "no interaction", "bool"),
    Column("stale_flags", "超3个月未回复", "unanswered > 3 months", "int"),
]
LEVEL_SUMMARY_COLUMNS = [
    Column("level", "层级", "level"), Column("accounts", "账号数", "accounts", "int"),
    Column("inactive", "单项否决", "inactive (veto)", "int"), Column("warning", "预警", "warning", "int"),
    Column("no_interaction", "无互动", "no interaction", "int"),
    Column("stale_flags", "超3个月未回复", "unanswered > 3 months", "int"),
]
OVERDUE_COLUMNS = [
    Column("flag_id", "编号", "flag", "int"), Column("unit", "单位", "unit"), Column("account", "账号", "account"),
    Column("category", "类别", "category"), Column("author", "留言人", "author"),
    Column("started_at", "留言时间", "written", "datetime"), Column("due_at", "期限", "due", "datetime"),
    Column("overdue_working_days", "超期(工作日)", "overdue (working days)", "float"),
    Column("step", "督办", "ladder step"), Column("text", "留言", "comment"),
]
BY_NAMES = {"unit": "单位", "level": "层级", "account": "账号", "category": "类别", "month": "月份",
            "district": "全区"}
RANKING_COLUMNS = [Column("rank", "名次", "rank", "int")] + COVERAGE_COLUMNS[:8] + COVERAGE_COLUMNS[9:10] \
    + [COVERAGE_COLUMNS[11]]


class _Context:
    def __init__(self, config: Path, now: str | None, lang: str | None):
        from huisheng.flags.sla import calendar_from_settings
        from huisheng.monitor.clock import Clock
        from huisheng.monitor.config import load_settings
        from huisheng.monitor.db import make_engine, session_factory

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

    def close(self) -> None:
        self.engine.dispose()


def _parse_now(text: str, tz) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise HuishengError(f"--now: 应为 ISO 时间（如 2026-11-02T10:00），实际为 {text!r}") from exc
    return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(timezone.utc)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise HuishengError(f"{option}: 应为 YYYY-MM-DD 格式的日期，实际为 {text!r}") from exc


def _common(func):
    func = click.option("--lang", type=click.Choice(LANGS), default=None,
                        help="Header language (default: the mail locale, else zh).")(func)
    func = click.option("--now", "now", default=None, hidden=True,
                        help="Report as of this instant (ISO; local time if naive).")(func)
    return func


@click.group("report")
def report_group() -> None:
    """Read-only reports for auditors (coverage, compliance, overdue, ranking)."""


@report_group.command("coverage")
@click.option("--by", type=click.Choice(("unit", "level", "account", "category", "month", "district")),
              default="unit", show_default=True)
@click.option("--from", "start", required=True, help="First local day (YYYY-MM-DD) of the flag cohort.")
@click.option("--to", "end", required=True, help="Last local day (inclusive).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_common
@config_option
@fail_cleanly
def coverage_cmd(by, start, end, fmt, now, lang, config: Path) -> None:
    """Reply coverage of the flags created between two days (cohorts by creation time)."""
    from huisheng.reports.coverage import coverage
    from huisheng.reports.stats import EXACT_LIMIT

    first, last = _day(start, "--from"), _day(end, "--to")
    if last < first:
        raise HuishengError("--to 早于 --from")
    ctx = _Context(config, now, lang)
    try:
        with ctx.sessions() as session:
            rows = coverage(session, by=by, start=ctx.midnight(first), end=ctx.midnight(last + timedelta(days=1)),
                            calendar=ctx.calendar, now=ctx.now)
    finally:
        ctx.close()
    if fmt == "table":
        click.echo(f"{first.isoformat()} 至 {last.isoformat()} 创建的需回复（按{BY_NAMES[by]}；已驳回不计入分母，"
                   f"线下办理不计为回复；回复逾 {EXACT_LIMIT} 条时首次回复时间取自直方图，误差在一个分桶内）" if ctx.lang == "zh" else
                   f"flags created {first.isoformat()} … {last.isoformat()}, by {by} (dismissed flags are outside "
                   f"the denominators, offline handling is not a reply; over {EXACT_LIMIT} replies, first-reply "
                   f"times come from a histogram)")
    click.echo(render([asdict(r) for r in rows], COVERAGE_COLUMNS, fmt=fmt, lang=ctx.lang, tz=ctx.tz), nl=False)


@report_group.command("compliance")
@click.option("--at", "at", default=None, help="The check's day (YYYY-MM-DD; default today): "
              "the N days before it are looked at.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_common
@config_option
@fail_cleanly
def compliance_cmd(at, fmt, now, lang, config: Path) -> None:
    """Per account: 14-day single veto, 10-day warning, no interaction, flags unanswered > 3 months."""
    from huisheng.reports.compliance import compliance, compliance_from_settings
    from huisheng.reports.coverage import LEVEL_NAMES, LEVEL_ORDER

    ctx = _Context(config, now, lang)
    day = _day(at, "--at") if at else ctx.now.astimezone(ctx.tz).date()
    rules = compliance_from_settings(ctx.settings)
    try:
        with ctx.sessions() as session:
            rows = compliance(session, at=ctx.midnight(day), rules=rules, tz=ctx.tz)
    finally:
        ctx.close()
    zh = ctx.lang == "zh"
    records = [{**asdict(r), "level": LEVEL_NAMES.get(r.level, r.level) if zh else r.level} for r in rows]
    summary = []
    for level in LEVEL_ORDER:
        group = [r for r in rows if r.level == level]
        if group:
            summary.append({"level": LEVEL_NAMES[level] if zh else level, "accounts": len(group),
                            "inactive": sum(r.inactive for r in group), "warning": sum(r.warning for r in group),
                            "no_interaction": sum(r.no_interaction for r in group),
                            "stale_flags": sum(r.stale_flags for r in group)})
    if fmt == "json":
        click.echo(json.dumps({"at": day.isoformat(), "inactive_days": rules.inactive_days,
                               "warning_days": rules.warning_days,
                               "accounts": json.loads(render(records, COMPLIANCE_COLUMNS, fmt="json", tz=ctx.tz)),
                               "levels": summary}, ensure_ascii=False, indent=1))
        return
    accounts = render(records, COMPLIANCE_COLUMNS, fmt=fmt, lang=ctx.lang, tz=ctx.tz)
    levels = render(summary, LEVEL_SUMMARY_COLUMNS, fmt=fmt, lang=ctx.lang, tz=ctx.tz)
    if fmt == "csv":
        click.echo(accounts + "\r\n" + levels.removeprefix("\ufeff"), nl=False)
        return
    title = (f"检查日 {day.isoformat()}：{rules.inactive_days} 天无原创为单项否决，{rules.warning_days} 天预警"
             if zh else f"check day {day.isoformat()}: {rules.inactive_days} days without an original post "
                        f"fail, {rules.warning_days} warn")
    click.echo(title + "\n\n" + accounts + "\n" + levels, nl=False)


@report_group.command("overdue")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_common
@config_option
@fail_cleanly
def overdue_cmd(fmt, now, lang, config: Path) -> None:
    """Unanswered flags past their deadline, with their ladder step (督办)."""
    from huisheng.reports.overdue import STEP_NAMES, overdue

    ctx = _Context(config, now, lang)
    try:
        with ctx.sessions() as session:
            rows = overdue(session, now=ctx.now, calendar=ctx.calendar)
    finally:
        ctx.close()
    zh = ctx.lang == "zh"
    records = []
    for r in rows:
        record = asdict(r)
        if fmt != "json":
            record["step"] = STEP_NAMES[r.step] if zh else r.step
            record["category"] = (CATEGORY_NAMES.get(r.category, r.category) if zh else r.category) \
                + ("⚠" if r.urgent else "")
            record["text"] = r.text if len(r.text) <= 40 or fmt == "csv" else r.text[:39] + "…"
        records.append(record)
    click.echo(render(records, OVERDUE_COLUMNS + ([Column("urgent", "紧急", "urgent", "bool")]
                                                  if fmt == "json" else []),
                      fmt=fmt, lang=ctx.lang, tz=ctx.tz), nl=False)


@report_group.command("ranking")
@click.option("--period", type=click.Choice(("month",)), default="month", show_default=True)
@click.option("--month", "month", default=None, help="YYYY-MM (default: the last complete month).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_common
@config_option
@fail_cleanly
def ranking_cmd(period, month, fmt, now, lang, config: Path) -> None:
    """Units ranked by on-time coverage, then median first-reply working time (考评)."""
    from huisheng.reports.ranking import ranking

    ctx = _Context(config, now, lang)
    if month:
        try:
            first = datetime.strptime(month, "%Y-%m").date()
        except ValueError as exc:
            raise HuishengError(f"--month: 应为 YYYY-MM，实际为 {month!r}") from exc
    else:
        first = (ctx.now.astimezone(ctx.tz).date().replace(day=1) - timedelta(days=1)).replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    try:
        with ctx.sessions() as session:
            ranked = ranking(session, start=ctx.midnight(first), end=ctx.midnight(after), calendar=ctx.calendar,
                             now=ctx.now)
    finally:
        ctx.close()
    records = [{"rank": r.rank, **asdict(r.row)} for r in ranked]
    if fmt == "table":
        click.echo(f"{first.strftime('%Y-%m')} " + ("考评排名（按期回复率，其次首次回复中位工时）" if ctx.lang == "zh"
                                                    else "ranking (on-time coverage, then median working hours)"))
    click.echo(render(records, RANKING_COLUMNS, fmt=fmt, lang=ctx.lang, tz=ctx.tz), nl=False)


def register(main: click.Group) -> None:
    main.add_command(report_group)
