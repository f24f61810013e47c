"""``huisheng flags …``: list, show and act on flags (需回复)."""

from __future__ import annotations

import difflib
import re
import sys
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huisheng.cli._common import LIMIT, ROW_ID, config_option, fail_cleanly, require_schema
from huisheng.errors import HuishengError
from huisheng.flags import lifecycle
from huisheng.flags.actions import FlagActions
from huisheng.storage.models import Account, Comment, Flag, FlagEvent, Post, Unit
from huisheng.storage.threads import flag_thread
from huisheng.cli.tables import render, text_table
from huisheng.textsafe import json_text, terminal
from huisheng.reports.output import Column
from huisheng.vocabulary import Category, FlagState, Routing


class _Context:
    def __init__(self, config: Path, readonly: bool):
        from huisheng.flags.sla import calendar_from_settings, sla_from_settings
        from huisheng.clock import Clock
        from huisheng.config import load_settings
        from huisheng.storage.db import make_engine, session_factory

        self.settings = load_settings(config)
        require_schema(self.settings.database_url)
        self.engine = make_engine(self.settings.database_url, readonly=readonly)
        self.sessions = session_factory(self.engine)
        self.tz = ZoneInfo(self.settings.timezone)
        self.clock = Clock()
        self.calendar = calendar_from_settings(self.settings)
        self.sla = sla_from_settings(self.settings)
        self.actions = FlagActions(self.calendar, self.sla, self.tz)

    def close(self) -> None:
        self.engine.dispose()

    def local(self, value: datetime | None) -> str:
        return value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") if value else "-"


def _unit(session: Session, key: str) -> Unit:
    found = session.scalars(select(Unit).where((Unit.code == key) | (Unit.name == key))).all()
    if len(found) == 1:
        return found[0]
    if found:
        codes = "、".join(u.code for u in found)
        raise HuishengError(f"「{key}」对应 {len(found)} 个单位（编码 {codes}）：请给出单位编码")
    close = _closest_units(key, session.scalars(select(Unit).where(Unit.enabled.is_(True))).all())
    hint = "；是否要找：" + "、".join(f"{u.name}（{u.code}）" for u in close) if close else ""
    raise HuishengError(f"没有单位「{key}」（请给出单位编码或完整名称）{hint}")


def _closest_units(key: str, units: list[Unit], n: int = 3) -> list[Unit]:
    """The units whose name or code is most like ``key`` (a typo, a short name)."""
    by_label: dict[str, Unit] = {}
    for unit in units:
        by_label.setdefault(unit.name, unit)
        by_label.setdefault(unit.code, unit)
    found: list[Unit] = []
    for label in difflib.get_close_matches(key, list(by_label), n=2 * n, cutoff=0.5):
        if by_label[label] not in found:
            found.append(by_label[label])
    return found[:n]


def _flag(session: Session, flag_id: int) -> Flag:
    flag = session.get(Flag, flag_id)
    if flag is None:
        raise HuishengError(f"没有编号为 {flag_id} 的需回复留言（见 huisheng flags list）")
    return flag


_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                      r"(?:\s*[T ]?\s*(\d{1,2})\s*[:：]\s*(\d{2}))?")


def _local_date(text: str) -> tuple[date, time | None]:
    """A date as district staff type it (2026-12-20, 2026/12/20, 2026年12月20日),
    optionally with a time (16:00)."""
    m = _DATE_RE.fullmatch(text.strip())
    if m:
        year, month, day, hour, minute = (int(g) if g else None for g in m.groups())
        try:
            day_ = date(year, month, day)
            at = time(hour, minute) if hour is not None else None
            if 2000 <= year <= 2999:
                return day_, at
        except ValueError:
            pass
    raise HuishengError(f"日期「{text}」无效：应为 2026-12-20、2026/12/20 或 2026年12月20日，"
                        f"可带时刻，如 2026-12-20 16:00")


@click.group("flags")
def flags_group() -> None:
    """Flags (需回复): what needs an answer, whose it is, its clock."""


