"""The Mastodon adapter: its parsers on real recorded responses (Mastodon.py's
cassettes, tests/fixtures/mastodon), the contract suite against the simulator
over real HTTP, every failure signal mapped to the exception tree, and what a
status does not say (the account's answers deep in a thread, mentions).

Each ``tests/fixtures/mastodon/<endpoint>/<case>.json`` has beside it
``<case>.expected.jsonl`` (one ``record_to_json`` line per record, or one
``{"error": ...}`` line) and optionally ``<case>.args.json`` (the parse
context, and the response's ``Link`` header).  ``HUISHENG_REGENERATE=1``
rewrites the expected files after a deliberate change; review the diff.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

import pytest
import requests

from huisheng import errors
from huisheng.adapters.base import Adapter, Http
from huisheng.adapters.mastodon import MastodonAdapter, html_to_text
from huisheng.adapters.mastodon.parse import PARSERS, next_max_id
from huisheng.adapters.testing import AdapterContract, Stage
from huisheng.clock import FakeClock
from huisheng.config.settings import AccountSpec, Matrix, UnitSpec
from huisheng.records import AccountRef, Page, record_to_json
from huisheng.simulator import SimServer, World, WorldConfig

FIXTURES = Path(__file__).parent / "fixtures" / "mastodon"
REGENERATE = os.environ.get("HUISHENG_REGENERATE") == "1"
START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
UID = "110000000000000001"
#: how the simulator makes the server signal each error kind
FAULTS = {"timeout": "timeout", "network": "reset", "server_error": "502", "rate_limited": "429",
          "blocked": "403", "auth_required": "401", "parse_error": "truncated_json"}


# --- parsers on the recordings ------------------------------------------------------------


def _cases():
    for endpoint in sorted(PARSERS):
        for path in sorted((FIXTURES / endpoint).glob("*.json")):
            if not path.name.endswith(".args.json"):
                yield pytest.param(endpoint, path, id=f"{endpoint}/{path.stem}")


def _args(path: Path) -> dict[str, Any]:
    file = path.with_name(path.stem + ".args.json")
    return json.loads(file.read_text("utf-8")) if file.exists() else {}


def _run(endpoint: str, path: Path) -> list[dict]:
    args = _args(path)
    try:
        body = MastodonAdapter.decode_body(endpoint, path.read_text("utf-8"))
        result = PARSERS[endpoint](body, account_uid=args.get("account_uid", ""), post_id=args.get("post_id", ""))
    except errors.AdapterError as exc:
        return [{"error": type(exc).__name__, "endpoint": exc.endpoint, "field": getattr(exc, "field", None)}]
    items = result.items if isinstance(result, Page) else (result,)
    return [record_to_json(item) for item in items]


def test_every_endpoint_has_recorded_fixtures():
    assert {p.values[0] for p in _cases()} == set(PARSERS)


@pytest.mark.parametrize("endpoint,path", list(_cases()))
def test_fixture(endpoint, path):
    rows = _run(endpoint, path)
    expected_file = path.with_name(path.stem + ".expected.jsonl")
    if REGENERATE:
        expected_file.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows),
                                 "utf-8")
    assert rows == [json.loads(line) for line in expected_file.read_text("utf-8").splitlines() if line]


@pytest.mark.parametrize("endpoint,path", list(_cases()))
def test_huisheng_parse_prints_the_expected_records(endpoint, path):
    from click.testing import CliRunner

    from huisheng.cli import main

    args = _args(path)
    result = CliRunner().invoke(main, ["parse", "--platform", "mastodon", "--endpoint", endpoint, str(path),
                                       "--account-uid", args.get("account_uid", ""),
                                       "--post-id", args.get("post_id", "")])
    expected = [json.loads(line) for line in path.with_name(path.stem + ".expected.jsonl").read_text("utf-8")
                .splitlines() if line]
    if expected and "error" in expected[0]:
        assert result.exit_code == 2 and expected[0]["endpoint"] in result.output
    else:
        assert result.exit_code == 0, result.output
        assert [json.loads(line) for line in result.output.splitlines()] == expected


def test_the_recordings_carry_what_the_adapter_relies_on():
    first = _run("statuses", FIXTURES / "statuses" / "first_page.json")
    assert [r["text"] for r in first] == [f"Toot number {n}!" for n in range(9, 4, -1)]
    assert all(r["author_id"] == r["account_uid"] for r in first)
    # the Link header's next page starts below this one's oldest
    assert next_max_id(_args(FIXTURES / "statuses" / "first_page.json")["link"]) == first[-1]["external_id"]
    edited = _run("status", FIXTURES / "status" / "edited.json")[0]
    assert edited["edit_count"] == 1 and "Kate" in edited["text"]
    [reply] = _run("context", FIXTURES / "context" / "reply_thread.json")
    assert reply["root_id"] is None and reply["is_from_owner"] is False
    assert reply["text"] == "@mastodonpy_test_2 same!"
    [mention] = _run("notifications", FIXTURES / "notifications" / "mentions_only.json")
    assert mention["mentions"] == ["mastodonpy_test"]
    assert _run("status", FIXTURES / "status" / "record_not_found.json")[0]["error"] == "ParseError"


def test_html_content_becomes_the_text_a_reader_sees():
    html = ('<p>停水通知<br />明天 9:00 起</p><p>详见 <a href="https://example.org/a/b"><span class="invisible">'
            'https://</span><span class="ellipsis">example.org/a</span><span class="invisible">/b</span></a> '
            '&lt;script&gt;</p>')
    assert html_to_text(html) == "停水通知\n明天 9:00 起\n\n详见 https://example.org/a/b <script>"


def test_next_pages_come_from_the_link_header_only():
    assert next_max_id('<https://s.example/api/v1/x?min_id=5>; rel="prev"') is None
    assert next_max_id(None) is None
    assert next_max_id('<https://s.example/api/v1/x?max_id=41&limit=2>; rel="next", '
                       '<https://s.example/api/v1/x?min_id=44>; rel="prev"') == "41"


def _response(status: int, headers: Mapping[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize("status,headers,kind,retry", [
    (429, {"Retry-After": "30"}, "rate_limited", 30.0),
    (429, {"X-RateLimit-Reset": "2026-11-02T01:05:00.000Z"}, "rate_limited", 300.0),
    (401, {}, "auth_required", None),
    (403, {}, "blocked", None),
    (404, {}, "not_found", None),
    (410, {}, "not_found", None),
    (503, {}, "server_error", None),
    (302, {"Location": "https://login.example/auth?token=secret"}, "error", None),
])
def test_every_status_maps_to_the_exception_tree(status, headers, kind, retry):
    with pytest.raises(errors.AdapterError) as caught:
        MastodonAdapter(Http(), now=lambda: START).raise_for_status(_response(status, headers), "statuses")
    assert caught.value.kind == kind and caught.value.endpoint == "statuses"
    assert getattr(caught.value, "retry_after", None) == retry
    assert "secret" not in str(caught.value)


# --- the simulator as the contract's stage ---------------------------------------------------


def _matrix() -> Matrix:
    return Matrix(units=(UnitSpec(code="spb", name="示范区", level="district"),),
                  accounts=(AccountSpec(platform="mastodon", uid=UID, name="示范区发布", unit="spb"),))


class MastodonStage(Stage):
    """The simulator with one Mastodon account and only what the tests publish."""

    adapter_class = MastodonAdapter

    def __init__(self) -> None:
        self.clock = FakeClock(START + timedelta(days=1))
        self.world = World(_matrix(), seed=1, start=START, config=WorldConfig.scripted())
        self.server = SimServer(self.world, self.clock)
        self.url = self.server.start()
        [self.sim] = self.server.platforms
        self.citizens = 0

    def adapter(self) -> Adapter:
        return MastodonAdapter(Http(timeout=0.5), {**self.server.adapter_options("mastodon"), "page_size": 4},
                               now=self.clock.now)

    def account(self) -> AccountRef:
        return AccountRef(platform="mastodon", uid=UID, name="示范区发布")

    def page_size(self, listing: str) -> int:
        return 4

    def _moment(self) -> datetime:
        self.clock.advance(60)
        return self.clock.now() - timedelta(seconds=30)

    def publish(self, text: str) -> str:
        return self.sim.script_post(UID, self._moment(), text).id

    def comment(self, post_id: str, text: str, *, under: str | None = None) -> str:
        self.citizens += 1
        parent = self.sim.statuses[under or post_id]
        return self.sim.script_reply(parent, self._moment(), text,
                                     (str(900 + self.citizens), f"citizen{self.citizens}", "居民")).id

    def delete(self, external_id: str) -> None:
        self.sim.statuses[external_id].deleted_at = self.clock.now() - timedelta(seconds=1)

    def fail(self, kind: str) -> bool:
        self.server.set_faults([{"fault": FAULTS[kind], "hold": 1.0}])
        return True

    def heal(self) -> None:
        self.server.set_faults([])

    def empty_thread(self, post_id: str) -> bool:
        self.sim.hidden_threads.add(post_id)
        return True

    def bad_options(self) -> Mapping[str, Any]:
        return {"base_url": "ftp://mastodon.social", "page_size": 80, "mentions_interval": 5}

    def close(self) -> None:
        self.server.stop()


class TestMastodonAdapterKeepsTheContract(AdapterContract):
    def make_stage(self) -> Stage:
        return MastodonStage()


@pytest.fixture
def stage():
    stage = MastodonStage()
    yield stage
    stage.close()


def test_an_answer_deep_in_a_thread_moves_its_posts_counter(stage):
    """A status counts its direct replies only; the account's answer to a
    citizen's reply is found on its timeline and counted on the thread's post."""
    post = stage.publish("关于小区停车的征求意见")
    asked = stage.comment(post, "@gov 什么时候施工？")
    adapter, account = stage.adapter(), stage.account()
    [before] = adapter.timeline(account).items
    owner = stage.sim.script_reply(stage.sim.statuses[asked], stage._moment(), "@citizen1 下周一开始",
                                   (UID, "gov", "示范区发布"))
    for _ in range(3):  # newer posts push the post off the first page
        stage.publish("其他通知")
    first = adapter.timeline(account)
    assert first.state["roots"] == {owner.id: post}
    traced = next(p for p in first.items if p.external_id == post)
    assert traced.comments_count == before.comments_count + 1
    assert owner.id not in {p.external_id for p in first.items}, "a reply is no post"
    # the trace is remembered: read again with the state, no lookup is made
    again = replace_state(account, first.state)
    requests_before = adapter.http.request_count
    adapter.timeline(again)
    assert adapter.http.request_count == requests_before + 1
    thread = adapter.comments(traced, again)
    [top] = [c for c in thread.items if c.root_id is None]
    [answer] = [c for c in thread.items if c.root_id == asked]
    assert answer.is_from_owner and answer.parent_id == asked and top.replies_count == 1
    assert answer.reply_to_name == "居民", "it answers the resident, not the post"
    replies = adapter.replies(traced, top, again)
    assert [c.external_id for c in replies.items] == [owner.id] and replies.complete


def test_the_timeline_is_read_from_the_newest_post_seen(stage):
    """With the newest post seen in the account's state, the first page asks
    for what came since (``min_id``) and that post, which stops the poller."""
    adapter, account = stage.adapter(), stage.account()
    old = [stage.publish(f"旧帖{i}") for i in range(6)]
    first = adapter.timeline(account)
    assert first.state == {"newest": old[-1]}
    account = replace_state(account, first.state)
    new = [stage.publish(f"新帖{i}") for i in range(2)]
    page = adapter.timeline(account)
    assert [p.external_id for p in page.items] == [new[1], new[0], old[-1]]
    assert page.state == {"newest": new[1]} and page.cursor is not None
    older = adapter.timeline(account, page.cursor)
    assert [p.external_id for p in older.items] == old[-2:-6:-1]
    # more new posts than a page: the newest page, as without a state
    newer = [stage.publish(f"更新{i}") for i in range(5)]
    requests_before = adapter.http.request_count
    page = adapter.timeline(replace_state(account, {"newest": new[1]}))
    assert [p.external_id for p in page.items] == newer[:0:-1] and adapter.http.request_count == requests_before + 2


def replace_state(account: AccountRef, state: Mapping[str, Any]) -> AccountRef:
    return replace(account, state=dict(state))


def test_mentions_are_read_with_the_accounts_own_token(stage):
    citizen = stage.sim.script_mention(UID, stage.clock.now(), "路灯坏了", ("901", "u901", "居民"))
    stage.clock.advance(60)
    adapter = stage.adapter()
    assert adapter.sources(stage.account()) == (), "without the account's token there is no source"
    mine = replace(stage.account(), cookie=f"sim-{UID}")
    [source] = adapter.sources(mine)
    page = adapter.read_source(source, mine)
    [post] = page.items
    assert post.external_id == citizen.id and post.mentions[0] == "示范区发布"
    assert post.text == f"@gov{UID[-8:]} 路灯坏了" and post.author_id == "901"
    with pytest.raises(errors.AuthRequired) as caught:
        adapter.read_source(source, replace(mine, cookie="sim-wrong"))
    assert "sim-wrong" not in str(caught.value)


def test_a_deleted_status_is_not_found(stage):
    post = stage.publish("将删除")
    adapter = stage.adapter()
    assert adapter.status(post, stage.account()).external_id == post
    stage.delete(post)
    with pytest.raises(errors.NotFound) as caught:
        adapter.status(post, stage.account())
    assert caught.value.endpoint == "status"


def test_the_simulators_texts_survive_the_html_round_trip():
    matrix = Matrix(units=(UnitSpec(code="spb", name="示范区", level="district"),),
                    accounts=(AccountSpec(platform="mastodon", uid=UID, name="示范区发布", unit="spb"),))
    world = World(matrix, seed=3, start=START, config=WorldConfig(history_days=3))
    clock = FakeClock(START + timedelta(days=1))
    with SimServer(world, clock) as server:
        adapter = MastodonAdapter(Http(timeout=5), server.adapter_options("mastodon"), now=clock.now)
        account = AccountRef(platform="mastodon", uid=UID, name="示范区发布")
        truth = server.truth()
        posts = {p["id"]: p for p in truth["posts"] if p["platform"] == "mastodon" and not p["deleted"]}
        comments = {c["id"]: c for c in truth["comments"] if c["platform"] == "mastodon" and not c["deleted"]}
        seen, cursor = [], None
        while True:
            page = adapter.timeline(account, cursor)
            seen += page.items
            if page.cursor is None:
                break
            cursor = page.cursor
        own = {p["id"] for p in posts.values() if not p["citizen"]}
        assert own and own == {p.external_id for p in seen}
        for post in seen:
            assert post.text == posts[post.external_id]["text"]
            for c in adapter.comments(post, account).items:
                assert c.text == comments[c.external_id]["text"]


def test_the_token_comes_from_the_variable_the_config_names(tmp_path):
    from huisheng.config import load_settings

    path = tmp_path / "huisheng.toml"
    path.write_text('[platforms.mastodon]\nbase_url = "https://social.example.org"\n'
                    'token_env = "HUISHENG_MASTODON_TOKEN"\n', encoding="utf-8")
    settings = load_settings(path, environ={"HUISHENG_MASTODON_TOKEN": "s3cret-token"})
    mastodon = settings.platforms["mastodon"]
    assert mastodon.options["token"] == "s3cret-token"
    assert mastodon.secret_env == {"token": "HUISHENG_MASTODON_TOKEN"}
    assert "s3cret-token" not in repr(mastodon)
    path.write_text('[platforms.mastodon]\ntoken = "s3cret-token"\n', encoding="utf-8")
    with pytest.raises(errors.ConfigError) as caught:
        load_settings(path, environ={})
    assert "token_env" in str(caught.value) and "s3cret-token" not in str(caught.value)


def _status(**changes: Any) -> dict[str, Any]:
    status = json.loads((FIXTURES / "status" / "reply.json").read_text("utf-8"))
    status.update(changes)
    return status


@pytest.mark.parametrize("endpoint,body,field", [
    ("statuses", {"error": "Record not found"}, "<body>"),
    ("statuses", [_status(id=None)], "id"),
    ("statuses", [_status(id="12ab")], "id"),
    ("statuses", [_status(created_at="yesterday")], "created_at"),
    ("statuses", [_status(created_at="2026-08-01T13:53:15")], "created_at"),
    ("statuses", [_status(account=None)], "account"),
    ("statuses", [_status(content=None)], "content"),
    ("statuses", [_status(replies_count="3")], "replies_count"),
    ("statuses", [_status(replies_count=-1)], "replies_count"),
    ("statuses", [_status(mentions=[{"id": "1"}])], "acct"),
    ("status", [_status()], "<status>"),
    ("context", {"ancestors": []}, "descendants"),
    ("context", {"descendants": [_status(in_reply_to_id=5)], "ancestors": []}, "in_reply_to_id"),
    ("notifications", [{"id": "21", "status": _status()}], "type"),
    ("notifications", [{"id": "21", "type": "mention", "status": "gone"}], "status"),
])
def test_a_shape_the_parser_does_not_know_names_its_endpoint_and_field(endpoint, body, field):
    with pytest.raises(errors.ParseError) as caught:
        PARSERS[endpoint](body, account_uid=UID, post_id="1")
    assert caught.value.endpoint == endpoint and caught.value.field == field


def test_a_boost_has_no_words_of_its_own():
    """A boost of a citizen's post is no answer to it (and no Unsupported:
    the adapter knows a boost carries nothing of the account's own)."""
    original = _status()
    boost = _status(id="99", reblog=original, content="")
    post = PARSERS["status"](boost, account_uid=UID, post_id="99")
    assert post.repost_of == original["id"]
    adapter = MastodonAdapter(Http(), {"base_url": "http://127.0.0.1:9"})
    assert adapter.repost_text(post) is None
