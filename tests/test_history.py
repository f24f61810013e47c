"""History is not a backlog.  A new account's first poll brings months of old
comments: they are stored and decided, and their flags are marked historical —
no urgent alert, no ladder step, in no digest list, not overdue — while what
was written since the account's monitoring start (its first successful poll
minus one working day, or the matrix's date) is flagged as usual.  The real
daemon on simulated time, real HTTP against the simulator, real SMTP."""

from __future__ import annotations

import email
import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select, update

from flagkit import Kit
from harness import START, FrozenAfter, make_settings
from huisheng import migrations
from huisheng.app import build_runtime
from huisheng.cli import main
from huisheng.errors import ConfigError
from huisheng.flags.history import remark
from huisheng.flags.process import Decider
from huisheng.flags.rules import load_rules
from huisheng.flags.sla import History
from huisheng.flags.workcal import WorkCalendar
from huisheng.clock import FakeClock
from huisheng.config import load_settings
from huisheng.storage.db import make_engine, session_factory
from huisheng.polling.dispatcher import Dispatcher
from huisheng.config.matrix import dump_matrix, import_csv, load_matrix
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account, Comment, Flag, FlagEvent, Post
from huisheng.config.settings import AccountSpec, Matrix, UnitSpec
from huisheng.notify.alerts import LABELS
from huisheng.notify.digest import gather
from huisheng.notify.sink import free_port
from tests.mailkit import Inbox
from huisheng.reports.overdue import overdue
from huisheng.simulator import SimServer, World, WorldConfig

SH = timezone(timedelta(hours=8))
DISTRICT, STREET, COMMUNITY, DUTY = ("district@example.org", "street@example.org", "c1@example.org",
                                     "duty@example.org")
DISTRICT_UID, COMMUNITY_UID, NEWCOMER_UID = "1000000001", "1000000002", "1000000003"
UNITS = (UnitSpec("D", "示范区", "district", admins=(DISTRICT,)),
         UnitSpec("S00", "东城街道", "street", "D", admins=(STREET,)),
         UnitSpec("S00C01", "东城第1社区", "community", "S00", admins=(COMMUNITY,)))
MATRIX = Matrix(UNITS, (AccountSpec("weibo", DISTRICT_UID, "示范区发布", "D"),
                        AccountSpec("weibo", COMMUNITY_UID, "东城第1社区", "S00C01")))
NEWCOMER = AccountSpec("weibo", NEWCOMER_UID, "东城街道", "S00")

# START is Monday 2026-11-02 09:00 in Shanghai: the first poll makes the
# community account's monitoring start Friday 2026-10-30 09:00 (one working day before)
OLD_URGENT = "楼道里着火了，浓烟很大，快来人！"          # START − 100 days
OLD_QUESTION = "请问社区服务中心周末开门吗？"            # START − 60 days
LAST_WEEK = "请问小区的快递柜坏了找谁修？"               # Thursday 10-29, before the start
WEEKEND = "请问明天小区停水几点恢复？"                   # Sunday 11-01, after the start
NEW_URGENT = "3栋着火了，浓烟很大，有人被困！"            # START + 30 minutes



def subject(key: str, unit: str, text: str) -> str:
    """The subject of an urgent mail (alert, reminder, escalation) as the labels word it."""
    return LABELS["zh"][key].format(unit=unit, text=text)


