"""The Weibo adapter over real HTTP on 127.0.0.1: the Http seam, paging,
fallbacks and the mapping of every failure signal to a typed error."""

from __future__ import annotations

import json
import socket
import struct
import threading
from dataclasses import replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from huisheng import errors
from huisheng.adapters.base import Http
from huisheng.adapters.weibo import WeiboAdapter
from huisheng.adapters.weibo.text import parse_count
from huisheng.records import AccountRef, Comment, Post, Shortfall

FIXTURES = Path(__file__).parent / "fixtures" / "weibo"
UID = "7301234567"
NOW = datetime(2025, 11, 4, 1, 0, tzinfo=timezone.utc)
COOKIE = "SUB=_2A25secret-cookie-value"


def fixture(endpoint: str, case: str) -> bytes:
    for ext in (".json", ".html"):
        path = FIXTURES / endpoint / f"{case}{ext}"
        if path.exists():
            return path.read_bytes()
    raise FileNotFoundError(case)


def ok(body: bytes | dict, status: int = 200, headers: dict | None = None):
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, body


RESET = "reset"
HANG = "hang"


class FakeWeibo:
    """Routes ``path`` → a list of responses served in turn (the last repeats)."""

    def __init__(self):
        self.routes: dict[str, list] = {}
        self.requests: list[tuple[str, dict, dict]] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake.requests.append((parts.path, query, dict(self.headers)))
                queue = fake.routes.get(parts.path)
                if not queue:
                    self.send_error(404)
                    return
                answer = queue.pop(0) if len(queue) > 1 else queue[0]
                if callable(answer):
                    answer = answer(query)
                if answer == RESET:
                    # RST instead of FIN: the client sees "connection reset"
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if answer == HANG:
                    fake.release.wait(5)
                    return
                status, headers, body = answer
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def route(self, path: str, *answers):
        self.routes[path] = list(answers)

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.requests]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def weibo():
    fake = FakeWeibo()
    yield fake
    fake.close()


def make(fake: FakeWeibo, **options) -> WeiboAdapter:
    http = Http(timeout=0.3)
    return WeiboAdapter(http, {"base_url": fake.url, "ajax_base_url": fake.url, **options}, now=lambda: NOW)


ACCOUNT = AccountRef(platform="weibo", uid=UID, name="临江区交通局")
GETINDEX = "/api/container/getIndex"


def _post(adapter, fake) -> Post:
    fake.route(GETINDEX, ok(fixture("profile", "jiaotong")), ok(fixture("timeline", "since_id_pinned_repost")))
    return adapter.timeline(ACCOUNT).items[1]


# --- timeline ---------------------------------------------------------------------


def test_timeline_resolves_container_then_pages_by_since_id(weibo):
    adapter = make(weibo)
    last = {"ok": 1, "data": {"cardlistInfo": {"since_id": None}, "cards": []}}
    weibo.route(GETINDEX, ok(fixture("profile", "jiaotong")), ok(fixture("timeline", "since_id_pinned_repost")),
                ok(last))
    page = adapter.timeline(ACCOUNT)
    assert page.state == {"containerid": "1076037301234567"}
    assert [p.external_id for p in page.items][:2] == ["5201110000000001", "5234567890123456"]
    assert adapter.http.request_count == 2
    (_, profile_q, headers), (_, timeline_q, _) = weibo.requests
    assert profile_q == {"type": "uid", "value": UID}
    assert timeline_q["containerid"] == "1076037301234567"
    assert headers["X-Requested-With"] == "XMLHttpRequest" and headers["MWeibo-Pwa"] == "1"
    assert headers["Referer"] == f"https://m.weibo.cn/u/{UID}" and "Mobile" in headers["User-Agent"]
    assert "Cookie" not in headers

    known = AccountRef(platform="weibo", uid=UID, state=page.state)
    end = adapter.timeline(known, page.cursor)
    assert weibo.requests[-1][1]["since_id"] == "5233400000000001"
    assert end.items == () and end.complete and end.cursor is None and end.state is None
    assert adapter.http.request_count == 3  # the cached containerid spared the profile request


