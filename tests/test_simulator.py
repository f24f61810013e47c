"""The simulated world and its HTTP shapes (m.weibo.cn and weibo.com/ajax)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from huisheng.clock import FakeClock
from huisheng.config.matrix import load_matrix
from huisheng.simulator import SimServer, World, WorldConfig, texts
from huisheng.simulator.render import CURSOR_BASE, abs_time, html, rel_time
from huisheng.simulator.sample import sample_matrix

START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 in Shanghai
BUSY = WorldConfig(viral_share=0.03, edit_share=0.12, post_delete_share=0.06, comment_delete_share=0.06,
                   hostile_share=0.08)


@pytest.fixture(scope="module")
def world():
    return World(sample_matrix(60), seed=11, start=START, config=BUSY)


@pytest.fixture(scope="module")
def now():
    return START + timedelta(days=2)


@pytest.fixture(scope="module")
def sim(world, now):
    server = SimServer(world, FakeClock(now))
    base = server.start()
    yield server, base
    server.stop()


def get(base, path, **params):
    r = requests.get(base + path, params=params, timeout=10, allow_redirects=False)
    return r


def jget(base, path, **params):
    r = get(base, path, **params)
    assert r.status_code == 200
    return r.json()


def live_posts(world, now):
    return [p for p in world.posts.values() if p.alive(now)]


# --- the world ------------------------------------------------------------------------------


def test_same_seed_same_truth_different_seed_differs():
    m = sample_matrix(30)
    at = START + timedelta(days=3)
    a = World(m, seed=5, start=START).truth(at)
    # query b in a different order first: lazy generation must not change anything
    wb = World(m, seed=5, start=START)
    wb.timeline(m.accounts[3].uid, START)
    b = wb.truth(at)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    c = World(m, seed=6, start=START).truth(at)
    assert a["posts"] != c["posts"]


def test_a_simulated_day_of_176_accounts_is_fast():
    w = World(sample_matrix(176), seed=1, start=START)
    w.ensure(START)  # history
    t0 = time.perf_counter()
    w.ensure(START + timedelta(days=1))
    assert time.perf_counter() - t0 < 3.0  # typically ~0.05 s; loose for shared CI cores
    assert len(w.accounts) == 176


def test_world_has_every_kind_of_activity(world, now):
    truth = world.truth(now)
    posts, comments = truth["posts"], truth["comments"]
    assert any(p["is_long"] for p in posts)
    assert any(p["repost_of"] for p in posts)
    assert any(p["comments_restricted"] for p in posts)
    assert any(p["is_pinned"] for p in posts)
    assert any(p["edit_count"] > 0 for p in posts)
    assert any(p["deleted"] for p in posts)
    assert any(c["deleted"] for c in comments)
    cats = Counter(c["labels"].get("category") for c in comments if c["labels"].get("role") == "resident")
    for cat in ("consultation", "complaint", "help", "suggestion", "praise", None):
        assert cats[cat] > 0, cat
    hostile = {c["labels"].get("hostile") for c in comments}
    assert {"html", "script", "wall", "rtl", "emoji"} <= hostile
    assert any(len(c["text"]) == 10000 for c in comments)
    roles = Counter(c["labels"].get("role") for c in comments)
    assert roles["reply"] and roles["ack"] and roles["thanks"]
    routings = {c["labels"].get("routing") for c in comments}
    assert {"account", "mention", "place", "topic"} <= routings
    # replies come from the account itself and answer an existing comment, or
    # a citizen's own post that @s the account (where the account is not the
    # thread's owner)
    by_id = {c["id"]: c for c in comments}
    citizen_posts = {p["id"]: p for p in posts if p["citizen"]}
    assert citizen_posts
    for c in comments:
        if c["labels"].get("role") in ("reply", "ack"):
            assert c["author_id"] == c["account_uid"]
            if c["post_id"] in citizen_posts:
                assert not c["is_from_owner"] and c["labels"]["answers"] == c["post_id"]
                asked = citizen_posts[c["post_id"]]
                assert c["account_uid"] in asked["mentions"] and asked["labels"]["needs_reply"]
                assert c["root_id"] is None and c["created_at"] > asked["created_at"]
                continue
            assert c["is_from_owner"]
            asked = by_id[c["labels"]["answers"]]
            assert asked["root_id"] is None and asked["labels"]["needs_reply"]
            assert c["root_id"] in (None, asked["id"]) and c["created_at"] > asked["created_at"]
    forms = Counter(c["labels"].get("form") for c in comments)
    assert forms["child"] and forms["reply_to_child"] and forms["mention"]
    follow_ups = [c for c in comments if c["labels"].get("follow_up_of")]
    assert follow_ups and all(c["labels"]["needs_reply"] and c["root_id"] == c["labels"]["follow_up_of"]
                              for c in follow_ups)
    needs = [c for c in comments if c["labels"].get("needs_reply")]
    assert all(c["labels"]["target_unit"] for c in needs)
    assert any(c["labels"]["target_unit"] != world.by_uid[c["account_uid"]].unit for c in needs)
    # departments and the district post more than communities
    per_level = Counter(world.level(p["account_uid"]) for p in posts)
    levels = Counter(world.level(a.uid) for a in world.accounts)
    assert per_level["department"] / levels["department"] > per_level["community"] / levels["community"]


def test_some_accounts_fall_silent_for_ten_days_or_more():
    w = World(sample_matrix(176), seed=3, start=START)
    silent = []
    for a in w.accounts:
        posts = [p for p in w.timeline(a.uid, START + timedelta(days=1)) if not p.pinned]
        if posts and (START - posts[0].created_at) >= timedelta(days=10):
            silent.append(a.uid)
    assert silent


def test_late_and_weekend_replies_exist():
    w = World(sample_matrix(60), seed=4, start=START)
    truth = w.truth(START + timedelta(days=10))
    # what a reply answers: a citizen's comment, or a citizen's post that @s the account
    by_id = {c["id"]: c for c in truth["comments"] + truth["posts"]}
    replies = [c for c in truth["comments"] if c["labels"].get("role") == "reply"]
    assert any(c["labels"]["late"] for c in replies)
    crossing = 0
    for r in replies:
        asked = datetime.fromisoformat(by_id[r["labels"]["answers"]]["created_at"].replace("Z", "+00:00"))
        answered = datetime.fromisoformat(r["created_at"].replace("Z", "+00:00"))
        if asked.astimezone().weekday() == 4 and (answered - asked) > timedelta(days=2):
            crossing += 1
    assert crossing


# --- rendering helpers ------------------------------------------------------------------------


def test_html_escapes_typed_html_and_links_mentions_and_emoticons():
    out = html("回复@晴天的猫12:<script>alert(1)</script>[赞]")
    assert out.startswith("回复<a href='/n/晴天的猫12'>@晴天的猫12</a>:&lt;script&gt;")
    assert '<span class="url-icon"><img alt=[赞] src=' in out


def test_absolute_time_uses_english_names_and_shanghai_offset():
    assert abs_time(datetime(2019, 6, 14, 12, 39, 20, tzinfo=timezone.utc)) == "Fri Jun 14 20:39:20 +0800 2019"


@pytest.mark.parametrize("age,expected", [
    (timedelta(seconds=30), "刚刚"),
    (timedelta(minutes=5), "5分钟前"),
    (timedelta(hours=3), "3小时前"),
    (timedelta(hours=30), "昨天 06:00"),
    (timedelta(days=5), "10-30"),
    (timedelta(days=400), "2025-09-30"),
])
def test_relative_times(age, expected):
    now = datetime(2026, 11, 4, 4, 0, tzinfo=timezone.utc)  # 11-04 12:00 in Shanghai
    assert rel_time(now - age, now) == expected


# --- m.weibo.cn endpoints --------------------------------------------------------------------


def test_profile_names_the_weibo_tab(sim, world):
    server, base = sim
    uid = world.accounts[0].uid
    body = jget(base, "/api/container/getIndex", type="uid", value=uid)
    assert body["ok"] == 1
    assert body["data"]["userInfo"]["id"] == int(uid)
    tabs = {t["tab_type"]: t["containerid"] for t in body["data"]["tabsInfo"]["tabs"]}
    assert tabs["weibo"] == f"107603{uid}"
    assert isinstance(body["data"]["userInfo"]["followers_count"], str)  # the district: "2671.2万" style
    assert body["data"]["userInfo"]["followers_count"].endswith("万")


def _mblogs(cards):
    out = []
    for card in cards:
        if card["card_type"] == 9:
            out.append(card["mblog"])
        elif card["card_type"] == 11:
            out.extend(c["mblog"] for c in card["card_group"] if c["card_type"] == 9)
    return out


def whole_timeline(base, uid):
    """Every mblog of the account's timeline, following since_id to the end."""
    out, since = [], None
    while True:
        params = {"type": "uid", "value": uid, "containerid": f"107603{uid}", **({"since_id": since} if since else {})}
        body = jget(base, "/api/container/getIndex", **params)
        if body["ok"] != 1:
            return out
        out += _mblogs(body["data"]["cards"])
        since = body["data"]["cardlistInfo"].get("since_id")
        if not since:
            return out


