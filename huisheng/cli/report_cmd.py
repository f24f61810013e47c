"""``huisheng report …``: coverage, compliance, overdue and ranking (考评)
reports for auditors.  Read-only: the database is opened read-only (SQLite
``query_only``, a PostgreSQL read-only session) and nothing is written."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from huisheng.cli._common import config_option, fail_cleanly, require_schema
from huisheng.errors import HuishengError, error_kind_name
from huisheng.flags.lifecycle import CATEGORY_NAMES
from huisheng.monitor.textsafe import json_text, terminal
from huisheng.reports.output import FORMATS, LANGS, Column, json_rows, render, utc_offset
from huisheng.reports.ranking import MIN_FLAGS, RANKED_LEVELS

# One term for one figure, in every report, table and CSV (and the README):
# 需回复 flags · 已回复 replied · 回复率 coverage · 按时回复 on time · 按时回复率
# on-time coverage · 首次回复用时 first-reply time · 超期未回复 open overdue ·
# 已驳回 dismissed · 线下回复 offline · 历史 historical · 长期未回复 stale ·
# 单项否决 veto · 预警 warning · 无互动 no interaction · 无法读取 unreadable.
PERIOD_COLUMNS = [Column("period_from", "统计起始日", "period from", "date"),
                  Column("period_to", "统计截止日", "period to", "date")]
COVERAGE_COLUMNS = [
    Column("key", "键", "key"), Column("label", "名称", "name"),
    Column("flags", "需回复", "flags", "int"), Column("replied", "已回复", "replied", "int"),
    Column("coverage", "回复率", "coverage", "ratio"), Column("on_time", "按时回复", "on time", "int"),
    Column("on_time_coverage", "按时回复率", "on-time coverage", "ratio"),
    Column("frt_median_hours", "首次回复用时中位数(小时)", "first-reply time median (h)", "hours"),
    Column("frt_p90_hours", "首次回复用时P90(小时)", "first-reply time p90 (h)", "hours"),
    Column("frt_median_working_hours", "首次回复用时中位数(工作小时)", "first-reply time median (working h)",
           "hours"),
    Column("frt_p90_working_hours", "首次回复用时P90(工作小时)", "first-reply time p90 (working h)", "hours"),
    Column("overdue_open", "超期未回复", "open overdue", "int"),
    Column("dismissed", "已驳回", "dismissed", "int"), Column("offline", "线下回复", "offline", "int"),
    Column("historical", "历史", "historical", "int"),
]
COMPLIANCE_COLUMNS = [
    Column("level", "层级", "level"), Column("unit_name", "单位", "unit"), Column("name", "账号", "account"),
    Column("uid", "UID", "uid"), Column("last_post_at", "最近原创", "last original post", "datetime"),
    Column("days_since_post", "距今天数", "days since", "int"),
    Column("inactive", "单项否决", "veto", "bool"),
    Column("warning", "预警", "warning", "bool"),
    Column("recent_posts", "近期原创", "recent posts", "int"),
    Column("closed_posts", "关闭评论", "comments closed", "int"),
    Column("no_interaction", "无互动", "no interaction", "bool"),
    Column("stale_flags", "长期未回复", "stale", "int"),
    Column("unreadable", "无法读取", "unreadable", "bool"),
    Column("unreadable_since", "无法读取起始", "unreadable since", "datetime"),
    Column("unreadable_reason", "无法读取原因", "unreadable because"),
]
LEVEL_SUMMARY_COLUMNS = [
    Column("level", "层级", "level"), Column("accounts", "账号数", "accounts", "int"),
    Column("inactive", "单项否决", "veto", "int"), Column("warning", "预警", "warning", "int"),
    Column("no_interaction", "无互动", "no interaction", "int"),
    Column("unreadable", "无法读取", "unreadable", "int"),
    Column("stale_flags", "长期未回复", "stale", "int"),
]
OVERDUE_COLUMNS = [
    Column("flag_id", "编号", "flag", "int"), Column("unit", "单位", "unit"), Column("account", "账号", "account"),
    Column("category", "类别", "category"), Column("author", "留言人", "author"),
    Column("started_at", "留言时间", "written", "datetime"), Column("due_at", "期限", "due", "datetime"),
    Column("overdue_working_days", "超期(工作日)", "overdue (working days)", "float"),
    Column("step", "督办进度", "ladder step"), Column("text", "留言", "comment"),
]
BY_NAMES = {"unit": ("单位", "unit"), "level": ("层级", "level"), "account": ("账号", "account"),
            "category": ("类别", "category"), "month": ("月份", "month"), "district": ("全区", "district")}
#: groupings whose key is a word, not a code: tables and CSV show only its name
_WORD_KEYS = ("level", "category", "district")
RANKING_COLUMNS = [Column("level", "层级", "level"), Column("rank", "名次", "rank", "int")] \
    + COVERAGE_COLUMNS[:8] + COVERAGE_COLUMNS[9:10] + [COVERAGE_COLUMNS[11], Column("note", "说明", "note")]
#: dates a report accepts (a day beyond them is a typing slip, and overflows date arithmetic)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


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
        _in_range(value.date(), "--now")
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(timezone.utc)
    except ValueError as exc:
        raise HuishengError(f"--now: 应为 ISO 时间（如 2026-11-02T10:00），实际为 {text!r}") from exc


def _day(text: str, option: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise HuishengError(f"{option}: 应为 YYYY-MM-DD 格式的日期，实际为 {text!r}") from exc
    return _in_range(day, option)


def _in_range(day: date, option: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise HuishengError(f"{option}: 日期应在 {FIRST_DAY} 至 {LAST_DAY} 之间，实际为 {day}")
    return day


def _month_end(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """[first, last] local days: both given; ``--from`` alone runs to today; ``--to``
    alone starts on the first of its month; neither is the current month."""
    first = _day(start, "--from") if start else None
    last = _day(end, "--to") if end else None
    if first is None:
        first = (last or today).replace(day=1)
    if last is None:
        last = today if start and first <= today else _month_end(first)
    if last < first:
        raise HuishengError("--to 早于 --from")
    return first, last


def _period_text(first: date, last: date, tz_offset: str, zh: bool) -> str:
    return (f"{first.isoformat()} 至 {last.isoformat()}（UTC{tz_offset}）" if zh
            else f"{first.isoformat()} to {last.isoformat()} (UTC{tz_offset})")


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
        first, last = _period(start, end, ctx.today)
        with ctx.sessions() as session:
            rows = coverage(session, by=by, start=ctx.midnight(first), end=ctx.midnight(last + timedelta(days=1)),
                            calendar=ctx.calendar, now=ctx.now, include_history=include_history)
    finally:
        ctx.close()
    zh = ctx.lang == "zh"
    records = [{**asdict(r), "period_from": first, "period_to": last} for r in rows]
    columns = COVERAGE_COLUMNS[1:] if by in _WORD_KEYS and fmt != "json" else COVERAGE_COLUMNS
    if fmt == "json":
        click.echo(ctx.render(records, columns, fmt), nl=False)
        return
    if fmt == "csv":
        click.echo(ctx.render(records, PERIOD_COLUMNS + columns, fmt), nl=False)
        return
    period = _period_text(first, last, ctx.offset, zh)
    history = (("历史留言计入各项" if include_history else "历史留言（监测开始前所写）不计入分母，单列于“历史”")
               if zh else ("historical flags counted in" if include_history else
                           "historical flags (written before monitoring began) outside the denominators"))
    click.echo(f"{period}所写留言中的需回复，按{BY_NAMES[by][0]}统计（{history}；已驳回不计入分母，线下回复不计为"
               f"回复；已回复逾 {EXACT_LIMIT} 条时首次回复用时取自直方图，误差在一个分桶内）" if zh else
               f"flags of comments written {period}, by {by} ({history}; dismissed flags are outside the "
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
    from huisheng.reports.coverage import LEVEL_NAMES, LEVEL_ORDER

    ctx = _Context(config, now, lang)
    rules = compliance_from_settings(ctx.settings)
    try:
        day = _day(at, "--at") if at else ctx.today
        with ctx.sessions() as session:
            rows = compliance(session, at=check_instant(day, ctx.tz), rules=rules, tz=ctx.tz,
                              include_history=include_history)
    finally:
        ctx.close()
    zh = ctx.lang == "zh"
    records = []
    for r in rows:
        record = {**asdict(r), "level": LEVEL_NAMES.get(r.level, r.level) if zh else r.level, "check_day": day}
        if r.unreadable:  # not judged: neither passed nor failed
            record.update(inactive=None, warning=None, no_interaction=None)
            reason = error_kind_name(r.unreadable_error, ctx.lang) if r.unreadable_error else None
            if r.never_read:
                reason = ("从未读取成功" if zh else "never read") + (f"（{reason}）" if zh and reason else
                                                                   f" ({reason})" if reason else "")
            record["unreadable_reason"] = reason
        records.append(record)
    summary = []
    for level in LEVEL_ORDER:
        group = [r for r in rows if r.level == level]
        if group:
            summary.append({"level": LEVEL_NAMES[level] if zh else level, "accounts": len(group),
                            "inactive": sum(r.inactive for r in group), "warning": sum(r.warning for r in group),
                            "no_interaction": sum(r.no_interaction for r in group),
                            "unreadable": sum(r.unreadable for r in group),
                            "stale_flags": sum(r.stale_flags for r in group)})
    if fmt == "json":
        columns = COMPLIANCE_COLUMNS[:-1] + [Column("unreadable_error", "", "unreadable error"),
                                             Column("never_read", "", "never read", "bool")]
        click.echo(json_text({"at": day.isoformat(), "inactive_days": rules.inactive_days,
                              "warning_days": rules.warning_days, "stale_days": rules.stale_days,
                              "accounts": json_rows(records, columns, ctx.tz), "levels": summary}, indent=1))
        return
    if fmt == "csv":
        check = [Column("check_day", "检查日", "check day", "date")]
        accounts = ctx.render(records, check + COMPLIANCE_COLUMNS, fmt)
        levels = ctx.render([{**s, "check_day": day} for s in summary], check + LEVEL_SUMMARY_COLUMNS, fmt)
        click.echo(accounts + "\r\n" + levels.removeprefix("\ufeff"), nl=False)
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
        record = {**asdict(r), "as_of": ctx.now}
        if fmt != "json":
            record["step"] = STEP_NAMES[r.step] if zh else r.step
            record["category"] = (CATEGORY_NAMES.get(r.category, r.category) if zh else r.category) \
                + ("⚠" if r.urgent else "")
            if fmt == "table":  # cut after cleaning, so no escape sequence is cut in two
                text = terminal(r.text)
                record["text"] = text if len(text) <= 40 else text[:39] + "…"
        records.append(record)
    if fmt == "json":
        click.echo(ctx.render(records, OVERDUE_COLUMNS + [Column("urgent", "紧急", "urgent", "bool")], fmt), nl=False)
    elif fmt == "csv":
        click.echo(ctx.render(records, [Column("as_of", "统计时间", "as of", "datetime")] + OVERDUE_COLUMNS, fmt),
                   nl=False)
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
    from huisheng.reports.coverage import LEVEL_NAMES
    from huisheng.reports.ranking import ranking

    ctx = _Context(config, now, lang)
    try:
        if month:
            try:
                first = datetime.strptime(month, "%Y-%m").date()
            except ValueError as exc:
                raise HuishengError(f"--month: 应为 YYYY-MM，实际为 {month!r}") from exc
            _in_range(first, "--month")
        else:
            first = (ctx.today.replace(day=1) - timedelta(days=1)).replace(day=1)
        last = _month_end(first)
        with ctx.sessions() as session:
            ranked = ranking(session, start=ctx.midnight(first), end=ctx.midnight(last + timedelta(days=1)),
                             calendar=ctx.calendar, now=ctx.now, level=level, min_flags=min_flags,
                             include_history=include_history)
    finally:
        ctx.close()
    zh = ctx.lang == "zh"
    unranked = f"需回复少于 {min_flags} 条，不排名" if zh else f"fewer than {min_flags} flags: not ranked"
    records = [{**asdict(r.row), "rank": r.rank, "level": LEVEL_NAMES.get(r.level, r.level) if zh else r.level,
                "note": None if r.rank else unranked, "period_from": first, "period_to": last} for r in ranked]
    if fmt == "json":
        click.echo(ctx.render(records, RANKING_COLUMNS, fmt), nl=False)
    elif fmt == "csv":
        click.echo(ctx.render(records, PERIOD_COLUMNS + RANKING_COLUMNS, fmt), nl=False)
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
