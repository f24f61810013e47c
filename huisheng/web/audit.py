"""考评: the auditors' pages.  Coverage by unit (a drill-down from the district
to a street and its communities), level, category, account and month, with
charts; compliance; overdue; ranking; source health.  Each page calls the
functions ``huisheng report …`` calls and builds its tables with
:mod:`huisheng.reports.tables`, so the page, its CSV and XLSX exports and the
CLI say the same.

Auditors and district administrators see the district; a unit administrator
sees their units and those under them, and a ``unit`` outside that is "not
found".  These pages only read: they hold no action form."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from huisheng.errors import HuishengError, error_kind_name
from huisheng.storage.models import Account, Unit
from huisheng.storage.threads import STAYS_UNREADABLE, unread_threads
from huisheng.notify.render import clean, excerpt, safe_url
from huisheng.reports.compliance import check_instant, compliance, compliance_from_settings
from huisheng.reports.coverage import GROUPINGS, coverage as coverage_rows
from huisheng.reports.output import Column, Sheet, cell_text, render_csv, render_xlsx
from huisheng.reports.overdue import STEPS, overdue as overdue_rows
from huisheng.reports.ranking import MIN_FLAGS, RANKED_LEVELS, ranking as ranking_rows
from huisheng.reports.tables import (BY_NAMES, COMPLIANCE_COLUMNS, COVERAGE_COLUMNS, LEVEL_SUMMARY_COLUMNS,
                                     OVERDUE_COLUMNS, RANKING_COLUMNS, compliance_records, compliance_sheets,
                                     coverage_columns, coverage_records, coverage_sheets, last_complete_month,
                                     level_summary, month_end, overdue_records, overdue_sheets, parse_day,
                                     parse_month, period, period_text, ranking_records, ranking_sheets)
from huisheng.web import charts
from huisheng.web.context import context, db, t

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGES = ("coverage", "compliance", "overdue", "ranking", "health")
#: the query parameters the pages read (links carry these on, nothing else)
PARAMETERS = ("unit", "by", "from", "to", "month", "history", "at", "level", "min_flags", "step", "page")
#: overdue flags listed on one page (the export has them all)
PAGE_SIZE = 200
TREND_MONTHS = 12
MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

HEALTH_COLUMNS = [
    Column("account", "账号", "account"), Column("unit", "单位", "unit"), Column("state", "状态", "state"),
    Column("error_kind", "错误类型", "error"), Column("error_message", "错误信息", "message"),
    Column("since", "起始", "since", "datetime"), Column("errors", "连续出错", "errors in a row", "int"),
    Column("last_success_at", "最近成功", "last success", "datetime"),
    Column("next_check_at", "下次检查", "next check", "datetime"),
]
THREAD_COLUMNS = [
    Column("account", "账号", "account"), Column("post", "帖子", "post"), Column("what", "范围", "what"),
    Column("reason", "原因", "reason"), Column("since", "起始", "since", "datetime"),
    Column("over_a_day", "一天以上", "over a day", "bool"),
    Column("retry_at", "下次重试", "next retry", "datetime"), Column("attempts", "连续次数", "in a row", "int"),
]
AS_OF = Column("as_of", "统计时间", "as of", "datetime")


# -- the unit tree and what the user may see -------------------------------------------


@dataclass(frozen=True)
class Node:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None


@dataclass
class Tree:
    nodes: dict[int, Node]
    children: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Tree:
        nodes = {r.id: Node(r.id, r.code, r.name, r.level, r.parent_id)
                 for r in db().execute(select(Unit.id, Unit.code, Unit.name, Unit.level, Unit.parent_id))}
        tree = cls(nodes)
        for node in sorted(nodes.values(), key=lambda n: n.code):
            if node.parent_id in nodes:
                tree.children.setdefault(node.parent_id, []).append(node.id)
        return tree

    def subtree(self, unit_id: int) -> set[int]:
        seen, stack = set(), [unit_id]
        while stack:
            unit = stack.pop()
            if unit not in seen:
                seen.add(unit)
                stack.extend(self.children.get(unit, ()))
        return seen

    def tops(self, scope: set[int] | None) -> list[int]:
        """The visible units whose parent is not visible."""
        return [n.id for n in sorted(self.nodes.values(), key=lambda n: n.code)
                if (scope is None or n.id in scope) and (n.parent_id is None or n.parent_id not in self.nodes
                                                         or (scope is not None and n.parent_id not in scope))]

    def ordered(self, scope: set[int] | None) -> list[tuple[Node, int]]:
        """Visible units depth first, with their depth."""
        out: list[tuple[Node, int]] = []
        stack = [(unit, 0) for unit in reversed(self.tops(scope))]
        while stack:
            unit, depth = stack.pop()
            out.append((self.nodes[unit], depth))
            stack.extend((child, depth + 1) for child in reversed(self.children.get(unit, ())))
        return out

    def path(self, unit_id: int, scope: set[int] | None) -> list[Node]:
        """From the top of what the user sees down to ``unit_id``."""
        out = []
        node: Node | None = self.nodes[unit_id]
        while node is not None and (scope is None or node.id in scope):
            out.append(node)
            node = self.nodes.get(node.parent_id) if node.parent_id is not None else None
        return out[::-1]


@dataclass
class View:
    """What every audit page starts from: the user's units, the chosen unit."""

    tree: Tree
    #: the chosen unit (``?unit=``), None: everything the user sees
    unit: int | None
    #: unit ids the figures are restricted to; None: the whole district
    units: set[int] | None
    lang: str
    tz: Any
    now: datetime
    export: str | None

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.tz).astimezone(timezone.utc)

    def local(self, value: datetime) -> str:
        return value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")


