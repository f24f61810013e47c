"""``make demo``: the daemon against the local simulator, on the example district.

Everything lands under ``demo/`` (its config, the SQLite database, the mail a
local SMTP sink received), started
afresh on every run.  The daemon's jobs run too: new comments are decided into
flags (需回复), replies detected, the ladder kept.  Time is simulated: the dispatcher runs on a fake clock
that jumps from one due account to the next, so a district day passes in
about a minute while every request still goes over real HTTP to the simulator
and every item into the real database.  The per-host pace is kept in simulated
time, exactly as the daemon keeps it in real time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from huisheng import migrations
from huisheng.adapters import platform_label
from huisheng.clock import FakeClock
from huisheng.config import load_settings
from huisheng.polling.dispatcher import Dispatcher
from huisheng.logs import setup_logging
from huisheng.config.matrix import load_matrix
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account, Comment, Flag, Post, Tombstone
from huisheng.app import build_runtime
from huisheng.cli import main as cli
from huisheng.notify.sink import MailSink
from huisheng.simulator import PLATFORM, FaultRule, SimServer, World, WorldConfig, adapter_options


CONFIG = """\
# huisheng demo configuration (written by `make demo`; everything it made is in this folder).
timezone = "Asia/Shanghai"
log_level = "WARNING"
matrix = "{matrix}"

[database]
url = "sqlite:///huisheng.sqlite"

[polling]
interval = 1800
recent_window_days = 7
window_refresh_interval = 7200
workers = 4

[platforms.{platform}]
min_interval = 2.0
concurrency = 1
# the local simulator the demo ran against (gone once the demo ended)
{platform_options}

[mail]
# the demo's local SMTP sink: every message lands as an .eml file in mail/
host = "{mail_host}"
port = {mail_port}
security = "none"
from_address = "huisheng@example.org"
from_name = "回声 huisheng"
duty_address = "zhiban@example.org"