def body(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


class District:
    """The daemon over a scripted world, with mail to a real SMTP server."""

    def __init__(self, db_url: str, tmp: Path, *, matrix: Matrix = MATRIX, world: Matrix | None = None,
                 history: str = "record"):
        self.clock = FakeClock(START)
        # the platform may know accounts the district adds to its matrix later
        self.world = World(world or matrix, seed=3, start=START, config=WorldConfig.scripted())
        self.server = SimServer(self.world, FrozenAfter(self.clock))
        base = self.server.start()
        self.inbox = Inbox()
        self.smtp = Controller(self.inbox, hostname="127.0.0.1", port=free_port())
        self.smtp.start()
        config = tmp / "huisheng.toml"
        config.write_text(f'[database]\nurl = "{db_url}"\n\n[flags]\nhistory = "{history}"\n\n'
                          f'[mail]\nhost = "127.0.0.1"\nport = {self.smtp.port}\nsecurity = "none"\n'
                          f'from_address = "huisheng@example.org"\nduty_address = "{DUTY}"\n', encoding="utf-8")
        self.settings = replace(make_settings(db_url, base, tmp), extra=load_settings(config).extra)
        migrations.upgrade(db_url)
        self.runtime = build_runtime(self.settings, self.clock, http_timeout=5.0)
        self.sync(matrix)
        self.dispatcher = Dispatcher(self.settings, self.runtime.sessions, self.clock, self.runtime.poller,
                                     jobs=self.runtime.jobs())

    def sync(self, matrix: Matrix) -> None:
        with self.runtime.sessions.begin() as session:
            sync_matrix(session, matrix, self.clock.now())

    def run_for(self, **delta) -> None:
        self.dispatcher.run_virtual(self.clock, self.clock.now() + timedelta(**delta))

    def account(self, uid: str) -> Account:
        with self.runtime.sessions() as session:
            return session.scalars(select(Account).where(Account.uid == uid)).one()

    def flags(self) -> dict[str, Flag]:
        """Flags by their comment's text."""
        with self.runtime.sessions() as session:
            return {text: flag for flag, text in session.execute(
                select(Flag, Comment.text).join(Comment, Comment.id == Flag.comment_id))}

    def events(self, flag_id: int) -> list[str]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(FlagEvent.kind).where(FlagEvent.flag_id == flag_id)
                                        .order_by(FlagEvent.id)))

    def close(self) -> None:
        self.dispatcher.close()
        self.server.stop()
        self.smtp.stop()
        self.runtime.close()


def _script_community(world: World, uid: str = COMMUNITY_UID) -> None:
    # an old pinned notice: every poll sees it, whatever the recent window
    notice = world.script_post(uid, START - timedelta(days=120), "社区公告：便民服务时间调整", pinned=True)
    world.script_comment(notice, START - timedelta(days=100), OLD_URGENT)
    world.script_comment(notice, START - timedelta(days=60), OLD_QUESTION)
    world.script_comment(notice, datetime(2026, 10, 29, 10, 0, tzinfo=SH), LAST_WEEK)
    world.script_comment(notice, datetime(2026, 11, 1, 20, 0, tzinfo=SH), WEEKEND)
    world.script_comment(notice, START + timedelta(minutes=30), NEW_URGENT)


@pytest.fixture
def district(db_url, tmp_path):
    made: list[District] = []

    def make(**kwargs) -> District:
        made.append(District(db_url, tmp_path, **kwargs))
        return made[-1]

    yield make
    for d in made:
        d.close()


