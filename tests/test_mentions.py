"""Mentions: the search for @NAME (its own interval and pace, stops at known
items, copes with Weibo's partial deduplication, a tight rate limit), the
account's own mention inbox with its own cookie, and ``status`` showing each
source — through the real command line, against the simulator."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from huisheng import errors
from huisheng.cli import main
from huisheng.clock import FakeClock
from huisheng.config.matrix import dump_matrix, parse_matrix_text
from huisheng.errors import ConfigErrors
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.render import search_order
from huisheng.simulator.sample import sample_matrix
from huisheng.storage.db import make_engine
from huisheng.storage.models import Account, AccountSource, Comment, Post

COOKIE_VAR = "TEST_OWN_COOKIE"
BUSY = WorldConfig(history_days=3, mentions_per_day=(("district", 12.0), ("department", 6.0), ("street", 6.0),
                                                     ("community", 6.0)))


@pytest.fixture
def district(tmp_path, db_url):
    matrix = sample_matrix(3, streets=1)
    own = matrix.accounts[0]
    from dataclasses import replace
    matrix = replace(matrix, accounts=(replace(own, cookie_env=COOKIE_VAR), *matrix.accounts[1:]))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    clock = FakeClock(now)
    world = World(matrix, seed=7, start=now - timedelta(days=3), config=BUSY)
    server = SimServer(world, clock)
    base = server.start()
    (tmp_path / "matrix").mkdir()
    (tmp_path / "matrix" / "matrix.toml").write_text(dump_matrix(matrix), encoding="utf-8")
    config = tmp_path / "huisheng.toml"
    config.write_text(f"""