def _view(export: str | None) -> View:
    ctx = context()
    tree = Tree.load()
    unit = None
    raw = request.args.get("unit", "")
    if raw:
        # another unit's figures are as hidden as its flags: not found, like a flag's page
        if not raw.isdigit() or len(raw) > 9 or int(raw) not in tree.nodes:
            abort(404)
        unit = int(raw)
        if g.scope is not None and unit not in g.scope:
            abort(404)
    units = tree.subtree(unit) if unit is not None else g.scope
    return View(tree, unit, units, g.get("locale", "zh"), ctx.tz, ctx.clock.now(), export)


def _flag_history() -> bool:
    return request.args.get("history") == "1"


def _bad_input(view: View, exc: HuishengError) -> None:
    """A typing slip: an export refuses it, a page says so and shows the default."""
    if view.export:
        abort(400)
    flash(str(exc), "error")


# -- tables as the pages show them ------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    href: str | None = None
    num: bool = False


@dataclass
class Table:
    title: str
    headers: list[tuple[str, bool]]
    rows: list[tuple[str, list[Cell]]]


_NUMERIC = ("int", "ratio", "hours", "float")


def _table(view: View, title: str, records: Iterable[Mapping[str, Any]], columns: list[Column], *,
           links: Mapping[str, Callable[[Mapping[str, Any]], str | None]] | None = None,
           texts: Mapping[str, Callable[[Any], str]] | None = None,
           row_class: Callable[[Mapping[str, Any]], str] | None = None) -> Table:
    links, texts = links or {}, texts or {}
    rows = []
    for record in records:
        cells = []
        for c in columns:
            value = record.get(c.key)
            if c.key in texts and value is not None:
                text = texts[c.key](value)
            else:
                text = cell_text(value, c, lang=view.lang, tz=view.tz)
                if c.kind == "text":
                    text = clean(text)
            link = links.get(c.key)
            cells.append(Cell(text, link(record) if link else None, c.kind in _NUMERIC))
        rows.append((row_class(record) if row_class else "", cells))
    return Table(title, [(c.zh if view.lang == "zh" else c.en, c.kind in _NUMERIC) for c in columns], rows)


def _page(view: View, name: str, *, sheets: list[Sheet], stem: str, **values: Any):
    """The page, or its tables as a CSV or XLSX file."""
    if view.export:
        body: str | bytes
        if view.export == "xlsx":
            body = render_xlsx(sheets, lang=view.lang, tz=view.tz)
        else:
            body = render_csv(sheets, lang=view.lang, tz=view.tz).encode("utf-8")
        response = Response(body, mimetype=MIMETYPES[view.export])
        response.headers["Content-Disposition"] = f'attachment; filename="huisheng-{stem}.{view.export}"'
        return response
    units = [(node, depth) for node, depth in view.tree.ordered(g.scope)]
    path = view.tree.path(view.unit, g.scope) if view.unit is not None else []
    return render_template(f"audit/{name}.html", page=name, pages=PAGES, view=view, unit_choices=units,
                           path=path, link=link, **values)