@flags_group.command("list")
@click.option("--unit", "unit_key", default=None, help="Unit code or name (its own flags).")
@click.option("--status", type=click.Choice(FlagState.values()), default=None)
@click.option("--category", type=click.Choice(Category.values()), default=None)
@click.option("--overdue", is_flag=True, help="Unanswered past the deadline.")
@click.option("--urgent", is_flag=True)
@click.option("--limit", type=LIMIT, default=200, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@config_option
@fail_cleanly
def list_flags(unit_key, status, category, overdue, urgent, limit, fmt, config: Path) -> None:
    """Flags, newest first."""
    ctx = _Context(config, readonly=True)
    now = ctx.clock.now()
    try:
        with ctx.sessions() as session:
            query = (select(Flag, Unit.name, Account.name, Comment.text)
                     .join(Unit, Unit.id == Flag.unit_id).join(Account, Account.id == Flag.account_id)
                     .join(Comment, Comment.id == Flag.comment_id)
                     .order_by(Flag.started_at.desc(), Flag.id.desc()))
            if unit_key is not None:  # `--unit ''` names no unit: an error, not every flag
                query = query.where(Flag.unit_id == _unit(session, unit_key).id)
            if status:
                query = query.where(Flag.status == status)
            if category:
                query = query.where(Flag.category == category)
            if overdue:
                query = query.where(Flag.status.in_(("open", "acknowledged")), Flag.due_at < now,
                                    Flag.historical.is_(False))
            if urgent:
                query = query.where(Flag.urgent.is_(True))
            rows = session.execute(query.limit(limit)).all()
            total = len(rows)
            if total >= limit:  # cut: count them all, so the listing can say so
                total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    finally:
        ctx.close()
    records = [{"id": f.id, "status": f.status, "category": f.category, "urgent": f.urgent,
                "historical": f.historical, "unit": unit, "account": account, "author": f.author_name,
                "started_at": f.started_at.isoformat(), "due_at": f.due_at.isoformat(),
                "due_uncertain": f.due_uncertain, "overdue": _overdue(f, now),
                "first_reply_at": f.first_reply_at.isoformat() if f.first_reply_at else None,
                "routing": f.routing, "routing_reason": f.routing_reason, "text": text}
               for f, unit, account, text in rows]
    cut = f"共 {total} 条，以下列出 {len(records)} 条（--limit 可调整）" if total > len(records) else None
    if cut and fmt != "table":
        click.echo(cut, err=True)  # stdout stays the data alone
    if fmt == "json":
        click.echo(json_text(records, indent=1))
    elif fmt == "csv":
        sys.stdout.write(_flags_csv(rows, now, ctx.tz))
    else:
        table = [("编号", "状态", "类别", "单位", "期限", "留言")]
        for r, (f, *_rest) in zip(records, rows):
            mark = "⚠" if r["urgent"] else ""
            due = ctx.local(f.due_at) + (" 超期" if r["overdue"] else "") + ("?" if f.due_uncertain else "")
            if f.historical:
                due = HISTORICAL  # no clock: its deadline is only on record
            table.append((str(r["id"]), FlagState.label_of(r["status"]), mark + Category.label_of(r["category"]),
                          r["unit"], due, _excerpt(terminal(r["text"]), 30)))
        if cut:
            click.echo(cut)
        click.echo(text_table(table))
        click.echo(f"{len(records)} 条")


#: ``flags list --format csv``: values as district staff read them, times local with their offset
_CSV_COLUMNS = [
    Column("id", "编号", "id", "int"), Column("status", "状态", "status"), Column("category", "类别", "category"),
    Column("urgent", "紧急", "urgent", "bool"), Column("historical", "历史", "historical", "bool"),
    Column("unit", "单位", "unit"), Column("account", "账号", "account"),
    Column("author", "留言人", "author"), Column("started_at", "留言时间", "written", "datetime"),
    Column("due_at", "期限", "due", "datetime"), Column("due_uncertain", "期限为估算", "due estimated", "bool"),
    Column("overdue", "超期", "overdue", "bool"), Column("first_reply_at", "首次回复", "first reply", "datetime"),
    Column("routing", "分派方式", "routed by"), Column("routing_reason", "分派依据", "routing reason"),
    Column("text", "留言", "comment"),
]


#: what ``flags list`` shows for a historical flag's deadline
HISTORICAL = "历史（不计时）"


def _overdue(flag: Flag, now: datetime) -> bool:
    """Unanswered past its deadline; a historical flag has no clock, so never."""
    return flag.status in ("open", "acknowledged") and not flag.historical and flag.due_at < now


def _flags_csv(rows, now: datetime, tz: ZoneInfo) -> str:
    records = [{"id": f.id, "status": FlagState.label_of(f.status), "category": Category.label_of(f.category),
                "urgent": f.urgent, "historical": f.historical, "unit": unit, "account": account,
                "author": f.author_name, "started_at": f.started_at, "due_at": f.due_at,
                "due_uncertain": f.due_uncertain, "overdue": _overdue(f, now),
                "first_reply_at": f.first_reply_at, "routing": Routing.label_of(f.routing),
                "routing_reason": f.routing_reason, "text": text}
               for f, unit, account, text in rows]
    return render(records, _CSV_COLUMNS, fmt="csv", lang="zh", tz=tz)


def _excerpt(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@flags_group.command("show")
@click.argument("flag_id", type=ROW_ID)
@config_option
@fail_cleanly
def show(flag_id: int, config: Path) -> None:
    """A flag: the text, its thread, the reasons, the routing, the clock, the events."""
    ctx = _Context(config, readonly=True)
    now = ctx.clock.now()
    try:
        with ctx.sessions() as session:
            flag = _flag(session, flag_id)
            comment = session.get(Comment, flag.comment_id)
            post = session.get(Post, flag.post_id)
            unit = session.get(Unit, flag.unit_id)
            account = session.get(Account, flag.account_id)
            thread = flag_thread(session, comment)
            events = session.scalars(select(FlagEvent).where(FlagEvent.flag_id == flag.id)
                                     .order_by(FlagEvent.at, FlagEvent.id)).all()
    finally:
        ctx.close()
    lines = [f"需回复 #{flag.id}  {FlagState.label_of(flag.status)}  {Category.label_of(flag.category)}"
             + ("  【紧急】" if flag.urgent else "") + ("  【历史】" if flag.historical else ""),
             f"单位: {unit.name}    账号: {account.name}",
             f"分派: {Routing.label_of(flag.routing)} — {flag.routing_reason}",
             f"留言: {comment.author_name} @ {ctx.local(comment.created_at)}",
             f"  {comment.text}",
             f"博文: {_excerpt(post.text, 60)}  {post.url or ''}",
             *([f"平台上的办理状态: {post.platform_state}"] if post.platform_state else []),
             f"时钟: 开始 {ctx.local(flag.started_at)}，期限 {ctx.local(flag.due_at)}"
             + ("（期限所在年份的节假日安排未录入，期限按兜底规则估算）" if flag.due_uncertain else "")
             + ("（紧急：按小时计，不分工作时间）" if flag.urgent and not flag.historical else "")]
    if flag.historical:
        lines.append(f"  历史留言：写于账号监测起始（{ctx.local(account.monitoring_start)}）之前，"
                     "仅作记录，不计时、不催办督办、不列入摘要和超期")
    if flag.first_reply_at:
        hours = (flag.reply_seconds or 0) / 3600
        working = (flag.reply_working_seconds or 0) / 3600
        lines.append(f"  首次回复 {ctx.local(flag.first_reply_at)}（{hours:.1f} 小时，工作时间 {working:.1f} 小时）"
                     + ("，线下回复" if flag.replied_offline else ""))
    elif flag.status in ("open", "acknowledged") and not flag.historical:
        if flag.due_at < now:
            lines.append("  已超期")
        elif flag.urgent:
            lines.append(f"  剩余 {(flag.due_at - now).total_seconds() / 3600:.1f} 小时")
        else:
            lines.append(f"  剩余 {ctx.calendar.working_seconds(now, flag.due_at) / 3600:.1f} 工作小时")
    if flag.promised_at:
        lines.append(f"  承诺办结 {ctx.local(flag.promised_at)}")
    if flag.follow_up_of:
        lines.append(f"  追问，前一条: #{flag.follow_up_of}")
    lines.append("判定依据:")
    for reason in flag.reasons:
        span = reason.get("span")
        lines.append(f"  - {reason['rule']} ({reason['kind']})" + (f": 「{span[2]}」" if span else "")
                     + (f" {reason['detail']}" if reason.get("detail") else ""))
    lines.append("对话:")
    for c, ours in thread:
        who = "★" if ours else " "
        mark = "→" if c.id == comment.id else " "
        lines.append(f" {mark}{who}{ctx.local(c.created_at)} {c.author_name}: {_excerpt(c.text, 80)}")
    lines.append("记录:")
    for e in events:
        lines.append(f"  {ctx.local(e.at)} {e.kind} by {e.actor}" + (f" — {e.note}" if e.note else ""))
    # comment texts, names and notes are others' words: one clean line each
    click.echo("\n".join(terminal(line) for line in lines))


def _act(config: Path, flag_id: int, action) -> None:
    """Run ``action(ctx, session, flag, now)`` → (event, message) on one flag and store the event."""
    ctx = _Context(config, readonly=False)
    try:
        with ctx.sessions.begin() as session:
            flag = _flag(session, flag_id)
            step, message = action(ctx, session, flag, ctx.clock.now())
            lifecycle.save(session, flag, step)
    finally:
        ctx.close()
    click.echo(message)


def _flag_command(name: str, *options):
    """A command that acts on one flag: ``FLAG_ID``, its own ``options``, then
    ``--by``, ``--note`` and ``--config``."""
    def wrap(func):
        func = config_option(fail_cleanly(func))
        func = click.option("--note", default="", help="Why (kept in the flag's record).")(func)
        func = click.option("--by", "actor", required=True, help="Who does it (name or staff id).")(func)
        for option in reversed(options):
            func = option(func)
        return flags_group.command(name)(click.argument("flag_id", type=ROW_ID)(func))
    return wrap


@_flag_command("ack")
def ack(flag_id, actor, note, config):
    """受理: acknowledge a flag."""
    _act(config, flag_id, lambda ctx, session, flag, now: (
        ctx.actions.acknowledge(flag, actor=actor, now=now, note=note), f"#{flag.id} 已受理"))


@_flag_command("reply")
def reply(flag_id, actor, note, config):
    """Record a reply made outside the platform (phone, visit): audited, marked offline."""
    if not note.strip():
        raise click.UsageError("记录线下回复须用 --note 说明方式与答复内容")
    _act(config, flag_id, lambda ctx, session, flag, now: (
        ctx.actions.reply_offline(flag, actor=actor, now=now, note=note), f"#{flag.id} 已记录线下回复"))


@_flag_command("resolve")
def resolve(flag_id, actor, note, config):
    """办结: the matter is done."""
    _act(config, flag_id, lambda ctx, session, flag, now: (
        ctx.actions.resolve(flag, actor=actor, now=now, note=note), f"#{flag.id} 已办结"))


@_flag_command("close")
def close(flag_id, actor, note, config):
    """办结销号: close a resolved flag."""
    _act(config, flag_id, lambda ctx, session, flag, now: (
        ctx.actions.close(flag, actor=actor, now=now, note=note), f"#{flag.id} 已销号"))


@_flag_command("dismiss")
def dismiss(flag_id, actor, note, config):
    """Dismiss a flag that needs no answer (the --note is the reason)."""
    _act(config, flag_id, lambda ctx, session, flag, now: (
        ctx.actions.dismiss(flag, actor=actor, now=now, reason=note), f"#{flag.id} 已驳回"))


@_flag_command(
    "promise",
    click.option("--date", "promised", required=True,
                 help="The promised completion date, local: 2026-12-20, 2026/12/20 or 2026年12月20日, "
                      "optionally with a time (16:00); a date alone means the end of office hours."),
    click.option("--extend-reason", default="", help="Needed when the date is beyond the allowed working days."))
def promise(flag_id, promised: str, extend_reason, actor, note, config):
    """办结时间表: promise a completion date for a complaint, plea for help or suggestion."""
    day, at_time = _local_date(promised)

    def action(ctx, session, flag, now):
        at = ctx.actions.promised_at(day, at_time)
        return (ctx.actions.promise(flag, actor=actor, now=now, promised_at=at, note=note,
                                    extension_reason=extend_reason),
                f"#{flag.id} 承诺 {ctx.local(at)} 办结")
    _act(config, flag_id, action)


@_flag_command("reassign", click.option("--to", "to_unit", required=True, help="Unit code or name."))
def reassign(flag_id, to_unit, actor, note, config):
    """Move a flag to the unit that owns it.  Its clock keeps running."""
    def action(ctx, session, flag, now):
        unit = _unit(session, to_unit)
        late = "（超过退回期限）" if now > ctx.actions.return_due(flag) else ""
        return (ctx.actions.reassign(flag, unit, actor=actor, now=now, note=note),
                f"#{flag.id} 改派至 {unit.name}{late}")
    _act(config, flag_id, action)


def register(main: click.Group) -> None:
    main.add_command(flags_group)
