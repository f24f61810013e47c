"""What each report's tables hold: the columns (one term per figure), the
records built from the report functions' rows, the periods they cover and the
sheets of their CSV and XLSX exports.  ``huisheng report …`` and the
workbench's audit pages both build their tables here, so a figure reads the
same in the terminal, on the page and in the exported file."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from huisheng.errors import HuishengError, error_kind_name
from huisheng.textsafe import terminal
from huisheng.reports.compliance import AccountCompliance
from huisheng.reports.coverage import CoverageRow
from huisheng.reports.output import Column, Sheet
from huisheng.reports.overdue import OverdueFlag
from huisheng.reports.ranking import RankedUnit
from huisheng.vocabulary import Category, LadderStep, UnitLevel

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
CHECK_COLUMN = Column("check_day", "检查日", "check day", "date")
AS_OF_COLUMN = Column("as_of", "统计时间", "as of", "datetime")
BY_NAMES = {"unit": ("单位", "unit"), "level": ("层级", "level"), "account": ("账号", "account"),
            "category": ("类别", "category"), "month": ("月份", "month"), "district": ("全区", "district")}
#: groupings whose key is a word, not a code: tables and CSV show only its name
WORD_KEYS = ("level", "category", "district")
RANKING_COLUMNS = [Column("level", "层级", "level"), Column("rank", "名次", "rank", "int")] \
    + COVERAGE_COLUMNS[:8] + COVERAGE_COLUMNS[9:10] + [COVERAGE_COLUMNS[11], Column("note", "说明", "note")]
#: dates a report accepts (a day beyond them is a typing slip, and overflows date arithmetic)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


# -- periods ---------------------------------------------------------------------------


def parse_day(text: str, option: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise HuishengError(f"{option}: 应为 YYYY-MM-DD 格式的日期，实际为 {text!r}") from exc
    return in_range(day, option)


def parse_month(text: str, option: str) -> date:
    """The first day of the month ``YYYY-MM``."""
    try:
        first = datetime.strptime(text, "%Y-%m").date()
    except ValueError as exc:
        raise HuishengError(f"{option}: 应为 YYYY-MM，实际为 {text!r}") from exc
    return in_range(first, option)


def in_range(day: date, option: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise HuishengError(f"{option}: 日期应在 {FIRST_DAY} 至 {LAST_DAY} 之间，实际为 {day}")
    return day


def month_end(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def last_complete_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def period(start: str | None, end: str | None, today: date, names: tuple[str, str] = ("--from", "--to")
           ) -> tuple[date, date]:
    """[first, last] local days: both given; ``start`` alone runs to today; ``end``
    alone starts on the first of its month; neither is the current month.
    ``names`` name the two in an error."""
    first = parse_day(start, names[0]) if start else None
    last = parse_day(end, names[1]) if end else None
    if first is None:
        first = (last or today).replace(day=1)
    if last is None:
        last = today if start and first <= today else month_end(first)
    if last < first:
        raise HuishengError(f"{names[1]} 早于 {names[0]}")
    return first, last


def period_text(first: date, last: date, tz_offset: str, zh: bool) -> str:
    return (f"{first.isoformat()} 至 {last.isoformat()}（UTC{tz_offset}）" if zh
            else f"{first.isoformat()} to {last.isoformat()} (UTC{tz_offset})")


# -- records ---------------------------------------------------------------------------


def coverage_columns(by: str, fmt: str = "table") -> list[Column]:
    """A word key (level, category, district) shows only its name, except in JSON."""
    return COVERAGE_COLUMNS[1:] if by in WORD_KEYS and fmt != "json" else COVERAGE_COLUMNS


def coverage_records(rows: Iterable[CoverageRow], first: date, last: date, by: str, lang: str
                     ) -> list[dict[str, Any]]:
    """In English a word key (level, category, district) is named by itself, as other reports do."""
    records = [{**asdict(r), "period_from": first, "period_to": last} for r in rows]
    if lang != "zh" and by in WORD_KEYS:
        for record in records:
            record["label"] = record["key"]
    return records


def coverage_sheets(records: list[dict[str, Any]], by: str) -> list[Sheet]:
    return [Sheet("回复率", "coverage", records, PERIOD_COLUMNS + coverage_columns(by, "csv"))]


def compliance_records(rows: Iterable[AccountCompliance], day: date, lang: str) -> list[dict[str, Any]]:
    """An unreadable account is not judged: neither passed nor failed, with why."""
    zh = lang == "zh"
    records = []
    for r in rows:
        record = {**asdict(r), "level": UnitLevel.label_of(r.level) if zh else r.level, "check_day": day}
        if r.unreadable:
            record.update(inactive=None, warning=None, no_interaction=None)
            reason = error_kind_name(r.unreadable_error, lang) if r.unreadable_error else None
            if r.never_read:
                reason = ("从未读取成功" if zh else "never read") + (f"（{reason}）" if zh and reason else
                                                                   f" ({reason})" if reason else "")
            record["unreadable_reason"] = reason
        records.append(record)
    return records


def level_summary(rows: list[AccountCompliance], lang: str) -> list[dict[str, Any]]:
    summary = []
    for level in UnitLevel.values():
        group = [r for r in rows if r.level == level]
        if group:
            summary.append({"level": UnitLevel.label_of(level) if lang == "zh" else level, "accounts": len(group),
                            "inactive": sum(r.inactive for r in group), "warning": sum(r.warning for r in group),
                            "no_interaction": sum(r.no_interaction for r in group),
                            "unreadable": sum(r.unreadable for r in group),
                            "stale_flags": sum(r.stale_flags for r in group)})
    return summary


def compliance_sheets(records: list[dict[str, Any]], summary: list[dict[str, Any]], day: date) -> list[Sheet]:
    return [Sheet("账号", "accounts", records, [CHECK_COLUMN] + COMPLIANCE_COLUMNS),
            Sheet("层级汇总", "levels", [{**s, "check_day": day} for s in summary],
                  [CHECK_COLUMN] + LEVEL_SUMMARY_COLUMNS)]


def overdue_records(rows: Iterable[OverdueFlag], as_of: datetime, lang: str, fmt: str) -> list[dict[str, Any]]:
    """Steps and categories in words (JSON keeps the codes); a table cuts the
    text after cleaning it, so no escape sequence is cut in two."""
    zh = lang == "zh"
    records = []
    for r in rows:
        record = {**asdict(r), "as_of": as_of}
        if fmt != "json":
            record["step"] = LadderStep.label_of(r.step) if zh else r.step
            record["category"] = (Category.label_of(r.category) if zh else r.category) \
                + ("⚠" if r.urgent else "")
            if fmt == "table":
                text = terminal(r.text)
                record["text"] = text if len(text) <= 40 else text[:39] + "…"
        records.append(record)
    return records


def overdue_sheets(records: list[dict[str, Any]]) -> list[Sheet]:
    return [Sheet("超期未回复", "overdue", records, [AS_OF_COLUMN] + OVERDUE_COLUMNS)]


def unranked_note(min_flags: int, lang: str) -> str:
    return f"需回复少于 {min_flags} 条，不排名" if lang == "zh" else f"fewer than {min_flags} flags: not ranked"


def ranking_records(ranked: Iterable[RankedUnit], first: date, last: date, min_flags: int, lang: str
                    ) -> list[dict[str, Any]]:
    zh = lang == "zh"
    return [{**asdict(r.row), "rank": r.rank, "level": UnitLevel.label_of(r.level) if zh else r.level,
             "note": None if r.rank else unranked_note(min_flags, lang), "period_from": first, "period_to": last}
            for r in ranked]


def ranking_sheets(records: list[dict[str, Any]]) -> list[Sheet]:
    return [Sheet("考评排名", "ranking", records, PERIOD_COLUMNS + RANKING_COLUMNS)]