def link(export: str | None = None, **changes: Any) -> str:
    """This page (or its export) with the current choices and ``changes`` (None drops one)."""
    args = {k: v for k, v in request.args.items() if k in PARAMETERS}
    args.update(changes)
    query = urlencode({k: v for k, v in args.items() if v not in (None, "")})
    return url_for(request.endpoint, export=export) + (f"?{query}" if query else "")


# -- pages ------------------------------------------------------------------------------


@bp.get("/")
def index():
    return redirect(url_for("audit.coverage"))


def _months_back(today: date, n: int) -> date:
    first = today.replace(day=1)
    for _ in range(n - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def _coverage_period(view: View, by: str) -> tuple[date, date]:
    args = request.args
    month, start, end = args.get("month", ""), args.get("from", ""), args.get("to", "")
    try:
        if month:
            first = parse_month(month, t("month"))
            return first, month_end(first)
        if by == "month" and not start and not end:  # a trend needs more than one month
            return _months_back(view.today, TREND_MONTHS), month_end(view.today)
        return period(start or None, end or None, view.today, names=(t("period_from"), t("period_to")))
    except HuishengError as exc:
        _bad_input(view, exc)
        return view.today.replace(day=1), month_end(view.today)


@bp.get("/coverage", defaults={"export": None})
@bp.get("/coverage.<any(csv, xlsx):export>")
def coverage(export: str | None):
    view = _view(export)
    ctx = context()
    by = request.args.get("by", "unit")
    by = by if by in GROUPINGS else "unit"
    history = _flag_history()
    first, last = _coverage_period(view, by)
    options = dict(start=view.midnight(first), end=view.midnight(last + timedelta(days=1)),
                   calendar=ctx.actions.calendar, now=view.now, include_history=history)
    zh = view.lang == "zh"
    drill: int | None = None
    children: list[int] = []
    if by == "unit":
        # the chosen unit (or the one unit at the top) on its own, then each unit under it with everything
        # under that: one query, the cost of `report coverage --by unit`
        tops = view.tree.tops(g.scope)
        drill = view.unit if view.unit is not None else (tops[0] if len(tops) == 1 else None)
        children = view.tree.children.get(drill, []) if drill is not None else tops
        roll_up = {unit: child for child in children for unit in view.tree.subtree(child)}
        rows = coverage_rows(db(), by="unit", units=view.units, roll_up=roll_up,
                             total=drill is None or bool(children), **options)
    else:
        rows = coverage_rows(db(), by=by, units=view.units, total=by != "district", **options)
    records = coverage_records(rows, first, last, by, view.lang)
    if by == "unit":  # the unit drilled into first, then those under it
        records.sort(key=lambda r: r["ref_id"] != drill or drill is None)
    for record in records:
        ref = record["ref_id"]
        if record["key"] == "total" and record["ref_id"] is None:
            record["key"] = ""
            record["label"] = t("total")
        elif by == "unit" and ref == drill and children:
            record["label"] += f"（{t('own')}）" if zh else f" ({t('own')})"
        elif by == "unit" and ref in view.tree.children:
            record["label"] += f"（{t('with_subs')}）" if zh else f" ({t('with_subs')})"
    sheets = coverage_sheets(records, by)
    if export:
        return _page(view, "coverage", sheets=sheets, stem=f"coverage-{by}-{first}-{last}")

    def drill_link(record) -> str | None:
        ref = record.get("ref_id")
        if by == "unit" and ref is not None and ref != drill and ref in view.tree.children:
            return link(unit=ref)
        return None

    heads = {c.key: c.zh if zh else c.en for c in COVERAGE_COLUMNS}
    names = (heads["coverage"], heads["on_time_coverage"], heads["flags"])
    figures = [r for r in records if r["key"] != ""]
    items = [charts.Item(r["label"], r["coverage"], r["on_time_coverage"], r["flags"], drill_link(r))
             for r in figures]
    title = f"{t('audit_coverage')} · {BY_NAMES[by][0] if zh else BY_NAMES[by][1]}"
    chart = charts.trend(items, names, title) if by == "month" else charts.bars(items, names, title)
    table = _table(view, title, records, coverage_columns(by),
                   links={"label": drill_link},
                   row_class=lambda r: "total" if r["key"] == "" else "")
    note = t("coverage_note", period=period_text(first, last, _offset(view), zh),
             by=BY_NAMES[by][0] if zh else BY_NAMES[by][1], history=t("history_in" if history else "history_out"))
    trend_link = (url_for("audit.coverage", by="month", unit=view.unit, history="1" if history else None)
                  if by != "month" else None)
    return _page(view, "coverage", sheets=sheets, stem="", table=table, chart=chart, note=note, by=by,
                 groupings=GROUPINGS, by_names=BY_NAMES, first=first, last=last, history=history,
                 drill=any(child in view.tree.children for child in children), trend_link=trend_link,
                 month_links=_month_links(view))


def _offset(view: View) -> str:
    from huisheng.reports.output import utc_offset

    return utc_offset(view.now.astimezone(view.tz))


def _month_links(view: View) -> list[tuple[str, dict[str, str]]]:
    this = view.today.replace(day=1)
    return [(t("this_month"), {"month": this.strftime("%Y-%m")}),
            (t("last_month"), {"month": last_complete_month(view.today).strftime("%Y-%m")}),
            (t("last_12"), {"from": _months_back(view.today, TREND_MONTHS).isoformat(),
                            "to": month_end(view.today).isoformat()})]


@bp.get("/compliance", defaults={"export": None}, endpoint="compliance")
@bp.get("/compliance.<any(csv, xlsx):export>", endpoint="compliance")
def compliance_page(export: str | None):
    view = _view(export)
    rules = compliance_from_settings(context().settings)
    history = _flag_history()
    day = view.today
    if request.args.get("at"):
        try:
            day = parse_day(request.args["at"], t("check_day"))
        except HuishengError as exc:
            _bad_input(view, exc)
    rows = compliance(db(), at=check_instant(day, view.tz), rules=rules, tz=view.tz, include_history=history)
    if view.units is not None:
        rows = [r for r in rows if r.unit_id in view.units]
    records = compliance_records(rows, day, view.lang)
    summary = level_summary(rows, view.lang)
    sheets = compliance_sheets(records, summary, day)
    if export:
        return _page(view, "compliance", sheets=sheets, stem=f"compliance-{day}")

    def state(record) -> str:
        if record["unreadable"]:
            return "unreadable"
        return "veto" if record["inactive"] else "warn" if record["warning"] else ""

    tables = [_table(view, t("audit_compliance"), records, COMPLIANCE_COLUMNS, row_class=state),
              _table(view, t("level"), summary, LEVEL_SUMMARY_COLUMNS)]
    note = t("compliance_note", day=day.isoformat(), veto=rules.inactive_days, warn=rules.warning_days,
             stale=rules.stale_days)
    return _page(view, "compliance", sheets=sheets, stem="", tables=tables, note=note, day=day, history=history)


@bp.get("/overdue", defaults={"export": None}, endpoint="overdue")
@bp.get("/overdue.<any(csv, xlsx):export>", endpoint="overdue")
def overdue_page(export: str | None):
    view = _view(export)
    rows = overdue_rows(db(), now=view.now, calendar=context().actions.calendar, unit_ids=view.units)
    step = request.args.get("step", "")
    if step in STEPS:  # e.g. only those publicly noticed (通报)
        rows = [r for r in rows if r.step == step]
    records = overdue_records(rows, view.now, view.lang, "csv")
    sheets = overdue_sheets(records)
    if export:
        return _page(view, "overdue", sheets=sheets, stem=f"overdue-{view.today}")
    pages = max(1, -(-len(records) // PAGE_SIZE))
    number = request.args.get("page", "1")
    page = min(max(1, int(number) if number.isdigit() and len(number) < 6 else 1), pages)
    shown = records[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    table = _table(view, t("audit_overdue"), shown, OVERDUE_COLUMNS,
                   links={"flag_id": lambda r: url_for("flag.show", flag_id=r["flag_id"])},
                   texts={"text": lambda text: excerpt(text, 60), "author": clean})
    note = t("overdue_note", time=view.local(view.now) + _offset(view))
    return _page(view, "overdue", sheets=sheets, stem="", table=table, note=note, page_number=page, pages_total=pages,
                 total=len(records), step=step, steps=STEPS)


@bp.get("/ranking", defaults={"export": None}, endpoint="ranking")
@bp.get("/ranking.<any(csv, xlsx):export>", endpoint="ranking")
def ranking_page(export: str | None):
    view = _view(export)
    args = request.args
    history = _flag_history()
    first = last_complete_month(view.today)
    if args.get("month"):
        try:
            first = parse_month(args["month"], t("month"))
        except HuishengError as exc:
            _bad_input(view, exc)
    last = month_end(first)
    level = args.get("level") if args.get("level") in RANKED_LEVELS else None
    raw = args.get("min_flags", "")
    min_flags = min(int(raw), 1_000_000) if raw.isdigit() and 0 < len(raw) < 9 and int(raw) > 0 else MIN_FLAGS
    ranked = ranking_rows(db(), start=view.midnight(first), end=view.midnight(last + timedelta(days=1)),
                          calendar=context().actions.calendar, now=view.now, level=level, min_flags=min_flags,
                          include_history=history)
    # ranks are the district's: a unit administrator sees where their own units stand, nobody else's figures
    if view.units is not None:
        ranked = [r for r in ranked if r.row.ref_id in view.units]
    records = ranking_records(ranked, first, last, min_flags, view.lang)
    sheets = ranking_sheets(records)
    if export:
        return _page(view, "ranking", sheets=sheets, stem=f"ranking-{first.strftime('%Y-%m')}")
    table = _table(view, t("audit_ranking"), records, RANKING_COLUMNS,
                   row_class=lambda r: "" if r["rank"] else "unranked")
    note = t("ranking_note", month=first.strftime("%Y-%m"), min=min_flags)
    return _page(view, "ranking", sheets=sheets, stem="", table=table, note=note, month=first, level=level,
                 levels=RANKED_LEVELS, min_flags=min_flags, history=history)


@bp.get("/health", defaults={"export": None}, endpoint="health")
@bp.get("/health.<any(csv, xlsx):export>", endpoint="health")
def health_page(export: str | None):
    view = _view(export)
    session = db()
    query = (select(Account, Unit.name, Unit.level).join(Unit, Unit.id == Account.unit_id)
             .where(Account.enabled.is_(True)).order_by(Account.consecutive_errors.desc(), Unit.code, Account.name))
    if view.units is not None:
        query = query.where(Account.unit_id.in_(view.units))
    accounts = session.execute(query).all()
    records = []
    for account, unit, _level in accounts:
        never = account.first_success_at is None
        if not never and not account.consecutive_errors:
            continue
        records.append({
            "account": account.name, "unit": unit, "state": t("never_read" if never else "failing"),
            "error_kind": error_kind_name(account.last_error_kind, view.lang) if account.last_error_kind else None,
            "error_message": account.last_error_message if account.consecutive_errors else None,
            "since": account.failing_since or (account.created_at if never else None),
            "errors": account.consecutive_errors, "last_success_at": account.last_success_at,
            "next_check_at": account.next_check_at, "as_of": view.now, "never_read": never})
    threads = unread_threads(session, account_ids=None if view.units is None else [a.id for a, *_ in accounts])
    thread_records = [{
        "account": th.account, "post": th.post_url or th.post_external_id,
        "what": t("thread_replies", author=clean(th.comment_author or "")) if th.kind == "replies"
        else t("thread_comments"),
        "reason": th.describe(view.lang), "since": th.since, "over_a_day": th.since <= view.now - STAYS_UNREADABLE,
        "retry_at": th.retry_at, "attempts": th.attempts, "as_of": view.now} for th in threads]
    sheets = [Sheet("账号", "accounts", records, [AS_OF] + HEALTH_COLUMNS),
              Sheet("未读全的帖子", "threads", thread_records, [AS_OF] + THREAD_COLUMNS)]
    if export:
        return _page(view, "health", sheets=sheets, stem=f"health-{view.today}")
    never = sum(1 for r in records if r["never_read"])
    tables = [_table(view, t("failing_accounts"), records, HEALTH_COLUMNS,
                     row_class=lambda r: "unreadable" if r["never_read"] else "veto"),
              _table(view, t("unread_threads"), thread_records, THREAD_COLUMNS,
                     links={"post": lambda r: safe_url(r["post"])},
                     row_class=lambda r: "warn" if r["over_a_day"] else "")]
    note = t("health_note", time=view.local(view.now) + _offset(view), failing=len(records) - never, never=never,
             threads=len(thread_records))
    return _page(view, "health", sheets=sheets, stem="", tables=tables, note=note)

