"""Leaders' message boards (liuyan): the parsers on the fixtures in the board's
documented shape, every failure signal mapped to the exception tree, the
adapter's contract on its board source against the simulator over real HTTP,
and end to end: polled, stored, flagged, the official answer detected and the
board's own state kept beside ours."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

import pytest
from sqlalchemy import select

from harness import START, FrozenAfter, make_settings
from huisheng import errors, migrations
from huisheng.adapters.base import Adapter, Http, Pace
from huisheng.adapters.liuyan import LiuyanAdapter
from huisheng.adapters.liuyan import parse as lparse
from huisheng.adapters.testing import AdapterContract, Stage
from huisheng.app import build_runtime
from huisheng.cli.parse_cmd import parse_saved
from huisheng.clock import FakeClock
from huisheng.config.settings import AccountSpec, Matrix, PlatformSettings, UnitSpec
from huisheng.polling.dispatcher import Dispatcher
from huisheng.records import AccountRef, Post, record_to_json
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Comment, Flag, Unit
from huisheng.storage.models import Post as PostRow

FIXTURES = Path(__file__).parent / "fixtures" / "liuyan"
FID, NAME = "4171", "示范区委书记留言板"
BOARDS = (AccountSpec(platform="liuyan", uid=FID, name=NAME, unit="spb"),
          AccountSpec(platform="liuyan", uid="4172", name="示范区区长留言板", unit="spb"))
MATRIX = Matrix(units=(UnitSpec(code="spb", name="示范区", level="district"),), accounts=BOARDS)
#: how the simulator makes the board signal each error kind
FAULTS = {"timeout": "timeout", "network": "reset", "server_error": "502", "rate_limited": "429",
          "blocked": "403", "auth_required": "redirect_login", "parse_error": "truncated_json"}
ACCOUNT = AccountRef(platform="liuyan", uid=FID, name=NAME)


# --- parsers on the fixtures -------------------------------------------------------------------


@pytest.mark.parametrize("name,endpoint", [("list", "list"), ("list.end", "list"), ("detail", "detail"),
                                           ("detail.waiting", "detail")])
def test_parsers_give_the_expected_records(name, endpoint):
    rows = parse_saved("liuyan", endpoint, (FIXTURES / f"{name}.json").read_text("utf-8"), account_uid=FID)
    expected_file = FIXTURES / f"{name}.expected.jsonl"
    if os.environ.get("HUISHENG_REGENERATE"):
        expected_file.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows),
                                 encoding="utf-8")
    expected = [json.loads(line) for line in expected_file.read_text("utf-8").splitlines() if line]
    assert rows == expected


def test_a_thread_is_a_citizens_message_to_the_board_and_its_answer_the_boards_comment():
    payload = json.loads((FIXTURES / "list.json").read_text("utf-8"))
    page = lparse.parse_list(payload, account_uid=FID, account_name=NAME)
    waiting, handling, done = page.items
    assert page.cursor == done.external_id == "21554390" and page.complete is False
    assert [p.platform_state for p in page.items] == ["待回复", "办理中", "已办理"]
    assert [p.comments_count for p in page.items] == [0, 0, 1]
    assert waiting.text.startswith("【咨询】小区门口道路破损何时修复\n") and '"坑洼"' in waiting.text
    assert "<br" not in waiting.text and "\n下雨天" in waiting.text
    assert waiting.mentions == (NAME,) and waiting.author_id == "u:江南在路上1203" != FID
    assert waiting.created_at == datetime(2025, 11, 2, 13, 41, 35, tzinfo=timezone.utc)
    assert waiting.url == LiuyanAdapter.post_url(author_id=waiting.author_id, external_id=waiting.external_id)
    detail = lparse.parse_detail(json.loads((FIXTURES / "detail.json").read_text("utf-8")),
                                 account_uid=FID, account_name=NAME)
    post, answer = detail.items
    assert detail.complete and post.external_id == done.external_id and post.text == done.text
    assert (answer.author_id, answer.is_from_owner, answer.post_id) == (FID, True, post.external_id)
    assert answer.author_name == "沙坪坝区城市管理局" and answer.text == "您好，执法队员已到现场核查处理，\n后续将加强巡查。"
    assert answer.created_at == datetime.fromtimestamp(1761762618, timezone.utc)  # milliseconds read as such


def test_the_end_of_the_board_is_complete():
    page = lparse.parse_list({"result": "success", "resultDesc": "", "responseData": []})
    assert page.items == () and page.cursor is None and page.complete is True


# --- failure signals -------------------------------------------------------------------------------


@pytest.mark.parametrize("payload,kind", [
    ({"result": "fail", "resultDesc": "您的访问过于频繁，请稍后再试"}, errors.RateLimited),
    ({"result": "fail", "resultDesc": "留言板不存在"}, errors.NotFound),
    ({"result": "fail", "resultDesc": "请先登录"}, errors.AuthRequired),
    ({"result": "fail", "resultDesc": "非法请求"}, errors.Blocked),
    ({"result": "fail", "resultDesc": "系统繁忙"}, errors.ServerError),
    ({"ok": -100}, errors.ParseError),
    ({"result": "success", "responseData": {"tid": 1}}, errors.ParseError),
    ({"result": "success", "responseData": [{"tid": 1, "subject": "x", "content": "y"}]}, errors.ParseError),
    ({"result": "success", "responseData": [{"tid": "abc", "subject": "x", "content": "y", "dateline": 1}]},
     errors.ParseError),
])
def test_list_answers_map_to_the_tree(payload, kind):
    with pytest.raises(kind) as caught:
        lparse.parse_list(payload, account_uid=FID)
    assert caught.value.endpoint == "list"


@pytest.mark.parametrize("payload,kind", [
    ({"resultCode": 404, "resultMsg": "留言不存在或已被删除"}, errors.NotFound),
    ({"resultCode": "429", "resultMsg": "too many"}, errors.RateLimited),
    ({"resultCode": 403, "resultMsg": ""}, errors.Blocked),
    ({"resultCode": 401, "resultMsg": ""}, errors.AuthRequired),
    ({"resultCode": 500, "resultMsg": "error"}, errors.ServerError),
    ({"resultCode": 1001, "resultMsg": "签名错误"}, errors.ServerError),
    ({"resultCode": 1002, "resultMsg": "请求过于频繁"}, errors.RateLimited),
    ({"resultCode": "ok"}, errors.ParseError),
    ({"resultCode": 200, "resultData": {"contentList": []}}, errors.ParseError),
    ({"resultCode": 200, "resultData": {"contentList": [
        {"dataType": 1, "tid": 5, "subject": "s", "content": "c", "dateline": 1},
        {"dataType": 4, "content": "answer", "dateline": 2}]}}, errors.ParseError),
])
def test_detail_answers_map_to_the_tree(payload, kind):
    with pytest.raises(kind) as caught:
        lparse.parse_detail(payload, account_uid=FID)
    assert caught.value.endpoint == "detail"


@pytest.mark.parametrize("page,kind", [
    ("<html><body><h1>访问过于频繁，请稍后再试</h1></body></html>", errors.RateLimited),
    ("<!DOCTYPE html><html><title>安全验证</title><body>请完成滑动验证</body></html>", errors.AuthRequired),
    ("<html><body>您的访问被拒绝访问</body></html>", errors.Blocked),
    ("<html><body><h1>502 Bad Gateway</h1></body></html>", errors.ParseError),
])
def test_html_pages_in_place_of_json_map_to_the_tree(page, kind):
    with pytest.raises(kind) as caught:
        LiuyanAdapter.decode_body("list", page)
    assert caught.value.endpoint == "list"


def test_huisheng_parse_refuses_a_shape_naming_endpoint_and_field():
    with pytest.raises(errors.ParseError) as caught:
        parse_saved("liuyan", "detail", json.dumps({"resultCode": 200, "resultData": {}}))
    assert (caught.value.endpoint, caught.value.field) == ("detail", "contentList")


# --- the contract, on the board source, against the simulator ---------------------------------------


class LiuyanStage(Stage):
    """The simulator with two boards and nothing on them but what the tests write."""

    adapter_class = LiuyanAdapter

    def __init__(self) -> None:
        self.clock = FakeClock(START + timedelta(days=1))
        self.world = World(MATRIX, seed=1, start=START, config=WorldConfig.scripted())
        self.server = SimServer(self.world, self.clock)
        self.url = self.server.start()
        self.sim = next(p for p in self.server.platforms if p.name == "liuyan")

    def adapter(self) -> Adapter:
        return LiuyanAdapter(Http(timeout=0.5), {"base_url": self.url}, now=self.clock.now)

    def account(self) -> AccountRef:
        return ACCOUNT

    def page_size(self, listing: str) -> int:
        return 10

    def _moment(self) -> datetime:
        self.clock.advance(60)
        return self.clock.now() - timedelta(seconds=30)

    def publish(self, text: str) -> str:
        return str(self.sim.script_thread(FID, self._moment(), text))

    def comment(self, post_id: str, text: str, *, under: str | None = None) -> str:
        self.sim.script_answer(int(post_id), self._moment(), text)
        return f"a{self.sim.threads[int(post_id)].answer_id}"

    def delete(self, external_id: str) -> None:
        self.sim.delete(int(external_id), self.clock.now() - timedelta(seconds=1))

    def fail(self, kind: str) -> bool:
        self.server.set_faults([{"fault": FAULTS[kind], "hold": 1.0}])
        return True

    def heal(self) -> None:
        self.server.set_faults([])

    def bad_options(self) -> Mapping[str, Any]:
        return {"base_url": "ftp://liuyan.people.com.cn", "board_interval": 5}

    def close(self) -> None:
        self.server.stop()


class TestLiuyanDeclarations(AdapterContract):
    """What the adapter declares and its options, as the kit checks every adapter.
    The kit's other tests read an account's own timeline, which a board does not
    have (its threads are citizens'); the same properties are checked on the
    board's source below."""

    def make_stage(self) -> Stage:
        return LiuyanStage()


for _name in [n for n in dir(AdapterContract) if n.startswith("test_")
              and n not in ("test_declares_what_is_platform_specific", "test_options_are_validated_by_the_config_schema")]:
    setattr(TestLiuyanDeclarations, _name, None)


@pytest.fixture
def stage():
    stage = LiuyanStage()
    yield stage
    stage.close()


def _board(adapter: LiuyanAdapter, limit: int = 50) -> list:
    source = adapter.sources(ACCOUNT)[0]
    pages, cursor = [], None
    for _ in range(limit):
        page = adapter.read_source(source, ACCOUNT, cursor)
        pages.append(page)
        if page.cursor is None:
            return pages
        cursor = page.cursor
    raise AssertionError("no end")


def test_the_board_pages_to_its_end_newest_first_each_thread_once(stage):
    published = [stage.publish(f"第{i}位居民：请问小区停车位什么时候划线") for i in range(2 * 10 + 1)]
    adapter = stage.adapter()
    assert adapter.timeline(ACCOUNT, None).items == ()  # a board has no posts of its own
    pages = _board(adapter)
    assert len(pages) >= 3 and pages[-1].complete is True and not any(p.complete for p in pages[:-1])
    assert [p.external_id for page in pages for p in page.items] == list(reversed(published))
    again = [record_to_json(p) for page in _board(stage.adapter()) for p in page.items]
    assert again == [record_to_json(p) for page in pages for p in page.items], "reading again gives the same"


def test_answers_are_the_boards_own_comments_and_deleted_threads_are_gone(stage):
    kept, gone = stage.publish("请问社保卡在哪里补办"), stage.publish("投诉夜间施工噪音")
    answer = stage.comment(kept, "您好，可到街道便民服务中心补办。")
    adapter = stage.adapter()
    post = adapter.status(kept, ACCOUNT)
    assert post.platform_state == "已办理" and post.comments_count == 1
    thread = adapter.comments(post, ACCOUNT)
    assert thread.complete and [(c.external_id, c.author_id, c.is_from_owner) for c in thread.items] == [
        (answer, FID, True)]
    assert LiuyanAdapter.comment_url(post_external_id=kept, external_id=answer) == post.url
    stage.delete(gone)
    assert [p.external_id for page in _board(stage.adapter()) for p in page.items] == [kept]
    with pytest.raises(errors.NotFound):
        stage.adapter().status(gone, ACCOUNT)


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_every_error_kind_the_board_signals_is_the_trees(stage, kind):
    tid = stage.publish("请问公交线路调整")
    adapter = stage.adapter()
    source = adapter.sources(ACCOUNT)[0]
    stage.fail(kind)
    for read, endpoint in ((lambda: adapter.read_source(source, ACCOUNT), "list"),
                           (lambda: adapter.status(tid, ACCOUNT), "detail")):
        with pytest.raises(errors.AdapterError) as caught:
            read()
        assert (caught.value.kind, caught.value.endpoint) == (kind, endpoint)
    stage.heal()
    assert [p.external_id for page in _board(stage.adapter()) for p in page.items] == [tid]


def test_a_cursor_the_adapter_did_not_make_is_refused(stage):
    with pytest.raises(errors.ParseError):
        stage.adapter().read_source(LiuyanAdapter(Http()).sources(ACCOUNT)[0], ACCOUNT, "not-a-cursor")


def test_account_ids_are_board_fids():
    assert LiuyanAdapter.check_account_id("4171") is None
    assert LiuyanAdapter.check_account_id("5706878669x") and LiuyanAdapter.check_account_id("0123")


# --- end to end -----------------------------------------------------------------------------------------


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def test_boards_polled_flagged_answered_and_their_state_kept(db_url, tmp_path):
    clock = FakeClock(START)
    sim_clock = FrozenAfter(clock)
    world = World(MATRIX, seed=5, start=START, config=replace(WorldConfig(history_days=3),
                                                              mentions_per_day=(("district", 5.0),)))
    server = SimServer(world, sim_clock)
    base = server.start()
    settings = make_settings(db_url, base, tmp_path, interval=1800)
    settings = replace(settings, platforms={**settings.platforms, "liuyan": PlatformSettings(
        name="liuyan", pace=Pace(min_interval=0.01), options={"base_url": base, "board_interval": 3600})})
    migrations.upgrade(db_url)
    runtime = build_runtime(settings, clock, http_timeout=5.0)
    with runtime.sessions.begin() as session:
        sync_matrix(session, MATRIX, clock.now())
    dispatcher = Dispatcher(settings, runtime.sessions, clock, runtime.poller, jobs=runtime.jobs())
    try:
        dispatcher.run_virtual(clock, clock.now() + timedelta(days=1))
        sim_clock.freeze()
        dispatcher.run_virtual(clock, clock.now() + timedelta(seconds=2 * 3600))
        truth = server.truth()
        with runtime.sessions() as session:
            posts = {p.external_id: p for p in session.scalars(select(PostRow).where(PostRow.platform == "liuyan"))}
            items = {c.external_id: c for c in session.scalars(select(Comment).where(Comment.platform == "liuyan"))}
            flags = {ext: f for f, ext in session.execute(select(Flag, Comment.external_id).join(
                Comment, Comment.id == Flag.comment_id).where(Comment.platform == "liuyan")).all()}
            units = {u.id: u.code for u in session.scalars(select(Unit))}
    finally:
        dispatcher.close()
        server.stop()
        runtime.close()

    threads = {p["id"]: p for p in truth["posts"] if p.get("platform") == "liuyan"}
    recent = {tid for tid, p in threads.items() if _parse(p["created_at"]) >= clock.now() - timedelta(days=6)}
    assert len(recent) > 20 and {p["account_uid"] for p in threads.values()} == {b.uid for b in BOARDS}
    assert recent <= set(posts) and set(posts) <= set(threads), "every thread of the window, nothing invented"
    for tid in recent:
        row, p = posts[tid], threads[tid]
        assert row.origin == "mention" and row.text == p["text"] and items[tid].item == "post"
        assert row.platform_state == p["state"], (tid, "the board's own state")
    should = {tid for tid in recent if threads[tid]["labels"]["needs_reply"]}
    raised = set(flags) & recent
    assert len(should & raised) / len(should) >= 0.85 and len(should & raised) / len(raised) >= 0.9
    for tid in should & raised:
        assert units[flags[tid].unit_id] == threads[tid]["labels"]["target_unit"]
    answers = {c["labels"]["answers"]: _parse(c["created_at"]) for c in truth["comments"]
               if c.get("platform") == "liuyan"}
    answered = [tid for tid in should & raised if tid in answers]
    assert len(answered) > 5
    exact = [tid for tid in answered if flags[tid].first_reply_at == answers[tid]]
    assert len(exact) == len(answered), [(tid, answers[tid], flags[tid].first_reply_at) for tid in answered
                                         if tid not in exact][:5]
    assert all(flags[tid].status in ("open", "acknowledged") for tid in should & raised if tid not in answers)
    assert all(threads[tid]["state"] != "已办理" for tid in should & raised if tid not in answers)


def test_a_stored_thread_keeps_the_latest_board_state(db_url):
    from huisheng.storage import store
    from huisheng.storage.db import make_engine, session_factory

    migrations.upgrade(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    post = Post(platform="liuyan", external_id="21579009", account_uid=FID, author_id="u:网友", author_name="网友",
                created_at=START, created_at_approx=False, text="【咨询】道路破损", platform_state="待回复")
    try:
        with sessions.begin() as session:
            sync_matrix(session, MATRIX, START)
            owner = session.scalar(select(store.models.Account.id).where(store.models.Account.uid == FID))
            store.upsert_mention_posts(session, [post], owners={post.external_id: owner}, now=START)
        for state in ("办理中", None, "已办理"):
            with sessions.begin() as session:
                store.upsert_mention_posts(session, [replace(post, platform_state=state)],
                                           owners={post.external_id: owner}, now=START)
                stored = session.scalar(select(PostRow.platform_state))
                assert stored == (state or "办理中"), "a read that does not say keeps what was said"
    finally:
        engine.dispose()


def test_the_boards_state_shows_in_flags_show_and_on_the_workbench(db_url, tmp_path):
    from click.testing import CliRunner
    from sqlalchemy import update

    from huisheng.cli import main
    from huisheng.config.matrix import dump_matrix
    from tests.digestkit import MATRIX as DIGEST_MATRIX
    from tests.webkit import ADMIN, WebKit

    kit = WebKit(db_url, tmp_path)
    try:
        flag_id = kit.flag["community"]
        with kit.sessions.begin() as session:
            post_id = session.get(Flag, flag_id).post_id
            session.execute(update(PostRow).where(PostRow.id == post_id).values(platform_state="办理中<b>"))
        page = kit.client_for(ADMIN).get(f"/flags/{flag_id}").data.decode()
        assert "平台上的办理状态: 办理中&lt;b&gt;" in page
        (tmp_path / "m").mkdir()
        (tmp_path / "m" / "matrix.toml").write_text(dump_matrix(DIGEST_MATRIX), encoding="utf-8")
        config = tmp_path / "cli.toml"
        config.write_text(f'matrix = "m"\n[database]\nurl = "{db_url}"\n', encoding="utf-8")
        shown = CliRunner().invoke(main, ["--config", str(config), "flags", "show", str(flag_id)])
        assert shown.exit_code == 0 and "平台上的办理状态: 办理中<b>" in shown.output, shown.output
        other = CliRunner().invoke(main, ["--config", str(config), "flags", "show", str(kit.flag["street"])])
        assert other.exit_code == 0 and "平台上的办理状态" not in other.output
    finally:
        kit.close()


def test_a_board_ignoring_last_item_ends_the_listing_incomplete():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = (FIXTURES / "list.json").read_bytes()

    class SamePage(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - stdlib name
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), SamePage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        adapter = LiuyanAdapter(Http(timeout=2), {"base_url": f"http://127.0.0.1:{server.server_address[1]}"})
        source = adapter.sources(ACCOUNT)[0]
        first = adapter.read_source(source, ACCOUNT)
        again = adapter.read_source(source, ACCOUNT, first.cursor)
        assert first.cursor == "21554390" and again.cursor is None and again.complete is False
    finally:
        server.shutdown()
        server.server_close()
