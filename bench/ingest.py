"""``ingest``: the store's dedup + upsert throughput ÷ raw ``sqlite3``.

Generates ~40 000 realistic comments (Chinese text, an m.weibo.cn-shaped raw
object each) under 400 posts and stores them thread by thread, one transaction
per thread as the poller does, on a fresh SQLite file with the migrations
applied: a first pass (all new) and a re-ingest pass of the same threads (5 %
of the comments with changed like counts, the rest unchanged).

Baseline: plain ``sqlite3`` ``executemany`` of the same rows into an
equivalent table (the same migrated schema, the same pragmas, one transaction
per thread): ``INSERT`` on the first pass, ``INSERT OR IGNORE`` on the second,
row tuples built from the same records (content hash and JSON included).
Both figures are items per second over both passes; ratio = store ÷ raw.
"""

from __future__ import annotations

import gc
import json
import os
import random
import sqlite3
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench._common import emit, note
from huisheng import migrations
from huisheng.storage import models, store
from huisheng.storage.db import SQLITE_BUSY_TIMEOUT_MS, make_engine
from huisheng.records import Comment, Post

COMMENTS = int(os.environ.get("HUISHENG_BENCH_COMMENTS", "40000"))
POSTS = 400
RUNS = int(os.environ.get("HUISHENG_BENCH_RUNS", "3"))
SEED = 20261102
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
OWNER_UID = "5001234567"

OPENERS = ["请问", "您好，", "麻烦问一下，", "反映一个问题：", "强烈建议", "求助！", "感谢", "为什么",
           "小区楼下", "我家附近的", "", "", ""]
TOPICS = ["幸福路和人民大街路口的红绿灯", "第三小学门口的人行道", "滨河公园的公共厕所", "地铁5号线施工围挡",
          "老旧小区加装电梯", "社区卫生服务中心的预约挂号", "垃圾分类投放点", "12路公交车的末班车时间",
          "长青街道的共享单车停放", "菜市场周边的占道经营", "新建小区的供暖", "城南污水处理厂的气味",
          "医保异地备案", "公租房申请", "学区划分", "夜间施工噪音"]
BODIES = ["什么时候能解决？", "已经反映很多次了，一直没人管。", "晚上十点以后还在施工，老人孩子都睡不好觉。",
          "能不能延长一下时间？", "希望相关部门尽快处理。", "请给个准确的答复，谢谢！",
          "办事效率很高，点赞！", "建议增加一些标识，方便外地人。", "具体需要带哪些材料？在哪个窗口办理？",
          "这个问题困扰居民半年了。", "电话打不通，只能在这里留言了。", "辛苦了！"]
EMOTICONS = ["[赞]", "[怒]", "[泪]", "[允悲]", "[doge]", "[心]", "[微笑]", "[抓狂]"]
REGIONS = ["来自北京", "来自河北", "来自上海", "来自广东", "来自四川", None]


def _text(rng: random.Random) -> str:
    text = rng.choice(OPENERS) + rng.choice(TOPICS) + rng.choice(BODIES)
    if rng.random() < 0.3:
        text += rng.choice(BODIES)
    if rng.random() < 0.4:
        text += rng.choice(EMOTICONS)
    return text


def _html(text: str) -> str:
    """The text as m.weibo.cn sends it: emoticons as <img alt> spans."""
    for emo in EMOTICONS:
        text = text.replace(emo, f'<span class="url-icon"><img alt={emo} '
                                 f'src="https://h5.sinaimg.cn/m/emoticon/icon/default/d_{len(emo)}.png" '
                                 'style="width:1em; height:1em;" /></span>')
    return text


def _weibo_time(at: datetime) -> str:
    return (at + timedelta(hours=8)).strftime("%a %b %d %H:%M:%S +0800 %Y")