def test_timeline_loop_guard_stops_on_a_repeated_cursor(weibo):
    adapter = make(weibo)
    known = AccountRef(platform="weibo", uid=UID, state={"containerid": "1076037301234567"})
    same = {"ok": 1, "data": {"cardlistInfo": {"since_id": 42}, "cards": []}}
    weibo.route(GETINDEX, ok(same))
    first = adapter.timeline(known)
    second = adapter.timeline(known, first.cursor)
    assert first.cursor is not None
    assert second.cursor is None and second.complete is False


def test_profile_without_account_is_not_found(weibo):
    weibo.route(GETINDEX, ok({"ok": 0, "msg": "这里还没有内容"}))
    with pytest.raises(errors.NotFound):
        make(weibo).timeline(ACCOUNT)


def test_profile_shape_is_checked(weibo):
    profile = json.loads(fixture("profile", "jiaotong"))
    profile["data"]["userInfox"] = profile["data"].pop("userInfo")
    weibo.route(GETINDEX, ok(profile))
    with pytest.raises(errors.ParseError) as caught:
        make(weibo).timeline(ACCOUNT)
    assert caught.value.field == "data.userInfo" and caught.value.endpoint == "profile"


def test_empty_container_is_an_empty_complete_page(weibo):
    known = AccountRef(platform="weibo", uid=UID, state={"containerid": "1076037301234567"})
    weibo.route(GETINDEX, ok(fixture("timeline", "empty_container")))
    page = make(weibo).timeline(known)
    assert page.items == () and page.complete


def test_deep_timeline_pages_need_a_cookie(weibo):
    known = AccountRef(platform="weibo", uid=UID, state={"containerid": "1076037301234567"})
    page = make(weibo).timeline(known, json.dumps({"page": 202, "n": 201}))
    assert page.items == () and not page.complete and weibo.requests == []


# --- comments -----------------------------------------------------------------------


def test_hotflow_passes_both_cursors_back_and_ends_at_zero(weibo):
    adapter = make(weibo)
    post = _post(adapter, weibo)
    weibo.route("/comments/hotflow", ok(fixture("comments", "hotflow_first_page")),
                ok(fixture("comments", "hotflow_last_page")))
    first = adapter.comments(post, ACCOUNT)
    assert first.total == 86 and not first.complete
    assert all(isinstance(c, Comment) and c.post_id == post.external_id for c in first.items)
    last = adapter.comments(post, ACCOUNT, first.cursor)
    path, query, headers = weibo.requests[-1]
    assert query == {"id": post.external_id, "mid": post.external_id,
                     "max_id": "138290116202296", "max_id_type": "1"}
    assert headers["Referer"] == f"https://m.weibo.cn/detail/{post.external_id}"
    assert last.complete and last.cursor is None


def test_hotflow_repeated_max_id_stops_incomplete(weibo):
    adapter = make(weibo)
    post = _post(adapter, weibo)
    weibo.route("/comments/hotflow", ok(fixture("comments", "hotflow_first_page")))
    first = adapter.comments(post, ACCOUNT)
    again = adapter.comments(post, ACCOUNT, first.cursor)
    assert again.cursor is None and again.complete is False


def test_hotflow_403_falls_back_to_comments_show(weibo):
    adapter = make(weibo)
    post = _post(adapter, weibo)
    weibo.route("/comments/hotflow", ok(b"", status=403))
    weibo.route("/api/comments/show", ok(fixture("comments_old", "page1_relative")),
                ok(fixture("comments_old", "last_page")))
    first = adapter.comments(post, ACCOUNT)
    assert weibo.requests[-1][1] == {"id": post.external_id, "page": "1"}
    assert len(first.items) == 5 and all(c.created_at_approx for c in first.items)
    assert json.loads(first.cursor)["mode"] == "old"
    hotflow_calls = weibo.paths().count("/comments/hotflow")
    second = adapter.comments(post, ACCOUNT, first.cursor)
    assert weibo.paths().count("/comments/hotflow") == hotflow_calls  # the cursor remembered the mode
    assert weibo.requests[-1][1]["page"] == "2"
    assert [c.external_id for c in second.items] == ["4459100000000390"]