def test_timeline_since_id_paging_pinned_first_and_end(sim, world, now):
    server, base = sim
    account = max(world.accounts, key=lambda a: len(world.timeline(a.uid, now)) + 100 * any(
        p.pinned for p in world.timeline(a.uid, now)))
    uid = account.uid
    expected = [p.id for p in world.timeline(uid, now)]
    assert len(expected) > 20
    seen, since, pages, types = [], None, 0, set()
    while True:
        params = {"type": "uid", "value": uid, "containerid": f"107603{uid}"}
        if since:
            params["since_id"] = since
        body = jget(base, "/api/container/getIndex", **params)
        types |= {c["card_type"] for c in body["data"]["cards"]}
        batch = _mblogs(body["data"]["cards"])
        assert len(batch) <= 10
        seen += [m["id"] for m in batch]
        pages += 1
        since = body["data"]["cardlistInfo"].get("since_id")
        if not since:
            break
    assert seen == expected
    assert types >= {9, 11, 58}
    first = jget(base, "/api/container/getIndex", type="uid", value=uid, containerid=f"107603{uid}")
    top = _mblogs(first["data"]["cards"])[0]
    assert top["isTop"] == 1 and top["title"]["text"] == "置顶"
    rest = [int(m["id"]) for m in _mblogs(first["data"]["cards"])[1:]]
    assert rest == sorted(rest, reverse=True)


