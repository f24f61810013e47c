"""The simulator's shapes read back by the real Weibo adapter equal its ground truth,
and ``huisheng simulate`` serves over HTTP until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from huisheng.adapters.base import Http
from huisheng.adapters.weibo.adapter import WeiboAdapter
from huisheng.clock import FakeClock
from huisheng.records import AccountRef
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.sample import sample_matrix

START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


def read_everything(adapter, world):
    posts, comments = {}, {}
    for account in world.accounts:
        ref = AccountRef("weibo", account.uid, account.name)
        cursor = None
        while True:
            page = adapter.timeline(ref, cursor)
            for post in page.items:
                posts[post.external_id] = adapter.expand(post) if post.is_truncated else post
            cursor = page.cursor
            if not cursor:
                break
        for post in [p for p in posts.values() if p.author_id == account.uid]:
            cursor = None
            while True:
                page = adapter.comments(post, ref, cursor)
                for c in page.items:
                    comments[c.external_id] = c
                    if c.root_id is None and (c.replies_count or c.has_more_replies):
                        child_cursor = None
                        while True:
                            replies = adapter.replies(post, c, ref, child_cursor)
                            comments.update((r.external_id, r) for r in replies.items)
                            child_cursor = replies.cursor
                            if not child_cursor:
                                break
                cursor = page.cursor
                if not cursor:
                    break
    return posts, comments


@pytest.mark.parametrize("mode", ["mobile", "ajax"])
def test_adapter_reads_exactly_the_truth(mode):
    world = World(sample_matrix(8), seed=21, start=START,
                  config=WorldConfig(history_days=8, viral_share=0.05, hostile_share=0.1, long_share=0.3))
    clock = FakeClock(START + timedelta(days=2))
    server = SimServer(world, clock)
    base = server.start()
    try:
        adapter = WeiboAdapter(Http(), {"base_url": base, "ajax_base_url": base, "mode": mode, "cookie": "c"},
                               now=clock.now)
        posts, comments = read_everything(adapter, world)
        truth = server.truth()
    finally:
        server.stop()
    # timelines and their threads; a citizen's own post that @s an account is
    # read through its mention sources (tests/test_mentions.py) and seen here
    # only as the original an account's repost carries
    live_posts = {p["id"]: p for p in truth["posts"] if not p["deleted"] and not p["citizen"]}
    reposted = {p["repost_of"] for p in live_posts.values()}
    live_posts.update((p["id"], p) for p in truth["posts"] if p["citizen"] and p["id"] in reposted)
    # the scenario exercises the quirks: long text, pinned, edits, reposts, paging, hostile text
    assert all(any(p[k] for p in live_posts.values()) for k in ("is_long", "is_pinned", "edit_count", "repost_of"))
    assert max(p["comments_count"] for p in live_posts.values()) > 40
    assert any(c["labels"].get("hostile") for c in truth["comments"])
    live_comments = {c["id"]: c for c in truth["comments"] if not c["deleted"] and not c["post_deleted"]
                     and c["post_id"] in live_posts and not live_posts[c["post_id"]]["citizen"]}
    assert set(posts) == set(live_posts)
    assert set(comments) == set(live_comments)
    for pid, p in live_posts.items():
        got = posts[pid]
        assert (got.text, got.author_id, got.is_pinned, got.edit_count, got.repost_of) == (
            p["text"], p["author_id"], p["is_pinned"], p["edit_count"], p["repost_of"]), pid
        assert got.created_at.isoformat().replace("+00:00", "Z") == p["created_at"]
    for cid, c in live_comments.items():
        got = comments[cid]
        assert (got.text, got.post_id, got.root_id, got.parent_id, got.author_id, got.is_from_owner) == (
            c["text"], c["post_id"], c["root_id"], c["parent_id"], c["author_id"], c["is_from_owner"]), cid
        assert got.created_at.isoformat().replace("+00:00", "Z") == c["created_at"]


def test_simulate_command_serves_until_sigterm(tmp_path):
    from huisheng.config.matrix import dump_matrix

    matrix = tmp_path / "matrix.toml"
    matrix.write_text(dump_matrix(sample_matrix(5)), encoding="utf-8")
    faults = tmp_path / "faults.json"
    faults.write_text('[{"account": "1000000002", "endpoint": "profile", "fault": "432"}]', encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    huisheng = Path(sys.executable).with_name("huisheng")
    proc = subprocess.Popen([str(huisheng), "simulate", "--matrix", str(matrix),
                             "--port", "0", "--seed", "3", "--faults", str(faults), "--start",
                             "2026-11-02T09:00:00+08:00", "--speed", "600"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        ok = requests.get(base + "/api/container/getIndex", params={"type": "uid", "value": "1000000001"}, timeout=10)
        assert ok.json()["data"]["userInfo"]["id"] == 1000000001
        walled = requests.get(base + "/api/container/getIndex", params={"type": "uid", "value": "1000000002"},
                              timeout=10)
        assert walled.status_code == 432
        first = requests.get(base + "/_sim/truth", timeout=10).json()["as_of"]
        later = requests.get(base + "/_sim/truth", timeout=10).json()["as_of"]
        assert first >= "2026-11-02T01:00:00Z" and later > first  # the accelerated clock runs
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert "simulator stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_simulate_command_reports_bad_input_cleanly(tmp_path):
    from click.testing import CliRunner

    from huisheng.cli import main
    from huisheng.config.matrix import dump_matrix

    matrix = tmp_path / "matrix.toml"
    matrix.write_text(dump_matrix(sample_matrix(3)), encoding="utf-8")
    bad_faults = tmp_path / "faults.toml"
    bad_faults.write_text('[[faults]]\nfault = "meltdown"\n', encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["simulate", "--matrix", str(matrix), "--port", "0", "--faults", str(bad_faults)])
    assert result.exit_code == 1 and "faults[0].fault" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["simulate", "--matrix", str(matrix), "--port", "0", "--start", "yesterday"])
    assert result.exit_code == 1 and "--start" in result.output


def test_ids_carry_the_items_time_so_the_old_endpoints_relative_times_come_out_exact():
    from huisheng.adapters.weibo.text import id_time

    world = World(sample_matrix(4), seed=5, start=START, config=WorldConfig(history_days=40))
    clock = FakeClock(START + timedelta(days=1))
    world.ensure(clock.now())
    items = [*world.posts.values(), *world.comments.values()]
    assert items and all(id_time(item.id) == item.created_at for item in items)
    server = SimServer(world, clock)
    base = server.start()
    try:
        adapter = WeiboAdapter(Http(), {"base_url": base, "mode": "mobile"}, now=clock.now)
        read = {}
        for post in [p for p in world.posts.values() if p.alive(clock.now()) and p.live_comments(clock.now())]:
            ref = AccountRef("weibo", post.account.uid, post.account.name)
            record = adapter.status(post.id, ref)
            cursor = adapter.retry_cursor("comments", 1)  # the flat /api/comments/show
            while True:
                page = adapter.comments(record, ref, cursor)
                read.update((c.external_id, c) for c in page.items)
                cursor = page.cursor
                if not cursor:
                    break
    finally:
        server.stop()
    shown = {world.comments[cid].created_at.date() for cid in read}
    assert len(shown) > 20  # 刚刚 … 小时前, 昨天, MM-DD: every relative form, over weeks
    assert all(not c.created_at_approx and c.created_at == world.comments[cid].created_at
               for cid, c in read.items())
