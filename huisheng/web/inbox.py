"""我的待办: the signed-in user's flags, urgent first, then overdue, due soon,
new, and those in progress; filters, text search, counts per section, and
pages of :data:`PAGE_SIZE` so a unit with ten thousand open flags still gets
its page at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, g, render_template, request
from sqlalchemy import and_, case, func, or_, select

from huisheng.storage.models import Account, Comment, Flag, Unit
from huisheng.vocabulary import Category
from huisheng.web.context import context, db

bp = Blueprint("inbox", __name__)

PAGE_SIZE = 50
SECTIONS = ("urgent", "overdue", "soon", "new", "doing")
#: states that still need something from the unit
ACTIVE = ("open", "acknowledged", "replied", "resolved")
UNANSWERED = ("open", "acknowledged")


@dataclass(frozen=True)
class Filters:
    section: str = ""
    account: int | None = None
    category: str = ""
    state: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args) -> Filters:
        def number(name: str) -> int | None:
            value = args.get(name, "")
            return int(value) if value.isdigit() and len(value) < 10 else None

        section = args.get("section", "")
        category = args.get("category", "")
        state = args.get("state", "")
        return cls(section=section if section in SECTIONS else "",
                   account=number("account"), category=category if category in Category.values() else "",
                   state=state if state in ACTIVE else "", q=args.get("q", "").strip()[:100],
                   page=max(1, min(number("page") or 1, 10_000)))


def section_of(now: datetime, soon: datetime):
    """The SQL expression naming a flag's inbox section."""
    unanswered = Flag.status.in_(UNANSWERED)
    return case(
        (and_(Flag.urgent.is_(True), unanswered), "urgent"),
        (and_(unanswered, Flag.due_at < now), "overdue"),
        (and_(unanswered, Flag.due_at < soon), "soon"),
        (Flag.status == "open", "new"),
        else_="doing")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def inbox_query(scope: set[int] | None, filters: Filters, now: datetime, soon: datetime):
    """(the query of a page of rows, given its limit and offset; the counts query)
    for the user's scope and filters."""
    section = section_of(now, soon).label("section")
    where = [Flag.status.in_(ACTIVE), Flag.historical.is_(False)]
    if scope is not None:
        where.append(Flag.unit_id.in_(scope))
    if filters.account is not None:
        where.append(Flag.account_id == filters.account)
    if filters.category:
        where.append(Flag.category == filters.category)
    if filters.state:
        where.append(Flag.status == filters.state)
    if filters.q:
        where.append(or_(Comment.text.like(_like(filters.q), escape="\\"),
                         Comment.author_name.like(_like(filters.q), escape="\\")))
    counts = select(section, func.count()).select_from(Flag)
    if filters.q:  # the comment's text only when searched: counting ten thousand flags need not read them
        counts = counts.join(Comment, Comment.id == Flag.comment_id)
    counts = counts.where(*where).group_by(section)
    order = (case({name: i for i, name in enumerate(SECTIONS)}, value=section_of(now, soon)), Flag.due_at, Flag.id)
    keys = select(Flag.id)
    if filters.q:
        keys = keys.join(Comment, Comment.id == Flag.comment_id)
    keys = keys.where(*where)
    if filters.section:
        keys = keys.where(section_of(now, soon) == filters.section)

    def page_of(limit: int, offset: int):
        # a page's flags are chosen from the flags alone, then joined to their comments: sorting ten
        # thousand flags need not read ten thousand comments
        chosen = keys.order_by(*order).limit(limit).offset(offset).subquery()
        return (select(Flag, Comment.text, Comment.author_name, Unit.name, Account.name, section)
                .join(chosen, chosen.c.id == Flag.id).join(Comment, Comment.id == Flag.comment_id)
                .join(Unit, Unit.id == Flag.unit_id).join(Account, Account.id == Flag.account_id)
                .order_by(*order))

    return page_of, counts


@bp.get("/")
def inbox():
    ctx = context()
    now = ctx.clock.now()
    soon = ctx.actions.calendar.add(now, 1).at
    filters = Filters.from_args(request.args)
    page_of, counts_q = inbox_query(g.scope, filters, now, soon)
    session = db()
    counts = dict(session.execute(counts_q).all())
    total = counts.get(filters.section, 0) if filters.section else sum(counts.values())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(filters.page, pages)
    rows = session.execute(page_of(PAGE_SIZE, (page - 1) * PAGE_SIZE)).all()
    accounts_q = select(Account.id, Account.name).order_by(Account.name)
    if g.scope is not None:
        accounts_q = accounts_q.where(Account.unit_id.in_(g.scope))
    accounts = session.execute(accounts_q).all()
    return render_template("inbox.html", rows=rows, counts=counts, total=total, page=page, pages=pages,
                           filters=filters, sections=SECTIONS, accounts=accounts, now=now,
                           categories=Category.values(), states=ACTIVE)
