"""``huisheng parse`` and ``huisheng adapters list`` through the real command."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from huisheng.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "weibo"
REQUIRED = {"kind", "external_id", "author_id", "author_name", "created_at", "created_at_approx", "text",
            "root_id", "parent_id", "is_pinned", "is_from_owner", "comments_count"}


def _args(path: Path) -> list[str]:
    args = json.loads(path.with_name(path.stem + ".args.json").read_text("utf-8"))
    out = ["--account-uid", args["account_uid"], "--now", args["now"]]
    if "post_id" in args:
        out += ["--post-id", args["post_id"]]
    if "page" in args:
        out += ["--page", str(args["page"])]
    return out


def _expected(path: Path) -> list[dict]:
    text = path.with_name(path.stem + ".expected.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


def test_parse_prints_the_expected_records():
    for endpoint, case in (("timeline", "since_id_pinned_repost"), ("comments", "hotflow_first_page"),
                           ("comments_old", "page1_relative"), ("ajax_comments", "build_children")):
        path = FIXTURES / endpoint / f"{case}.json"
        result = CliRunner().invoke(main, ["parse", "--platform", "weibo", "--endpoint", endpoint, str(path),
                                           *_args(path)])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert rows == _expected(path)
        assert all(REQUIRED <= set(row) for row in rows)


def test_parse_longtext():
    path = FIXTURES / "longtext" / "extend.json"
    result = CliRunner().invoke(main, ["parse", "--endpoint", "longtext", str(path)])
    assert result.exit_code == 0
    row = json.loads(result.stdout)
    assert row["kind"] == "longtext" and row["text"].startswith("【交通提示】")


def test_unrecognised_shape_exits_2_naming_endpoint_and_field():
    path = FIXTURES / "timeline" / "renamed_id.json"
    result = CliRunner().invoke(main, ["parse", "--endpoint", "timeline", str(path), "--now", "2025-11-02T09:00:00"])
    assert result.exit_code == 2
    assert "timeline" in result.stderr and "data.cards[1].mblog.id" in result.stderr
    assert result.stdout == ""


def test_unknown_endpoint_is_a_usage_error():
    path = FIXTURES / "timeline" / "renamed_id.json"
    result = CliRunner().invoke(main, ["parse", "--platform", "weibo", "--endpoint", "nope", str(path)])
    assert result.exit_code == 2 and "child_comments" in result.output
    # without --platform: no installed adapter has it
    result = CliRunner().invoke(main, ["parse", "--endpoint", "nope", str(path)])
    assert result.exit_code == 2 and "'nope'" in result.output and "adapters list" in result.output


def test_an_endpoint_several_adapters_have_needs_the_platform_named():
    path = FIXTURES / "timeline" / "renamed_id.json"
    result = CliRunner().invoke(main, ["parse", "--endpoint", "status", str(path)])
    assert result.exit_code == 2 and "--platform" in result.output and "weibo" in result.output


def test_adapters_list_shows_the_weibo_entry_point():
    result = CliRunner().invoke(main, ["adapters", "list"])
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split()[:2] == ["NAME", "HOSTS"]
    (row,) = [r for r in rows if r.startswith("weibo ")]
    assert row.startswith("weibo") and "m.weibo.cn, weibo.com" in row
    assert "1 request / 3s, 1 at once" in row and "huisheng.adapters.weibo:WeiboAdapter" in row
