"""Every Weibo parser, on payloads of any shape, returns records the store can
take or raises ``ParseError`` naming the endpoint and the field — never
anything else (a server's malformed number once made every account fail).

Hypothesis mutates the real-shaped fixtures of ``tests/fixtures/weibo``: a
value anywhere replaced by another JSON type, a huge or negative number, NaN,
a string for a number, deep nesting, hostile HTML, a missing key, and the body
text itself cut or nested thousands deep.  The mutated payload goes through
the same ``parse_body`` the adapter and ``huisheng parse`` use.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huisheng import errors
from huisheng.adapters.weibo import parse as wparse
from huisheng.adapters.weibo import text as wtext
from huisheng.records import Comment, Page, Post

FIXTURES = Path(__file__).parent / "fixtures" / "weibo"
DEFAULT_NOW = "2025-11-02T09:00:00+08:00"
#: examples per fixture (about 25 fixtures: the whole test stays well under a minute)
EXAMPLES = int(os.environ.get("HUISHENG_FUZZ_EXAMPLES", "600"))
#: what the typed errors a parser may raise on purpose are (a payload that says
#: captcha, or a post that is gone)
ALLOWED = (errors.ParseError, errors.AuthRequired, errors.NotFound)
#: the store's column widths (models.py): longer values would be refused by PostgreSQL
WIDTHS = {"external_id": 64, "author_id": 64, "repost_of": 64, "root_id": 64, "parent_id": 64,
          "short_id": 32, "author_name": 200, "reply_to_name": 200, "region": 64}
INT32 = 2**31 - 1


def _fixtures():
    for endpoint in [*sorted(wparse.PARSERS), "profile"]:
        for path in sorted((FIXTURES / endpoint).glob("*.json")):
            if not path.name.endswith((".args.json", ".page.json")):
                yield pytest.param(endpoint, path, id=f"{endpoint}/{path.stem}")


def _context(path: Path, endpoint: str) -> dict[str, Any]:
    if endpoint == "profile":
        return {"uid": "7301234567"}
    args_file = path.with_name(path.stem + ".args.json")
    args = json.loads(args_file.read_text("utf-8")) if args_file.exists() else {}
    now = datetime.fromisoformat(args.get("now", DEFAULT_NOW)).astimezone(timezone.utc)
    return {"account_uid": args.get("account_uid", ""), "now": now, "post_id": args.get("post_id", ""),
            "page": args.get("page", 1)}


def _parse(endpoint: str, body: str, context: dict[str, Any]) -> Any:
    if endpoint == "profile":
        return wparse.parse_profile(wparse.decode_body("profile", body), **context)
    return wparse.parse_body(endpoint, body, **context)


# --- hostile values ----------------------------------------------------------------------

NASTY_STRINGS = [
    "", " ", "0", "-1", "1e400", "-1e400", "NaN", "nan", "Infinity", "100万+", "1.5亿", "9" * 400,
    "1" * 25, "١٢٣", "１２３", "12万万", ".万", "刚刚", "0秒前", "99999999999小时前", "99999999999999999999分钟前",
    "今天 25:61", "昨天 23:59", "13-45", "02-29", "02-30", "00-00", "12-31 24:00", "0001-01-01",
    "0001-01-01 00:00", "0001-01-01 00:00:00", "9999-12-31 23:59:59", "9999年12月31日", "1年1月1日 00:00",
    "Fri Jun 14 20:39:20 +0800 2019", "Mon Jan 01 00:00:00 +0800 0001", "Fri Dec 31 23:59:59 -1200 9999",
    "Xyz Abc 99 99:99:99 +9999 2019", "<a href='/n/x'>@</a>", "<b>" * 3000 + "x", "<a>" * 3000,
    "<img alt='[赞]'>" * 50, "\x00", "a\x00b", "\u202e\u200f", "😀" * 100, "回复@" + "名" * 500 + ":x",
    "@" + "a" * 300, "x" * 10_000, "发布于 " + "省" * 300, "来自" + "市" * 300,
]


def _deep(depth: int) -> Any:
    value: Any = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**31, 2**63, 2**64 + 1, 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=12),
)
values = st.one_of(
    scalars,
    st.recursive(scalars, lambda children: st.lists(children, max_size=3)
                 | st.dictionaries(st.sampled_from(["id", "text", "user", "data", "ok", "x"]) | st.text(max_size=4),
                                   children, max_size=3), max_leaves=6),
    st.sampled_from([60, 400]).map(_deep),
)


def _slots(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) of the tree, to mutate one in place."""
    if isinstance(node, dict):
        for key, child in node.items():
            out.append((node, key))
            _slots(child, out)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            out.append((node, index))
            _slots(child, out)
    return out