def test_no_comments_is_complete_only_when_the_counter_agrees(weibo):
    adapter = make(weibo)
    post = _post(adapter, weibo)
    weibo.route("/comments/hotflow", ok(fixture("comments", "no_comments")))
    page = adapter.comments(replace(post, comments_count=0), ACCOUNT)
    assert page.items == () and page.complete and page.incomplete is None
    # the same answer for a post whose counter says 86: an empty answer, not an empty thread
    page = adapter.comments(post, ACCOUNT)
    assert post.comments_count == 86
    assert page.items == () and not page.complete
    assert page.incomplete == Shortfall(got=0, claimed=86) and page.incomplete.reason == "empty 0/86"


def test_replies_via_hotflowchild(weibo):
    adapter = make(weibo)
    post = _post(adapter, weibo)
    weibo.route("/comments/hotflow", ok(fixture("comments", "hotflow_first_page")))
    root = next(c for c in adapter.comments(post, ACCOUNT).items if c.external_id == "5234600000000102")
    assert root.has_more_replies
    weibo.route("/comments/hotFlowChild", ok(fixture("child_comments", "flat_thread")))
    page = adapter.replies(post, root, ACCOUNT)
    assert weibo.requests[-1][1] == {"cid": root.external_id, "max_id": "0", "max_id_type": "0"}
    assert page.total == 4 and page.complete
    assert [c.parent_id for c in page.items][:3] == [root.external_id, "5234600000000401", "5234600000000402"]


def test_hotflowchild_error_page_is_empty(weibo):
    adapter = make(weibo)
    post = _post(adapter, weibo)
    weibo.route("/comments/hotflow", ok(fixture("comments", "hotflow_first_page")))
    root = adapter.comments(post, ACCOUNT).items[0]
    weibo.route("/comments/hotFlowChild", ok(fixture("child_comments", "error_page"),
                                             headers={"Content-Type": "text/html"}))
    page = adapter.replies(post, root, ACCOUNT)
    assert root.replies_count == 3
    assert page.items == () and not page.complete and page.incomplete == Shortfall(got=0, claimed=3)
    page = adapter.replies(post, replace(root, replies_count=0), ACCOUNT)
    assert page.items == () and page.complete and page.incomplete is None


# --- expand and status --------------------------------------------------------------


def test_expand_fetches_long_text(weibo):
    adapter = make(weibo)
    post = _post(adapter, weibo)
    assert post.is_truncated
    weibo.route("/statuses/extend", ok(fixture("longtext", "extend")))
    full = adapter.expand(post)
    assert weibo.requests[-1][1] == {"id": post.external_id}
    assert not full.is_truncated and full.text.endswith("咨询电话：028-12345678[抱拳]")
    assert full.external_id == post.external_id and full.mentions == ("临江交警",)


def test_ajax_longtext_empty_keeps_preview(weibo):
    adapter = make(weibo, mode="ajax", cookie=COOKIE)
    weibo.route("/ajax/statuses/mymblog", ok(fixture("ajax_timeline", "mymblog_page1")))
    post = adapter.timeline(ACCOUNT).items[1]
    weibo.route("/ajax/statuses/longtext", ok(fixture("longtext", "ajax_empty")))
    assert adapter.expand(post) == post
    assert weibo.requests[-1][:2] == ("/ajax/statuses/longtext", {"id": "PlB2c3D4e"})


def test_status_found_and_gone(weibo):
    adapter = make(weibo)
    weibo.route("/statuses/show", ok(fixture("status", "show")),
                ok(fixture("status", "gone"), headers={"Content-Type": "text/html"}), ok(b"", status=404))
    post = adapter.status("5234567890123456", ACCOUNT)
    assert post.external_id == "5234567890123456" and post.url == f"https://weibo.com/{UID}/PlB2c3D4e"
    with pytest.raises(errors.NotFound):
        adapter.status("5234567890123456", ACCOUNT)
    with pytest.raises(errors.NotFound):
        adapter.status("5234567890123456", ACCOUNT)


# --- weibo.com/ajax mode --------------------------------------------------------------