def test_a_first_poll_of_months_of_comments_records_history_and_flags_only_what_is_new(district):
    d = district()
    _script_community(d.world)
    d.run_for(hours=3)

    account = d.account(COMMUNITY_UID)
    assert START <= account.first_success_at < START + timedelta(minutes=5)
    assert account.monitoring_start == WorkCalendar().add(account.first_success_at, -1).at
    assert account.monitoring_start.astimezone(SH).date() == date(2026, 10, 30)
    flags = d.flags()
    assert {text: f.historical for text, f in flags.items()} == {
        OLD_URGENT: True, OLD_QUESTION: True, LAST_WEEK: True, WEEKEND: False, NEW_URGENT: False}
    assert flags[OLD_URGENT].urgent and flags[NEW_URGENT].urgent

    # the urgent alert, its reminder at half time and its escalation at the deadline: the new fire only
    alerts = [m["Subject"] for m in d.inbox.messages if NEW_URGENT in m["Subject"] or OLD_URGENT in m["Subject"]]
    assert sorted(alerts) == sorted([
        subject("subject", "东城第1社区", NEW_URGENT), subject("subject", "东城第1社区", NEW_URGENT),
        subject("reminder_subject", "东城第1社区", NEW_URGENT),
        subject("escalated_subject", "东城第1社区", NEW_URGENT),
        subject("escalated_subject", "东城第1社区", NEW_URGENT)])
    for kind in ("created", "alerted", "reminder", "escalated"):
        assert kind in d.events(flags[NEW_URGENT].id)

    # the first digests (the morning's, sent late at the start) and the next day's: what is
    # new, never the history
    d.run_for(hours=24)
    digests = [m for m in d.inbox.messages if m["Subject"] not in alerts]
    first, second = [body(m) for m in d.inbox.to(COMMUNITY) if m in digests]
    assert WEEKEND in first and NEW_URGENT in second
    for message in digests:
        for old in (OLD_URGENT, OLD_QUESTION, LAST_WEEK):
            assert old not in body(message)

    # months on: history was never reminded, escalated, put on the 通报 list or made stale
    later = START + timedelta(days=120)
    d.runtime.ladder.run(later)
    for text in (OLD_URGENT, OLD_QUESTION, LAST_WEEK):
        assert d.events(flags[text].id) == ["created"], text
    assert "stale" in d.events(flags[WEEKEND].id) and "stale" in d.events(flags[NEW_URGENT].id)
    with d.runtime.sessions() as session:
        listed = {f.flag_id for f in overdue(session, now=later, calendar=WorkCalendar())}
        assert listed == {flags[WEEKEND].id, flags[NEW_URGENT].id}
        sections = gather(session, now=later, calendar=WorkCalendar(), recipients=[COMMUNITY])[0]
    in_digest = {f.id for f in sections.overdue.items} | {f.id for g in sections.new for f in g.section.items}
    assert in_digest == {flags[WEEKEND].id, flags[NEW_URGENT].id}


def test_history_flag_mode_makes_the_backlog_ordinary_flags(district):
    d = district(history="flag")
    _script_community(d.world)
    d.run_for(minutes=20)
    flags = d.flags()
    assert set(flags) == {OLD_URGENT, OLD_QUESTION, LAST_WEEK, WEEKEND}
    assert not any(f.historical for f in flags.values())
    # the old fire is alerted, and laddered at once: it is past every step
    assert subject("subject", "东城第1社区", OLD_URGENT) in [m["Subject"] for m in d.inbox.messages]
    assert {"alerted", "escalated", "notice", "stale"} <= set(d.events(flags[OLD_URGENT].id))
    assert "escalated" in d.events(flags[OLD_QUESTION].id)


def test_a_start_set_in_the_matrix_wins_and_sync_reverts_it_when_removed(district, tmp_path):
    set_start = replace(MATRIX.accounts[1], monitoring_start=date(2026, 9, 1))
    matrix = Matrix(UNITS, (MATRIX.accounts[0], set_start))
    d = district(matrix=matrix)
    _script_community(d.world)
    assert d.account(COMMUNITY_UID).monitoring_start == datetime(2026, 9, 1, tzinfo=SH)
    d.run_for(minutes=20)
    account = d.account(COMMUNITY_UID)
    assert account.first_success_at is not None
    assert account.monitoring_start == datetime(2026, 9, 1, tzinfo=SH)  # the first poll keeps it
    flags = d.flags()
    # July's comment is history; September's and since are flags like any other
    assert {text: f.historical for text, f in flags.items()} == {
        OLD_URGENT: True, OLD_QUESTION: False, LAST_WEEK: False, WEEKEND: False}

    # taken out of the matrix: the start is the first successful poll minus the grace again
    history_start = History().start_for(WorkCalendar())
    with d.runtime.sessions.begin() as session:
        report = sync_matrix(session, MATRIX, d.clock.now(), history_start=history_start)
    assert report.accounts_updated == (f"weibo:{COMMUNITY_UID}",)
    assert d.account(COMMUNITY_UID).monitoring_start == history_start(account.first_success_at)
    with d.runtime.sessions.begin() as session:
        assert not sync_matrix(session, MATRIX, d.clock.now(), history_start=history_start).changed
    # the flags raised follow: September's and last Thursday's questions are history now
    with d.runtime.sessions.begin() as session:
        changed = remark(session, History(), d.clock.now())
    assert changed == {flags[OLD_QUESTION].id: True, flags[LAST_WEEK].id: True}
    assert {text: f.historical for text, f in d.flags().items()} == {
        OLD_URGENT: True, OLD_QUESTION: True, LAST_WEEK: True, WEEKEND: False}
    assert d.events(flags[LAST_WEEK].id)[-1] == "history"
    with d.runtime.sessions.begin() as session:
        assert remark(session, History(), d.clock.now()) == {}
        # a district that wants its backlog worked after all
        assert set(remark(session, History(mode="flag"), d.clock.now())) == {
            flags[OLD_URGENT].id, flags[OLD_QUESTION].id, flags[LAST_WEEK].id}