def test_timeline_page_form(sim, world, now):
    server, base = sim
    uid = world.accounts[0].uid
    expected = [p.id for p in world.timeline(uid, now)]
    seen, page = [], 1
    while page:
        body = jget(base, "/api/container/getIndex", type="uid", value=uid, containerid=f"107603{uid}", page=page)
        if body["ok"] != 1:
            break
        seen += [m["id"] for m in _mblogs(body["data"]["cards"])]
        page = body["data"]["cardlistInfo"].get("page")
    assert seen == expected
    past = jget(base, "/api/container/getIndex", type="uid", value=uid, containerid=f"107603{uid}", page=99)
    assert past == {"ok": 0, "msg": "这里还没有内容"}


def test_long_text_truncated_with_full_text_from_extend(sim, world, now):
    server, base = sim
    post = next(p for p in live_posts(world, now) if p.is_long)
    shown = jget(base, "/statuses/show", id=post.bid)["data"]
    assert shown["id"] == post.id and shown["isLongText"] is True
    m = next(m for m in whole_timeline(base, post.account.uid) if m["id"] == post.id)
    assert m["isLongText"] is True and m["text"].endswith(">全文</a>")
    full = jget(base, "/statuses/extend", id=post.id)["data"]["longTextContent"]
    assert full == html(post.text_at(now)) and len(full) > len(m["text"]) - 40


def test_repost_carries_the_reposted_post(sim, world, now):
    server, base = sim
    post = next(p for p in live_posts(world, now) if p.repost_of is not None)
    body = jget(base, "/statuses/show", id=post.id)["data"]
    assert body["retweeted_status"]["id"] == post.repost_of.id
    assert body["retweeted_status"]["user"]["id"] == int(post.repost_of.account.uid)


def test_viral_counts_are_strings_and_comment_counts_honest(sim, world, now):
    server, base = sim
    post = next(p for p in live_posts(world, now) if p.viral and now - p.created_at > timedelta(days=1))
    body = jget(base, "/statuses/show", id=post.id)["data"]
    assert body["attitudes_count"] == "100万+" and body["reposts_count"] == "100万+"
    assert body["comments_count"] == post.comment_count(now)


def test_restricted_posts_say_so(sim, world, now):
    server, base = sim
    post = next(p for p in live_posts(world, now) if p.restricted)
    body = jget(base, "/statuses/show", id=post.id)["data"]
    assert body["comment_manage_info"]["comment_permission_type"] == 2
    open_post = next(p for p in live_posts(world, now) if not p.restricted)
    assert jget(base, "/statuses/show", id=open_post.id)["data"]["comment_manage_info"][
        "comment_permission_type"] == -1


