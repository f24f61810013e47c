"""Every installed adapter's every parser, on payloads of any shape, returns
records the store can take or raises the adapter error tree's typed errors
naming the endpoint (``ParseError`` naming the field too) — never anything else.

The adapters and endpoints come from their own declarations (the
``huisheng.adapters`` entry points, each class's ``parsers``), the seeds from
``tests/fixtures/<platform>``: a new adapter or endpoint is fuzzed as soon as it
is installed, and fails ``test_every_endpoint_has_a_fixture_to_mutate`` until it
has a recorded response.  A seed's endpoint is its ``.args.json``'s
``endpoint``, else its folder (``<platform>/<endpoint>/…``), else its name's
first part (``<endpoint>[.case].json``).

JSON seeds get the structural mutations of ``test_weibo_fuzz`` (types swapped,
keys dropped, huge, negative and NaN numbers, deep nesting); every seed gets
text-level mutations of its raw bytes (cut short, tags deleted or repeated,
random bytes, GBK/UTF-8 garbage, huge attribute values, markup nested thousands
deep, a text replaced by a hostile value).  Each mutated body goes the way
``huisheng parse`` takes it: the adapter's ``decode_bytes``, then its parser.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huisheng import adapters, errors
from huisheng.records import Comment, Page, Post, record_to_json
from test_weibo_fuzz import INT32, NASTY_STRINGS, WIDTHS, _body, mutated

FIXTURES = Path(__file__).parent / "fixtures"
DEFAULT_NOW = "2026-11-02T09:00:00+08:00"
#: examples per endpoint: JSON parsers take about a millisecond a body; HTML and
#: XML pages up to a tenth of a second, so theirs are fewer the bigger their seeds
#: (MARKUP_BYTES a seed on average: all of them), to keep the whole file well under a minute
EXAMPLES = int(os.environ.get("HUISHENG_FUZZ_EXAMPLES", "150"))
MARKUP_EXAMPLES = int(os.environ.get("HUISHENG_FUZZ_MARKUP_EXAMPLES", "60"))
MARKUP_BYTES = 16_000
#: what is no response body but a fixture's companion
_COMPANIONS = (".args.json", ".page.json", ".expected.jsonl", ".md")
#: the keyword context ``huisheng parse`` gives every parser
_CONTEXT_KEYS = ("account_uid", "post_id", "page")


def _endpoint_of(path: Path, root: Path) -> str:
    args = path.with_name(path.name.split(".")[0] + ".args.json")
    if args.exists():
        declared = json.loads(args.read_text("utf-8")).get("endpoint")
        if declared:
            return declared
    relative = path.relative_to(root)
    return relative.parts[0] if len(relative.parts) > 1 else path.name.split(".")[0]


def _seeds() -> dict[tuple[str, str], list[Path]]:
    """(platform, endpoint) → its recorded bodies, for every endpoint every installed adapter declares."""
    out: dict[tuple[str, str], list[Path]] = {}
    for platform in sorted(adapters.available()):
        cls = adapters.load(platform)
        for endpoint in cls.parsers:
            out[(platform, endpoint)] = []
        root = FIXTURES / platform
        for path in sorted(root.rglob("*")) if root.is_dir() else ():
            if path.is_file() and not path.name.endswith(_COMPANIONS):
                key = (platform, _endpoint_of(path, root))
                if key in out:  # a fixture of something no parser reads (a profile) is not this test's
                    out[key].append(path)
    return out


SEEDS = _seeds()


def _context(path: Path) -> dict[str, Any]:
    args_file = path.with_name(path.name.split(".")[0] + ".args.json")
    if not args_file.exists():
        args_file = path.with_name(path.stem + ".args.json")
    args = json.loads(args_file.read_text("utf-8")) if args_file.exists() else {}
    context = {"account_uid": "", "post_id": "", "page": 1}
    context.update({key: args[key] for key in _CONTEXT_KEYS if key in args})
    context["now"] = datetime.fromisoformat(args.get("now", DEFAULT_NOW)).astimezone(timezone.utc)
    return context


def _json_payload(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        return None


# --- text-level mutations ----------------------------------------------------------------

_TAG = re.compile(rb"<[^<>]{0,300}>")
_TEXT = re.compile(rb">([^<>]{1,120})<")
_GARBAGE = [b"\xff\xfe", b"\xfe\xff", b"\x81", b"\x80\x80\x80", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
            "中文乱码".encode("gbk"), "繁體".encode("big5"), b"\x00", b"\x1b]0;x\x07", b"\r", b"\x0c",
            "\ufeff".encode("utf-8"), "<?xml version='1.0' encoding='gbk'?>".encode(),
            b'<meta charset="x-unknown-7">', b'<meta http-equiv="Content-Type" content="text/html; charset=gbk">',
            b"&#0;&#xD800;&#99999999;&#x110000;&bogus;&amp", b"<![CDATA[", b"]]>", b"<!--", b"-->",
            b"<!DOCTYPE x [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;&a;'>]>", b"&b;"]
_OPENERS = [b"<div>", b"<b>", b"<table><tr><td>", b"<a href='x'>", b"<font>", b"<entry>", b"<item>", b"<p>", b"["]


@st.composite
def text_mutated(draw, body: bytes) -> bytes:
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        action = draw(st.sampled_from(["cut", "delete_tag", "repeat_tag", "bytes", "garbage", "attribute",
                                       "nest", "text", "text", "splice"]))
        size = len(body)
        at = draw(st.integers(min_value=0, max_value=size))
        tags = [m.span() for m in _TAG.finditer(body)]
        if action == "cut":
            body = body[:at]
        elif action in ("delete_tag", "repeat_tag", "attribute") and tags:
            start, end = tags[draw(st.integers(min_value=0, max_value=len(tags) - 1))]
            if action == "delete_tag":
                body = body[:start] + body[end:]
            elif action == "repeat_tag":  # a tag, or a run of tags and what is between them, twice or more
                stop = tags[min(len(tags) - 1, draw(st.integers(min_value=0, max_value=len(tags) - 1)))][1]
                stop = max(stop, end)
                body = body[:stop] + body[start:stop] * draw(st.sampled_from([1, 2, 50])) + body[stop:]
            else:
                value = draw(st.sampled_from([b"x" * 60_000, "名".encode() * 20_000, b"&quot;" * 5000,
                                              b"9" * 5000, b"\x00" * 100]))
                name = draw(st.sampled_from([b"title", b"href", b"id", b"class", b"content", b"charset"]))
                body = body[:end - 1] + b" " + name + b'="' + value + b'"' + body[end - 1:]
        elif action == "bytes":
            body = body[:at] + draw(st.binary(min_size=1, max_size=16)) + body[at:]
        elif action == "garbage":
            body = body[:at] + draw(st.sampled_from(_GARBAGE)) + body[at:]
        elif action == "nest":
            opener = draw(st.sampled_from(_OPENERS))
            depth = draw(st.sampled_from([200, 1500]))  # deeper still: test_hostile_bodies
            body = body[:at] + opener * depth + body[at:]
        elif action == "text":
            texts = [m.span(1) for m in _TEXT.finditer(body)]
            if texts:
                start, end = texts[draw(st.integers(min_value=0, max_value=len(texts) - 1))]
                value = draw(st.sampled_from(NASTY_STRINGS) | st.text(max_size=8))
                encoding = draw(st.sampled_from(["utf-8", "gbk"]))
                body = body[:start] + value.encode(encoding, errors="replace") + body[end:]
        else:  # one part of the body moved elsewhere: an element where another was expected
            end = draw(st.integers(min_value=at, max_value=min(size, at + 400)))
            to = draw(st.integers(min_value=0, max_value=size))
            body = body[:to] + body[at:end] + body[to:]
    return body


def bodies(seed: bytes) -> st.SearchStrategy[bytes]:
    text_level = text_mutated(seed)
    payload = _json_payload(seed)
    if payload is None:
        return text_level
    structural = st.builds(lambda tree, cut: _body(tree, cut).encode("utf-8"), mutated(payload),
                           st.one_of(st.none(), st.none(), st.integers(min_value=0, max_value=400)))
    return st.one_of(structural, structural, structural, text_level)


# --- what a result must be ---------------------------------------------------------------


def _check_record(item: Post | Comment) -> None:
    assert item.platform and isinstance(item.external_id, str)
    for name, width in WIDTHS.items():
        value = getattr(item, name, None)
        if value is not None:
            assert isinstance(value, str) and len(value) <= width, (name, value[:80])
            assert value.strip() != "" or name != "external_id", (name, value)  # an author may be unnamed
    for name in ("text", "author_name", "reply_to_name", "region", "external_id", "author_id", "url"):
        value = getattr(item, name, None)
        assert value is None or (isinstance(value, str) and "\x00" not in value), name  # PostgreSQL refuses NUL
    for name in ("comments_count", "reposts_count", "likes_count", "like_count", "replies_count", "edit_count"):
        value = getattr(item, name, None)
        assert value is None or (isinstance(value, int) and 0 <= value <= INT32), (name, value)
    assert item.created_at is None or (isinstance(item.created_at, datetime) and item.created_at.tzinfo), \
        item.created_at
    # the raw payload is stored as JSON: no NaN or Infinity (PostgreSQL refuses them)
    json.dumps(item.raw, allow_nan=False)
    json.dumps(record_to_json(item), allow_nan=False)  # what huisheng parse prints


def _check(result: Any) -> None:
    if isinstance(result, Page):
        for item in result.items:
            _check_record(item)
        assert result.cursor is None or isinstance(result.cursor, str)
        assert result.total is None or 0 <= result.total <= INT32
    elif isinstance(result, (Post, Comment)):
        _check_record(result)
    else:  # huisheng parse prints any other result as its dataclass's fields
        assert dataclasses.is_dataclass(result) and not isinstance(result, type), type(result)
        for value in dataclasses.asdict(result).values():
            assert not isinstance(value, str) or "\x00" not in value


def _run(platform: str, endpoint: str, body: bytes, context: dict[str, Any]) -> None:
    cls = adapters.load(platform)
    try:
        result = cls.parsers[endpoint](cls.decode_bytes(endpoint, body), **context)
    except errors.AdapterError as exc:  # a typed error (a payload may say captcha, gone, slow down)
        assert exc.endpoint == endpoint, (type(exc).__name__, exc.endpoint, str(exc))
        if isinstance(exc, errors.ParseError):
            assert exc.field, str(exc)
        return
    _check(result)


# --- the tests ---------------------------------------------------------------------------


def test_every_endpoint_has_a_fixture_to_mutate():
    installed = set(adapters.available())
    assert {"weibo", "mastodon", "rss", "discuz", "liuyan"} <= installed  # the built-in ones, as a floor
    assert {platform for platform, _ in SEEDS} == installed
    missing = sorted(f"{platform}/{endpoint}" for (platform, endpoint), paths in SEEDS.items() if not paths)
    assert not missing, f"endpoints with no recorded fixture under tests/fixtures to fuzz: {missing}"


@pytest.mark.parametrize("platform,endpoint", sorted(SEEDS), ids=lambda v: v)
def test_mutated_fixtures_parse_or_raise_typed_errors(platform, endpoint):
    paths = SEEDS[(platform, endpoint)]
    if not paths:
        pytest.fail(f"{platform}/{endpoint} has no fixture under tests/fixtures/{platform} to mutate")
    seeds = [(path.read_bytes(), _context(path)) for path in paths]
    for body, context in seeds:
        _run(platform, endpoint, body, context)  # the fixture itself
    examples = EXAMPLES
    if any(_json_payload(body) is None for body, _ in seeds):
        mean = sum(len(body) for body, _ in seeds) / len(seeds)
        examples = max(20, min(MARKUP_EXAMPLES, int(MARKUP_EXAMPLES * MARKUP_BYTES / mean)))

    @settings(max_examples=examples, deadline=None, database=None,
              derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data(), index=st.integers(min_value=0, max_value=len(seeds) - 1))
    def check(data, index):
        seed, context = seeds[index]
        _run(platform, endpoint, data.draw(bodies(seed), label="body"), context)

    check()


HOSTILE = [
    b"", b"\x00", b"\xef\xbb\xbf", b"null", b"[]", b"{}", b'"x"', b"1e400", b'{"a": NaN}', b"-0",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"data":' * 50_000 + b"1" + b"}" * 50_000,
    b"<html>" + b"<div>" * 50_000 + b"x",
    b"<table>" + b"<tr><td><table>" * 5000,
    b"<?xml version='1.0'?><rss version='2.0'><channel>" + b"<item>" * 5000,
    b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'>" + b"<entry><id>1</id>" * 3000,
    bytes(range(256)) * 20,
    "<html><head><meta charset='gbk'></head><body>中文</body></html>".encode("utf-8"),
]


@pytest.mark.parametrize("platform,endpoint", sorted(SEEDS), ids=lambda v: v)
def test_hostile_bodies_parse_or_raise_typed_errors(platform, endpoint):
    context = {"account_uid": "1", "post_id": "1", "page": 1,
               "now": datetime.fromisoformat(DEFAULT_NOW).astimezone(timezone.utc)}
    for body in HOSTILE:
        _run(platform, endpoint, body, context)


# --- what the fuzz found, pinned ----------------------------------------------------------


def _seed(relative: str) -> tuple[Any, dict[str, Any]]:
    path = FIXTURES / relative
    return json.loads(path.read_text("utf-8")), _context(path)


def _outcome(platform: str, endpoint: str, payload: Any, context: dict[str, Any]) -> Any:
    """The parse of ``payload`` (bytes, or JSON text made of it) as ``huisheng parse`` does it."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    cls = adapters.load(platform)
    return cls.parsers[endpoint](cls.decode_bytes(endpoint, body), **context)