[web]
# `huisheng web` serves the workbench here; links in the demo's mail point to it
public_url = "http://127.0.0.1:{web_port}"
port = {web_port}
"""

#: the demo's auditor (added by hand; unit administrators come from the matrix)
DEMO_AUDITOR = "kaoping@example.org"
WEB_PORT = 8470

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m huisheng.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="demo", help="where the demo keeps its state (default: demo/)")
    parser.add_argument("--hours", type=float, default=10.0, help="simulated hours to run (default 10)")
    parser.add_argument("--matrix", default=None, help="matrix folder (default: config/example-district)")
    args = parser.parse_args(argv)

    root = Path(args.dir).resolve()
    matrix_dir = Path(args.matrix or Path(__file__).resolve().parent.parent / "config" / "example-district")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    setup_logging("WARNING")
    began = time.monotonic()

    say(f"回声 huisheng demo — state in {display(root)}/")
    matrix = load_matrix(matrix_dir)
    # The simulated span ends now, so what the demo leaves reads naturally
    # with the real clock afterwards (`flags list --overdue`).
    start = (datetime.now(timezone.utc) - timedelta(hours=args.hours)).replace(minute=0, second=0,
                                                                                 microsecond=0)
    clock = FakeClock(start)
    world = World(matrix, seed=2026, start=start, config=WorldConfig(history_days=10))
    # Two accounts in trouble, so `status` has something to show.
    blocked, walled = world.accounts[-1].uid, world.accounts[-2].uid
    server = SimServer(world, clock, faults=[
        FaultRule(fault="432", account=blocked), FaultRule(fault="captcha", account=walled)])
    base_url = server.start()
    say(f"simulator: {len(world.accounts)} {platform_label(PLATFORM, 'en')} accounts of {matrix.units[0].name}, "
        f"serving at {base_url}")

    config_path = root / "huisheng.toml"
    sink = MailSink(root / "mail", clock=clock)
    mail_host, mail_port = sink.start()
    options = "\n".join(f"{key} = {json.dumps(value)}" for key, value in adapter_options(base_url).items())
    # the other platforms the example district has accounts on, served by the same simulator
    for sim in server.platforms:
        say(f"simulator: {platform_label(sim.name, 'en')} accounts served at the same address")
        options += f"\n\n[platforms.{sim.name}]\n" + "\n".join(
            f"{key} = {json.dumps(value)}" for key, value in server.adapter_options(sim.name).items())
    config_path.write_text(CONFIG.format(matrix=matrix_dir.resolve().as_posix(), platform_options=options,
                                         platform=PLATFORM,
                                         mail_host=mail_host, mail_port=mail_port, web_port=WEB_PORT),
                           encoding="utf-8")
    settings = load_settings(config_path)
    migrations.upgrade(settings.database_url)
    runtime = build_runtime(settings, clock, http_timeout=10.0)
    with runtime.sessions.begin() as session:
        report = sync_matrix(session, matrix, clock.now())
    say(f"matrix synced: {len(matrix.units)} units, {len(matrix.accounts)} accounts "
        f"({len(report.lines())} changes)")

    polls = requests = 0

    def count(result):
        nonlocal polls, requests
        polls += 1
        requests += result.requests

    dispatcher = Dispatcher(settings, runtime.sessions, clock, runtime.poller, on_result=count,
                            jobs=runtime.jobs())
    end = clock.now() + timedelta(hours=args.hours)
    say(f"running {args.hours:g} simulated hours from {local(clock.now())} (Asia/Shanghai) …")
    try:
        while clock.now() < end:
            step_end = min(end, clock.now() + timedelta(hours=1))
            dispatcher.run_virtual(clock, step_end)
            totals = _totals(runtime)
            say(f"  {local(clock.now())}  polls {polls:5d}  requests {requests:6d}  "
                f"posts {totals['posts']:5d}  comments {totals['comments']:6d}  "
                f"flags {totals['flags']:5d} (replied {totals['replied']:4d})  "
                f"failing accounts {totals['failing']}")
        # Ten simulated hours may not cross the digests' 08:30: send today's now.
        with contextlib.redirect_stdout(io.StringIO()) as listing:
            cli.main(["digest", "send", "--config", str(config_path)], standalone_mode=False)
        say("digests: " + listing.getvalue().strip().splitlines()[-1])
        runtime.sender.run(clock.now())
        settled, moved = _staff_work(runtime, world, clock.now())
        say(f"staff: {settled} replied flags resolved or closed, {moved} flags reassigned to the unit they "
            f"belong to (what `routing train --from-flags` learns from)")
    finally:
        dispatcher.close()
        server.stop()
        sink.stop()
        runtime.close()

    say("")
    cli.main(["status", "--config", str(config_path), "--failing"], standalone_mode=False)
    totals = _totals(runtime)
    say("")
    say(f"stored: {totals['posts']} posts, {totals['comments']} comments "
        f"({totals['owner']} by the accounts themselves), {totals['tombstones']} deletions seen; "
        f"{polls} polls, {requests} requests in {time.monotonic() - began:.0f} s")
    say(f"flags (需回复): {totals['flags']} raised, {totals['replied']} replied, "
        f"{totals['urgent']} urgent, {totals['unanswered']} still unanswered; {totals['historical']} of them "
        f"history (written before the first poll's monitoring start: recorded, no clock)")
    say(f"mail: {len(sink.files())} messages (urgent alerts and digests) in {display(root / 'mail')}/ "
        f"— open the .eml files with any mail client")
    say("")
    say("explore it:")
    exe = display(Path(sys.executable).with_name("huisheng"))
    cfg = display(config_path)
    say(f"  {exe} --config {cfg} status")
    say(f"  {exe} --config {cfg} status --failing")
    say(f"  {exe} --config {cfg} flags list --overdue")
    say(f"  {exe} --config {cfg} flags list --urgent --format json")
    say(f"  {exe} --config {cfg} flags show 1")
    say(f"  {exe} --config {cfg} digest preview --admin xinwen@example.org --html {display(root)}/digest.html")
    say(f"  {exe} --config {cfg} outbox list")
    say(f"  {exe} --config {cfg} report coverage --by unit --from {start.date()} --to {clock.now().date()}")
    say(f"  {exe} --config {cfg} rules test \"请问小区门口的路灯坏了找谁修\"")
    say(f"  {exe} --config {cfg} routing train --from-flags --out {display(root)}/routing.model")
    say(f"  sqlite3 {display(root / 'huisheng.sqlite')} 'select author_name, text from comments limit 5'")
    say(f"  {exe} simulate --config {cfg} --port 8765 --speed 60    # the simulator on its own")
    say("")
    _web_links(settings, matrix, exe, cfg)
    return 0


def _web_links(settings, matrix, exe: str, cfg: str) -> None:
    """How to open the workbench on the demo's state, with one-time sign-in
    links for a community administrator and for an auditor."""
    from huisheng.clock import Clock
    from huisheng.storage.db import make_engine, session_factory
    from huisheng.users import Role, add_user, find_user, signin, sync_matrix_users
    from huisheng.web.config import secret_key, web_from_settings

    web = web_from_settings(settings)
    community = next(u for u in matrix.units if u.level == "community" and u.admins)
    engine = make_engine(settings.database_url)
    now = Clock().now()
    try:
        with session_factory(engine).begin() as session:
            sync_matrix_users(session, now)
            if find_user(session, DEMO_AUDITOR) is None:
                add_user(session, DEMO_AUDITOR, role=Role.AUDITOR, name="考评员", now=now)
            links = {who: signin.new_link(session, find_user(session, who), now, signin.MAIL_LINK_TTL)
                     for who in (community.admins[0], DEMO_AUDITOR)}
    finally:
        engine.dispose()
    key = secret_key(web)
    say("the web workbench (工作台):")
    say(f"  {exe} --config {cfg} web")
    say(f"  then open, once each (valid {signin.MAIL_LINK_TTL.days} days):")
    say(f"  {community.name} administrator: {web.public_url}/signin/link/"
        f"{signin.fill_placeholders(links[community.admins[0]], key)}?next=/")
    say(f"  auditor (考评员):  {web.public_url}/signin/link/"
        f"{signin.fill_placeholders(links[DEMO_AUDITOR], key)}?next=/audit/coverage")


def _staff_work(runtime, world: World, now: datetime) -> tuple[int, int]:
    """What the units' staff would have done by now with the flags that are not
    history: a flag routed to a unit the simulator says is not the one it
    belongs to is reassigned there; of the others, every replied one is
    resolved (办结), every other one of those also closed (办结销号)."""
    from huisheng.flags import lifecycle
    from huisheng.storage.models import Unit

    truth = {str(c["id"]): c["labels"].get("target_unit") for c in world.truth(now)["comments"]}
    decider = runtime.decider
    settled = moved = 0
    with runtime.sessions.begin() as session:
        units = {u.code: u for u in session.scalars(select(Unit))}
        codes = {u.id: code for code, u in units.items()}
        rows = session.execute(select(Flag, Comment.external_id).join(Comment, Comment.id == Flag.comment_id)
                               .where(Flag.historical.is_(False)).order_by(Flag.id)).all()
        for flag, external_id in rows:
            target = truth.get(external_id)
            if target in units and codes.get(flag.unit_id) != target and flag.status not in ("closed", "dismissed"):
                lifecycle.save(session, flag, lifecycle.reassign(
                    flag, units[target], actor="区网信办", now=now, note="按职责转交",
                    return_due=decider.calendar.add(now, decider.sla.wrong_unit_return).at))
                moved += 1
            elif flag.status == "replied":
                lifecycle.save(session, flag, lifecycle.resolve(flag, actor="经办人", now=now, note="已答复办结"))
                if settled % 2:
                    lifecycle.save(session, flag, lifecycle.close(flag, actor="经办人", now=now, note="办结销号"))
                settled += 1
    return settled, moved


def _totals(runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        return {
            "posts": session.scalar(select(func.count()).select_from(Post)) or 0,
            "comments": session.scalar(select(func.count()).select_from(Comment)) or 0,
            "owner": session.scalar(select(func.count()).select_from(Comment)
                                    .where(Comment.is_from_owner.is_(True))) or 0,
            "tombstones": session.scalar(select(func.count()).select_from(Tombstone)) or 0,
            "failing": session.scalar(select(func.count()).select_from(Account)
                                      .where(Account.consecutive_errors > 0)) or 0,
            "flags": session.scalar(select(func.count()).select_from(Flag)) or 0,
            "replied": session.scalar(select(func.count()).select_from(Flag)
                                      .where(Flag.first_reply_at.is_not(None))) or 0,
            "urgent": session.scalar(select(func.count()).select_from(Flag).where(Flag.urgent.is_(True))) or 0,
            "historical": session.scalar(select(func.count()).select_from(Flag)
                                         .where(Flag.historical.is_(True))) or 0,
            "unanswered": session.scalar(select(func.count()).select_from(Flag)
                                         .where(Flag.status.in_(("open", "acknowledged")))) or 0,
        }


def local(t: datetime) -> str:
    return t.astimezone(timezone(timedelta(hours=8))).strftime("%m-%d %H:%M")


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
