"""The kit's fake platform, installed as an adapter through an entry point,
beside Weibo: what a platform cannot do is handled (nothing concluded from
it) and shown by ``status``; accounts and authors are (platform, id) in the
matrix, the store, routing and reply detection."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from huisheng import migrations
from huisheng.adapters.base import Pace
from huisheng.adapters.testing import FakePlatform
from huisheng.app import build_runtime
from huisheng.cli import main
from huisheng.clock import FakeClock
from huisheng.errors import ConfigErrors
from huisheng.config import load_settings
from huisheng.config.matrix import parse_matrix_text
from huisheng.config.settings import PlatformSettings, PollingSettings, Settings
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account, Comment, Flag, Post

NOW = datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 in Shanghai
SAME_UID = "100200300"
WEIBO_ONLY = "5706878669"

MATRIX = f"""
[district]
code = "spb"
name = "示范区"

[[unit]]
code = "dept-cg"
name = "示范区城管局"
level = "department"

[[account]]
platform = "fake"
uid = "{SAME_UID}"
name = "示范区发布"
unit = "spb"

[[account]]
platform = "weibo"
uid = "{SAME_UID}"
name = "示范区城管"
unit = "dept-cg"

[[account]]
platform = "weibo"
uid = "{WEIBO_ONLY}"
name = "示范区交通"
unit = "dept-cg"
"""


def install_entry_point(folder: Path, monkeypatch, name: str, target: str) -> None:
    """An adapter installed as a plugin is: a distribution on the path whose
    entry points name it in the group ``huisheng.adapters``."""
    info = folder / f"huisheng_{name}_adapter-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: huisheng-{name}-adapter\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[huisheng.adapters]\n{name} = {target}\n")
    monkeypatch.syspath_prepend(str(folder))


@pytest.fixture
def fake(tmp_path, monkeypatch):
    install_entry_point(tmp_path / "plugins", monkeypatch, "fake", "huisheng.adapters.testing:FakeAdapter")
    platform = FakePlatform(page_size=5, inline=1, replies=False, status=False, expand=False,
                            start=NOW - timedelta(hours=1)).install()
    yield platform
    platform.uninstall()


def runtime_for(db_url: str, tmp_path: Path, clock: FakeClock):
    matrix = parse_matrix_text(MATRIX, tmp_path / "matrix.toml")
    settings = Settings(path=tmp_path / "huisheng.toml", database_url=db_url,
                        polling=PollingSettings(interval=600, window_refresh_interval=3600),
                        platforms={"fake": PlatformSettings(name="fake", pace=Pace(min_interval=0.001),
                                                            options={"scenario": "default"})})
    migrations.upgrade(db_url)
    runtime = build_runtime(settings, clock)
    with runtime.sessions.begin() as session:
        sync_matrix(session, matrix, clock.now())
    return runtime


def account_id(runtime, platform: str, uid: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(Account.id).where(Account.platform == platform, Account.uid == uid))


def test_what_the_platform_cannot_do_is_skipped_concluding_nothing_and_shown(fake, db_url, tmp_path):
    clock = FakeClock(NOW)
    runtime = runtime_for(db_url, tmp_path, clock)
    try:
        fake.post(SAME_UID, "最早的一条")
        gone = fake.post(SAME_UID, "一条之后删除的帖子")  # between two that stay: the re-read covers it
        long = fake.post(SAME_UID, "【通知】全文很长……", preview="【通知】全文")
        question = fake.comment(long, "请问几点开始？")
        first = fake.comment(long, "我也想知道", under=question)  # listed inline with its comment
        me = account_id(runtime, "fake", SAME_UID)
        assert runtime.poller.poll(me).outcome == "ok"

        fake.comment(long, "同问", under=question)  # beyond what is listed inline: replies to read
        fake.delete(gone)
        clock.advance(3600 + 60)  # the window is re-read: posts missing from it are checked
        result = runtime.poller.poll(me)
        assert result.outcome == "ok" and result.tombstoned == 0
        with runtime.sessions() as session:
            posts = {p.external_id: p for p in session.scalars(select(Post))}
            replies = {c.external_id: c for c in session.scalars(select(Comment))}
            account = session.get(Account, me)
        # no whole text to read: the preview is kept, marked as one
        assert (posts[long].text, posts[long].is_truncated) == ("【通知】全文", True)
        # no reply threads: the reply listed inline stays live, nothing is concluded from a read never made
        assert replies[first].deleted_at is None and replies[question].replies_read_count == 1
        # no way to look a post up: a post missing from the timeline is not concluded deleted
        assert posts[gone].deleted_at is None
        assert account.unsupported == ["expand", "replies", "status"]
        assert fake.reads["replies"] == 0 and fake.reads["status"] == 0
    finally:
        runtime.close()

    config = tmp_path / "huisheng.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n\n[platforms.fake]\nscenario = "default"\n', encoding="utf-8")
    table = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert table.exit_code == 0, table.output
    assert "平台不支持的功能" in table.output
    assert "示范区发布（fake）：读取长帖全文、读取评论下的回复、按编号查询帖子（删除检测）" in table.output
    rows = json.loads(CliRunner().invoke(main, ["status", "--format", "json", "--config", str(config)]).output)
    assert {(r["platform"], r["uid"]): r["unsupported"] for r in rows}[("fake", SAME_UID)] == [
        "expand", "replies", "status"]


def test_accounts_and_authors_are_platform_and_id(fake, db_url, tmp_path):
    fake = FakePlatform(start=NOW - timedelta(hours=1)).install()  # with reply threads
    clock = FakeClock(NOW)
    runtime = runtime_for(db_url, tmp_path, clock)
    try:
        # the same uid on two platforms: two accounts, each with its own owner unit
        with runtime.sessions() as session:
            owners = {(a.platform, a.uid): a.unit.code for a in session.scalars(select(Account))}
        assert owners[("fake", SAME_UID)] == "spb" and owners[("weibo", SAME_UID)] == "dept-cg"

        post = fake.post(SAME_UID, "小区环境整治征求意见")
        complaint = fake.comment(post, "垃圾三天没人清运了，请问什么时候处理？", author=("900001", "张三"))
        # a citizen of this platform whose id is a Weibo account's, and whose name is that account's
        namesake = ("5706878669", "示范区交通")
        impostor = fake.comment(post, "路灯坏了一个星期了，请问什么时候修？", author=namesake)
        fake.comment(post, "已处理", author=namesake, under=complaint)
        reply = fake.comment(post, "您好，已安排环卫工人今天清运", author=(SAME_UID, "示范区发布"), under=complaint)
        assert runtime.poller.poll(account_id(runtime, "fake", SAME_UID)).outcome == "ok"
        runtime.decider.run()
        with runtime.sessions() as session:
            flags = {c.external_id: (f, c) for f, c in session.execute(
                select(Flag, Comment).join(Comment, Comment.id == Flag.comment_id))}
            reply_row = session.scalar(select(Comment).where(Comment.external_id == reply))
            units = {f.id: f.unit_id for f, _ in flags.values()}
            spb = session.scalar(select(Account.unit_id).where(Account.platform == "fake"))
    finally:
        runtime.close()
    # the fake account's comment answers the citizen; the namesake's "已处理" does not
    flag, _ = flags[complaint]
    assert flag.status == "replied" and flag.first_reply_comment_id == reply_row.id
    # the namesake is a citizen: flagged like one, routed to the fake account's owner (not the Weibo one's)
    assert impostor in flags and flags[impostor][0].status == "open"
    assert set(units.values()) == {spb}

    # on the command line, the same uid on two platforms is named with its platform
    config = tmp_path / "huisheng.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n\n[platforms.fake]\nscenario = "default"\n', encoding="utf-8")
    ambiguous = CliRunner().invoke(main, ["poll", SAME_UID, "--config", str(config)])
    assert ambiguous.exit_code != 0 and "platform:uid" in ambiguous.output
    polled = CliRunner().invoke(main, ["poll", f"fake:{SAME_UID}", "--config", str(config)])
    assert polled.exit_code == 0, polled.output


def test_a_plugins_options_are_validated_with_the_config_and_its_parsers_run_by_parse(fake, tmp_path):
    config = tmp_path / "huisheng.toml"
    config.write_text('[platforms.fake]\nmin_interval = 1.0\nscenario = 3\ncolour = "red"\n', encoding="utf-8")
    with pytest.raises(ConfigErrors) as info:
        load_settings(config)
    assert [(e.key, e.line) for e in info.value.errors] == [("platforms.fake.scenario", 3),
                                                            ("platforms.fake.colour", 4)]
    assert all(e.file == str(config) for e in info.value.errors)

    saved = tmp_path / "timeline.json"
    saved.write_text(json.dumps(fake.timeline_json(SAME_UID, None) | {"items": [
        {"id": "7", "author": {"id": SAME_UID, "name": "示范区发布"}, "text": "停水通知", "at": NOW.isoformat(),
         "comments": 2}]}), encoding="utf-8")
    # two adapters installed: parse names one
    ambiguous = CliRunner().invoke(main, ["parse", "--endpoint", "timeline", str(saved)])
    assert ambiguous.exit_code == 2 and "--platform" in ambiguous.output
    parsed = CliRunner().invoke(main, ["parse", "--platform", "fake", "--endpoint", "timeline", str(saved)])
    assert parsed.exit_code == 0, parsed.output
    row = json.loads(parsed.output)
    assert (row["platform"], row["external_id"], row["text"], row["url"]) == (
        "fake", "7", "停水通知", f"https://fake.invalid/{SAME_UID}/7")
    broken = CliRunner().invoke(main, ["parse", "--platform", "fake", "--endpoint", "timeline", str(config)])
    assert broken.exit_code == 2
