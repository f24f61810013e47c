"""``huisheng run``, ``poll``, ``backfill`` and ``status``."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, or_, select, update

from huisheng.adapters import source_label
from huisheng.adapters.base import CAPABILITY_NAMES
from huisheng.cli._common import MAX_ROW_ID, config_option, exit_stopped, fail_cleanly, require_schema
from huisheng.errors import HuishengError
from huisheng.storage.models import Account, AccountSource, Comment, Post, Unit
from huisheng.cli.tables import text_table
from huisheng.storage.threads import unread_threads
from huisheng.textsafe import json_text, terminal


def _runtime(config: Path):
    from huisheng.config import load_settings
    from huisheng.logs import setup_logging
    from huisheng.app import build_runtime

    settings = load_settings(config)
    setup_logging(settings.log_level, settings.timezone)
    runtime = build_runtime(settings)
    require_schema(runtime.settings.database_url)
    return runtime


def _decide(rt) -> None:
    """Decide what was just stored, so its flags show at once (the daemon's
    decide job would do the same at its next tick)."""
    result = rt.decider.run()
    click.echo(f"decided {result.decided} comments: {len(result.flags)} new flags "
               f"({len(result.urgent)} urgent), {len(result.replied)} replied")


#: every platform is younger than this
MAX_BACKFILL_DAYS = 36500


def _find_account(session, key: str) -> Account:
    platform, _, uid = key.partition(":")
    query = select(Account).where(or_(Account.uid == key, Account.name == key,
                                      (Account.platform == platform) & (Account.uid == uid)))
    if key.isascii() and key.isdigit() and int(key) <= MAX_ROW_ID:
        query = select(Account).where(or_(Account.uid == key, Account.name == key, Account.id == int(key)))
    found = session.scalars(query).all()
    if not found:
        raise HuishengError(f"no account {key!r} (give its uid, platform:uid, name or id; see `huisheng status`)")
    if len(found) > 1:
        # the same uid on two platforms is two accounts
        raise HuishengError(f"{key!r} matches {len(found)} accounts; give platform:uid")
    return found[0]


@click.command()
@config_option
@fail_cleanly
def run(config: Path) -> None:
    """Run the daemon: poll every account on schedule until SIGTERM/SIGINT."""
    from huisheng.polling.dispatcher import Dispatcher
    from huisheng.scale.settings import scale_from_settings

    rt = _runtime(config)
    if scale_from_settings(rt.settings).distributed:
        rt.close()
        raise HuishengError("[scale] engine = \"procrastinate\"：轮询由各台机器上的 huisheng worker 进行，"
                            "不用 huisheng run")
    dispatcher = Dispatcher(rt.settings, rt.sessions, rt.clock, rt.poller, jobs=rt.jobs())
    web = _start_web(rt)
    grace = rt.settings.polling.stop_grace

    def _give_up() -> None:
        # The last resort when something (a job, the database) outlives the
        # grace: every unit is committed whole, so exiting now is as safe as a
        # kill -9, and the leases left behind expire on their own.
        click.echo(f"huisheng: still stopping after {grace:g}s (polling.stop_grace): exiting now",
                   err=True)
        os._exit(1)

    def _stop(signum, _frame):
        click.echo(f"huisheng: {signal.Signals(signum).name} received, finishing polls in flight",
                   err=True)
        if not dispatcher.stopping.is_set():
            deadline = threading.Timer(grace, _give_up)
            deadline.daemon = True
            deadline.start()
        dispatcher.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        dispatcher.run()
    finally:
        if web is not None:
            web.stop()
        rt.close()
    exit_stopped()


def _start_web(rt):
    """The workbench beside polling, when ``[web] enabled``."""
    from huisheng.web.config import web_from_settings

    settings = web_from_settings(rt.settings)
    if not settings.enabled:
        return None
    from huisheng.web.serve import build_app, make_server

    server = make_server(build_app(rt.settings, rt.sessions, rt.clock), settings.host, settings.port).start()
    click.echo(f"huisheng: workbench at {server.url}", err=True)
    return server


@click.command()
@click.argument("account")
@config_option
@fail_cleanly
def poll(account: str, config: Path) -> None:
    """Poll one ACCOUNT (uid, name or id) once, now."""
    rt = _runtime(config)
    try:
        with rt.sessions() as session:
            target = _find_account(session, account)
        owner = _lease(rt, target)
        result = rt.poller.poll(target.id, lease_owner=owner)
        click.echo(result.log_line())
        _decide(rt)
        if result.outcome != "ok":
            raise SystemExit(1)
    finally:
        rt.close()


@click.command()
@click.option("--days", type=click.IntRange(1, MAX_BACKFILL_DAYS), required=True, help="How far back to read.")
@click.option("--account", "account_key", default=None, help="Only this account (uid, name or id).")
@config_option
@fail_cleanly
def backfill(days: int, account_key: str | None, config: Path) -> None:
    """Read N days of history for every account (or one)."""
    rt = _runtime(config)
    try:
        with rt.sessions() as session:
            if account_key:
                targets = [_find_account(session, account_key)]
            else:
                targets = session.scalars(select(Account).where(Account.enabled.is_(True))
                                          .order_by(Account.id)).all()
        failures = 0
        with click.progressbar(targets, label=f"backfill {days}d", file=sys.stderr,
                               item_show_func=lambda a: a.name if a else "") as bar:
            for target in bar:
                result = rt.poller.poll(target.id, backfill_days=days, lease_owner=_lease(rt, target))
                failures += result.outcome != "ok"
        click.echo(f"backfill done: {len(targets)} accounts, {failures} failed "
                   f"(see `huisheng status`)")
        _decide(rt)
        if failures:
            raise SystemExit(1)
    finally:
        rt.close()


def _lease(rt, target: Account) -> str:
    """Lease ``target`` for a poll from the command line, as the dispatcher
    does: never a second poll of an account the daemon is polling."""
    owner = f"cli:{socket.gethostname()}:{os.getpid()}"
    now = rt.clock.now()
    with rt.sessions.begin() as session:
        claimed = session.execute(
            update(Account).where(Account.id == target.id,
                                  or_(Account.lease_until.is_(None), Account.lease_until < now))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=rt.settings.polling.lease_seconds))
        ).rowcount
        if not claimed:
            held = session.get(Account, target.id)
            until = held.lease_until.astimezone(ZoneInfo(rt.settings.timezone)).strftime("%H:%M:%S")
            raise HuishengError(f"账号 {target.name} 正在被轮询（{held.lease_owner} 持有租约至 {until}），请稍后再试")
    return owner


def _fmt_time(value: datetime | None, tz) -> str:
    if value is None:
        return "-"
    return value.astimezone(tz).strftime("%m-%d %H:%M")


#: ``status`` table headers and words, in the language of the rest of the CLI
_STATUS_WORDS = {
    "zh": {"header": ("账号", "平台", "最近成功", "连续出错", "最近错误", "下次检查", "博文", "评论"),
           "disabled": "（已停用）", "summary": "共 {n} 个账号，{failing} 个出错",
           "threads": "评论未能读全的帖子 {n} 个（平台返回的远少于计数；系统自动重试）：",
           "unsupported": "平台不支持的功能（依赖它的读取与删除判断已跳过）：",
           "thread_header": ("账号", "帖子", "范围", "原因", "起始", "下次重试", "连续次数"),
           "thread_comments": "帖子的评论", "thread_replies": "{author} 的评论下的回复",
           "sources": "提及来源（时间线之外，各自轮询、退避）：",
           "source_header": ("账号", "来源", "最近成功", "连续出错", "最近错误", "下次检查", "读全"),
           "complete": {True: "是", False: "否", None: "-"}},
    "en": {"header": ("account", "platform", "last success", "errors", "last error", "next check", "posts",
                      "comments"),
           "disabled": " (disabled)", "summary": "{n} accounts, {failing} failing",
           "threads": "Threads the platform would not show in full ({n}; far fewer than their counters; "
                      "retried automatically):",
           "unsupported": "What the platform cannot do (the reads and deletion checks that need it are skipped):",
           "thread_header": ("account", "post", "what", "reason", "since", "next retry", "in a row"),
           "thread_comments": "comments on the post", "thread_replies": "replies under {author}'s comment",
           "sources": "Mention sources (beside the timelines; each polled and backed off on its own):",
           "source_header": ("account", "source", "last success", "errors", "last error", "next check",
                             "complete"),
           "complete": {True: "yes", False: "no", None: "-"}},
}


@click.command()
@click.option("--failing", is_flag=True, help="Only accounts whose last poll failed.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--lang", type=click.Choice(tuple(_STATUS_WORDS)), default=None,
              help="Language of the table (default: the mail locale, else zh).")
@click.option("--workers", "workers_only", is_flag=True,
              help="Only the workers and the task queue ([scale] engine = \"procrastinate\").")
@config_option
@fail_cleanly
def status(failing: bool, fmt: str, lang: str | None, workers_only: bool, config: Path) -> None:
    """A table of accounts: last success, last error, errors in a row, next check, counts;
    with several machines, the workers and the task queue."""
    from zoneinfo import ZoneInfo

    from huisheng.cli import cluster_status
    from huisheng.clock import Clock

    from huisheng.errors import error_kind_name
    from huisheng.config import load_settings
    from huisheng.storage.db import make_engine, session_factory

    settings = load_settings(config)
    lang = lang or (settings.extra.get("mail") or {}).get("locale") or "zh"
    words = _STATUS_WORDS[lang]
    engine = make_engine(settings.database_url, readonly=True)
    require_schema(settings.database_url)
    tz = ZoneInfo(settings.timezone)
    # the account's own posts; citizens' posts that mention it are its mention sources' business
    posts = (select(Post.account_id, func.count().label("n"))
             .where(Post.deleted_at.is_(None), Post.origin == "timeline")
             .group_by(Post.account_id).subquery())
    comments = (select(Post.account_id, func.count().label("n"))
                .join(Comment, Comment.post_id == Post.id).where(Comment.deleted_at.is_(None))
                .group_by(Post.account_id).subquery())
    query = (select(Account, Unit.name, func.coalesce(posts.c.n, 0), func.coalesce(comments.c.n, 0))
             .join(Unit, Unit.id == Account.unit_id)
             .outerjoin(posts, posts.c.account_id == Account.id)
             .outerjoin(comments, comments.c.account_id == Account.id)
             .order_by(Account.consecutive_errors.desc(), Unit.code, Account.name))
    if failing:
        query = query.where(Account.consecutive_errors > 0)
    with session_factory(engine)() as session:
        cluster = cluster_status.gather(session, settings, Clock().now())
        if workers_only:
            engine.dispose()
            if cluster is None:
                raise HuishengError("没有工作进程：[scale] engine 为 \"embedded\"（轮询在 huisheng run 进程内）")
            click.echo(json_text(cluster_status.as_json(cluster), indent=1) if fmt == "json"
                       else cluster_status.as_text(cluster, tz, lang))
            return
        rows = session.execute(query).all()
        threads = unread_threads(session, account_ids=[a.id for a, *_ in rows])
        names = {a.id: a.name for a, *_ in rows}
        platforms = {a.id: a.platform for a, *_ in rows}
        sources = [s for s in session.scalars(select(AccountSource).order_by(AccountSource.account_id,
                                                                            AccountSource.kind))
                   if s.account_id in names]
    engine.dispose()
    if fmt == "json":
        out = [{"account": a.name, "uid": a.uid, "platform": a.platform, "unit": unit,
                "enabled": a.enabled,
                "last_success_at": a.last_success_at.isoformat() if a.last_success_at else None,
                "last_error_kind": a.last_error_kind, "last_error_message": a.last_error_message,
                "consecutive_errors": a.consecutive_errors,
                "next_check_at": a.next_check_at.isoformat() if a.next_check_at else None,
                "posts": n_posts, "comments": n_comments, "unsupported": list(a.unsupported or ()),
                "unread_threads": [{"post": t.post_external_id, "url": t.post_url, "comment": t.comment_external_id,
                                    "reason": t.reason, "since": t.since.isoformat(),
                                    "retry_at": t.retry_at.isoformat() if t.retry_at else None,
                                    "attempts": t.attempts}
                                   for t in threads if t.account_id == a.id],
                "sources": [{"kind": s.kind, "complete": s.complete, "incomplete_reason": s.incomplete_reason,
                             "last_success_at": s.last_success_at.isoformat() if s.last_success_at else None,
                             "consecutive_errors": s.consecutive_errors, "last_error_kind": s.last_error_kind,
                             "last_error_message": s.last_error_message,
                             "next_check_at": s.next_check_at.isoformat() if s.next_check_at else None}
                            for s in sources if s.account_id == a.id]}
               for a, unit, n_posts, n_comments in rows]
        click.echo(json_text(out, indent=1))
        return
    table = [words["header"]]
    for a, _unit, n_posts, n_comments in rows:
        error = "-"
        if a.last_error_kind:
            error = f"{error_kind_name(a.last_error_kind, lang)}: {a.last_error_message or ''}"[:48]
        name = a.name + ("" if a.enabled else words["disabled"])
        table.append((name, a.platform, _fmt_time(a.last_success_at, tz), str(a.consecutive_errors),
                      error if a.consecutive_errors else "-", _fmt_time(a.next_check_at, tz),
                      str(n_posts), str(n_comments)))
    click.echo(text_table(table))
    failing_n = sum(1 for a, *_ in rows if a.consecutive_errors)
    click.echo(words["summary"].format(n=len(rows), failing=failing_n))
    unsupported = [(a, a.unsupported) for a, *_ in rows if a.unsupported]
    if unsupported:
        click.echo("\n" + words["unsupported"])
        for a, capabilities in unsupported:
            lacking = [CAPABILITY_NAMES.get(c, (c, c))[0 if lang == "zh" else 1] for c in capabilities]
            click.echo(terminal(f"  {a.name}（{a.platform}）：" + "、".join(lacking) if lang == "zh"
                                else f"  {a.name} ({a.platform}): " + ", ".join(lacking)))
    if threads:
        click.echo("\n" + words["threads"].format(n=len(threads)))
        table = [words["thread_header"]]
        for t in threads:
            what = (words["thread_replies"].format(author=t.comment_author) if t.kind == "replies"
                    else words["thread_comments"])
            table.append((t.account, t.post_url or t.post_external_id, what, t.describe(lang),
                          _fmt_time(t.since, tz), _fmt_time(t.retry_at, tz), str(t.attempts)))
        click.echo(text_table(table))
    if sources:
        click.echo("\n" + words["sources"])
        table = [words["source_header"]]
        for s in sources:
            error = "-"
            if s.consecutive_errors and s.last_error_kind:
                error = f"{error_kind_name(s.last_error_kind, lang)}: {s.last_error_message or ''}"[:48]
            complete = words["complete"][s.complete] + (f"（{s.incomplete_reason}）" if s.incomplete_reason
                                                        and lang == "zh" else
                                                        f" ({s.incomplete_reason})" if s.incomplete_reason else "")
            table.append((names[s.account_id], source_label(platforms[s.account_id], s.kind, lang), _fmt_time(s.last_success_at, tz),
                          str(s.consecutive_errors), error, _fmt_time(s.next_check_at, tz) if s.next_check_at
                          else ("每次轮询" if lang == "zh" else "every poll"), complete))
        click.echo(text_table(table))
    if cluster is not None:
        click.echo("\n" + cluster_status.as_text(cluster, tz, lang))


def register(main: click.Group) -> None:
    for command in (run, poll, backfill, status):
        main.add_command(command)
