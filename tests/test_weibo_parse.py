"""Weibo parsers against fixtures written from weibo-api.md's shapes.

Each ``tests/fixtures/weibo/<endpoint>/<case>.json|html`` has beside it
``<case>.expected.jsonl`` (one ``record_to_json`` line per record, or one
``{"error": ...}`` line), optionally ``<case>.page.json`` (cursor, complete,
total) and ``<case>.args.json`` (the ``huisheng parse`` context).  Set
``HUISHENG_REGENERATE=1`` to rewrite the expected files after a deliberate
change, then review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from huisheng import errors
from huisheng.adapters.weibo import text as wtext
from huisheng.adapters.weibo.parse import PARSERS, LongText, parse_body
from huisheng.records import Page, record_to_json

FIXTURES = Path(__file__).parent / "fixtures" / "weibo"
REGENERATE = os.environ.get("HUISHENG_REGENERATE") == "1"
DEFAULT_NOW = "2025-11-02T09:00:00+08:00"


def _cases():
    for endpoint in sorted(PARSERS):
        for path in sorted((FIXTURES / endpoint).glob("*")):
            if path.suffix in (".json", ".html") and not path.name.endswith(
                    (".args.json", ".page.json", ".expected.jsonl")):
                yield pytest.param(endpoint, path, id=f"{endpoint}/{path.stem}")


def context_for(path: Path) -> dict:
    args_file = path.with_name(path.stem + ".args.json")
    args = json.loads(args_file.read_text("utf-8")) if args_file.exists() else {}
    now = datetime.fromisoformat(args.get("now", DEFAULT_NOW)).astimezone(timezone.utc)
    return {"account_uid": args.get("account_uid", ""), "now": now,
            "post_id": args.get("post_id", ""), "page": args.get("page", 1)}


def run_case(endpoint: str, path: Path) -> tuple[list[dict], dict | None]:
    try:
        result = parse_body(endpoint, path.read_text("utf-8"), **context_for(path))
    except errors.AdapterError as exc:
        return [{"error": type(exc).__name__, "endpoint": exc.endpoint,
                 "field": getattr(exc, "field", None)}], None
    if isinstance(result, LongText):
        return [{"kind": "longtext", "text": result.text}], None
    assert isinstance(result, Page)
    return ([record_to_json(item) for item in result.items],
            {"cursor": result.cursor, "complete": result.complete, "total": result.total})


def test_every_endpoint_has_fixtures():
    covered = {p.values[0] for p in _cases()}
    assert covered == set(PARSERS)


@pytest.mark.parametrize("endpoint,path", list(_cases()))
def test_fixture(endpoint, path):
    rows, page = run_case(endpoint, path)
    expected_file = path.with_name(path.stem + ".expected.jsonl")
    page_file = path.with_name(path.stem + ".page.json")
    if REGENERATE:
        expected_file.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                                         for r in rows), "utf-8")
        if page is not None:
            page_file.write_text(json.dumps(page, ensure_ascii=False, indent=1) + "\n", "utf-8")
    expected = [json.loads(line) for line in expected_file.read_text("utf-8").splitlines() if line]
    assert rows == expected
    if page_file.exists():
        assert page == json.loads(page_file.read_text("utf-8"))


# --- quirks the fixtures carry, asserted by name so a regeneration can't hide them ---


def _rows(endpoint, case):
    path = next(p for p in ((FIXTURES / endpoint / f"{case}{ext}") for ext in (".json", ".html"))
                if p.exists())
    return run_case(endpoint, path)


def test_timeline_quirks():
    rows, page = _rows("timeline", "since_id_pinned_repost")
    by_id = {r["external_id"]: r for r in rows}
    assert [r["external_id"] for r in rows] == [
        "5201110000000001", "5234567890123456", "5234000000000777", "5233000000000009", "5233500000000100"]
    assert by_id["5201110000000001"]["is_pinned"] is True
    assert by_id["5234000000000777"]["repost_of"] == "5233000000000009"
    assert by_id["5233000000000009"]["author_name"] == "四川发布"
    assert by_id["5233000000000009"]["comments_count"] == 1_000_000
    assert by_id["5233000000000009"]["reposts_count"] == 26_712_000
    long = by_id["5234567890123456"]
    assert long["is_truncated"] and not long["text"].endswith(("全文", "...")) and long["edit_count"] == 2
    assert long["mentions"] == ["临江交警"] and "\n" in long["text"]
    assert by_id["5233500000000100"]["comments_open"] is False
    assert page == {"cursor": '{"since_id":5233400000000001}', "complete": False, "total": 1864}


def test_relative_times_across_new_year():
    rows, page = _rows("timeline", "card_group_relative_newyear")
    times = {r["external_id"]: r["created_at"] for r in rows}
    assert rows[0]["is_pinned"] and rows[0]["created_at"] == "2025-12-29T16:00:00Z"  # 12-30, last year
    assert times["4459000000000011"] == "2026-01-02T02:00:00Z"  # 刚刚
    assert times["4459000000000010"] == "2026-01-02T01:45:00Z"  # 15分钟前
    assert times["4458900000000009"] == "2026-01-01T10:30:00Z"  # 昨天 18:30
    assert times["4458500000000008"] == "2025-12-27T16:00:00Z"  # 12-28
    assert all(r["created_at_approx"] for r in rows)
    assert json.loads(page["cursor"]) == {"page": 2}


def test_comment_threads():
    rows, page = _rows("comments", "hotflow_first_page")
    by_id = {r["external_id"]: r for r in rows}
    root = "5234600000000101"
    assert by_id["5234600000000201"]["parent_id"] == root and by_id["5234600000000201"]["is_from_owner"]
    assert by_id["5234600000000202"]["parent_id"] == "5234600000000201"
    assert by_id["5234600000000203"]["parent_id"] == "5234600000000202"
    assert by_id["5234600000000203"]["reply_to_name"] == "南湖小区老王"
    assert {by_id[i]["root_id"] for i in ("5234600000000201", "5234600000000202")} == {root}
    assert by_id[root]["root_id"] is None and by_id[root]["parent_id"] is None
    assert by_id["5234600000000102"]["has_more_replies"]  # comments: false
    assert by_id["5234600000000103"]["has_more_replies"]  # more_info, counter 0
    assert by_id["5234600000000103"]["text"].startswith('<script>alert("xss")</script>')
    assert by_id["5234600000000104"]["text"] == "[怒][怒]"
    assert by_id["5234600000000105"]["is_from_owner"]  # is_mblog_author
    assert json.loads(page["cursor"]) == {"max_id": 138290116202296, "max_id_type": 1}
    assert page["total"] == 86
    _, last = _rows("comments", "hotflow_last_page")
    assert last["cursor"] is None and last["complete"]


def test_owner_recognised_by_is_mblog_author_without_uid():
    path = FIXTURES / "comments" / "hotflow_first_page.json"
    context = {**context_for(path), "account_uid": ""}
    owners = {c.external_id for c in parse_body("comments", path.read_text("utf-8"), **context).items
              if c.is_from_owner}
    assert owners == {"5234600000000105"}


def test_child_and_old_comments():
    rows, _ = _rows("child_comments", "flat_thread")
    parents = [r["parent_id"] for r in rows]
    assert parents == ["5234600000000102", "5234600000000401", "5234600000000402", "5234600000000102"]
    rows, page = _rows("comments_old", "page1_relative")
    by_id = {r["external_id"]: r for r in rows}
    reply = by_id["4459100000000302"]
    assert reply["parent_id"] == reply["root_id"] == "4459100000000304" and reply["is_from_owner"]
    assert by_id["4459100000000304"]["created_at"] == "2025-12-30T16:00:00Z"  # 12-31 last year
    assert len(rows) == 5  # hot_data duplicates are not repeated
    assert json.loads(page["cursor"]) == {"page": 2}


def test_renamed_fields_name_the_path():
    assert _rows("timeline", "renamed_id")[0] == [
        {"error": "ParseError", "endpoint": "timeline", "field": "data.cards[1].mblog.id"}]
    assert _rows("comments", "renamed_user")[0] == [
        {"error": "ParseError", "endpoint": "comments", "field": "data.data[1].user"}]
    assert _rows("comments", "truncated_json")[0][0]["field"] == "<body>"


# --- value helpers ---------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    (12, 12), ("12", 12), ("100万+", 1_000_000), ("2671.2万", 26_712_000), ("1.2亿", 120_000_000),
    (None, None), ("", None), ("1,234", 1234),
])
def test_counts(value, expected):
    assert wtext.parse_count(value) == expected


@pytest.mark.parametrize("value", ["很多", True, "1.2千"])
def test_bad_counts(value):
    with pytest.raises(ValueError):
        wtext.parse_count(value)


NOW = datetime(2026, 1, 1, 1, 30, tzinfo=timezone.utc)  # 2026-01-01 09:30 in Beijing


@pytest.mark.parametrize("value,expected,approx", [
    ("Fri Jun 14 20:39:20 +0800 2019", "2019-06-14T12:39:20+00:00", False),
    ("Tue Dec 31 23:59:59 -0500 2024", "2025-01-01T04:59:59+00:00", False),
    ("刚刚", "2026-01-01T01:30:00+00:00", True),
    ("45分钟前", "2026-01-01T00:45:00+00:00", True),
    ("3小时前", "2025-12-31T22:30:00+00:00", True),
    ("今天 08:05", "2026-01-01T00:05:00+00:00", True),
    ("昨天 23:50", "2025-12-31T15:50:00+00:00", True),
    ("12-31", "2025-12-30T16:00:00+00:00", True),
    ("01-01", "2025-12-31T16:00:00+00:00", True),
    ("2024-02-29", "2024-02-28T16:00:00+00:00", True),
    ("12月30日 20:15", "2025-12-30T12:15:00+00:00", True),
    ("01月01日 09:00", "2026-01-01T01:00:00+00:00", True),
])
def test_times(value, expected, approx):
    when, is_approx = wtext.parse_time(value, NOW)
    assert when.isoformat() == expected and is_approx is approx and when.tzinfo == timezone.utc


@pytest.mark.parametrize("value", ["Foo Jun 14 20:39:20 +0800 2019", "上周", "2019/06/14", ""])
def test_bad_times(value):
    with pytest.raises(ValueError):
        wtext.parse_time(value, NOW)


def test_absolute_time_ignores_the_process_locale(monkeypatch):
    import locale

    for name in ("zh_CN.UTF-8", "de_DE.UTF-8", "C.UTF-8"):
        try:
            old = locale.setlocale(locale.LC_TIME, name)
        except locale.Error:
            continue
        try:
            assert wtext.parse_time("Fri Jun 14 20:39:20 +0800 2019", NOW)[0].hour == 12
        finally:
            locale.setlocale(locale.LC_TIME, old)


def test_html_to_text():
    html = ("回复<a href='/n/张三'>@张三</a>:谢谢<span class=\"url-icon\"><img alt=[赞] src=\"x.png\" /></span>"
            "<br />&lt;b&gt;不是标签&lt;/b&gt;<b>粗体</b>...<a href=\"/status/1\">全文</a>")
    assert wtext.html_to_text(html) == ("回复@张三:谢谢[赞]\n<b>不是标签</b>粗体", ("张三",))
    # 全文 in the middle is content, not the preview marker
    assert wtext.html_to_text("点<a href='/status/1'>全文</a>看看")[0] == "点全文看看"
    assert wtext.html_to_text("长文…<a href='/status/1'><span>全文</span></a> ") == ("长文", ())
    assert wtext.reply_to_name("回复@临江区交通局：好的") == "临江区交通局"
    assert wtext.reply_to_name("好的 回复@某人:") is None
