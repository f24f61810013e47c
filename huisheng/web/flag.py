"""A flag's page and the actions on it.  Each action is a POST through
:class:`huisheng.flags.actions.FlagActions`, the code the CLI uses, and records
the signed-in user in the flag's events.  A flag outside the user's units is
"not found", whatever the route or parameter."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from huisheng.errors import HuishengError
from huisheng.flags import lifecycle
from huisheng.storage.models import Account, Comment, Flag, FlagEvent, Post, Unit
from huisheng.storage.threads import flag_thread
from huisheng.notify.digest import comment_link, post_link
from huisheng.users import can_act, can_see
from huisheng.web.context import context, current_user, db, t

bp = Blueprint("flag", __name__)

ACTIONS = ("ack", "reply", "promise", "resolve", "close", "reassign", "dismiss")


def _visible_flag(flag_id: int) -> Flag:
    flag = db().get(Flag, flag_id) if flag_id < 2**31 else None
    if flag is None or not can_see(g.scope, flag.unit_id):
        abort(404)
    return flag


def _suggestions(session, text: str, unit: Unit) -> list[Unit]:
    """Units the text names (by name or alias), then the owning unit's parent."""
    found: list[Unit] = []
    for candidate in session.scalars(select(Unit).where(Unit.enabled.is_(True)).order_by(Unit.id)):
        if candidate.id == unit.id:
            continue
        if any(name and len(name) >= 2 and name in text for name in (candidate.name, *(candidate.aliases or ()))):
            found.append(candidate)
    if unit.parent_id is not None:
        parent = session.get(Unit, unit.parent_id)
        if parent is not None and parent not in found:
            found.append(parent)
    return found[:8]


@bp.get("/flags/<int:flag_id>")
def show(flag_id: int):
    ctx = context()
    session = db()
    flag = _visible_flag(flag_id)
    comment = session.get(Comment, flag.comment_id)
    post = session.get(Post, flag.post_id)
    unit = session.get(Unit, flag.unit_id)
    account = session.get(Account, flag.account_id)
    thread = flag_thread(session, comment, limit=500)
    events = session.scalars(select(FlagEvent).where(FlagEvent.flag_id == flag.id)
                             .order_by(FlagEvent.at, FlagEvent.id)).all()
    now = ctx.clock.now()
    remaining = None
    if flag.status in ("open", "acknowledged") and flag.due_at > now and not flag.historical:
        # an urgent flag runs on clock hours, the rest on working hours
        remaining = ((flag.due_at - now).total_seconds() if flag.urgent
                     else ctx.actions.calendar.working_seconds(now, flag.due_at)) / 3600
    units = session.execute(select(Unit.id, Unit.name).where(Unit.enabled.is_(True)).order_by(Unit.name)).all()
    return render_template(
        "flag.html", flag=flag, comment=comment, post=post,
        comment_url=comment_link(post.platform, post.external_id, comment.external_id, comment.root_external_id,
                                 post.url),
        post_url=post_link(post.platform, post.url, post.author_id, post.short_id, post.external_id), unit=unit, account=account, thread=thread,
        events=events, now=now, remaining=remaining, can_act=can_act(current_user(), g.scope, flag.unit_id),
        solvable=flag.category in lifecycle.SOLVABLE, suggestions=_suggestions(session, comment.text, unit),
        units=units, promise_days=int(ctx.actions.sla.promise_max),
        promise_limit=ctx.actions.promise_limit(now))


@bp.post("/flags/<int:flag_id>/<action>")
def act(flag_id: int, action: str):
    if action not in ACTIONS:
        abort(404)
    ctx = context()
    session = db()
    flag = _visible_flag(flag_id)
    user = current_user()
    if not can_act(user, g.scope, flag.unit_id):
        abort(403)
    form = request.form
    note = form.get("note", "").strip()[:2000]
    actor = user.email
    now = ctx.clock.now()
    actions = ctx.actions
    try:
        if action == "ack":
            step = actions.acknowledge(flag, actor=actor, now=now, note=note)
        elif action == "reply":
            step = actions.reply_offline(flag, actor=actor, now=now, note=note)
        elif action == "promise":
            try:
                day = date.fromisoformat(form.get("date", "").strip())
            except ValueError:
                raise HuishengError(t("bad_date")) from None
            step = actions.promise(flag, actor=actor, now=now, promised_at=actions.promised_at(day), note=note,
                                   extension_reason=form.get("extension_reason", "").strip()[:2000])
        elif action == "resolve":
            step = actions.resolve(flag, actor=actor, now=now, note=note)
        elif action == "close":
            step = actions.close(flag, actor=actor, now=now, note=note)
        elif action == "dismiss":
            step = actions.dismiss(flag, actor=actor, now=now, reason=note)
        else:
            target = _unit_named(session, form.get("unit", "").strip())
            step = actions.reassign(flag, target, actor=actor, now=now, note=note)
    except HuishengError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("flag.show", flag_id=flag_id), 303)
    step.data["user_id"] = user.id
    lifecycle.save(session, flag, step)
    session.commit()
    flash(t("done", action=t(f"act_{action}")), "info")
    if not can_act(user, g.scope, flag.unit_id):  # reassigned away from the user's units
        return redirect(url_for("inbox.inbox"), 303)
    return redirect(url_for("flag.show", flag_id=flag_id), 303)


def _unit_named(session, name: str) -> Unit:
    if name.isdigit():
        unit = session.get(Unit, int(name)) if len(name) < 10 else None
    else:
        unit = session.scalars(select(Unit).where((Unit.name == name) | (Unit.code == name))).first()
    if unit is None:
        raise HuishengError(t("unknown_unit", name=name[:50]))
    return unit
