"""The feed adapter (rss): its parser on recorded and written feeds, its
failures mapped to the exception tree, conditional GET, the adapter contract
against the simulator, and the real poller storing feeds and flagging a
message board's feed of citizens' messages.

Each ``tests/fixtures/rss/feed/<case>.xml|html`` has beside it
``<case>.expected.jsonl`` and, for a feed, ``<case>.page.json``;
``HUISHENG_REGENERATE=1`` rewrites them after a deliberate change (review the diff).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from harness import START, FrozenAfter, make_settings
from huisheng import errors, migrations
from huisheng.adapters.base import Adapter, Http, Pace
from huisheng.adapters.rss import RssAdapter, decode_body, parse_feed
from huisheng.adapters.testing import AdapterContract, Stage
from huisheng.app import build_runtime
from huisheng.cli import main
from huisheng.clock import FakeClock
from huisheng.config.settings import AccountSpec, Matrix, PlatformSettings, UnitSpec
from huisheng.polling.dispatcher import Dispatcher
from huisheng.records import AccountRef, record_to_json
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.platforms.rss import FEED_PAGE
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account, Comment, Flag, Post

FIXTURES = Path(__file__).parent / "fixtures" / "rss" / "feed"
REGENERATE = os.environ.get("HUISHENG_REGENERATE") == "1"
NOW = datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc)


def _cases():
    for path in sorted(FIXTURES.glob("*")):
        if path.suffix in (".xml", ".html"):
            yield pytest.param(path, id=path.stem)


def run_case(path: Path) -> tuple[list[dict], dict | None]:
    args_file = path.with_name(path.stem + ".args.json")
    args = json.loads(args_file.read_text("utf-8")) if args_file.exists() else {}
    try:
        page = parse_feed(RssAdapter.decode_bytes("feed", path.read_bytes()), now=NOW, **args)
    except errors.AdapterError as exc:
        return [{"error": type(exc).__name__, "endpoint": exc.endpoint, "field": getattr(exc, "field", None)}], None
    return [record_to_json(p) for p in page.items], {"cursor": page.cursor, "complete": page.complete}


@pytest.mark.parametrize("path", list(_cases()))
def test_fixture(path):
    rows, page = run_case(path)
    expected_file = path.with_name(path.stem + ".expected.jsonl")
    page_file = path.with_name(path.stem + ".page.json")
    if REGENERATE:
        expected_file.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows),
                                 "utf-8")
        if page is not None:
            page_file.write_text(json.dumps(page, ensure_ascii=False, indent=1) + "\n", "utf-8")
    assert rows == [json.loads(line) for line in expected_file.read_text("utf-8").splitlines() if line]
    if page is not None or page_file.exists():
        assert page == json.loads(page_file.read_text("utf-8"))


# --- what the fixtures carry, asserted by name so a regeneration cannot hide it ---


def _rows(name: str) -> list[dict]:
    return run_case(FIXTURES / name)[0]


def test_the_real_atom_feed_is_sanitised_to_plain_text():
    rows = _rows("atom_movable_type_css_sanitisation.xml")
    assert len(rows) == 15 and len({r["external_id"] for r in rows}) == 15
    for row in rows:
        assert not any(mark in row["text"] for mark in ("<", ">", "{", "style", "text-align", "font-size")), row
        assert row["url"].startswith("http://touchnokia.ru/2009/")
    assert rows[0]["text"].startswith("Невидимая броня для Вашего Nokia 5800\nНевидимая броня для Вашего девайса.")
    # the newest first; an entry updated after it was published was revised
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)
    assert rows[0]["edit_count"] == 0 and rows[1]["edit_count"] == 1


def test_an_rsshub_feed_keeps_words_and_drops_markup_scripts_and_repeats():
    rows = _rows("rsshub_weibo_style.xml")
    assert [r["external_id"] for r in rows] == ["https://weibo.com/1234567890/PaAbCdEfG",
                                                "https://weibo.com/1234567890/PaZzYyXxW"], "one entry per guid"
    first, second = rows
    # the title only repeats the description's opening: the text holds it once
    assert first["text"] == "【停水通知】因管网维修，11月3日9:00-18:00三峡广场周边停水，请居民提前储水。\n详情：@沙坪坝发布"
    assert "alert" not in first["text"] and "color" not in first["text"]
    assert second["text"] == "区政府常务会议召开\n11月1日，区政府召开常务会议，研究部署冬季安全生产工作。\n会议强调……"
    assert first["author_id"] == first["account_uid"] == "/weibo/user/1234567890", "the feed is the account's own"
    assert first["url"] == RssAdapter.post_url(author_id="", external_id=first["external_id"])


def test_a_gbk_rdf_feed_is_decoded_from_its_prolog():
    [row] = _rows("rdf_gbk.xml")
    assert row["text"] == "关于老旧小区改造的公示\n拟对和平街等三个老旧小区实施改造，公示期七天。"
    assert row["created_at"] == "2026-11-02T02:00:00Z" and row["author_name"] == "区住房城乡建委"


def test_entries_without_guid_are_named_by_link_else_by_their_text():
    by_link, by_text = _rows("no_ids.xml")
    link = "https://www.example.org/gls/2026/11/fire-drill-in-the-community-centre-of-gelehsan-street.html"
    assert by_link["url"] == link and by_link["external_id"].startswith("h:"), "a key longer than 64 is hashed"
    assert by_text["external_id"].startswith("sha256:") and by_text["url"] is None
    again = _rows("no_ids.xml")
    assert [r["external_id"] for r in again] == [by_link["external_id"], by_text["external_id"]], "stable"


def test_a_paged_feed_follows_next_only_on_its_own_host():
    _, page = run_case(FIXTURES / "paged_atom.xml")
    assert page == {"cursor": "https://www.example.org/jw/atom.xml?page=2", "complete": False}
    [row] = _rows("paged_atom.xml")
    assert row["url"] == "https://www.example.org/jw/2026/enrol.html" and row["edit_count"] == 1
    assert row["text"] == "2027年小学入学报名须知\n报名时间：12月1日至12月15日。\n（更正：需携带户口簿原件）"


@pytest.mark.parametrize("name", ["truncated.xml", "html_page.html"])
def test_a_cut_document_or_a_page_is_refused_whole(name):
    assert _rows(name) == [{"error": "ParseError", "endpoint": "feed", "field": "<body>"}]


def test_a_string_body_is_never_fetched_or_opened():
    with pytest.raises(errors.ParseError):
        decode_body("feed", "http://127.0.0.1:9/feed.xml")
    with pytest.raises(errors.ParseError):
        decode_body("feed", "/etc/hostname")


def test_huisheng_parse_prints_the_records():
    runner = CliRunner()
    out = runner.invoke(main, ["parse", "--platform", "rss", "--endpoint", "feed", str(FIXTURES / "rdf_gbk.xml")])
    assert out.exit_code == 0, out.output
    [row] = [json.loads(line) for line in out.stdout.splitlines()]
    assert row["platform"] == "rss" and row["text"].startswith("关于老旧小区改造的公示")
    bad = runner.invoke(main, ["parse", "--platform", "rss", "--endpoint", "feed", str(FIXTURES / "truncated.xml")])
    assert bad.exit_code == 2 and "feed" in bad.stderr and not bad.stdout


def test_account_ids_are_feed_addresses():
    assert RssAdapter.check_account_id("https://www.example.org/rss.xml") is None
    assert RssAdapter.check_account_id("/gov/spb/news") is None
    for bad in ("", "two words", "javascript:alert(1)", "ftp://example.org/feed", "https://" + "a" * 60):
        assert RssAdapter.check_account_id(bad), bad


# --- against the simulator ---------------------------------------------------------

UID = "/feeds/spb-news"
BOARD = "/rsshub/spb/liuyan"
#: how the simulator makes a feed's host signal each error kind
FAULTS = {"timeout": "timeout", "network": "reset", "server_error": "502", "rate_limited": "429",
          "blocked": "403", "auth_required": "redirect_login", "parse_error": "truncated_json"}


def _matrix(*accounts: AccountSpec) -> Matrix:
    units = (UnitSpec(code="spb", name="示范区", level="district"),
             UnitSpec(code="dept-zj", name="住房和城乡建设委员会", level="department", parent="spb"))
    return Matrix(units=units, accounts=accounts)


class RssStage(Stage):
    """The simulator with one feed holding only what the tests publish."""

    adapter_class = RssAdapter

    def __init__(self) -> None:
        self.clock = FakeClock(START + timedelta(days=1))
        self.world = World(_matrix(AccountSpec(platform="rss", uid=UID, name="示范区发布", unit="spb")),
                           seed=1, start=START, config=WorldConfig.scripted())
        self.server = SimServer(self.world, self.clock)
        self.url = self.server.start()
        [self.sim] = self.server.platforms

    def adapter(self) -> Adapter:
        return RssAdapter(Http(timeout=0.5), self.server.adapter_options("rss"), now=self.clock.now)

    def account(self) -> AccountRef:
        return AccountRef(platform="rss", uid=UID, name="示范区发布")

    def page_size(self, listing: str) -> int:
        return FEED_PAGE

    def publish(self, text: str) -> str:
        self.clock.advance(60)
        return self.sim.script_post(UID, self.clock.now() - timedelta(seconds=30), text)

    def comment(self, post_id: str, text: str, *, under: str | None = None) -> str | None:
        return None  # feeds have no comment threads

    def delete(self, external_id: str) -> None:
        self.sim.delete(external_id, self.clock.now() - timedelta(seconds=1))

    def fail(self, kind: str) -> bool:
        self.server.set_faults([{"fault": FAULTS[kind], "hold": 1.0}])
        return True

    def heal(self) -> None:
        self.server.set_faults([])

    def bad_options(self) -> Mapping[str, Any]:
        return {"base_url": "ftp://127.0.0.1", "messages_interval": 5, "messages": [3]}

    def close(self) -> None:
        self.server.stop()


class TestRssAdapterKeepsTheContract(AdapterContract):
    def make_stage(self) -> Stage:
        return RssStage()


@pytest.fixture
def stage():
    stage = RssStage()
    yield stage
    stage.close()


def test_an_unchanged_feed_is_one_304_and_its_validators_persist(stage):
    first_id = stage.publish("【通知】本周六便民服务中心照常办公")
    adapter = stage.adapter()
    page = adapter.timeline(stage.account())
    assert [p.external_id for p in page.items] == [first_id] and page.state["etag"]
    account = AccountRef(platform="rss", uid=UID, name="示范区发布", state=page.state)
    again = adapter.timeline(account)
    assert again.items == () and again.complete and again.state is None, "304: nothing, validators unchanged"
    second_id = stage.publish("【提示】明日起气温下降")
    changed = adapter.timeline(account)
    assert [p.external_id for p in changed.items] == [second_id, first_id]
    assert changed.state["etag"] != page.state["etag"]
    assert stage.server.stats()["by_endpoint"]["feed"] == 3
    # a server that ignores the validators: the same bytes again are nothing new either
    blind = AccountRef(platform="rss", uid=UID, name="示范区发布", state={"digest": changed.state["digest"]})
    same = adapter.timeline(blind)
    assert same.items == () and same.state["digest"] == changed.state["digest"] and same.state["etag"]


@pytest.mark.parametrize("path,kind", [("/feeds/no-such-feed", errors.NotFound)])
def test_a_feed_that_is_not_there_is_not_found(stage, path, kind):
    with pytest.raises(kind) as caught:
        stage.adapter().timeline(AccountRef(platform="rss", uid=path))
    assert caught.value.endpoint == "feed"


def test_rate_limits_carry_retry_after(stage):
    stage.server.set_faults([{"fault": "429", "endpoint": "feed", "retry_after": 120}])
    with pytest.raises(errors.RateLimited) as caught:
        stage.adapter().timeline(stage.account())
    assert caught.value.retry_after == 120


def test_comments_are_unsupported_never_an_empty_thread(stage):
    post_id = stage.publish("【通知】停水")
    post = next(p for p in stage.adapter().timeline(stage.account()).items if p.external_id == post_id)
    with pytest.raises(errors.Unsupported) as caught:
        stage.adapter().comments(post, stage.account())
    assert caught.value.endpoint == "comments"


# --- the real poller ------------------------------------------------------------------------


def test_the_poller_stores_feeds_and_flags_a_boards_messages(db_url, tmp_path):
    """Two feeds polled by the daemon for half a simulated day: the district's notices
    (the account's own posts, edits noticed, nothing flagged, unchanged polls
    answered 304) and a message board's feed (citizens' messages to the account,
    flagged like mentions).  No thread is ever marked read."""
    matrix = _matrix(AccountSpec(platform="rss", uid=UID, name="示范区发布", unit="spb"),
                     AccountSpec(platform="rss", uid=BOARD, name="示范区区长留言板", unit="spb"))
    clock = FakeClock(START)
    sim_clock = FrozenAfter(clock)
    world = World(matrix, seed=5, start=START, config=WorldConfig(history_days=2, posts_per_day=(
        ("district", 6.0),), mentions_per_day=(("district", 12.0),), edit_share=0.1))
    server = SimServer(world, sim_clock)
    base = server.start()
    settings = make_settings(db_url, base, tmp_path, interval=900, tick=30.0)
    settings.platforms["rss"] = PlatformSettings(name="rss", pace=Pace(min_interval=0.01, concurrency=2),
                                                 options=server.adapter_options("rss"))
    migrations.upgrade(db_url)
    runtime = build_runtime(settings, clock, http_timeout=5.0)
    with runtime.sessions.begin() as session:
        sync_matrix(session, matrix, clock.now())
    dispatcher = Dispatcher(settings, runtime.sessions, clock, runtime.poller, jobs=runtime.jobs())
    try:
        dispatcher.run_virtual(clock, clock.now() + timedelta(hours=10))
        sim_clock.freeze()
        dispatcher.run_virtual(clock, clock.now() + timedelta(hours=1))
        truth = [p for p in server.truth()["posts"] if p.get("platform") == "rss"]
        stats = server.stats()
        with runtime.sessions() as session:
            posts = {p.external_id: p for p in session.scalars(select(Post).where(Post.platform == "rss"))}
            items = {c.external_id: c for c in session.scalars(select(Comment).where(Comment.platform == "rss"))}
            flagged = set(session.scalars(select(Comment.external_id).join(Flag, Flag.comment_id == Comment.id)))
            accounts = {a.uid: a for a in session.scalars(select(Account))}
    finally:
        dispatcher.close()
        server.stop()
        runtime.close()

    notices = {p["id"]: p for p in truth if not p["citizen"]}
    messages = {p["id"]: p for p in truth if p["citizen"]}
    assert len(notices) >= 8 and len(messages) >= 8
    assert any(p["edit_count"] for p in notices.values()), "the scenario revises a notice"
    # the account's own feed: every entry once, as it reads now, the account its author, nothing flagged
    own = {ext for ext, p in posts.items() if p.author_id == UID}
    assert own == set(notices)
    for ext in own:
        assert (posts[ext].text, posts[ext].edit_count) == (notices[ext]["text"], notices[ext]["edit_count"]), ext
        assert posts[ext].comments_read_at is None, "no thread of a feed is ever taken for read"
    assert not (flagged & set(notices))
    # the board: each message its own thread's root item, by its writer, flagged when it needs a reply
    assert set(messages) <= set(items) and all(items[m].item == "post" for m in messages)
    for ext, p in messages.items():
        assert (items[ext].text, items[ext].author_id) == (p["text"], p["author_id"]), ext
    should = {m for m, p in messages.items() if p["labels"]["needs_reply"]}
    assert should and len(should & flagged) / len(should) >= 0.85
    assert len(should & flagged) / len(flagged & set(messages)) >= 0.9
    # polled all day long, each poll asking with the validators the last one kept
    assert stats["by_account"][UID]["feed"] >= 40 and accounts[UID].adapter_state["etag"]
    assert "comments" in accounts[UID].unsupported
