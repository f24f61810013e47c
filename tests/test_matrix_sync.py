"""``matrix sync``: the matrix loaded into the database idempotently; removed
accounts disabled (never deleted), owner changes recorded, re-enabling works."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from huisheng.cli import main
from huisheng.storage.db import make_engine, session_factory
from huisheng.config.matrix import load_matrix
from huisheng.storage.matrix_sync import OwnerChange, SyncReport, sync_matrix
from huisheng.storage.models import Account, AccountOwnerChange, Base, Unit
from huisheng.config.settings import AccountSpec, Matrix, UnitSpec

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)

UNITS = (
    UnitSpec("d", "示例区", "district", admins=("office@example.org",)),
    UnitSpec("dept-jt", "交通局", "department", "d", admins=("jt@example.org",)),
    UnitSpec("st-1", "一号街道", "street", "d", aliases=("老街",)),
    UnitSpec("cm-1", "一号社区", "community", "st-1", aliases=("一号小学",)),
)
ACCOUNTS = (
    AccountSpec("weibo", "1100000001", "示例发布", "d", poll_interval=300),
    AccountSpec("weibo", "1100000002", "示例交通", "dept-jt"),
    AccountSpec("weibo", "1100000003", "一号街道", "st-1", admins=("s1@example.org",)),
    AccountSpec("weibo", "1100000004", "一号社区", "cm-1"),
)
MATRIX = Matrix(units=UNITS, accounts=ACCOUNTS)


@pytest.fixture
def sessions(db_url):
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


def sync(sessions, matrix: Matrix, now: datetime) -> SyncReport:
    with sessions() as session, session.begin():
        return sync_matrix(session, matrix, now)


def accounts_by_uid(sessions) -> dict[str, Account]:
    with sessions() as session:
        rows = session.scalars(select(Account)).all()
        for row in rows:
            _ = row.unit.code  # load before the session closes
        return {row.uid: row for row in rows}


def test_first_sync_adds_everything_due_now(sessions):
    report = sync(sessions, MATRIX, T0)
    assert report.units_added == ("d", "dept-jt", "st-1", "cm-1")
    assert report.accounts_added == tuple(f"weibo:{a.uid}" for a in ACCOUNTS)
    accounts = accounts_by_uid(sessions)
    assert {uid: (a.unit.code, a.enabled, a.next_check_at, a.poll_interval, a.admins)
            for uid, a in accounts.items()} == {
        "1100000001": ("d", True, T0, 300, []),
        "1100000002": ("dept-jt", True, T0, None, []),
        "1100000003": ("st-1", True, T0, None, ["s1@example.org"]),
        "1100000004": ("cm-1", True, T0, None, []),
    }
    with sessions() as session:
        units = {u.code: u for u in session.scalars(select(Unit))}
        assert units["cm-1"].parent_id == units["st-1"].id
        assert units["st-1"].parent_id == units["d"].id
        assert units["d"].parent_id is None
        assert units["st-1"].aliases == ["老街"] and units["d"].admins == ["office@example.org"]


def test_second_sync_changes_nothing(sessions):
    sync(sessions, MATRIX, T0)
    before = accounts_by_uid(sessions)
    report = sync(sessions, MATRIX, T0 + timedelta(hours=1))
    assert not report.changed and report == SyncReport()
    assert report.lines() == ["矩阵与数据库一致，无变更。"]
    after = accounts_by_uid(sessions)
    assert {u: (a.id, a.next_check_at, a.enabled) for u, a in after.items()} == \
        {u: (a.id, a.next_check_at, a.enabled) for u, a in before.items()}


def test_the_report_names_units_and_accounts_not_only_codes(sessions):
    lines = sync(sessions, MATRIX, T0).lines()
    assert lines == ["新增单位 4 个：示例区（d）、交通局（dept-jt）、一号街道（st-1）、一号社区（cm-1）",
                     "新增账号 4 个：示例发布（weibo:1100000001）、示例交通（weibo:1100000002）、"
                     "一号街道（weibo:1100000003）、一号社区（weibo:1100000004）"]
    # gone from the matrix: named from the database
    fewer = Matrix(units=UNITS[:3], accounts=ACCOUNTS[:3])
    assert sync(sessions, fewer, T0 + timedelta(days=1)).lines() == [
        "停用单位 1 个：一号社区（cm-1）", "停用账号 1 个：一号社区（weibo:1100000004）"]


def test_removed_account_is_disabled_never_deleted_and_re_enabled_later(sessions):
    sync(sessions, MATRIX, T0)
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    with sessions() as session, session.begin():
        polled = session.scalars(select(Account).where(Account.uid == "1100000002")).one()
        polled.next_check_at = T0 + timedelta(minutes=15)
    fewer = Matrix(units=UNITS[:3], accounts=ACCOUNTS[:1] + ACCOUNTS[2:3])
    report = sync(sessions, fewer, t1)
    assert report.accounts_disabled == ("weibo:1100000002", "weibo:1100000004")
    assert report.units_disabled == ("cm-1",)
    accounts = accounts_by_uid(sessions)
    assert len(accounts) == 4
    assert (accounts["1100000002"].enabled, accounts["1100000002"].disabled_at) == (False, t1)
    assert (accounts["1100000001"].enabled, accounts["1100000001"].disabled_at) == (True, None)

    report = sync(sessions, MATRIX, t2)
    assert report.accounts_reenabled == ("weibo:1100000002", "weibo:1100000004")
    assert report.units_updated == ("cm-1",)
    accounts = accounts_by_uid(sessions)
    assert (accounts["1100000002"].enabled, accounts["1100000002"].disabled_at,
            accounts["1100000002"].next_check_at) == (True, None, t2)
    with sessions() as session:
        assert session.scalars(select(Unit).where(Unit.code == "cm-1")).one().enabled


def test_account_marked_disabled_in_the_matrix(sessions):
    sync(sessions, MATRIX, T0)
    off = Matrix(units=UNITS, accounts=ACCOUNTS[:3] + (replace(ACCOUNTS[3], enabled=False),))
    report = sync(sessions, off, T0 + timedelta(hours=2))
    assert report.accounts_disabled == ("weibo:1100000004",)
    assert accounts_by_uid(sessions)["1100000004"].disabled_at == T0 + timedelta(hours=2)
    assert not sync(sessions, off, T0 + timedelta(hours=3)).changed


def test_owner_change_is_recorded_with_its_date(sessions):
    sync(sessions, MATRIX, T0)
    t1 = T0 + timedelta(days=3)
    moved = Matrix(units=UNITS, accounts=(ACCOUNTS[0], replace(ACCOUNTS[1], unit="st-1", name="一号街道交通"),
                                          *ACCOUNTS[2:]))
    report = sync(sessions, moved, t1)
    assert report.owner_changes == (OwnerChange("weibo", "1100000002", "dept-jt", "st-1"),)
    assert report.accounts_updated == ("weibo:1100000002",)
    assert "主办单位变更：一号街道交通（weibo:1100000002） 交通局（dept-jt） → 一号街道（st-1）" in report.lines()
    with sessions() as session:
        units = {u.code: u.id for u in session.scalars(select(Unit))}
        (change,) = session.scalars(select(AccountOwnerChange)).all()
        account = session.get(Account, change.account_id)
        assert (account.uid, change.old_unit_id, change.new_unit_id, change.changed_at) == \
            ("1100000002", units["dept-jt"], units["st-1"], t1)
        assert account.unit_id == units["st-1"] and account.name == "一号街道交通"
    assert not sync(sessions, moved, t1 + timedelta(hours=1)).changed


def test_unit_changes_are_updated(sessions):
    sync(sessions, MATRIX, T0)
    t1 = T0 + timedelta(days=1)
    units = (*UNITS[:2], replace(UNITS[2], name="一号街道（新）", aliases=("老街", "新市场")),
             UnitSpec("st-2", "二号街道", "street", "d"), replace(UNITS[3], parent="st-2"))
    report = sync(sessions, Matrix(units=units, accounts=ACCOUNTS), t1)
    assert report.units_added == ("st-2",)
    assert report.units_updated == ("st-1", "cm-1")
    with sessions() as session:
        rows = {u.code: u for u in session.scalars(select(Unit))}
        assert rows["st-1"].aliases == ["老街", "新市场"] and rows["st-1"].updated_at == t1
        assert rows["cm-1"].parent_id == rows["st-2"].id


def test_cli_sync_of_the_example_district(db_url, tmp_path):
    config = tmp_path / "huisheng.toml"
    config.write_text(f'matrix = "{ROOT / "config" / "example-district"}"\n[database]\nurl = "{db_url}"\n',
                      encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(main, ["matrix", "sync", "--config", str(config)])
    assert first.exit_code == 0, first.output
    assert "新增单位 169 个：沙坪坝区（spb）、区政府办公室（dept-gov-office）" in first.output
    total = len(load_matrix(ROOT / "config" / "example-district").accounts)
    assert f"新增账号 {total} 个：沙坪坝发布（weibo:5706878669）" in first.output
    second = runner.invoke(main, ["matrix", "sync", "--config", str(config)])
    assert second.exit_code == 0 and second.output.strip() == "矩阵与数据库一致，无变更。"
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            assert session.scalar(select(func.count()).select_from(Account)) == total
            assert session.scalar(select(func.count()).select_from(Account).where(Account.platform == "weibo")) == 176
            assert session.scalar(select(func.count()).select_from(Unit)) == 169
    finally:
        engine.dispose()