matrix = "matrix"
[database]
url = "{db_url}"
[platforms.weibo]
min_interval = 0.001
search_min_interval = 0.001
base_url = "{base}"
ajax_base_url = "{base}"
mode = "mobile"
""", encoding="utf-8")
    for args in (["db", "upgrade"], ["matrix", "sync"]):
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
    yield config, matrix, server, db_url
    server.stop()


def run(config, *args):
    return CliRunner().invoke(main, [*args, "--config", str(config)])


def _stored(db_url):
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            posts = {p.external_id: p for p in conn.execute(select(Post).where(Post.origin == "mention"))}
            roots = {c.external_id: c for c in conn.execute(select(Comment).where(Comment.item == "post"))}
            accounts = [tuple(a) for a in conn.execute(select(Account.cookie_env, Account.adapter_state))]
    finally:
        engine.dispose()
    return posts, roots, accounts


def test_search_finds_every_mention_once_despite_partial_dedup_then_stops_at_known(district):
    config, matrix, server, db_url = district
    district_account = matrix.accounts[0]
    now = server.clock.now()
    pages = search_order(server.world, district_account.name, now)
    assert len(pages) >= 3, "the search spans pages"
    flat = [p.id for chunk in pages for p in chunk]
    assert len(flat) > len(set(flat)), "the same item on two pages"

    result = run(config, "poll", district_account.uid)
    assert result.exit_code == 0, result.output
    posts, roots, _ = _stored(db_url)
    truth = server.truth()
    mine = {p["id"] for p in truth["posts"] if p["citizen"] and district_account.uid in p["mentions"]
            and not p["deleted"]}
    assert mine and mine <= set(posts) and mine <= set(roots), (server.stats()["by_endpoint"], len(pages), result.output)
    searched = server.stats()["by_endpoint"]["search"]
    assert searched == len(pages)  # down to the last page, each once

    # within the interval (30 minutes by default) no search at all
    server.reset_stats()
    assert run(config, "poll", district_account.uid).exit_code == 0
    assert "search" not in server.stats()["by_endpoint"]

    # once due again, with nothing new: one page, which ends the read (all known)
    _sources_due(db_url)
    server.reset_stats()
    assert run(config, "poll", district_account.uid).exit_code == 0
    assert server.stats()["by_endpoint"].get("search") == 1

    # still within the interval afterwards
    server.reset_stats()
    assert run(config, "poll", district_account.uid).exit_code == 0
    assert "search" not in server.stats()["by_endpoint"]


def _sources_due(db_url):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(update(AccountSource).values(next_check_at=datetime(2000, 1, 1, tzinfo=timezone.utc)))
    engine.dispose()


def _search_source(db_url):
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(AccountSource.complete, AccountSource.incomplete_reason,
                                       AccountSource.cursor).where(AccountSource.kind == "mentions_search")).one()
    finally:
        engine.dispose()


def test_a_search_deeper_than_the_page_cap_resumes_where_it_stopped(district):
    config, matrix, server, db_url = district
    with config.open("a", encoding="utf-8") as f:
        f.write("[polling]\nmax_comment_pages = 3\n")
    account = matrix.accounts[0]
    assert len(search_order(server.world, account.name, server.clock.now())) >= 7, "deeper than two polls"

    assert run(config, "poll", account.uid).exit_code == 0
    complete, reason, cursor = _search_source(db_url)
    assert (complete, reason) == (False, "stopped after 3 pages") and "resume" in cursor
    assert server.stats()["by_endpoint"]["search"] == 3

    # new mentions on top shift the listing's pages while the read goes on below, poll after poll
    server.clock.advance(6 * 3600)
    for _ in range(6):
        _sources_due(db_url)
        assert run(config, "poll", account.uid).exit_code == 0
        complete, reason, cursor = _search_source(db_url)
        if complete:
            break
        server.clock.advance(120)
    assert complete and reason is None and "resume" not in cursor
    posts, roots, _ = _stored(db_url)
    mine = {p["id"] for p in server.truth()["posts"] if p["citizen"] and account.uid in p["mentions"]
            and not p["deleted"]}
    assert mine <= set(posts) and mine <= set(roots)


def test_an_adapter_that_cannot_tell_a_reposts_own_words_concludes_no_answer_and_says_so(district, monkeypatch):
    from huisheng.adapters.base import Adapter
    from huisheng.adapters.weibo.adapter import WeiboAdapter

    config, matrix, server, db_url = district
    account = matrix.accounts[0]
    truth = server.truth()
    citizens = {p["id"] for p in truth["posts"] if p["citizen"]}
    assert any(p["repost_of"] in citizens and p["author_id"] == account.uid for p in truth["posts"])
    with pytest.raises(errors.Unsupported) as caught:
        Adapter.repost_text(None, None)
    assert caught.value.endpoint == "repost_text"
    monkeypatch.setattr(WeiboAdapter, "repost_text", Adapter.repost_text)  # as an adapter that lacks it

    assert run(config, "poll", account.uid).exit_code == 0
    engine = make_engine(db_url)
    with engine.connect() as conn:
        reposts = conn.execute(select(Comment.id).where(Comment.item == "repost")).all()
    engine.dispose()
    assert reposts == []
    status = json.loads(run(config, "status", "--format", "json").output)
    assert next(r for r in status if r["uid"] == account.uid)["unsupported"] == ["repost_text"]
    assert "识别转发中账号自己的话" in run(config, "status").output


def test_the_accounts_own_inbox_with_its_own_cookie_never_shown(district, monkeypatch, caplog):
    config, matrix, server, db_url = district
    own, other = matrix.accounts[0], matrix.accounts[1]
    cookie = f"SUB=sim-{own.uid}"
    monkeypatch.setenv(COOKIE_VAR, cookie)
    with caplog.at_level(logging.DEBUG):
        outputs = [run(config, "poll", own.uid).output, run(config, "poll", other.uid).output]
    stats = server.stats()["by_account"]
    assert stats[own.uid].get("ajax_mentions") and stats[own.uid].get("ajax_comment_mentions")
    assert "ajax_mentions" not in stats.get(other.uid, {})
    status = json.loads(run(config, "status", "--format", "json").output)
    by_uid = {row["uid"]: row for row in status}
    kinds = {s["kind"]: s for s in by_uid[own.uid]["sources"]}
    assert set(kinds) == {"mentions_search", "mentions_posts", "mentions_comments"}
    assert all(s["complete"] and s["consecutive_errors"] == 0 for s in kinds.values())
    assert {s["kind"] for s in by_uid[other.uid]["sources"]} == {"mentions_search"}
    table = run(config, "status").output
    assert "搜索 @账号名" in table and "@我的评论（本账号 cookie）" in table
    # comments that @ the account under citizens' posts arrive through the inbox
    posts, roots, accounts = _stored(db_url)
    text = "\n".join(outputs + [table, json.dumps(status)] + [r.getMessage() for r in caplog.records]
                     + [repr(a) for a in accounts])
    assert cookie not in text and COOKIE_VAR in repr(accounts)


def test_a_missing_cookie_variable_fails_the_inbox_visibly(district, monkeypatch):
    config, matrix, server, db_url = district
    monkeypatch.delenv(COOKIE_VAR, raising=False)
    result = run(config, "poll", matrix.accounts[0].uid)
    assert result.exit_code == 0, result.output  # the timeline and the search still work
    status = json.loads(run(config, "status", "--format", "json").output)
    sources = {s["kind"]: s for s in status[0]["sources"]} if status[0]["uid"] == matrix.accounts[0].uid else {
        s["kind"]: s for row in status if row["uid"] == matrix.accounts[0].uid for s in row["sources"]}
    assert sources["mentions_search"]["consecutive_errors"] == 0
    for kind in ("mentions_posts", "mentions_comments"):
        assert sources[kind]["last_error_kind"] == "auth_required"
        assert COOKIE_VAR in sources[kind]["last_error_message"]


def test_the_search_rate_limit_backs_the_search_off_not_the_account(district):
    config, matrix, server, db_url = district
    server.search_limit = (1, 60.0)  # tighter than the district's pages
    result = run(config, "poll", matrix.accounts[0].uid)
    assert "outcome=ok" in result.output
    status = json.loads(run(config, "status", "--format", "json").output)
    row = next(r for r in status if r["uid"] == matrix.accounts[0].uid)
    search = next(s for s in row["sources"] if s["kind"] == "mentions_search")
    assert row["consecutive_errors"] == 0
    assert search["last_error_kind"] == "rate_limited" and search["consecutive_errors"] == 1
    assert server.stats()["faults"].get("search_limit") == 1


def test_a_search_read_cut_short_is_read_again_to_its_end(district):
    config, matrix, server, db_url = district
    account = matrix.accounts[0]
    assert len(search_order(server.world, account.name, server.clock.now())) >= 3
    server.search_limit = (1, 60.0)  # the first page is stored, the second refused: the read ends there
    assert run(config, "poll", account.uid).exit_code == 0
    assert _search_source(db_url)[2].get("reading") is True  # not recorded as read to its end
    server.search_limit = (1000, 60.0)
    _sources_due(db_url)
    # the first page, all stored already, does not end the next read
    assert run(config, "poll", account.uid).exit_code == 0
    posts, roots, _ = _stored(db_url)
    mine = {p["id"] for p in server.truth()["posts"] if p["citizen"] and account.uid in p["mentions"]
            and not p["deleted"]}
    assert mine <= set(posts) and mine <= set(roots)
    complete, reason, cursor = _search_source(db_url)
    assert complete and "reading" not in cursor


def test_a_cookie_in_the_matrix_is_refused(tmp_path):
    text = dump_matrix(sample_matrix(1, streets=1)).replace(
        'unit = "', 'cookie = "SUB=abc"\nunit = "', 1)
    with pytest.raises(ConfigErrors) as caught:
        parse_matrix_text(text, tmp_path / "matrix.toml")
    assert "cookie_env" in str(caught.value)
    ok = dump_matrix(sample_matrix(1, streets=1)).replace('unit = "', f'cookie_env = "{COOKIE_VAR}"\nunit = "', 1)
    assert parse_matrix_text(ok, tmp_path / "matrix.toml").accounts[0].cookie_env == COOKIE_VAR
