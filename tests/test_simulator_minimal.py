"""The minimal request count on a hand-worked scenario (see huisheng.simulator.minimal)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests

from huisheng.clock import FakeClock
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.sample import sample_matrix

START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def scenario():
    """One account, three polls at START+1h, +2h, +3h.

    Before the first poll: P1 (2 days old) with 25 top-level comments, R1 among them
    with 2 replies (shown inline); P2 (10 days old, outside the 7-day window) with one.
    Between polls 1 and 2: P3 (long) appears; P1 gets a comment and R1 a third reply.
    Between polls 2 and 3: P2 gets a comment; P4..P15 (12 short posts) appear; P3 is deleted.
    """
    matrix = sample_matrix(1)
    world = World(matrix, seed=1, start=START, config=WorldConfig.scripted())
    uid = matrix.accounts[0].uid
    world.ensure(START + 4 * H)  # generate the (empty) days first; scripted items follow
    p1 = world.script_post(uid, START - timedelta(days=2), "P1")
    roots = [world.script_comment(p1, START - timedelta(days=1, minutes=i), f"c{i}", likes=i) for i in range(25)]
    r1 = roots[0]
    world.script_comment(p1, START - timedelta(hours=20), "r1a", root=r1)
    world.script_comment(p1, START - timedelta(hours=19), "r1b", root=r1)
    p2 = world.script_post(uid, START - timedelta(days=10), "P2")
    world.script_comment(p2, START - timedelta(days=9), "old")
    world.script_post(uid, START + 1.5 * H, "P3 " + "长" * 300, is_long=True, deleted_at=START + 2.5 * H)
    world.script_comment(p1, START + 1.2 * H, "new top")
    world.script_comment(p1, START + 1.3 * H, "r1c", root=r1)
    world.script_comment(p2, START + 2.2 * H, "late comment on an old post")
    for i in range(12):
        world.script_post(uid, START + 2 * H + timedelta(minutes=5 * (i + 1)), f"P{4 + i}")
    return world, uid


def test_minimal_and_naive_on_a_hand_worked_scenario():
    world, uid = scenario()
    clock = FakeClock(START + H)
    server = SimServer(world, clock)
    base = server.start()
    try:
        for _ in range(3):
            body = requests.get(base + "/api/container/getIndex", timeout=10,
                                params={"type": "uid", "value": uid, "containerid": f"107603{uid}"}).json()
            assert body["ok"] == 1
            # a second page or other endpoints are not polls
            requests.get(base + "/api/container/getIndex", timeout=10,
                         params={"type": "uid", "value": uid, "containerid": f"107603{uid}", "page": 2})
            clock.advance(3600)
        result = server.minimal()
    finally:
        server.stop()
    assert result["polls"] == 3
    # poll 1: 1 page + P1's 2 hotflow pages (25 comments; R1's 2 replies are inline) = 3
    # poll 2: 1 page + P3 long text + P1's 2 hotflow pages + R1's child page (3 replies) = 5
    # poll 3: 2 pages (12 new posts) + P2's hotflow page + status of deleted P3 = 4
    # the scenario has no mention sources: their kinds are counted, at zero
    assert result["by_kind"] == {"timeline": 4, "longtext": 1, "comments": 5, "child_comments": 1, "status": 1,
                                 "search": 0, "ajax_mentions": 0, "ajax_comment_mentions": 0}
    assert result["minimal"] == 12
    # naive: poll 1: 1 + 2 = 3; poll 2: 1 + P3 (1) + P1 (2 + 1) + long text 1 = 6;
    # poll 3: 2 pages + 12 empty threads + P1 (2 + 1) + status 1 = 18
    assert result["naive"] == 27
    assert result["by_account"] == {uid: {"polls": 3, "minimal": 12, "naive": 27}}


def test_minimal_over_http_and_stats_count_polls():
    world, uid = scenario()
    server = SimServer(world, FakeClock(START + H))
    base = server.start()
    try:
        requests.get(base + "/api/container/getIndex", timeout=10,
                     params={"type": "uid", "value": uid, "containerid": f"107603{uid}"})
        requests.get(base + "/ajax/statuses/mymblog", timeout=10, params={"uid": uid, "page": 1})
        assert server.stats()["polls"] == {uid: 2}
        assert requests.get(base + "/_sim/minimal", timeout=10).json()["minimal"] == server.minimal()["minimal"]
        wide = requests.get(base + "/_sim/minimal", params={"window_days": 30}, timeout=10).json()
        assert wide["window_days"] == 30 and wide["naive"] > server.minimal()["naive"]  # P2 joins the window
        server.reset_stats()
        assert server.stats() == {"total": 0, "by_endpoint": {}, "by_account": {}, "faults": {}, "polls": {}}
        assert server.minimal()["minimal"] == 0
    finally:
        server.stop()