@st.composite
def mutated(draw, payload: Any) -> Any:
    tree = json.loads(json.dumps(payload))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        slots = _slots(tree, [])
        if not slots:
            return draw(values)
        container, key = slots[draw(st.integers(min_value=0, max_value=len(slots) - 1))]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "wrap", "stringify"]))
        if action == "delete":
            del container[key]
        elif action == "wrap":  # the right value one level too deep
            container[key] = draw(st.sampled_from([[container[key]], {"value": container[key]}]))
        elif action == "stringify":  # a number as a string, a string as whatever it spells
            old = container[key]
            container[key] = str(old) if not isinstance(old, str) else draw(values)
        else:
            container[key] = draw(values)
    return tree


def _body(tree: Any, cut: int | None) -> str:
    text = json.dumps(tree, ensure_ascii=False, allow_nan=True)
    return text[:cut] if cut is not None else text


# --- what a success must be --------------------------------------------------------------


def _check_record(item: Post | Comment, now: datetime) -> None:
    for name, width in WIDTHS.items():
        value = getattr(item, name, None)
        if value is not None:
            assert isinstance(value, str) and len(value) <= width, (name, value)
            assert value.strip() != "" or name not in ("external_id", "author_id"), (name, value)
    for name in ("text", "author_name", "reply_to_name", "region", "external_id", "author_id"):
        value = getattr(item, name, None)
        assert value is None or "\x00" not in value, name  # PostgreSQL refuses NUL in text
    for name in ("comments_count", "reposts_count", "likes_count", "like_count", "replies_count",
                 "edit_count"):
        value = getattr(item, name, None)
        assert value is None or (isinstance(value, int) and 0 <= value <= INT32), (name, value)
    # a time the working-day clock can use: Weibo's own lifetime, up to the fetch
    assert item.created_at is None or wtext.WEIBO_LAUNCH <= item.created_at <= now + wparse.CLOCK_SKEW
    json.dumps(item.raw, allow_nan=False)  # the raw payload is stored as JSON


def _check(result: Any, context: dict[str, Any]) -> None:
    if isinstance(result, Page):
        for item in result.items:
            _check_record(item, context["now"])
        assert result.cursor is None or isinstance(json.loads(result.cursor), dict)
        assert result.total is None or 0 <= result.total <= INT32
    elif isinstance(result, wparse.LongText):
        assert result.text is None or "\x00" not in result.text
    else:
        assert isinstance(result, str) and 0 < len(result) <= 64  # profile: a containerid


def _run(endpoint: str, body: str, context: dict[str, Any]) -> None:
    try:
        result = _parse(endpoint, body, context)
    except ALLOWED as exc:
        assert exc.endpoint == endpoint
        if isinstance(exc, errors.ParseError):
            assert exc.field
        return
    _check(result, context)


@pytest.mark.parametrize("endpoint,path", list(_fixtures()))
def test_mutated_fixtures_parse_or_raise_parse_error(endpoint, path):
    text = path.read_text("utf-8")
    context = _context(path, endpoint)
    _run(endpoint, text, context)  # the fixture itself
    try:
        payload = json.loads(text)
    except ValueError:  # a fixture of a truncated body: cut it anywhere
        for cut in range(0, len(text), 7):
            _run(endpoint, text[:cut], context)
        return

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(tree=mutated(payload), cut=st.one_of(st.none(), st.none(), st.integers(min_value=0, max_value=400)))
    def check(tree, cut):
        _run(endpoint, _body(tree, cut), context)

    check()


@pytest.mark.parametrize("endpoint", [*sorted(wparse.PARSERS), "profile"])
@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,                       # JSON nested past the recursion limit
    '{"ok":1,"data":' * 50_000 + "1" + "}" * 50_000,
    '{"ok": NaN}', '{"ok": 1, "data": Infinity}', '{"ok":1e400}', "1e400", "-0", "null", '"ok"',
    "<html>" + "<div>" * 50_000 + "暂无数据",
    "\ufeff", "", "\x00", '{"ok":1,"data":{"cards":[{"card_type":9,"mblog":' + "[" * 30_000 + "]" * 30_000 + "}]}}",
], ids=lambda b: repr(b[:24]))
def test_hostile_bodies_parse_or_raise_parse_error(endpoint, body):
    _run(endpoint, body, _context(FIXTURES / endpoint / "none.json", endpoint))


@pytest.mark.parametrize("created_at", ["Fri Jun 14 20:39:20 +0800 2150", "Mon Jan 01 00:00:00 +0800 1900",
                                        "2008-05-12 14:28:00"])
def test_a_time_weibo_cannot_have_made_is_a_parse_error(created_at):
    # a post dated after its fetch (or before Weibo) would stall the working-day clock of every flag
    path = FIXTURES / "status" / "show.json"
    payload = json.loads(path.read_text("utf-8"))
    payload["data"]["created_at"] = created_at
    with pytest.raises(errors.ParseError) as info:
        _parse("status", json.dumps(payload), _context(path, "status"))
    assert info.value.field == "data.created_at"
