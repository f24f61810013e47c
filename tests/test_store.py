"""The store on a migrated database (SQLite, and PostgreSQL when configured):
idempotent batched upserts, edit history, counters, tombstones, truncated
previews, comment links, and two workers storing the same items at once."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME

from huisheng import migrations
from huisheng.errors import StoreError
from huisheng.storage import models, store
from huisheng.storage.db import insert_many, make_engine, session_factory
from huisheng.records import Comment, Post, content_hash

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
UID = "1001"


@pytest.fixture
def engine(db_url):
    migrations.upgrade(db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        unit_id = conn.execute(models.Unit.__table__.insert().values(
            code="d", name="示范区", level="district", aliases=[], admins=[], enabled=True,
            created_at=T0, updated_at=T0)).inserted_primary_key[0]
        conn.execute(models.Account.__table__.insert().values(
            id=1, platform="weibo", uid=UID, name="示范区发布", unit_id=unit_id, admins=[],
            enabled=True, created_at=T0, consecutive_errors=0, adapter_state={}))
    yield engine
    engine.dispose()


def post(ext="P1", text="今天起，城区道路施工，请绕行。", **kw) -> Post:
    kw.setdefault("raw", {"id": ext, "text": text, "user": {"id": int(UID), "screen_name": "示范区发布"}})
    return Post(platform="weibo", external_id=ext, account_uid=UID, author_id=kw.pop("author_id", UID),
                author_name="示范区发布", created_at=T0, created_at_approx=False, text=text, **kw)


def comment(ext="C1", text="请问什么时候完工？", post_id="P1", **kw) -> Comment:
    kw.setdefault("raw", {"id": ext, "text": text, "user": {"id": 9, "screen_name": "市民甲"}})
    return Comment(platform="weibo", external_id=ext, post_id=post_id, author_id="9",
                   author_name="市民甲", created_at=T0, created_at_approx=False, text=text, **kw)


def store_posts(engine, posts, now=T0, **kw):
    with engine.begin() as conn:
        return store.upsert_posts(conn, posts, account_id=1, account=("weibo", UID), now=now, **kw)


def store_comments(engine, comments, now=T0, post_ids=None):
    with engine.begin() as conn:
        ids = post_ids or {p: conn.execute(select(models.Post.id).where(
            models.Post.external_id == p)).scalar_one() for p in {c.post_id for c in comments}}
        return store.upsert_comments(conn, comments, post_row_ids=ids, now=now)


def rows(engine, table, *where):
    with engine.connect() as conn:
        return conn.execute(select(table).where(*where).order_by(table.c.id)).all()


POSTS = models.Post.__table__
COMMENTS = models.Comment.__table__
EDITS = models.ItemEdit.__table__
TOMBS = models.Tombstone.__table__


def test_insert_then_same_batch_again_changes_nothing(engine):
    posts = [post("P1"), post("P2", "第二条"), post("P3", "第三条", is_pinned=True)]
    first = store_posts(engine, posts)
    assert len(first.inserted) == 3 and first.unchanged == 0
    assert set(first.ids) == {"P1", "P2", "P3"}
    comments = [comment("C1"), comment("C2", "好的，谢谢"), comment("C3", "回复@市民甲:下月底", root_id="C1",
                                                            parent_id="C1")]
    c_first = store_comments(engine, comments)
    assert len(c_first.inserted) == 3

    later = T0 + timedelta(hours=1)
    again = store_posts(engine, posts, now=later)
    assert (again.inserted, again.edited, again.restored, again.updated) == ((), (), (), ())
    assert again.unchanged == 3 and again.ids == first.ids
    c_again = store_comments(engine, comments, now=later)
    assert (c_again.inserted, c_again.edited, c_again.updated) == ((), (), ())
    assert c_again.unchanged == 3 and c_again.ids == c_first.ids

    assert len(rows(engine, POSTS)) == 3 and len(rows(engine, COMMENTS)) == 3
    assert rows(engine, EDITS) == []
    for row in rows(engine, POSTS) + rows(engine, COMMENTS):
        assert row.first_seen_at == T0 and row.last_seen_at == later


def test_duplicates_inside_one_batch_give_one_row(engine):
    result = store_posts(engine, [post("P1", "旧"), post("P1", "新")])
    assert len(result.inserted) == 1
    assert rows(engine, POSTS)[0].text == "新"


def test_raw_is_stored_as_given(engine):
    raw = {"id": "P1", "text": "<a href='/n/x'>@某人</a> 你好 😀", "pics": [{"pid": "a"}],
           "nested": {"zero": 0, "none": None, "flag": False}}
    store_posts(engine, [post(raw=raw)])
    assert rows(engine, POSTS)[0].raw == raw


@pytest.mark.parametrize("text, value", [("[]", []), ("null", None), (' {"a": "中"} ', {"a": "中"}),
                                         ("1.5", 1.5), ("[1]\n", [1]), (b'["\xe4\xb8\xad"]', ["中"])])
def test_json_columns_read_what_json_reads(text, value):
    from huisheng.storage.db import _json_loads

    assert _json_loads(text) == value


@pytest.mark.parametrize("text", ["[1] x", "", "[", "{} {}"])
def test_json_columns_refuse_what_json_refuses(text):
    import json

    from huisheng.storage.db import _json_loads

    with pytest.raises(json.JSONDecodeError):
        _json_loads(text)


def test_changed_text_records_an_edit(engine):
    store_posts(engine, [post("P1", "原文", raw={"v": 1})])
    store_comments(engine, [comment("C1", "原评论", raw={"v": 1})])
    later = T0 + timedelta(minutes=10)
    p = store_posts(engine, [post("P1", "修改后", raw={"v": 2}, edit_count=1)], now=later)
    c = store_comments(engine, [comment("C1", "改过的评论", raw={"v": 2})], now=later)
    assert p.edited == (p.ids["P1"],) and p.inserted == () and p.updated == ()
    assert c.edited == (c.ids["C1"],)

    stored = rows(engine, POSTS)[0]
    assert (stored.text, stored.content_hash, stored.raw, stored.edit_count) == (
        "修改后", content_hash("修改后"), {"v": 2}, 1)
    edits = rows(engine, EDITS)
    assert [(e.item_kind, e.item_id, e.old_text, e.old_hash, e.new_hash, e.old_raw, e.seen_at)
            for e in edits] == [
        ("post", p.ids["P1"], "原文", content_hash("原文"), content_hash("修改后"), {"v": 1}, later),
        ("comment", c.ids["C1"], "原评论", content_hash("原评论"), content_hash("改过的评论"), {"v": 1},
         later),
    ]


def test_counters_and_flags_are_not_edits(engine):
    store_posts(engine, [post(comments_count=1, likes_count=2, reposts_count=0, comments_open=True)])
    store_comments(engine, [comment(like_count=0, replies_count=0)])
    p = store_posts(engine, [post(comments_count=5, likes_count=9, reposts_count=1, is_pinned=True,
                                  comments_open=False)])
    c = store_comments(engine, [comment(like_count=3, replies_count=2)])
    assert p.edited == () and p.updated == (p.ids["P1"],)
    assert c.edited == () and c.updated == (c.ids["C1"],)
    assert rows(engine, EDITS) == []
    stored = rows(engine, POSTS)[0]
    assert (stored.comments_count, stored.likes_count, stored.reposts_count, stored.is_pinned,
            stored.comments_open) == (5, 9, 1, True, False)
    assert (rows(engine, COMMENTS)[0].like_count, rows(engine, COMMENTS)[0].replies_count) == (3, 2)

    # An endpoint that does not give a counter leaves the stored one alone.
    p = store_posts(engine, [post(comments_count=None, likes_count=None, reposts_count=None,
                                  is_pinned=True, comments_open=None)])
    assert p.unchanged == 1
    assert rows(engine, POSTS)[0].comments_count == 5


def test_account_id_only_for_the_accounts_own_posts(engine):
    result = store_posts(engine, [post("P1", "转发", repost_of="X9"),
                                  post("X9", "原帖", author_id="777")])
    by_ext = {r.external_id: r for r in rows(engine, POSTS)}
    assert by_ext["P1"].account_id == 1 and by_ext["P1"].repost_of == "X9"
    assert by_ext["X9"].account_id is None
    assert len(result.inserted) == 2


def test_the_same_author_id_on_another_platform_is_not_the_account(engine):
    # a citizen elsewhere whose id happens to be the account's uid, in the same batch
    store_posts(engine, [post("P1", "通知"), replace(post("M1", "我们小区停水了"), platform="elsewhere")])
    by_key = {(r.platform, r.external_id): r for r in rows(engine, POSTS)}
    assert by_key[("weibo", "P1")].account_id == 1
    assert by_key[("elsewhere", "M1")].account_id is None


def test_tombstone_is_idempotent_and_restore_closes_it(engine):
    store_posts(engine, [post()])
    ids = store_comments(engine, [comment("C1"), comment("C2", "二")]).ids
    gone = T0 + timedelta(hours=2)
    with engine.begin() as conn:
        assert store.tombstone(conn, "comment", [ids["C1"]], "absent from a complete thread read",
                               gone) == (ids["C1"],)
        assert store.tombstone(conn, "comment", [ids["C1"], ids["C1"]], "again", gone) == ()
        post_row = store.existing_posts(conn, "weibo", ["P1"])["P1"].id
        assert store.live_comment_ids(conn, post_row) == {"C2": ids["C2"]}
    tombs = rows(engine, TOMBS)
    assert [(t.item_kind, t.item_id, t.detected_at, t.reason, t.restored_at) for t in tombs] == [
        ("comment", ids["C1"], gone, "absent from a complete thread read", None)]
    assert rows(engine, COMMENTS, COMMENTS.c.id == ids["C1"])[0].deleted_at == gone

    back = gone + timedelta(hours=1)
    result = store_comments(engine, [comment("C1")], now=back)
    assert result.restored == (ids["C1"],) and result.edited == () and result.inserted == ()
    assert rows(engine, COMMENTS, COMMENTS.c.id == ids["C1"])[0].deleted_at is None
    assert rows(engine, TOMBS)[0].restored_at == back

    # Gone a second time: a new open tombstone, still never two open at once.
    with engine.begin() as conn:
        store.tombstone(conn, "comment", [ids["C1"]], "gone again", back)
        store.tombstone(conn, "comment", [ids["C1"]], "gone again", back)
    tombs = rows(engine, TOMBS)
    assert len(tombs) == 2 and [t.restored_at for t in tombs] == [back, None]

    # Posts too.
    with engine.begin() as conn:
        assert store.tombstone(conn, "post", [post_row], "status NotFound", back) == (post_row,)
        assert store.existing_posts(conn, "weibo", ["P1"])["P1"].deleted_at == back
    assert store_posts(engine, [post()], now=back).restored == (post_row,)


def test_truncated_preview_never_overwrites_the_full_text(engine):
    preview = post("P1", "长微博开头……全文", is_truncated=True, raw={"text": "长微博开头...<a>全文</a>"})
    full = post("P1", "长微博开头，然后是完整的正文。", raw={"text": "长微博开头...<a>全文</a>", "isLongText": True})

    first = store_posts(engine, [preview])
    with engine.connect() as conn:
        state = store.existing_posts(conn, "weibo", ["P1"])["P1"]
    assert state.is_truncated and store.post_needs_expand(state, preview)
    assert store.post_needs_expand(None, preview) and not store.post_needs_expand(None, full)

    # The expansion completes the stored preview: not an edit.
    done = store_posts(engine, [full])
    assert done.updated == (first.ids["P1"],)
    assert done.edited == ()
    stored = rows(engine, POSTS)[0]
    assert (stored.text, stored.is_truncated) == (full.text, False)

    # The same preview seen again on the timeline leaves the full text alone.
    again = store_posts(engine, [preview])
    assert again.unchanged == 1 and rows(engine, POSTS)[0].text == full.text
    with engine.connect() as conn:
        state = store.existing_posts(conn, "weibo", ["P1"])["P1"]
    assert not store.post_needs_expand(state, preview)
    assert rows(engine, EDITS) == []

    # A different preview means the post was edited upstream.
    edited_preview = post("P1", "长微博改过的开头……全文", is_truncated=True)
    assert store.post_needs_expand(state, edited_preview)
    result = store_posts(engine, [edited_preview])
    assert result.edited == (first.ids["P1"],)
    assert [e.old_text for e in rows(engine, EDITS)] == [full.text]
    stored = rows(engine, POSTS)[0]
    assert (stored.text, stored.is_truncated) == (edited_preview.text, True)


def test_full_text_stored_directly_remembers_its_preview(engine):
    preview = post("P1", "开头……全文", is_truncated=True)
    full = post("P1", "开头和全部正文")
    store_posts(engine, [full], preview_hashes={"P1": preview.content_hash})
    with engine.connect() as conn:
        state = store.existing_posts(conn, "weibo", ["P1"])["P1"]
    assert state.preview_hash == preview.content_hash
    assert not store.post_needs_expand(state, preview)
    assert store_posts(engine, [preview]).unchanged == 1
    assert rows(engine, POSTS)[0].text == full.text


def test_comment_links_are_kept(engine):
    store_posts(engine, [post()])
    root = comment("C1", "楼主问题")
    child = comment("C2", "回复@市民乙:同问", root_id="C1", parent_id="C5", reply_to_name="市民乙")
    ids = store_comments(engine, [root, child]).ids
    # The top-level listing shows the reply inline without its links: they stay.
    bare = comment("C2", "回复@市民乙:同问", reply_to_name="市民乙")
    assert store_comments(engine, [bare]).unchanged == 1
    # Inside one batch, the occurrence that carries links is not lost either.
    store_comments(engine, [comment("C3", "再问", root_id="C1", parent_id="C1"), comment("C3", "再问")])
    by_ext = {r.external_id: r for r in rows(engine, COMMENTS)}
    assert (by_ext["C2"].root_external_id, by_ext["C2"].parent_external_id) == ("C1", "C5")
    assert (by_ext["C3"].root_external_id, by_ext["C3"].parent_external_id) == ("C1", "C1")
    assert by_ext["C1"].root_external_id is None

    post_row = by_ext["C1"].post_id
    with engine.connect() as conn:
        assert store.live_comment_ids(conn, post_row, top_level_only=True) == {"C1": ids["C1"]}
        assert set(store.live_comment_ids(conn, post_row, root_external_id="C1")) == {"C2", "C3"}


def test_unknown_post_is_a_store_error(engine):
    with engine.begin() as conn, pytest.raises(StoreError, match="P404"):
        store.upsert_comments(conn, [comment(post_id="P404")], post_row_ids={}, now=T0)


def test_read_marks(engine):
    pid = store_posts(engine, [post(comments_count=4)]).ids["P1"]
    cid = store_comments(engine, [comment(replies_count=2)]).ids["C1"]
    with engine.begin() as conn:
        store.mark_thread_read(conn, pid, 4, T0)
        store.mark_replies_read(conn, cid, 2)
    with engine.connect() as conn:
        assert store.existing_posts(conn, "weibo", ["P1"])["P1"].comments_read_count == 4
        assert store.existing_comments(conn, "weibo", ["C1"])["C1"].replies_read_count == 2
    assert rows(engine, POSTS)[0].comments_read_at == T0


def test_items_and_cursor_commit_or_roll_back_together(engine):
    make_session = session_factory(engine)
    with make_session() as session:
        store.upsert_posts(session, [post()], account_id=1, account=("weibo", UID), now=T0)
        session.execute(update(models.Account).where(models.Account.id == 1)
                        .values(adapter_state={"since_id": "abc"}))
        session.rollback()
    assert rows(engine, POSTS) == []
    with make_session() as session, session.begin():
        store.upsert_posts(session, [post()], account_id=1, account=("weibo", UID), now=T0)
        session.execute(update(models.Account).where(models.Account.id == 1)
                        .values(adapter_state={"since_id": "abc"}))
    assert len(rows(engine, POSTS)) == 1
    assert rows(engine, models.Account.__table__)[0].adapter_state == {"since_id": "abc"}


def test_two_workers_storing_the_same_items_yield_one_row_each(engine):
    store_posts(engine, [post()])
    post_ids = {"P1": rows(engine, POSTS)[0].id}
    batches = [[comment(f"C{round_}-{i}", f"第{i}条评论") for i in range(60)] for round_ in range(3)]
    for batch in batches:
        barrier = threading.Barrier(2)
        results, errors = [], []

        def worker(items):
            try:
                barrier.wait()
                results.append(store_comments(engine, items, post_ids=post_ids))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        # Opposite orders, as two pages of one hot-ordered thread may come:
        # rows must still be locked in one order (no deadlock on PostgreSQL).
        threads = [threading.Thread(target=worker, args=(items,))
                   for items in (batch, batch[::-1])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert results[0].ids == results[1].ids
        assert len(results[0].inserted) + len(results[1].inserted) == len(batch)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(COMMENTS)).scalar() == 180
        dupes = conn.execute(select(COMMENTS.c.external_id).group_by(COMMENTS.c.external_id)
                             .having(func.count() > 1)).all()
    assert dupes == []


def test_concurrent_writers_of_different_items_both_succeed(engine):
    # WAL + busy timeout: on SQLite the second writer waits instead of failing.
    store_posts(engine, [post()])
    post_ids = {"P1": rows(engine, POSTS)[0].id}
    barrier = threading.Barrier(2)
    errors = []

    def worker(prefix):
        try:
            barrier.wait()
            for n in range(10):
                store_comments(engine, [comment(f"{prefix}{n}-{i}", "评论") for i in range(20)],
                               post_ids=post_ids)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in "AB"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(rows(engine, COMMENTS)) == 400
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_live_post_ids_cover_a_span_of_the_accounts_live_posts(engine):
    day = timedelta(days=1)
    store_posts(engine, [post("P1"), post("P2", "二"), post("X", "别人的", author_id="7")])
    with engine.begin() as conn:
        conn.execute(update(models.Post).where(models.Post.external_id == "P2")
                     .values(created_at=T0 - 3 * day))
        ids = store.existing_posts(conn, "weibo", ["P1", "P2"])
        assert store.live_post_ids(conn, 1) == {"P1": ids["P1"].id, "P2": ids["P2"].id}
        assert store.live_post_ids(conn, 1, since=T0 - day, until=T0) == {"P1": ids["P1"].id}
        store.tombstone(conn, "post", [ids["P1"].id], "status: not found", T0)
        assert store.live_post_ids(conn, 1, since=T0 - 5 * day) == {"P2": ids["P2"].id}


def test_empty_batches_are_no_ops(engine):
    with engine.begin() as conn:
        assert store.upsert_posts(conn, [], account_id=1, account=("weibo", UID), now=T0) == store.UpsertResult()
        assert store.upsert_comments(conn, [], post_row_ids={}, now=T0) == store.UpsertResult()
        assert store.existing_posts(conn, "weibo", []) == {}
        assert store.existing_comments(conn, "weibo", []) == {}
        assert store.tombstone(conn, "post", [], "x", T0) == ()


def test_insert_many_stores_what_a_plain_insert_does(engine):
    """The bulk path (the decide step's flags and events) writes every kind of
    column as SQLAlchemy's own insert does: JSON, booleans, aware times in any zone."""
    units = models.Unit.__table__
    east8 = timezone(timedelta(hours=8))

    def unit(code, at):
        return {"code": code, "name": f"单位「{code}」", "level": "community", "parent_id": None,
                "aliases": ["别名", 'quote"d'], "admins": [{"email": "a@example.org"}], "enabled": code.endswith("1"),
                "created_at": at, "updated_at": at.astimezone(east8)}

    given = [unit(f"bulk{i}", T0 + timedelta(microseconds=i * 123457)) for i in range(1, 4)]
    with engine.begin() as conn:
        insert_many(conn, units, given)
        conn.execute(units.insert(), [{**unit(f"plain{i}", T0 + timedelta(microseconds=i * 123457))}
                                      for i in range(1, 4)])
    read = {r.code: r for r in rows(engine, units, units.c.code != "d")}
    for i in range(1, 4):
        bulk, plain = read[f"bulk{i}"]._asdict(), read[f"plain{i}"]._asdict()
        for key in ("id", "code", "name"):
            bulk.pop(key), plain.pop(key)
        assert bulk == plain
        assert bulk["created_at"] == bulk["updated_at"] == T0 + timedelta(microseconds=i * 123457)
    with engine.connect() as conn:  # what is stored compares as SQLAlchemy's own values do
        later = conn.scalar(select(func.count()).select_from(units).where(
            units.c.code.like("bulk%"), units.c.created_at > T0 + timedelta(microseconds=123457)))
    assert later == 2


def test_insert_many_refuses_rows_it_would_store_wrongly(engine):
    units = models.Unit.__table__
    row = {"code": "x", "name": "x", "level": "community", "aliases": [], "admins": [], "enabled": True,
           "created_at": T0, "updated_at": T0}
    with engine.begin() as conn:
        with pytest.raises(ValueError, match="defaults.*enabled"):  # SQLAlchemy would have filled it in
            insert_many(conn, units, [{k: v for k, v in row.items() if k != "enabled"}])
        with pytest.raises(ValueError, match="different columns"):
            insert_many(conn, units, [row, {**row, "code": "y", "parent_id": None}])
        insert_many(conn, units, [])
    assert [r.code for r in rows(engine, units)] == ["d"]


@pytest.mark.parametrize("value", [
    datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc), datetime(1, 1, 1, tzinfo=timezone.utc),
    datetime(999, 3, 4, 5, 6, 7, 8, tzinfo=timezone.utc), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
    datetime(2026, 11, 2, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))),
    datetime(2026, 3, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai")), datetime(2026, 3, 1, 9, tzinfo=ZoneInfo("UTC"))])
def test_sqlite_times_are_stored_in_sqlalchemys_own_text(value):
    """The one-step conversion on SQLite writes what SQLAlchemy's DATETIME
    would (stored text is compared as text) and reads it back aware UTC."""
    dialect = make_engine("sqlite://").dialect
    ours = models.UTCDateTime().dialect_impl(dialect)
    text = ours.bind_processor(dialect)(value)
    assert text == SQLITE_DATETIME().bind_processor(dialect)(value.astimezone(timezone.utc).replace(tzinfo=None))
    back = ours.result_processor(dialect, None)(text)
    assert back == value and back.tzinfo is timezone.utc
    with pytest.raises(ValueError, match="naive"):
        ours.bind_processor(dialect)(value.replace(tzinfo=None))