def test_an_account_added_later_starts_its_own_monitoring_at_its_first_poll(district):
    everyone = Matrix(UNITS, MATRIX.accounts + (NEWCOMER,))
    d = district(world=everyone)
    _script_community(d.world, uid=NEWCOMER_UID)  # its history waits on the platform
    d.run_for(hours=2)
    assert d.flags() == {}
    first_start = d.account(COMMUNITY_UID).monitoring_start

    d.sync(everyone)
    added_at = d.clock.now()
    d.run_for(minutes=20)
    newcomer = d.account(NEWCOMER_UID)
    assert added_at <= newcomer.first_success_at < added_at + timedelta(minutes=5)
    assert newcomer.monitoring_start == WorkCalendar().add(newcomer.first_success_at, -1).at
    assert newcomer.monitoring_start > first_start
    flags = d.flags()
    # the fire half an hour after START (an hour and a half before it was added) is new
    assert {text: f.historical for text, f in flags.items()} == {
        OLD_URGENT: True, OLD_QUESTION: True, LAST_WEEK: True, WEEKEND: False, NEW_URGENT: False}
    subjects = [m["Subject"] for m in d.inbox.messages]
    assert subject("subject", "东城街道", NEW_URGENT) in subjects
    assert not any(OLD_URGENT[:10] in s for s in subjects)


def test_an_account_polled_before_the_upgrade_starts_at_its_known_success(district):
    d = district()
    _script_community(d.world)
    polled_before = START - timedelta(days=30)
    with d.runtime.sessions.begin() as session:  # what migration 0005 leaves: the last success known
        session.execute(update(Account).where(Account.uid == COMMUNITY_UID).values(
            first_success_at=polled_before, last_success_at=polled_before))
    d.run_for(minutes=20)
    account = d.account(COMMUNITY_UID)
    assert account.first_success_at == polled_before
    assert account.monitoring_start == WorkCalendar().add(polled_before, -1).at
    assert {text: f.historical for text, f in d.flags().items()} == {
        OLD_URGENT: True, OLD_QUESTION: True, LAST_WEEK: False, WEEKEND: False}


# --- the decide step before an account's first successful poll ------------------------


@pytest.fixture
def kit(db_url):
    kit = Kit(db_url)
    yield kit
    kit.close()


def test_before_the_first_successful_poll_only_sure_history_is_decided(kit):
    uid = "1000000001"
    now = datetime(2026, 11, 4, 15, 0, tzinfo=SH)  # Wednesday
    with kit.sessions.begin() as session:  # a new account: its first poll is still running
        session.execute(update(Account).where(Account.uid == uid).values(first_success_at=None,
                                                                          monitoring_start=None))
    post = kit.post(uid, now - timedelta(days=30))
    kit.comment(post, now - timedelta(days=20), "请问这个政策什么时候实施？")
    kit.comment(post, now - timedelta(hours=2), "请问小区门口的路灯坏了找谁修", author=("9002", "李四"))
    decider = Decider(kit.sessions, FakeClock(now), load_rules(), kit.calendar, kit.sla)
    result = decider.run(now)
    # the old one is history whenever the poll succeeds; the recent one waits for the real start
    assert result.decided == 1
    (old,) = kit.flags()
    assert old.historical and old.author_name == "张三"
    # the poll succeeds a little later: its start is a working day before it
    with kit.sessions.begin() as session:
        session.execute(update(Account).where(Account.uid == uid).values(
            first_success_at=now + timedelta(minutes=10),
            monitoring_start=kit.calendar.add(now + timedelta(minutes=10), -1).at))
    assert decider.run(now + timedelta(minutes=11)).decided == 1
    old, new = kit.flags()
    assert not new.historical and new.author_name == "李四"
    with kit.sessions() as session:
        created = session.scalars(select(FlagEvent).where(FlagEvent.flag_id == old.id)).one()
    assert created.data["historical"] is True


