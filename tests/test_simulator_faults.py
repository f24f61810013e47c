"""Fault injection in the simulator: each kind, rule matching, control over HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from huisheng.errors import ConfigError
from huisheng.clock import FakeClock
from huisheng.simulator import FaultRule, SimServer, World, load_faults, parse_rules

START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def world():
    from huisheng.simulator.sample import sample_matrix

    return World(sample_matrix(12), seed=2, start=START)


@pytest.fixture
def sim(world):
    server = SimServer(world, FakeClock(START + timedelta(days=1)))
    base = server.start()
    yield server, base
    server.stop()


def timeline(base, uid, **kw):
    return requests.get(base + "/api/container/getIndex", timeout=kw.pop("timeout", 10), allow_redirects=False,
                        params={"type": "uid", "value": uid, "containerid": f"107603{uid}"})


def uids(world):
    return [a.uid for a in world.accounts]


@pytest.mark.parametrize("kind,status", [("500", 500), ("502", 502), ("503", 503), ("418", 418),
                                         ("432", 432), ("403", 403)])
def test_status_faults(sim, world, kind, status):
    server, base = sim
    a, b = uids(world)[:2]
    server.set_faults([FaultRule(fault=kind, account=a, endpoint="timeline")])
    r = timeline(base, a)
    assert r.status_code == status and "text/html" in r.headers["Content-Type"]
    assert timeline(base, b).json()["ok"] == 1  # other accounts unaffected
    assert server.stats()["faults"] == {kind: 1}


def test_429_has_retry_after(sim, world):
    server, base = sim
    uid = uids(world)[0]
    server.set_faults([{"fault": "429", "retry_after": 120}])
    r = timeline(base, uid)
    assert r.status_code == 429 and r.headers["Retry-After"] == "120"


def test_captcha_login_wall_and_redirect(sim, world):
    server, base = sim
    uid = uids(world)[0]
    server.set_faults([FaultRule(fault="captcha", count=1), FaultRule(fault="login_wall", count=1),
                       FaultRule(fault="redirect_login", count=1)])
    body = timeline(base, uid).json()
    assert body["ok"] == -100 and "geetest" in body["url"] and body["url"].startswith("https://passport.weibo.cn/")
    wall = timeline(base, uid)
    assert wall.status_code == 200 and wall.text.lstrip().startswith("<!DOCTYPE html>")
    moved = timeline(base, uid)
    assert moved.status_code == 302 and moved.headers["Location"].startswith("https://passport.weibo.com/visitor/")
    assert timeline(base, uid).json()["ok"] == 1  # all three used up


def test_truncated_json(sim, world):
    server, base = sim
    uid = uids(world)[0]
    full = timeline(base, uid).text
    server.set_faults([FaultRule(fault="truncated_json", count=1)])
    r = timeline(base, uid)
    with pytest.raises(ValueError):
        json.loads(r.text)
    assert full.startswith(r.text) and 0 < len(r.text) < len(full)


def test_renamed_field_removes_ids(sim, world):
    server, base = sim
    uid = uids(world)[0]
    server.set_faults([FaultRule(fault="renamed_field", endpoint="timeline")])
    text = timeline(base, uid).text
    body = json.loads(text)
    assert body["ok"] == 1 and '"idx"' in text and '"mid"' not in text and '"id": "5' not in text
    post = world.timeline(uid, server.clock.now())[0]
    server.set_faults([FaultRule(fault="renamed_field")])
    shown = requests.get(base + "/statuses/show", params={"id": post.id}, timeout=10).json()
    assert "id" not in shown["data"] and "mid" not in shown["data"] and "idx" in shown["data"]
    prof = requests.get(base + "/api/container/getIndex", params={"type": "uid", "value": uid}, timeout=10).json()
    assert "userInfo" not in prof["data"]


def test_reset_closes_the_connection(sim, world):
    server, base = sim
    uid = uids(world)[0]
    server.set_faults([FaultRule(fault="reset", count=1)])
    with pytest.raises(requests.ConnectionError):
        timeline(base, uid)
    assert timeline(base, uid).json()["ok"] == 1


def test_timeout_holds_without_blocking_others_or_shutdown(world):
    server = SimServer(world, FakeClock(START + timedelta(days=1)))
    base = server.start()
    a, b = uids(world)[:2]
    server.set_faults([FaultRule(fault="timeout", account=a, hold=30)])
    errors = []

    def slow():
        try:
            timeline(base, a, timeout=60)
        except requests.RequestException as exc:
            errors.append(exc)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    assert timeline(base, b).json()["ok"] == 1  # served while a's request hangs
    with pytest.raises(requests.Timeout):
        timeline(base, a, timeout=0.3)
    server.stop()
    t.join(timeout=5)
    assert not t.is_alive() and errors  # closed without an answer
    assert time.monotonic() - t0 < 5


def test_count_and_probability_are_reproducible(world):
    def run():
        server = SimServer(world, FakeClock(START + timedelta(days=1)),
                           faults=[FaultRule(fault="503", probability=0.5)])
        base = server.start()
        try:
            return [timeline(base, uids(world)[0]).status_code for _ in range(20)]
        finally:
            server.stop()

    first = run()
    assert first == run() and 200 in first and 503 in first
    with SimServer(world, FakeClock(START), faults=[FaultRule(fault="500", count=2, endpoint="timeline")]) as server:
        codes = [timeline(server.base_url, uids(world)[0]).status_code for _ in range(4)]
        assert codes == [500, 500, 200, 200]


def test_endpoint_matching_uses_the_post_owner(sim, world):
    server, base = sim
    now = server.clock.now()
    post = next(p for p in world.posts.values() if p.alive(now) and p.live_comments(now))
    server.set_faults([FaultRule(fault="403", account=post.account.uid, endpoint="comments")])
    r = requests.get(base + "/comments/hotflow", params={"id": post.id, "mid": post.id}, timeout=10)
    assert r.status_code == 403
    old = requests.get(base + "/api/comments/show", params={"id": post.id, "page": 1}, timeout=10)
    assert old.status_code == 200 and old.json()["ok"] == 1
    assert server.stats()["by_account"][post.account.uid]["comments"] == 1


def test_empty_answers_a_thread_with_nothing(sim, world):
    server, base = sim
    now = server.clock.now()
    root = next(c for c in world.comments.values()
                if c.root is None and c.alive(now) and len(c.live_children(now)) > 2 and c.post.alive(now))
    post = root.post
    server.set_faults([FaultRule(fault="empty", account=post.account.uid)])
    hot = requests.get(base + "/comments/hotflow", params={"id": post.id, "mid": post.id}, timeout=10)
    assert hot.status_code == 200 and hot.json() == {"ok": 0, "msg": "还没有人评论哦~快来抢沙发！"}
    old = requests.get(base + "/api/comments/show", params={"id": post.id, "page": 1}, timeout=10)
    assert old.json() == {"ok": 0, "msg": "还没有人评论哦~快来抢沙发！"}
    child = requests.get(base + "/comments/hotFlowChild", params={"cid": root.id, "max_id": 0}, timeout=10)
    assert child.status_code == 200 and "text/html" in child.headers["Content-Type"] and "暂无数据" in child.text
    assert timeline(base, post.account.uid).json() == {"ok": 0, "msg": "这里还没有内容"}
    assert server.stats()["faults"] == {"empty": 4}
    server.set_faults([])
    assert requests.get(base + "/comments/hotflow", params={"id": post.id, "mid": post.id},
                        timeout=10).json()["ok"] == 1


def test_post_faults_over_http(sim, world):
    server, base = sim
    uid = uids(world)[0]
    r = requests.post(base + "/_sim/faults", json=[{"account": uid, "endpoint": "timeline", "fault": "418"}],
                      timeout=10)
    assert r.json() == {"ok": 1, "rules": 1}
    listed = requests.get(base + "/_sim/faults", timeout=10).json()["faults"]
    assert [(x["account"], x["endpoint"], x["fault"]) for x in listed] == [(uid, "timeline", "418")]
    assert timeline(base, uid).status_code == 418
    bad = requests.post(base + "/_sim/faults", json=[{"fault": "explode"}], timeout=10)
    assert bad.status_code == 400 and "fault must be one of" in bad.json()["msg"]
    requests.post(base + "/_sim/faults", json=[], timeout=10)
    assert timeline(base, uid).status_code == 200


def test_fault_files_toml_and_json(tmp_path):
    toml = tmp_path / "faults.toml"
    toml.write_text('[[faults]]\naccount = "1000000001"\nendpoint = "comments"\nfault = "429"\nretry_after = 30\n'
                    '[[faults]]\nfault = "timeout"\ncount = 2\nhold = 1\n', encoding="utf-8")
    rules = load_faults(toml)
    assert rules == [FaultRule(fault="429", account="1000000001", endpoint="comments", retry_after=30.0),
                     FaultRule(fault="timeout", count=2, hold=1.0)]
    js = tmp_path / "faults.json"
    js.write_text(json.dumps([{"fault": "captcha", "probability": 0.25}]), encoding="utf-8")
    assert load_faults(js) == [FaultRule(fault="captcha", probability=0.25)]
    with pytest.raises(ConfigError, match=r"faults\[0\].endpoint"):
        parse_rules([{"fault": "500", "endpoint": "nowhere"}], "f.toml")
    with pytest.raises(ConfigError, match="unknown keys"):
        parse_rules([{"fault": "500", "acount": "1"}], "f.toml")


def test_unknown_path_is_404(sim):
    server, base = sim
    assert requests.get(base + "/nothing/here", timeout=10).status_code == 404
    with socket.create_connection((server.host, server.port), timeout=5):
        pass


def test_shipped_example_fault_file_loads():
    from importlib.resources import files

    path = files("huisheng.simulator") / "data" / "faults.example.toml"
    rules = load_faults(path)
    assert [r.fault for r in rules] == ["429", "403", "empty", "timeout"]
    assert rules[0].count == 3 and rules[0].retry_after == 120.0 and rules[3].probability == 0.02