def generate(comments: int = COMMENTS, posts: int = POSTS, seed: int = SEED
             ) -> tuple[list[Post], list[list[Comment]]]:
    """Posts of one account and their threads (one list of comments per post)."""
    rng = random.Random(seed)
    post_records: list[Post] = []
    threads: list[list[Comment]] = []
    next_id = 4_960_000_000_000_000
    weights = [rng.uniform(0.1, 1.9) for _ in range(posts)]
    sizes = [int(w / sum(weights) * comments) for w in weights]
    for n in range(comments - sum(sizes)):  # rounding leftovers, one each
        sizes[n % posts] += 1
    for n, size in enumerate(sizes):
        post_id = str(next_id)
        next_id += 1
        created = T0 - timedelta(hours=n)
        post_records.append(Post(
            platform="weibo", external_id=post_id, account_uid=OWNER_UID, author_id=OWNER_UID,
            author_name="示范区发布", created_at=created, created_at_approx=False,
            text=f"【便民提示】{rng.choice(TOPICS)}相关工作安排，请广大市民留意。", comments_count=size,
            raw={"id": post_id, "text": "【便民提示】…", "comments_count": size}))
        thread: list[Comment] = []
        tops: list[str] = []
        for floor in range(size):
            cid = str(next_id)
            next_id += 1
            owner = rng.random() < 0.05
            uid = OWNER_UID if owner else str(7_000_000_000 + rng.randrange(2_000_000))
            name = "示范区发布" if owner else f"市民{rng.randrange(100_000):05d}"
            text = "感谢您的留言，已转相关部门办理。" if owner else _text(rng)
            root = parent = reply_to = None
            if tops and rng.random() < 0.25:
                root = parent = rng.choice(tops)
                if rng.random() < 0.5:
                    reply_to = f"市民{rng.randrange(100_000):05d}"
                    text = f"回复@{reply_to}:{text}"
            else:
                tops.append(cid)
            at = created + timedelta(minutes=floor + 1)
            region = rng.choice(REGIONS)
            likes = rng.randrange(50)
            raw = {
                "created_at": _weibo_time(at), "id": int(cid), "idstr": cid, "mid": cid,
                "rootid": int(root or cid), "rootidstr": root or cid, "floor_number": floor + 1,
                "text": _html(text), "disable_reply": 0, "source": region or "",
                "like_count": likes, "liked": False, "isLikedByMblogAuthor": owner,
                "max_id": 0, "total_number": 0, "comments": False,
                "user": {"id": int(uid), "screen_name": name,
                         "profile_image_url": f"https://tvax1.sinaimg.cn/crop.0.0.512.512.180/{uid}.jpg",
                         "profile_url": f"https://m.weibo.cn/u/{uid}", "statuses_count": rng.randrange(5000),
                         "verified": owner, "verified_type": 1 if owner else -1,
                         "gender": rng.choice("mf"), "followers_count": str(rng.randrange(3000)),
                         "follow_count": rng.randrange(500), "urank": rng.randrange(40), "mbtype": 0},
            }
            thread.append(Comment(
                platform="weibo", external_id=cid, post_id=post_id, author_id=uid, author_name=name,
                created_at=at, created_at_approx=False, text=text, root_id=root, parent_id=parent,
                reply_to_name=reply_to, is_from_owner=owner, like_count=likes, replies_count=0,
                region=region, raw=raw))
        threads.append(thread)
    return post_records, threads


def second_pass(threads: list[list[Comment]], seed: int = SEED) -> list[list[Comment]]:
    """The same threads read again: a few like counts moved."""
    rng = random.Random(seed + 1)
    return [[replace(c, like_count=(c.like_count or 0) + 1) if rng.random() < 0.05 else c
             for c in thread] for thread in threads]


def _fresh_database(folder: Path, name: str) -> tuple[Path, str]:
    path = folder / name
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    return path, url


def _seed_posts(url: str, posts: list[Post]) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            unit = conn.execute(models.Unit.__table__.insert().values(
                code="district", name="示范区", level="district", aliases=[], admins=[], enabled=True,
                created_at=T0, updated_at=T0)).inserted_primary_key[0]
            conn.execute(models.Account.__table__.insert().values(
                id=1, platform="weibo", uid=OWNER_UID, name="示范区发布", unit_id=unit, admins=[],
                enabled=True, created_at=T0, consecutive_errors=0, adapter_state={}))
            return dict(store.upsert_posts(conn, posts, account_id=1, account=("weibo", OWNER_UID),
                                           now=T0).ids)
    finally:
        engine.dispose()


