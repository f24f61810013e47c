"""End to end on Mastodon: the daemon polls the simulator's Mastodon accounts,
stores their posts and threads, flags what needs a reply,
finds the accounts' answers (deep in a thread, where no counter of the post
moves), and reads the mentions of the accounts whose token it has; all checked
against the simulator's ground truth (its rows of platform "mastodon")."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from click.testing import CliRunner
from sqlalchemy import select

from harness import START, FrozenAfter, Scenario, make_settings
from huisheng import migrations
from huisheng.adapters.base import Pace
from huisheng.app import build_runtime
from huisheng.cli import main
from huisheng.clock import FakeClock
from huisheng.config.settings import AccountSpec, PlatformSettings
from huisheng.polling.dispatcher import Dispatcher
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.sample import sample_matrix
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Account, Comment, Flag, Post, Unit

#: the district's accounts and a department's on a Mastodon server; three give their token
ACCOUNTS = (("110000000000000001", "示范区发布（长毛象）", "D", "HUISHENG_TEST_MASTODON_TOKEN_1"),
            ("110000000000000002", "示范区政务服务（长毛象）", "D", "HUISHENG_TEST_MASTODON_TOKEN_2"),
            ("110000000000000003", "示范区融媒体（长毛象）", "D", "HUISHENG_TEST_MASTODON_TOKEN_3"),
            ("110000000000000004", "示范区交通局（长毛象）", "B03", None))
BROKEN = "110000000000000004"


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _scenario(db_url, tmp_path) -> Scenario:
    base = sample_matrix(0, streets=2)  # the units; Weibo accounts would only slow it down
    matrix = replace(base, accounts=base.accounts + tuple(
        AccountSpec("mastodon", uid, name, unit, cookie_env=env) for uid, name, unit, env in ACCOUNTS))
    clock = FakeClock(START)
    sim_clock = FrozenAfter(clock)
    world = World(matrix, seed=5, start=START, config=WorldConfig(history_days=2))
    server = SimServer(world, sim_clock)
    url = server.start()
    settings = make_settings(db_url, url, tmp_path, interval=3600)
    mastodon = PlatformSettings(name="mastodon", pace=Pace(min_interval=0.01),
                                options=server.adapter_options("mastodon"))
    settings = replace(settings, platforms={**settings.platforms, "mastodon": mastodon})
    migrations.upgrade(db_url)
    runtime = build_runtime(settings, clock, http_timeout=5.0)
    with runtime.sessions.begin() as session:
        sync_matrix(session, matrix, clock.now())
    return Scenario(world, server, clock, sim_clock, runtime,
                    Dispatcher(settings, runtime.sessions, clock, runtime.poller, jobs=runtime.jobs()))


def test_mastodon_accounts_are_polled_flagged_and_answered_as_the_truth_says(db_url, tmp_path, monkeypatch):
    for uid, _, _, env in ACCOUNTS:
        if env:
            monkeypatch.setenv(env, f"sim-{uid}")
    sc = _scenario(db_url, tmp_path)
    # one account's server answers 503: that account fails, the others do not notice
    sc.server.set_faults([{"fault": "503", "account": BROKEN, "endpoint": "statuses"}])
    try:
        sc.run_for(days=1)
        sc.settle()
        truth = sc.server.truth()
        with sc.runtime.sessions() as session:
            flags = {ext: f for f, ext in session.execute(
                select(Flag, Comment.external_id).join(Comment, Comment.id == Flag.comment_id)
                .where(Comment.platform == "mastodon")).all()}
            units = {u.id: u.code for u in session.scalars(select(Unit))}
            posts = {p.external_id: p for p in session.scalars(select(Post).where(Post.platform == "mastodon"))}
            stored = {c.external_id: c for c in session.scalars(select(Comment).where(Comment.platform == "mastodon"))}
            accounts = {a.id: a.uid for a in session.scalars(select(Account))}
            broken_id = next(i for i, uid in accounts.items() if uid == BROKEN)
            errors = [(a.uid, a.last_error_kind) for a in session.scalars(select(Account)) if a.last_error_kind]
    finally:
        sc.close()
    assert errors == [(BROKEN, "server_error")]
    if db_url.startswith("sqlite"):  # the accounts' tokens: read from the environment at each poll, never stored
        stored_bytes = b"".join(f.read_bytes() for f in tmp_path.glob("huisheng.sqlite*"))
        assert b"HUISHENG_TEST_MASTODON_TOKEN_1" in stored_bytes and b"sim-110000000000000001" not in stored_bytes
    assert not any(p.account_id == broken_id for p in posts.values())
    t_posts = {p["id"]: p for p in truth["posts"] if p.get("platform") == "mastodon" and p["account_uid"] != BROKEN}
    t_comments = {c["id"]: c for c in truth["comments"]
                  if c.get("platform") == "mastodon" and c["account_uid"] != BROKEN}

    # The accounts' own posts: every live one stored with its current text; the deleted ones tombstoned.
    own = {pid: p for pid, p in t_posts.items() if not p["citizen"]}
    assert len(own) > 10
    assert {pid for pid, p in own.items() if not p["deleted"]} <= set(posts)
    for pid, row in posts.items():
        p = t_posts[pid]
        assert (row.deleted_at is not None) == p["deleted"], (pid, "deleted")
        if not p["deleted"]:
            assert (row.text, row.edit_count) == (p["text"], p["edit_count"]) and row.url.endswith(f"/{pid}"), pid

    # Their threads: every live comment under them, its place in the tree and
    # its author.  A status counts its direct replies only: the account's own
    # replies are traced from its timeline, a citizen's reply to another
    # citizen's is read with the thread's next read (whatever moves its counter).
    live = {cid for cid, c in t_comments.items() if not c["deleted"] and not c["post_deleted"]
            and c["post_id"] in own}
    chat = {cid for cid in live if t_comments[cid]["parent_id"] and not t_comments[cid]["is_from_owner"]
            and not t_comments[t_comments[cid]["parent_id"]]["is_from_owner"]}
    assert chat and live - chat <= set(stored), "comments lost"
    assert set(stored) <= set(t_comments) | set(t_posts), "comments invented"
    for cid in live & set(stored):
        row, c = stored[cid], t_comments[cid]
        assert (row.text, row.root_external_id, row.author_id, row.is_from_owner) == \
            (c["text"], c["root_id"], c["author_id"], c["is_from_owner"]), cid
    assert {cid for cid, row in stored.items() if row.deleted_at is not None and cid in t_comments} == \
        {cid for cid in stored if cid in t_comments and t_comments[cid]["deleted"]
         and not t_comments[cid]["post_deleted"]} - {cid for cid in stored if stored[cid].item == "post"}

    # Flags: what needs a reply is flagged, for the unit the policy makes answerable.
    residents = {cid: c for cid, c in t_comments.items() if c["labels"].get("role") == "resident"
                 and cid in stored and not c["deleted"] and not c["post_deleted"] and c["post_id"] in own}
    should = {cid for cid, c in residents.items() if c["labels"]["needs_reply"]}
    raised = {cid for cid in flags if cid in residents}
    hits = should & raised
    assert len(should) > 20
    assert len(hits) / len(raised) >= 0.9 and len(hits) / len(should) >= 0.85, (len(hits), len(raised), len(should))
    wrong = [cid for cid in hits if units[flags[cid].unit_id] != residents[cid]["labels"]["target_unit"]]
    assert len(wrong) / len(hits) <= 0.1, wrong

    # Answers: the account's first reply to a flagged comment (a reply to the
    # citizen's reply, deep in the thread) sets the flag's first reply time.
    answers: dict[str, datetime] = {}
    for c in t_comments.values():
        if c["labels"].get("role") == "reply" and not c["deleted"]:
            at = _parse(c["created_at"])
            answers[c["labels"]["answers"]] = min(at, answers.get(c["labels"]["answers"], at))
    checked = [cid for cid in hits if cid in answers]
    assert len(checked) > 10
    exact = [cid for cid in checked if flags[cid].first_reply_at == answers[cid]]
    assert len(exact) / len(checked) >= 0.95, [(cid, flags[cid].first_reply_at, answers[cid])
                                               for cid in checked if cid not in exact][:5]
    for cid in hits:
        if cid not in answers and flags[cid].status not in ("open", "acknowledged"):
            c = residents[cid]
            print("BAD", cid, flags[cid].status, flags[cid].first_reply_at, c["root_id"], c["text"], [(x["id"], x["labels"], x["text"]) for x in t_comments.values() if x["parent_id"] == cid or x["root_id"] == cid])
    assert all(flags[cid].status in ("open", "acknowledged") for cid in hits if cid not in answers)

    # Mentions: a citizen's own post that @s an account whose token the daemon
    # has is read from its notifications, stored as its thread's root item,
    # flagged for the account's unit and answered by the account's reply.
    with_token = {uid for uid, _, _, env in ACCOUNTS if env}
    mentions = {pid: p for pid, p in t_posts.items() if p["citizen"] and not p["deleted"]}
    readable = {pid for pid, p in mentions.items() if p["mentions"][0] in with_token}
    assert len(readable) > 3
    assert readable <= {cid for cid, row in stored.items() if row.item == "post"}, "mentions missed"
    assert not {cid for cid, row in stored.items() if row.item == "post"} - readable, "read without a token"
    needing = {pid for pid in readable if mentions[pid]["labels"]["needs_reply"]}
    assert needing <= set(flags)
    for pid in needing:
        assert accounts[flags[pid].account_id] == mentions[pid]["mentions"][0]
        assert units[flags[pid].unit_id] == mentions[pid]["labels"]["target_unit"]
        if pid in answers:
            assert flags[pid].first_reply_at == answers[pid], pid
        else:
            assert flags[pid].status in ("open", "acknowledged")
    assert any(pid in answers for pid in needing)

    # status names the accounts' mention source in words and the failing account's error
    config = tmp_path / "status.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    table = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert table.exit_code == 0, table.output
    assert table.output.count("提及本账号的通知（本账号令牌）") == len(with_token)
    assert "示范区交通局（长毛象）" in table.output and "平台服务器错误" in table.output