def test_a_citizen_asking_again_once_monitored_gets_a_flag_on_the_clock(kit):
    uid = "1000000001"
    now = datetime(2026, 11, 4, 15, 0, tzinfo=SH)
    with kit.sessions.begin() as session:
        session.execute(update(Account).where(Account.uid == uid).values(monitoring_start=now - timedelta(days=1)))
    post = kit.post(uid, now - timedelta(days=30))
    _, first = kit.comment(post, now - timedelta(days=20), "请问这个政策什么时候实施？")
    kit.comment(post, now - timedelta(days=19), "请问到底什么时候实施？", root=first)  # the same open case
    kit.comment(post, now - timedelta(hours=2), "一个月了还没人回答，请问什么时候实施？", root=first)
    Decider(kit.sessions, FakeClock(now), load_rules(), kit.calendar, kit.sla).run(now)
    old, new = kit.flags()
    assert old.historical and not new.historical
    assert new.follow_up_of == old.id and new.started_at == now - timedelta(hours=2)


def test_history_flag_mode_decides_everything_at_once(kit):
    uid = "1000000001"
    now = datetime(2026, 11, 4, 15, 0, tzinfo=SH)
    with kit.sessions.begin() as session:
        session.execute(update(Account).where(Account.uid == uid).values(first_success_at=None,
                                                                          monitoring_start=None))
    post = kit.post(uid, now - timedelta(days=30))
    kit.comment(post, now - timedelta(days=20), "请问这个政策什么时候实施？")
    kit.comment(post, now - timedelta(hours=2), "请问小区门口的路灯坏了找谁修", author=("9002", "李四"))
    result = Decider(kit.sessions, FakeClock(now), load_rules(), kit.calendar, kit.sla,
                     history=History(mode="flag")).run(now)
    assert result.decided == 2 and not any(f.historical for f in kit.flags())


# --- the matrix and the config --------------------------------------------------------