def test_auto_mode_switches_to_ajax_when_walled_and_a_cookie_is_set(weibo):
    adapter = make(weibo, cookie=COOKIE)
    weibo.route(GETINDEX, ok(b"", status=302, headers={"Location": "https://passport.weibo.com/visitor/visitor?a=enter"}))
    weibo.route("/ajax/statuses/mymblog", ok(fixture("ajax_timeline", "mymblog_page1")),
                ok(fixture("ajax_timeline", "end_of_list")))
    page = adapter.timeline(ACCOUNT)
    assert page.state == {"mode": "ajax"}
    assert len(page.items) == 5 and page.items[0].is_pinned
    path, query, headers = weibo.requests[-1]
    assert query == {"uid": UID, "page": "1", "feature": "0"} and headers["Cookie"] == COOKIE
    walled = len([p for p in weibo.paths() if p == GETINDEX])
    switched = AccountRef(platform="weibo", uid=UID, state={"mode": "ajax"})
    end = adapter.timeline(switched, page.cursor)
    assert weibo.requests[-1][1]["page"] == "2" and end.complete
    assert weibo.paths().count(GETINDEX) == walled  # the remembered mode skips m.weibo.cn

    weibo.route("/ajax/statuses/buildComments", ok(fixture("ajax_comments", "build_top_level")),
                ok(fixture("ajax_comments", "build_children")))
    comments = adapter.comments(page.items[1], switched)
    assert weibo.requests[-1][1]["is_mix"] == "0" and comments.total == 86
    root = comments.items[0]
    replies = adapter.replies(page.items[1], root, switched)
    query = weibo.requests[-1][1]
    assert (query["id"], query["is_mix"], query["fetch_level"]) == (root.external_id, "1", "1")
    assert [c.parent_id for c in replies.items] == [root.external_id, "5234600000000201", "5234600000000202"]


def test_wall_without_cookie_is_auth_required(weibo):
    weibo.route(GETINDEX, ok(b"", status=302, headers={"Location": "https://visitor.passport.weibo.cn/visitor/genvisitor"}))
    with pytest.raises(errors.AuthRequired, match="visitor.passport.weibo.cn"):
        make(weibo).timeline(ACCOUNT)


# --- failure signals --------------------------------------------------------------------

HTML_WALL = b"<!DOCTYPE html><html><head><title>\xe6\x96\xb0\xe6\xb5\xaa\xe9\x80\x9a\xe8\xa1\x8c\xe8\xaf\x81</title></head><body>login</body></html>"


@pytest.mark.parametrize("answer,error,check", [
    (ok(b"", 418, {"Retry-After": "120"}), errors.RateLimited, lambda e: e.retry_after == 120),
    (ok(b"", 418), errors.RateLimited, lambda e: e.retry_after == 600),
    (ok(b"", 429, {"Retry-After": "30"}), errors.RateLimited, lambda e: e.retry_after == 30),
    (ok(b"", 432), errors.Blocked, lambda e: "cookie" in str(e)),
    (ok(b"", 403), errors.Blocked, None),
    (ok(b"", 404), errors.NotFound, None),
    (ok(b"", 502), errors.ServerError, None),
    (ok(b"", 302, {"Location": "https://passport.weibo.com/sso/signin"}), errors.AuthRequired, None),
    (ok(b"", 301, {"Location": "https://m.weibo.cn/beta?token=x"}), errors.AdapterError,
     lambda e: not isinstance(e, errors.AuthRequired) and "token" not in str(e)),
    (ok(HTML_WALL, headers={"Content-Type": "text/html"}), errors.AuthRequired, None),
    (ok(fixture("timeline", "captcha")), errors.AuthRequired, None),
    (ok(fixture("comments", "truncated_json")), errors.ParseError, lambda e: e.field == "<body>"),
    (ok(fixture("timeline", "renamed_id")), errors.ParseError, lambda e: e.field == "data.cards[1].mblog.id"),
    (RESET, errors.Network, None),
    (HANG, errors.Timeout, None),
])
def test_failures_map_to_typed_errors(weibo, answer, error, check):
    known = AccountRef(platform="weibo", uid=UID, state={"containerid": "1076037301234567"})
    weibo.route(GETINDEX, answer)
    adapter = make(weibo, mode="mobile", cookie=COOKIE)
    with pytest.raises(error) as caught:
        adapter.timeline(known)
    assert caught.value.endpoint == "timeline"
    assert COOKIE not in str(caught.value) and "secret" not in str(caught.value)
    if check:
        assert check(caught.value)