@pytest.mark.parametrize("platform,endpoint,relative", [
    ("mastodon", "statuses", "mastodon/statuses/first_page.json"),
    ("liuyan", "detail", "liuyan/detail.json"),
    ("discuz", "mobile_viewthread", "discuz/mobile_viewthread.json"),
])
@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_a_number_json_does_not_have_is_a_parse_error(platform, endpoint, relative, number):
    _, context = _seed(relative)
    body = (FIXTURES / relative).read_bytes()
    body = body.replace(b"[", b'[{"x": ' + number + b"}, ", 1) if body.lstrip().startswith(b"[") \
        else body.replace(b"{", b'{"x": ' + number + b", ", 1)
    with pytest.raises(errors.ParseError) as caught:
        _outcome(platform, endpoint, body, context)
    assert caught.value.endpoint == endpoint and caught.value.field == "<body>"


def test_a_mastodon_count_beyond_32_bits_is_a_parse_error_naming_it():
    payload, context = _seed("mastodon/statuses/first_page.json")
    payload[0]["replies_count"] = 2 ** 31
    with pytest.raises(errors.ParseError) as caught:
        _outcome("mastodon", "statuses", payload, context)
    assert "replies_count" in caught.value.field


def test_a_discuz_post_id_of_80_digits_is_a_parse_error_naming_it():
    payload, context = _seed("discuz/mobile_viewthread.json")
    payload["Variables"]["postlist"][1]["pid"] = "9" * 80
    with pytest.raises(errors.ParseError) as caught:
        _outcome("discuz", "mobile_viewthread", payload, context)
    assert caught.value.field == "postlist.pid"


def test_names_longer_than_the_store_takes_are_cut():
    payload, context = _seed("liuyan/detail.json")
    payload["resultData"]["contentList"][0]["nickName"] = "<div>" * 16 + "居民" * 150 + "</div>" * 16
    page = _outcome("liuyan", "detail", payload, context)
    _check(page)
    payload, context = _seed("mastodon/statuses/first_page.json")
    payload[0]["account"]["display_name"] = "名" * 500
    _check(_outcome("mastodon", "statuses", payload, context))


def test_a_feed_with_a_garbled_encoding_declaration_is_a_parse_error():
    body = b"<?xml version='1.0' encoding='utf-\x00\xff'?><rss version='2.0'><channel><title>t</title></channel></rss>"
    context = {"account_uid": "1", "post_id": "1", "page": 1,
               "now": datetime.fromisoformat(DEFAULT_NOW).astimezone(timezone.utc)}
    try:
        _check(_outcome("rss", "feed", body, context))
    except errors.ParseError as exc:
        assert exc.endpoint == "feed" and exc.field