def test_the_matrix_and_its_csv_import_carry_a_monitoring_start(tmp_path):
    path = tmp_path / "台账.csv"
    path.write_text("单位名称,单位级别,上级单位,平台,账号ID,账号名称,监测起始\n"
                    "示范区,区,,微博,1000000001,示范区发布,2026/11/1\n"
                    "东城街道,街镇,示范区,微博,1000000002,东城街道,2026-11-01 08:30\n"
                    "西城街道,街镇,示范区,微博,1000000003,西城街道,\n", encoding="utf-8")
    matrix = import_csv(path)
    assert [a.monitoring_start for a in matrix.accounts] == [
        date(2026, 11, 1), datetime(2026, 11, 1, 8, 30), None]
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "matrix.toml").write_text(dump_matrix(matrix), encoding="utf-8")
    assert "monitoring_start = 2026-11-01\n" in dump_matrix(matrix)
    assert load_matrix(tmp_path / "m").accounts == matrix.accounts

    path.write_text("单位名称,单位级别,平台,账号ID,账号名称,监测起始\n"
                    "示范区,区,微博,1000000001,示范区发布,下周一\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        import_csv(path)
    assert "第 2 行" in str(info.value) or ":2:" in str(info.value)
    assert "监测起始时间「下周一」无效" in str(info.value)


@pytest.mark.parametrize("line, problem", [
    ('history = "forget"', '取值为 "record"、"flag" 之一'),
    ("history_grace_days = -1", "介于 0 到 30 之间"),
    ("history_grace_days = nan", "介于 0 到 30 之间"),
    ("urgent_hours = 0", "大于 0"),
    ("urgent_hours = 1000", "介于 0 到 72 之间"),
])
def test_flags_config_is_validated(tmp_path, line, problem):
    config = tmp_path / "huisheng.toml"
    config.write_text(f'[database]\nurl = "sqlite:///x.sqlite"\n\n[flags]\n{line}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert f"flags.{line.split()[0]}" in str(info.value) and problem in str(info.value)


def test_matrix_sync_command_applies_the_configured_grace(db_url, tmp_path):
    migrations.upgrade(db_url)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "matrix.toml").write_text(dump_matrix(MATRIX), encoding="utf-8")
    config = tmp_path / "huisheng.toml"
    config.write_text(f'matrix = "m"\n[database]\nurl = "{db_url}"\n\n[flags]\nhistory_grace_days = 3\n',
                      encoding="utf-8")
    first = datetime(2026, 11, 6, 10, 0, tzinfo=SH)  # a Friday
    set_start = replace(MATRIX.accounts[1], monitoring_start=date(2026, 9, 1))
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    try:
        with sessions.begin() as session:
            sync_matrix(session, Matrix(UNITS, (MATRIX.accounts[0], set_start)), first)
            session.execute(update(Account).values(first_success_at=first))
            account = session.scalars(select(Account).where(Account.uid == COMMUNITY_UID)).one()
            written = datetime(2026, 10, 1, 10, 0, tzinfo=SH)  # after the matrix's start: on the clock
            post = Post(platform="weibo", external_id="5000000000000001", account_id=account.id,
                        author_id=COMMUNITY_UID, author_name="东城第1社区", created_at=written, text="通知",
                        content_hash="h", first_seen_at=first, last_seen_at=first, raw={})
            session.add(post)
            session.flush()
            comment = Comment(platform="weibo", external_id="5000000000000002", post_id=post.id,
                              author_id="9001", author_name="张三", created_at=written, text="请问几点开门？",
                              content_hash="c", first_seen_at=first, last_seen_at=first, raw={},
                              decided_at=first)
            session.add(comment)
            session.flush()
            session.add(Flag(comment_id=comment.id, post_id=post.id, account_id=account.id,
                             unit_id=account.unit_id, routing="account", routing_reason="账号", category="consultation",
                             reasons=[], author_id="9001", author_name="张三", started_at=written, created_at=first,
                             due_at=written + timedelta(days=2), updated_at=first))
        # the matrix names no start any more: the first successful poll minus the configured grace
        result = CliRunner().invoke(main, ["--config", str(config), "matrix", "sync"])
        assert result.exit_code == 0, result.output
        with sessions() as session:
            account = session.scalars(select(Account).where(Account.uid == COMMUNITY_UID)).one()
            flag = session.scalars(select(Flag)).one()
    finally:
        engine.dispose()
    assert account.monitoring_start == datetime(2026, 11, 3, 10, 0, tzinfo=SH)  # Tuesday, 3 working days back
    assert flag.historical and flag.updated_at != first  # the rollups count its month again
    assert "监测起始变更，已更新 1 条需回复：1 条记为历史（不计时），0 条恢复计时" in result.output


def test_flags_list_and_show_say_a_flag_is_historical(kit, db_url, tmp_path):
    uid = "1000000001"
    now = datetime.now(timezone.utc)
    post = kit.post(uid, now - timedelta(days=30))
    kit.comment(post, now - timedelta(days=20), "请问这个政策什么时候实施？")
    with kit.sessions.begin() as session:
        session.execute(update(Account).where(Account.uid == uid).values(monitoring_start=now - timedelta(days=1)))
    Decider(kit.sessions, FakeClock(now), load_rules(), kit.calendar, kit.sla).run(now)
    (flag,) = kit.flags()
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "matrix.toml").write_text(dump_matrix(kit.matrix), encoding="utf-8")
    config = tmp_path / "huisheng.toml"
    config.write_text(f'matrix = "m"\n[database]\nurl = "{db_url}"\n', encoding="utf-8")

    def run(*args):
        result = CliRunner().invoke(main, ["--config", str(config), "flags", *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "历史（不计时）" in run("list") and "超期" not in run("list")
    assert json.loads(run("list", "--overdue", "--format", "json")) == []
    (listed,) = json.loads(run("list", "--format", "json"))
    assert listed["historical"] is True and listed["overdue"] is False
    assert "历史" in run("list", "--format", "csv").splitlines()[0]
    shown = run("show", str(flag.id))
    assert "【历史】" in shown and "历史留言：写于账号监测起始" in shown and "已超期" not in shown
