"""The Discuz! parsers on recorded and template-true pages: the records they
give (``*.expected.jsonl``, as ``huisheng parse`` prints them), the same page
in GBK, the account's officials, times as Discuz shows them, and every error
page mapped to the exception tree.  ``HUISHENG_REGENERATE=1`` rewrites the
expected files after a deliberate change (review the diff)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from huisheng import errors
from huisheng.adapters.discuz import DiscuzAdapter
from huisheng.adapters.discuz import parse as dparse
from huisheng.cli.parse_cmd import parse_saved
from huisheng.records import record_to_json

FIXTURES = Path(__file__).parent / "fixtures" / "discuz"
CASES = sorted(p.name.removesuffix(".args.json") for p in FIXTURES.glob("*.args.json"))
NOW = datetime(2026, 12, 3, 3, 0, tzinfo=timezone.utc)  # 11:00 in Shanghai


def _page(html_body: str, charset: str = "utf-8") -> bytes:
    return (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}" />'
            f'<title>提示信息 -  Powered by Discuz!</title></head><body>{html_body}</body></html>').encode(charset)


@pytest.mark.parametrize("case", CASES)
def test_recorded_pages_give_the_expected_records(case):
    args = json.loads((FIXTURES / f"{case}.args.json").read_text("utf-8"))
    body = next(p for p in FIXTURES.glob(f"{case}.*") if p.suffix in (".html", ".json")
                and not p.name.endswith(".args.json")).read_bytes()
    endpoint = args.pop("endpoint")
    rows = parse_saved("discuz", endpoint, body, now=datetime.fromisoformat(args.pop("now")), **args)
    expected_file = FIXTURES / f"{case}.expected.jsonl"
    if os.environ.get("HUISHENG_REGENERATE"):
        expected_file.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows),
                                 "utf-8")
    assert rows == [json.loads(line) for line in expected_file.read_text("utf-8").splitlines() if line]


def test_the_recorded_thread_list_in_gbk_reads_the_same():
    utf8 = (FIXTURES / "forumdisplay_talkop.html").read_bytes()
    gbk = utf8.decode("utf-8").replace("charset=utf-8", "charset=gbk").encode("gbk")
    assert gbk != utf8
    now = datetime(2019, 12, 4, 4, 0, tzinfo=timezone.utc)
    same = parse_saved("discuz", "forumdisplay", utf8, account_uid="49", now=now)
    assert len(same) == 14 and "海贼王资料集生命卡" in same[0]["text"]
    assert parse_saved("discuz", "forumdisplay", gbk, account_uid="49", now=now) == same
    # the header's charset wins over the page's, as a browser reads it
    as_sent = dparse.decode_bytes("forumdisplay", gbk.replace(b"charset=gbk", b"charset=utf-8"),
                                  "text/html; charset=GBK")
    assert [p.text for p in dparse.parse_forumdisplay(as_sent, account_uid="49", now=now).items] == \
        [r["text"] for r in same]


def test_a_gb2312_page_holding_gbk_characters_is_read_whole():
    text = "<div id='messagetext'><p>抱歉，指定的主题不存在或已被删除或正在被审核（镕）</p></div>"
    soup = dparse.decode_bytes("viewthread", _page(text, "gbk").replace(b"charset=gbk", b"charset=gb2312"))
    with pytest.raises(errors.NotFound, match="镕"):
        dparse.parse_viewthread(soup, now=NOW)


def test_the_officials_posts_are_the_accounts_own_and_citizens_threads_name_it():
    ctx = dparse.make_context(account_uid="36", account_name="示范区网络问政", officials={"990001"}, now=NOW)
    listed = dparse.parse_mobile_forumdisplay(json.loads((FIXTURES / "mobile_forumdisplay.json").read_text("utf-8")),
                                              ctx=ctx)
    notice, citizen, anonymous = listed.items
    assert (notice.author_id, notice.is_pinned, notice.mentions) == ("36", True, ())
    assert (citizen.author_id, citizen.mentions, citizen.is_truncated) == ("u530117", ("示范区网络问政",), True)
    assert anonymous.author_id == "u0" and anonymous.text == "菜市场旁边的垃圾站&臭味问题"
    assert listed.cursor == "2" and not listed.complete  # 64 threads, 20 a page
    soup = dparse.decode_bytes("viewthread", (FIXTURES / "viewthread_x34.html").read_bytes())
    page = dparse.parse_viewthread_page(soup, post_id="88231", ctx=ctx)
    answer, *others = page.comments.items
    assert (answer.author_id, answer.is_from_owner, answer.reply_to_name, answer.parent_id) == \
        ("36", True, "老街坊", "1204551")
    assert answer.text == "您好，已转城管科，维修人员今天下午到现场更换灯具。", "the quote is not its words"
    assert not any(c.is_from_owner for c in others)
    assert page.thread.text.endswith("请街道尽快处理！") and "本帖最后由" not in page.thread.text
    assert page.comments.cursor == "2" and page.comments.total == 12


@pytest.mark.parametrize("shown,title,expected,approx", [
    ("2019-12-4 02:44", None, datetime(2019, 12, 3, 18, 44, tzinfo=timezone.utc), False),
    ("3 天前", "2026-11-30 08:12:30", datetime(2026, 11, 30, 0, 12, 30, tzinfo=timezone.utc), False),
    ("3 天前", None, NOW - timedelta(days=3), True),
    ("昨天 08:12", None, datetime(2026, 12, 2, 0, 12, tzinfo=timezone.utc), True),
    ("前天\xa023:05", None, datetime(2026, 12, 1, 15, 5, tzinfo=timezone.utc), True),
    ("半小时前", None, NOW - timedelta(minutes=30), True),
    ("5 分钟前", None, NOW - timedelta(minutes=5), True),
    ("2 小时前", None, NOW - timedelta(hours=2), True),
    ("刚刚", None, NOW, True),
    ("发表于 12 秒前", None, NOW - timedelta(seconds=12), True),
    # a date alone in the title: the day is known, the time of day from the words when they agree
    ("5 天前", "2026-11-28", datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc), True),
    # never after the fetch time: a clock ahead, or "今天 23:50" read at 11:00
    ("1 分钟前", "2026-12-3 11:30", NOW, False),
    ("今天 23:50", None, NOW, True),
])
def test_times_as_discuz_shows_them_resolve_against_the_fetch_time(shown, title, expected, approx):
    assert dparse.parse_time(shown, title, NOW, "viewthread", "authorposton") == (expected, approx)


@pytest.mark.parametrize("shown", ["", "很久以前", "2026-13-40 10:00"])
def test_a_time_that_is_not_one_is_a_parse_error_naming_its_field(shown):
    with pytest.raises(errors.ParseError) as caught:
        dparse.parse_time(shown, None, NOW, "forumdisplay", "threadlist.dateline")
    assert (caught.value.endpoint, caught.value.field) == ("forumdisplay", "threadlist.dateline")


ERROR_PAGES = [
    ("<div id='messagetext' class='alert_error'><p>没有找到帖子</p></div>", errors.NotFound),
    ("<div id='messagetext' class='alert_error'><p>抱歉，指定的主题不存在或已被删除或正在被审核</p></div>",
     errors.NotFound),
    ("<div id='messagetext' class='alert_info'><p>您需要登录后才能继续本操作</p></div>"
     "<div id='messagelogin'><form name='login'></form></div>", errors.AuthRequired),
    ("<div id='ct'><form method='post' name='login' action='member.php?mod=logging'><input name='username'/>"
     "</form></div>", errors.AuthRequired),
    ("<div id='messagetext' class='alert_error'><p>抱歉，您没有权限访问该版块</p></div>", errors.Blocked),
    ("<div id='messagetext' class='alert_error'><p>Access Denied</p></div>", errors.Blocked),
    ("<form><input type='hidden' name='seccodehash' value='cSAx'/><span id='seccode_cSAx'></span>"
     "请输入验证码后继续浏览</form>", errors.AuthRequired),
    ("<div id='messagetext' class='alert_error'><p>抱歉，您的请求来路不正确或刷新过于频繁，请稍后再试</p></div>",
     errors.RateLimited),
    ("<div id='messagetext'><p>论坛维护中，请稍后再来</p></div>", errors.ServerError),
]


@pytest.mark.parametrize("endpoint", ["forumdisplay", "viewthread"])
@pytest.mark.parametrize("body,raised", ERROR_PAGES)
def test_discuz_error_pages_are_the_exception_trees_kinds(endpoint, body, raised):
    soup = dparse.decode_bytes(endpoint, _page(body, "gbk"))
    parser = dparse.parse_forumdisplay if endpoint == "forumdisplay" else dparse.parse_viewthread
    with pytest.raises(raised) as caught:
        parser(soup, account_uid="36", now=NOW)
    assert type(caught.value) is raised and caught.value.endpoint == endpoint


def test_a_database_error_page_is_a_server_error():
    page = b"<html><head><title>Discuz! Database Error</title></head><body>(1040) Too many connections</body></html>"
    with pytest.raises(errors.ServerError):
        dparse.parse_forumdisplay(dparse.decode_bytes("forumdisplay", page), now=NOW)


@pytest.mark.parametrize("message,raised", [
    ({"messageval": "thread_nonexistence", "messagestr": "抱歉，指定的主题不存在或已被删除或正在被审核"},
     errors.NotFound),
    ({"messageval": "to_login", "messagestr": "您需要先登录才能继续本操作"}, errors.AuthRequired),
    ({"messageval": "forum_nopermission", "messagestr": "抱歉，您没有权限访问该版块"}, errors.Blocked),
    ({"messageval": "submit_seccode_invalid", "messagestr": "验证码填写错误"}, errors.AuthRequired),
])
def test_the_mobile_apis_messages_are_the_exception_trees_kinds(message, raised):
    for endpoint, parser in (("mobile_forumdisplay", dparse.parse_mobile_forumdisplay),
                             ("mobile_viewthread", dparse.parse_mobile_viewthread)):
        with pytest.raises(raised) as caught:
            parser({"Version": "4", "Message": message, "Variables": {"member_uid": "0"}}, now=NOW)
        assert type(caught.value) is raised and caught.value.endpoint == endpoint


def test_shapes_it_does_not_know_are_parse_errors_naming_endpoint_and_field():
    whole = (FIXTURES / "viewthread_x34.html").read_bytes()
    cases = [
        (lambda: dparse.decode_bytes("viewthread", whole[: len(whole) // 2]), "viewthread", "<body>"),
        (lambda: dparse.parse_forumdisplay(dparse.decode_bytes("forumdisplay", _page("<p>hello</p>")), now=NOW),
         "forumdisplay", "threadlist"),
        (lambda: dparse.parse_viewthread(dparse.decode_bytes(
            "viewthread", whole.replace(b'id="postlist"', b'id="postlist2"')), now=NOW), "viewthread", "postlist"),
        (lambda: dparse.parse_viewthread(dparse.decode_bytes(
            "viewthread", whole.replace(b"authorposton1204566", b"authorposton")), now=NOW),
         "viewthread", "authorposton"),
        (lambda: dparse.parse_mobile_forumdisplay({"Version": "4", "Variables": {"forum": {"threads": "1"}}},
                                                  now=NOW), "mobile_forumdisplay", "forum_threadlist"),
        (lambda: dparse.parse_mobile_viewthread({"ok": 0}, now=NOW), "mobile_viewthread", "Variables"),
        (lambda: DiscuzAdapter.decode_bytes("mobile_viewthread", b'{"Variables": '), "mobile_viewthread", "<body>"),
    ]
    for call, endpoint, field in cases:
        with pytest.raises(errors.ParseError) as caught:
            call()
        assert (caught.value.endpoint, caught.value.field) == (endpoint, field)
    thread = json.loads((FIXTURES / "mobile_viewthread.json").read_text("utf-8"))
    thread["Variables"]["postlist"][1]["dbdateline"] = "yesterday"
    with pytest.raises(errors.ParseError) as caught:
        dparse.parse_mobile_viewthread(thread, now=NOW)
    assert caught.value.field == "postlist.dbdateline"


def test_a_thread_answered_without_its_floors_is_short_not_complete():
    thread = json.loads((FIXTURES / "mobile_viewthread.json").read_text("utf-8"))
    del thread["Variables"]["postlist"][1:]
    thread["Variables"]["thread"]["replies"] = "3"  # one page's worth: this is the last page
    page = dparse.parse_mobile_viewthread_page(thread, now=NOW).comments
    assert not page.complete and page.incomplete.claimed == 3 and page.incomplete.got == 0


def test_the_account_id_is_a_forums_fid_and_links_point_at_the_board():
    assert DiscuzAdapter.check_account_id("36") is None
    assert DiscuzAdapter.check_account_id("036") and DiscuzAdapter.check_account_id("u36")
    record = record_to_json(dparse.parse_mobile_forumdisplay(
        json.loads((FIXTURES / "mobile_forumdisplay.json").read_text("utf-8")),
        ctx=dparse.make_context(account_uid="36", now=NOW, site="https://bbs.example.gov.cn/")).items[1])
    assert record["url"] == "https://bbs.example.gov.cn/forum.php?mod=viewthread&tid=88231"


def test_a_comments_link_is_on_its_own_board_when_several_are_configured():
    from huisheng.adapters.base import Http
    from huisheng.notify.digest import comment_link

    # building the second board's adapter must not move the first board's links
    for base in ("https://bbs.one.gov.cn", "https://luntan.two.gov.cn/bbs"):
        DiscuzAdapter(Http(), {"base_url": base})
    thread = dparse.thread_url("https://bbs.one.gov.cn", "88231")
    assert comment_link("discuz", "88231", "901", "901", thread) == \
        "https://bbs.one.gov.cn/forum.php?mod=redirect&goto=findpost&ptid=88231&pid=901"
    assert comment_link("discuz", "7", "9", None, dparse.thread_url("https://luntan.two.gov.cn/bbs", "7")) == \
        "https://luntan.two.gov.cn/bbs/forum.php?mod=redirect&goto=findpost&ptid=7&pid=9"
    # no stored address: no guessed link (the flag's page links the post instead)
    assert comment_link("discuz", "7", "9", None, None) is None
    assert DiscuzAdapter.post_url(author_id="1", external_id="7") is None
