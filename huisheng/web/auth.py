"""Signing in and out: by an e-mailed one-time link, or by password."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from huisheng.notify import outbox
from huisheng.notify.mail import mail_from_settings
from huisheng.users import signin
from huisheng.web.context import context, current_user, db, local_path, sign_in, t

bp = Blueprint("auth", __name__)


def _client() -> signin.Client:
    return signin.Client(email=request.form.get("email", "")[:320], address=request.remote_addr or "?")


def link_url(placeholder: str, next_path: str, base: str | None = None) -> str:
    """The sign-in link for a placeholder, opening ``next_path`` once signed in."""
    base = base or context().web.public_url or request.host_url.rstrip("/")
    return f"{base}/signin/link/{placeholder}?next={next_path}"


@bp.get("/signin")
def signin_page():
    if current_user() is not None:
        return redirect(local_path(request.args.get("next")))
    return render_template("signin.html", next=local_path(request.args.get("next")))


@bp.post("/signin/link")
def request_link():
    ctx = context()
    next_path = local_path(request.form.get("next"))
    mail = mail_from_settings(ctx.settings)
    if not mail.enabled:
        flash(t("no_mail"), "error")
        return redirect(url_for("auth.signin_page", next=next_path))
    now = ctx.clock.now()
    session_ = db()
    try:
        found = signin.request_link(session_, _client(), now)
    except signin.SigninRefused as exc:
        session_.rollback()
        flash(str(exc), "error")
        return redirect(url_for("auth.signin_page", next=next_path))
    if found is not None:
        user, placeholder = found
        url = link_url(placeholder, next_path)
        zh = g.locale != "en"
        minutes = int(signin.LINK_TTL.total_seconds() // 60)
        text = (f"您好，\n\n请点击以下链接登录回声工作台（{minutes} 分钟内有效，只能使用一次）：\n{url}\n\n"
                f"如非本人操作，请忽略本邮件。\n" if zh else
                f"Hello,\n\nOpen this link to sign in to the huisheng workbench (valid {minutes} minutes, once):\n"
                f"{url}\n\nIf you did not ask for it, ignore this message.\n")
        outbox.enqueue(session_, recipient=user.email, kind="signin", period=placeholder[-24:],
                       subject="【回声】登录链接" if zh else "[huisheng] Your sign-in link", text=text, html=None,
                       now=now, mail=mail)
    session_.commit()
    if found is not None and ctx.send_now is not None:
        ctx.send_now()
    flash(t("link_sent", minutes=int(signin.LINK_TTL.total_seconds() // 60)), "info")
    return redirect(url_for("auth.signin_page", next=next_path))


@bp.post("/signin/password")
def password_signin():
    ctx = context()
    next_path = local_path(request.form.get("next"))
    session_ = db()
    try:
        user = signin.check_password(session_, _client(), request.form.get("password", ""), ctx.clock.now())
    except signin.SigninRefused as exc:
        session_.rollback()
        flash(str(exc), "error")
        return redirect(url_for("auth.signin_page", next=next_path)), 303
    session_.commit()
    if user is None:
        flash(t("bad_password"), "error")
        return redirect(url_for("auth.signin_page", next=next_path)), 303
    sign_in(user)
    return redirect(next_path, 303)


@bp.get("/signin/link/<token>")
def link_page(token: str):
    """A link opened from an e-mail: a button signs in (mail scanners that
    fetch links do not use them up).  Already signed in: straight on."""
    next_path = local_path(request.args.get("next"))
    if current_user() is not None:
        return redirect(next_path)
    return render_template("signin_link.html", token=token, next=next_path)


@bp.post("/signin/link/<token>")
def redeem_link(token: str):
    ctx = context()
    next_path = local_path(request.form.get("next"))
    session_ = db()
    user = signin.redeem(session_, token, ctx.key, ctx.clock.now())
    session_.commit()
    if user is None:
        flash(t("link_invalid"), "error")
        return redirect(url_for("auth.signin_page", next=next_path), 303)
    sign_in(user)
    return redirect(next_path, 303)


@bp.post("/signout")
def signout():
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(t("signed_out"), "info")
    return redirect(url_for("auth.signin_page"), 303)