def test_comment_failures_other_than_403_are_not_hidden_by_the_fallback(weibo):
    adapter = make(weibo)
    post = _post(adapter, weibo)
    weibo.route("/comments/hotflow", ok(b"", 432))
    with pytest.raises(errors.Blocked):
        adapter.comments(post, ACCOUNT)
    assert "/api/comments/show" not in weibo.paths()


def test_ajax_status(weibo):
    weibo.route("/ajax/statuses/show", ok(fixture("status", "ajax_show")))
    post = make(weibo, mode="ajax", cookie=COOKIE).status("5234000000000777", ACCOUNT)
    assert weibo.requests[-1][:2] == ("/ajax/statuses/show", {"id": "5234000000000777"})
    assert post.repost_of == "5233000000000009" and post.short_id == "PlR7s8T9u"


# --- empty is not complete ------------------------------------------------------------


def test_the_real_empty_answers_for_large_threads_are_short_reads(weibo):
    adapter = make(weibo)
    post = replace(_post(adapter, weibo), comments_count=None)
    # a post counting 10,456 comments (or "100万+") answered with "还没有人评论"
    weibo.route("/comments/hotflow", ok({"ok": 0, "msg": "还没有人评论"}))
    for counter, claimed in ((10_456, 10_456), ("100万+", 1_000_000)):
        shown = replace(post, comments_count=parse_count(counter))
        page = adapter.comments(shown, ACCOUNT)
        assert page.items == () and page.cursor is None and not page.complete
        assert page.incomplete == Shortfall(got=0, claimed=claimed)
    # a comment counting 513 replies answered with hotFlowChild's "暂无数据" page
    weibo.route("/comments/hotflow", ok(fixture("comments", "hotflow_first_page")))
    root = replace(adapter.comments(post, ACCOUNT).items[0], replies_count=513)
    weibo.route("/comments/hotFlowChild", ok(b"<!DOCTYPE html><html><head><meta charset='utf-8'>"
                                             b"<title>\xe5\xbe\xae\xe5\x8d\x9a</title></head><body>"
                                             + "<p>暂无数据</p>".encode() + b"</body></html>",
                                             headers={"Content-Type": "text/html; charset=utf-8"}))
    page = adapter.replies(post, root, ACCOUNT)
    assert not page.complete and page.incomplete.reason == "empty 0/513"


def test_a_listing_that_ends_far_short_of_its_counter_is_declared_short(weibo):
    adapter = make(weibo)
    post = _post(adapter, weibo)
    weibo.route("/comments/hotflow", ok(fixture("comments", "hotflow_first_page")),
                ok(fixture("comments", "hotflow_last_page")))
    first = adapter.comments(replace(post, comments_count=10_456), ACCOUNT)
    assert first.incomplete is None and first.cursor is not None
    last = adapter.comments(replace(post, comments_count=10_456), ACCOUNT, first.cursor)
    got = last.incomplete.got
    # every comment listed, and the replies each top-level comment counts
    assert 9 < got < 1_045 and last.incomplete.reason == f"short {got}/10456" and not last.complete
    # the same two pages against the counter of 86 they were written for: complete
    weibo.route("/comments/hotflow", ok(fixture("comments", "hotflow_first_page")),
                ok(fixture("comments", "hotflow_last_page")))
    first = adapter.comments(post, ACCOUNT)
    last = adapter.comments(post, ACCOUNT, first.cursor)
    assert last.complete and last.incomplete is None


def test_retries_alternate_the_fallback_and_the_primary_endpoint(weibo):
    adapter = make(weibo)
    post = _post(adapter, weibo)
    weibo.route("/api/comments/show", ok(fixture("comments_old", "last_page")))
    weibo.route("/comments/hotflow", ok(fixture("comments", "hotflow_last_page")))
    adapter.comments(post, ACCOUNT, adapter.retry_cursor("comments", 1))
    assert weibo.paths()[-1] == "/api/comments/show"
    assert adapter.retry_cursor("comments", 2) is None
    assert adapter.retry_cursor("comments", 3) == adapter.retry_cursor("comments", 1)
    # replies have a fallback only on weibo.com, which needs a cookie
    assert adapter.retry_cursor("replies", 1) is None
    assert json.loads(make(weibo, cookie=COOKIE).retry_cursor("replies", 1)) == {"mode": "ajax"}
