"""Running the daemon against the simulator on simulated time (end-to-end tests)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from huisheng import migrations
from huisheng.adapters.base import Pace
from huisheng.clock import Clock, FakeClock
from huisheng.polling.dispatcher import Dispatcher
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import Comment, Post
from huisheng.app import Runtime, build_runtime
from huisheng.config.settings import AccountSpec, Matrix, PlatformSettings, PollingSettings, Settings
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.sample import sample_matrix

START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)  # a Monday, 09:00 in Shanghai


class FrozenAfter(Clock):
    """The simulator's clock: follows the daemon's until ``freeze`` is called,
    so the daemon can then catch up with a world that stopped changing."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.frozen_at: datetime | None = None

    def now(self) -> datetime:
        return self.frozen_at or self.clock.now()

    def freeze(self) -> None:
        self.frozen_at = self.clock.now()


@dataclass
class Scenario:
    world: World
    server: SimServer
    clock: FakeClock
    sim_clock: FrozenAfter
    runtime: Runtime
    dispatcher: Dispatcher

    def run_for(self, **delta) -> None:
        self.dispatcher.run_virtual(self.clock, self.clock.now() + timedelta(**delta))

    def settle(self) -> None:
        """Freeze the world, then poll until every account has re-read its window."""
        self.sim_clock.freeze()
        polling = self.runtime.settings.polling
        self.run_for(seconds=polling.window_refresh_interval + 2 * polling.interval)

    def close(self) -> None:
        self.dispatcher.close()
        self.server.stop()
        self.runtime.close()


def make_settings(db_url: str, base_url: str, tmp: Path, **polling) -> Settings:
    defaults = dict(interval=600, recent_window_days=7, window_refresh_interval=3600, tick=5.0,
                    workers=2, backoff_base=60.0, backoff_cap=3600.0)
    defaults.update(polling)
    weibo = PlatformSettings(name="weibo", pace=Pace(min_interval=0.5, concurrency=1),
                             options={"base_url": base_url, "ajax_base_url": base_url, "mode": "mobile"})
    return Settings(path=tmp / "huisheng.toml", database_url=db_url,
                    polling=PollingSettings(**defaults), platforms={"weibo": weibo})


def scenario(db_url: str, tmp: Path, *, accounts: int = 6, seed: int = 11,
             config: WorldConfig | None = None, http_timeout: float = 5.0,
             extra_accounts: tuple[AccountSpec, ...] = (), **polling) -> Scenario:
    """``extra_accounts``: accounts of other platforms beside the Weibo ones,
    read from the same simulator with the options it gives their adapters."""
    matrix = sample_matrix(accounts, streets=2)
    matrix = Matrix(matrix.units, matrix.accounts + tuple(extra_accounts))
    clock = FakeClock(START)
    sim_clock = FrozenAfter(clock)
    world = World(matrix, seed=seed, start=START, config=config or WorldConfig(history_days=3))
    server = SimServer(world, sim_clock)
    base = server.start()
    settings = make_settings(db_url, base, tmp, **polling)
    settings = replace(settings, platforms={**settings.platforms, **{
        sim.name: PlatformSettings(name=sim.name, pace=Pace(min_interval=0.01), options=sim.adapter_options(base))
        for sim in server.platforms}})
    migrations.upgrade(db_url)
    runtime = build_runtime(settings, clock, http_timeout=http_timeout)
    with runtime.sessions.begin() as session:
        sync_matrix(session, matrix, clock.now())
    dispatcher = Dispatcher(settings, runtime.sessions, clock, runtime.poller, jobs=runtime.jobs())
    return Scenario(world, server, clock, sim_clock, runtime, dispatcher)


def stored(runtime: Runtime) -> tuple[dict[str, Post], dict[str, Comment]]:
    with runtime.sessions() as session:
        posts = {p.external_id: p for p in session.scalars(select(Post))}
        comments = {c.external_id: c for c in session.scalars(select(Comment))}
    return posts, comments


def compare_with_truth(runtime: Runtime, truth: dict) -> None:
    """The database holds exactly the simulator's ground truth: every live post
    and comment once, with its current text and links; everything deleted
    upstream that was ever stored carries a tombstone; nothing invented."""
    posts, comments = stored(runtime)
    truth_posts = {p["id"]: p for p in truth["posts"]}
    live_posts = {pid for pid, p in truth_posts.items() if not p["deleted"]}
    assert set(posts) <= set(truth_posts), "posts invented"
    # A post deleted before the daemon first looked can never be seen.
    assert live_posts <= set(posts), "posts lost"
    for pid, row in posts.items():
        p = truth_posts[pid]
        assert (row.deleted_at is not None) == p["deleted"], (pid, "deleted")
        if not p["deleted"]:
            assert row.text == p["text"], (pid, "text")
            assert row.edit_count == p["edit_count"], (pid, "edit_count")
            assert row.repost_of == p["repost_of"], (pid, "repost_of")
            assert row.is_pinned == p["is_pinned"], (pid, "pinned")

    # A citizen's post that @s an account is also its own thread's root item,
    # and an account's repost of it with words an item of that thread.
    items = {cid: row for cid, row in comments.items() if row.item != "comment"}
    comments = {cid: row for cid, row in comments.items() if row.item == "comment"}
    for cid, row in items.items():
        p = truth_posts[cid]
        if row.item == "post":
            assert p["citizen"] and p["mentions"] and row.author_id == p["author_id"], (cid, "root item")
            assert row.text == p["text"] or p["deleted"], (cid, "root item text")
        else:
            assert row.item == "repost" and p["repost_of"] and posts[p["repost_of"]].id == row.post_id, (cid, "repost")
    truth_comments = {c["id"]: c for c in truth["comments"]}
    citizens = {pid for pid, p in truth_posts.items() if p["citizen"]}
    live = {cid for cid, c in truth_comments.items() if not c["deleted"] and not c["post_deleted"]}
    stored_live = {cid for cid, row in comments.items()
                   if row.deleted_at is None and not truth_comments[cid]["post_deleted"]}
    assert set(comments) <= set(truth_comments), "comments invented"
    # a citizen's thread is followed only while its mention awaits an answer
    followed = {cid for cid in live if truth_comments[cid]["post_id"] not in citizens}
    assert followed - set(comments) == set(), "comments lost"
    assert {cid for cid in stored_live if truth_comments[cid]["post_id"] not in citizens} == followed, \
        "tombstones wrong"
    post_ids = {row.id: ext for ext, row in posts.items()}
    for cid in live & set(comments):
        row, c = comments[cid], truth_comments[cid]
        assert row.text == c["text"], (cid, "text")
        assert post_ids[row.post_id] == c["post_id"], (cid, "post")
        assert row.root_external_id == c["root_id"], (cid, "root")
        # in a citizen's thread "owner" is whichever account's source read it
        assert row.is_from_owner == c["is_from_owner"] or c["post_id"] in citizens, (cid, "owner")
        assert row.author_id == c["author_id"], (cid, "author")