def test_hotflow_paging_hot_order_and_cursor_switch(sim, world, now):
    server, base = sim
    post = max(live_posts(world, now), key=lambda p: len(p.live_comments(now)))
    n_top = len(post.live_comments(now))
    assert n_top > 40
    seen, params, types = [], {}, []
    while True:
        body = jget(base, "/comments/hotflow", id=post.id, mid=post.id, **params)["data"]
        assert len(body["data"]) <= 20
        assert body["total_number"] == post.comment_count(now)
        seen += body["data"]
        types.append(body["max_id_type"])
        if body["max_id"] == 0:
            break
        params = {"max_id": body["max_id"], "max_id_type": body["max_id_type"]}
    assert types[0] == 0 and set(types[1:]) == {1}
    assert len(seen) == n_top and len({c["id"] for c in seen}) == n_top
    keys = [(-c["like_count"], -int(c["id"])) for c in seen]
    assert keys == sorted(keys)
    assert all(re.fullmatch(r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d \+0800 \d{4}", c["created_at"]) for c in seen)


def test_hotflow_children_inline_false_and_more_info(sim, world, now):
    server, base = sim
    roots = [c for p in live_posts(world, now) for c in p.live_comments(now) if c.live_children(now)]
    false_root = next(c for c in roots if c.inline_false)
    body = jget(base, "/comments/hotflow", id=false_root.post.id, mid=false_root.post.id,
                **({"max_id": CURSOR_BASE + false_root.post.hot_order(now).index(false_root)}))
    item = body["data"]["data"][0]
    assert item["id"] == false_root.id
    assert item["comments"] is False and item["total_number"] == len(false_root.live_children(now))
    big = next(c for c in roots if len(c.live_children(now)) > 2 and not c.inline_false)
    offset = big.post.hot_order(now).index(big)
    body = jget(base, "/comments/hotflow", id=big.post.id, mid=big.post.id, max_id=CURSOR_BASE + offset)
    item = body["data"]["data"][0]
    assert len(item["comments"]) == 2 and "more_info" in item


def test_hot_flow_child_flat_shape_and_owner_flag(sim, world, now):
    server, base = sim
    root = next(c for p in live_posts(world, now) for c in p.live_comments(now)
                if any(k.is_owner and k.show_author_flag for k in c.live_children(now)))
    body = jget(base, "/comments/hotFlowChild", cid=root.id, max_id=0, max_id_type=0)
    assert set(body) >= {"ok", "data", "rootComment", "max_id", "total_number"}
    assert body["rootComment"][0]["id"] == root.id and body["max_id"] == 0
    assert [c["id"] for c in body["data"]] == [k.id for k in root.live_children(now)]
    own = next(c for c in body["data"] if c["user"]["id"] == int(root.post.account.uid))
    assert own["is_mblog_author"] is True and own["rootid"] == root.id
    assert set(own["user"]) == {"id", "screen_name", "verified", "verified_type"}


def test_reply_to_a_child_names_it(sim, world, now):
    server, base = sim
    child = next(c for c in world.comments.values() if c.alive(now) and c.root is not None
                 and c.parent is not c.root and c.is_owner)
    body = jget(base, "/comments/hotFlowChild", cid=child.root.id, max_id=0, max_id_type=0)
    item = next(c for c in body["data"] if c["id"] == child.id)
    name = child.parent.author_name
    assert item["text"].startswith(f"回复<a href='/n/{name}'>@{name}</a>:")


def test_hostile_text_is_escaped(sim, world, now):
    server, base = sim
    c = next(c for c in world.comments.values() if c.alive(now) and c.root is None
             and c.labels.get("hostile") == "script")
    offset = c.post.hot_order(now).index(c)
    body = jget(base, "/comments/hotflow", id=c.post.id, mid=c.post.id, max_id=CURSOR_BASE + offset)
    text = body["data"]["data"][0]["text"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>" not in text


def test_empty_thread_message(sim, world, now):
    server, base = sim
    post = next(p for p in live_posts(world, now) if not p.live_comments(now))
    assert jget(base, "/comments/hotflow", id=post.id, mid=post.id) == {"ok": 0, "msg": "还没有人评论哦~快来抢沙发！"}


def test_comments_show_flat_relative_and_reply_ids(sim, world, now):
    server, base = sim
    post = max(live_posts(world, now), key=lambda p: sum(len(c.live_children(now)) for c in p.live_comments(now)))
    flat = [c for c in post.all_comments if c.alive(now)]
    body = jget(base, "/api/comments/show", id=post.id, page=1)["data"]
    assert body["max"] == -(-len(flat) // 10) and body["total_number"] == len(flat)
    items = []
    for page in range(1, body["max"] + 1):
        items += jget(base, "/api/comments/show", id=post.id, page=page)["data"]["data"]
    assert len(items) == len(flat)
    assert jget(base, "/api/comments/show", id=post.id, page=body["max"] + 1)["ok"] == 0
    pattern = r"刚刚|\d+分钟前|\d+小时前|昨天 \d\d:\d\d|\d\d-\d\d|\d{4}-\d\d-\d\d"
    assert all(re.fullmatch(pattern, i["created_at"]) for i in items)
    replies = [i for i in items if "reply_id" in i]
    assert replies and all("reply_text" in i and "like_counts" in i for i in replies)


def test_missing_post_status(sim, world):
    server, base = sim
    assert jget(base, "/statuses/show", id="4000000000000001") == {"ok": 0, "msg": "微博不存在或暂无查看权限!"}


# --- weibo.com/ajax ---------------------------------------------------------------------------


def test_ajax_timeline_longtext_and_comments(sim, world, now):
    server, base = sim
    uid = world.accounts[0].uid
    seen, page = [], 1
    while True:
        body = jget(base, "/ajax/statuses/mymblog", uid=uid, page=page, feature=0)
        if not body["data"]["list"]:
            break
        assert all(isinstance(m["id"], int) and m["mblogid"] for m in body["data"]["list"])
        seen += [str(m["id"]) for m in body["data"]["list"]]
        page += 1
    assert seen == [p.id for p in world.timeline(uid, now)]
    long_post = next(p for p in live_posts(world, now) if p.is_long)
    assert jget(base, "/ajax/statuses/longtext", id=long_post.bid)["data"]["longTextContent"] == long_post.text_at(now)
    short = next(p for p in live_posts(world, now) if not p.is_long)
    assert jget(base, "/ajax/statuses/longtext", id=short.bid) == {"ok": 1, "data": {}}
    root = next(c for p in live_posts(world, now) for c in p.live_comments(now)
                if any(k.parent is not c for k in c.live_children(now)))
    top = jget(base, "/ajax/statuses/buildComments", id=root.post.id, is_show_bulletin=2, is_mix=0, count=20, flow=0)
    assert {"ok", "data", "max_id", "total_number"} <= set(top)
    ids, params = [], {}
    while True:
        body = jget(base, "/ajax/statuses/buildComments", id=root.post.id, is_mix=0, count=20, flow=0, **params)
        ids += [c["id"] for c in body["data"]]
        if body["max_id"] == 0:
            break
        params = {"max_id": body["max_id"]}
    assert int(root.id) in ids
    second = jget(base, "/ajax/statuses/buildComments", id=root.id, is_mix=1, fetch_level=1, count=20, flow=0)
    assert [c["id"] for c in second["data"]] == [int(k.id) for k in root.live_children(now)]
    assert any("reply_comment" in c for c in second["data"])


# --- edits and deletions -----------------------------------------------------------------------


def test_edits_show_in_truth_and_responses(world):
    post = next(p for p in world.posts.values() if len(p.versions) > 1 and p.deleted_at is None
                and p.created_at > START)
    before = post.versions[1][0] - timedelta(seconds=1)
    after = post.versions[-1][0] + timedelta(seconds=1)
    server = SimServer(world, FakeClock(before))
    base = server.start()
    try:
        old = jget(base, "/statuses/show", id=post.id)["data"]
        assert "edit_count" not in old and old["edit_config"]["edited"] is False
        server.clock.advance((after - before).total_seconds())
        new = jget(base, "/statuses/show", id=post.id)["data"]
        assert new["edit_count"] == len(post.versions) - 1 and new["edit_config"]["edited"] is True
        assert new["text"] != old["text"]
        truth = next(p for p in server.truth()["posts"] if p["id"] == post.id)
        assert truth["edit_count"] == len(post.versions) - 1 and truth["text"] == post.versions[-1][1]
    finally:
        server.stop()


def test_deletions_show_in_truth_and_responses(world):
    post = next(p for p in world.posts.values() if p.deleted_at is not None and p.created_at > START
                and p.deleted_at > p.created_at + timedelta(minutes=5))
    gone = next(c for c in world.comments.values() if c.deleted_at is not None and c.root is None
                and c.post.deleted_at is None and c.created_at > START)
    clock = FakeClock(max(post.created_at, gone.created_at) + timedelta(seconds=1))
    server = SimServer(world, clock)
    base = server.start()
    try:
        if clock.now() < post.deleted_at:
            assert jget(base, "/statuses/show", id=post.id)["ok"] == 1
        clock.advance((max(post.deleted_at, gone.deleted_at) - clock.now()).total_seconds() + 1)
        assert jget(base, "/statuses/show", id=post.id) == {"ok": 0, "msg": "微博不存在或暂无查看权限!"}
        assert post.id not in [m["id"] for m in whole_timeline(base, post.account.uid)]
        page_ids = []
        params = {}
        while True:
            body = jget(base, "/comments/hotflow", id=gone.post.id, mid=gone.post.id, **params)
            if body["ok"] != 1:
                break
            page_ids += [c["id"] for c in body["data"]["data"]]
            if body["data"]["max_id"] == 0:
                break
            params = {"max_id": body["data"]["max_id"], "max_id_type": body["data"]["max_id_type"]}
        assert gone.id not in page_ids
        truth = server.truth()
        assert next(p for p in truth["posts"] if p["id"] == post.id)["deleted"] is True
        assert next(c for c in truth["comments"] if c["id"] == gone.id)["deleted"] is True
    finally:
        server.stop()


def test_truth_over_http_matches_python(sim):
    server, base = sim
    assert jget(base, "/_sim/truth") == json.loads(json.dumps(server.truth(), ensure_ascii=False))
    stats = jget(base, "/_sim/stats")
    assert stats["total"] > 0 and "timeline" in stats["by_endpoint"]


def test_office_hours_skip_national_day():
    from huisheng.simulator.world import SHANGHAI, into_office_hours

    import random

    asked = datetime(2026, 9, 30, 18, 30, tzinfo=SHANGHAI)
    answered = into_office_hours(asked, random.Random(1)).astimezone(SHANGHAI)
    assert answered.date() == datetime(2026, 10, 8).date() and 9 <= answered.hour < 11
    inside = datetime(2026, 10, 10, 10, 0, tzinfo=SHANGHAI)  # a 调休 make-up Saturday
    assert into_office_hours(inside, random.Random(1)) == inside


def test_replies_cross_the_national_day_holiday():
    start = datetime(2026, 9, 29, 1, 0, tzinfo=timezone.utc)
    w = World(sample_matrix(60), seed=8, start=start)
    truth = w.truth(start + timedelta(days=14))
    by_id = {c["id"]: c for c in truth["comments"] + truth["posts"]}
    holiday = [r for r in truth["comments"] if r["labels"].get("role") == "reply"
               and by_id[r["labels"]["answers"]]["created_at"] >= "2026-09-30T10:00:00Z"
               and by_id[r["labels"]["answers"]]["created_at"] < "2026-09-30T16:00:00Z"]
    assert holiday
    assert any(r["created_at"] >= "2026-10-08T01:00:00Z" for r in holiday)


def test_routing_truth_follows_the_districts_policy():
    """A department's everyday business on the district's account is that
    department's (topic); a street named on a district or department account is
    that street's (place); elsewhere the account's owner stays answerable."""
    matrix = load_matrix(Path(__file__).resolve().parent.parent / "config" / "example-district")
    world = World(matrix, seed=5, start=START, config=WorldConfig(history_days=4))
    units = {u.code: u for u in matrix.units}
    business = [(re.compile(re.sub(r"\\\{\w+\\\}", ".+?", re.escape(t))), key) for t, key in texts.BUSINESS.items()]
    seen = Counter()
    for c in world.truth(START)["comments"]:
        labels = c["labels"]
        if labels.get("role") != "resident" or not labels["needs_reply"] or labels.get("follow_up_of"):
            continue
        level = world.level(c["account_uid"])
        own = world.by_uid[c["account_uid"]].unit
        key = next((k for template, k in business if template.fullmatch(c["text"])), None)
        if labels["routing"] == "topic":
            assert level == "district"
            seen["topic"] += 1
        elif labels["routing"] == "account":
            assert labels["target_unit"] == own
            if level == "district" and key is not None and "@" not in c["text"]:
                raise AssertionError(f"department business left with the district: {c['text']}")
        elif labels["routing"] == "place":
            assert level in ("district", "department")
            assert units[labels["target_unit"]].level in ("street", "community")
            seen["place"] += 1
        if key is not None and labels["routing"] == "topic" and level == "district" and "@" not in c["text"]:
            assert key in units[labels["target_unit"]].name
            seen["business"] += 1
    assert seen["topic"] and seen["place"] and seen["business"]