def run_store(url: str, post_ids: dict[str, int], passes: list[list[list[Comment]]]) -> float:
    """Seconds the store takes for every pass, one transaction per thread."""
    engine = make_engine(url)
    try:
        with engine.connect():
            pass  # open the pooled connection (pragmas) outside the timing
        start = time.perf_counter()
        for n, threads in enumerate(passes):
            now = T0 + timedelta(hours=n + 1)
            for thread in threads:
                with engine.begin() as conn:
                    store.upsert_comments(conn, thread, post_row_ids=post_ids, now=now)
        return time.perf_counter() - start
    finally:
        engine.dispose()


_RAW_COLUMNS = ("platform", "external_id", "post_id", "root_external_id", "parent_external_id",
                "author_id", "author_name", "created_at", "created_at_approx", "text",
                "content_hash", "reply_to_name", "is_from_owner", "like_count", "replies_count",
                "replies_read_count", "mentions", "region", "first_seen_at", "last_seen_at",
                "deleted_at", "raw")


def _sqlite_time(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def run_raw(path: Path, post_ids: dict[str, int], passes: list[list[list[Comment]]]) -> float:
    """Seconds plain sqlite3 takes to write the same rows (no dedup logic)."""
    db = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    for pragma in ("journal_mode=WAL", f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
                   "foreign_keys=ON", "synchronous=NORMAL"):
        db.execute(f"PRAGMA {pragma}")
    names = ", ".join(_RAW_COLUMNS)
    marks = ", ".join("?" * len(_RAW_COLUMNS))
    try:
        start = time.perf_counter()
        for n, threads in enumerate(passes):
            now = _sqlite_time(T0 + timedelta(hours=n + 1))
            verb = "INSERT" if n == 0 else "INSERT OR IGNORE"
            sql = f"{verb} INTO comments ({names}) VALUES ({marks})"
            for thread in threads:
                rows = [(c.platform, c.external_id, post_ids[c.post_id], c.root_id, c.parent_id,
                         c.author_id, c.author_name, _sqlite_time(c.created_at), c.created_at_approx,
                         c.text, c.content_hash, c.reply_to_name, c.is_from_owner, c.like_count,
                         c.replies_count, None, json.dumps(list(c.mentions), ensure_ascii=False),
                         c.region, now, now, None, json.dumps(c.raw, ensure_ascii=False))
                        for c in thread]
                with db:
                    db.executemany(sql, rows)
        return time.perf_counter() - start
    finally:
        db.close()


def _count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM comments").fetchone()[0]


def _measure(folder: Path, posts: list[Post], passes: list[list[list[Comment]]]
             ) -> tuple[float, float]:
    """(store seconds, raw seconds) on fresh migrated databases."""
    store_path, store_url = _fresh_database(folder, "store.sqlite")
    raw_path, raw_url = _fresh_database(folder, "raw.sqlite")
    store_ids = _seed_posts(store_url, posts)
    raw_ids = _seed_posts(raw_url, posts)
    gc.collect()
    raw_seconds = run_raw(raw_path, raw_ids, passes)
    gc.collect()
    store_seconds = run_store(store_url, store_ids, passes)
    expected = sum(len(t) for t in passes[0])
    stored, raw_stored = _count(store_path), _count(raw_path)
    if stored != expected or raw_stored != expected:
        raise RuntimeError(f"ingest stored {stored} (raw {raw_stored}) comments, expected {expected}")
    return store_seconds, raw_seconds


def main() -> None:
    started = time.perf_counter()
    posts, threads = generate()
    passes = [threads, second_pass(threads)]
    items = sum(len(t) for p in passes for t in p)
    note(f"ingest: {len(posts)} posts, {sum(len(t) for t in threads)} comments, "
         f"{len(threads)} threads, 2 passes ({time.perf_counter() - started:.1f}s to generate)")
    # Best of a few runs each: the machine is shared, the fastest run is the
    # least disturbed one.
    store_runs, raw_runs = [], []
    for run in range(RUNS):
        with tempfile.TemporaryDirectory(prefix="huisheng-bench-") as tmp:
            store_seconds, raw_seconds = _measure(Path(tmp), posts, passes)
        store_runs.append(store_seconds)
        raw_runs.append(raw_seconds)
        note(f"ingest run {run + 1}: store {store_seconds:.2f}s, raw sqlite3 {raw_seconds:.2f}s "
             f"for {items} items")
    emit("ingest", round(items / min(store_runs), 1), "items/s", round(items / min(raw_runs), 1))


if __name__ == "__main__":
    main()
