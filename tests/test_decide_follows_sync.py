"""The matrix as synced, seen without a restart: a running decide step routes by
the units and accounts ``matrix sync`` has just changed (a renamed unit, a new
alias, an account moved to another owner), and the workbench and the digests,
which keep no copy of the matrix, show the change too."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from flagkit import Kit
from huisheng.clock import FakeClock
from huisheng.config.settings import Matrix
from huisheng.flags.process import Decider
from huisheng.flags.rules import load_rules
from huisheng.flags.workcal import WorkCalendar
from huisheng.notify.digest import gather
from huisheng.storage.matrix_sync import matrix_revision, sync_matrix
from huisheng.storage.models import Flag, Unit
from webkit import AUDITOR, NOW, TRANSPORT, WebKit
from digestkit import MATRIX as DIGEST_MATRIX

SH = timezone(timedelta(hours=8))
DISTRICT_UID = "1000000001"   # 示范区发布, the district's account: it routes by place
TRANSPORT_UID = "1000000005"  # 示范区交通局, owned by 交通局 (B03)


@pytest.fixture
def kit(db_url):
    kit = Kit(db_url)
    yield kit
    kit.close()


def _flag_of(kit: Kit, comment_id: int) -> tuple[str, str, str]:
    with kit.sessions() as session:
        flag = session.scalars(select(Flag).where(Flag.comment_id == comment_id)).one()
        return session.get(Unit, flag.unit_id).code, flag.routing, flag.routing_reason


def _changed(matrix: Matrix) -> Matrix:
    """西城街道 renamed 西湖街道 (its alias with it), 东城街道 also called 滨江花园,
    and 交通局's account handed to 城市管理局 (B08)."""
    units = []
    for unit in matrix.units:
        if unit.code == "S01":
            unit = dataclasses.replace(unit, name="西湖街道", aliases=("西湖",))
        elif unit.code == "S00":
            unit = dataclasses.replace(unit, aliases=(*unit.aliases, "滨江花园"))
        units.append(unit)
    accounts = tuple(dataclasses.replace(a, unit="B08") if a.uid == TRANSPORT_UID else a for a in matrix.accounts)
    return Matrix(tuple(units), accounts)


def test_a_running_decider_routes_by_the_matrix_just_synced(kit):
    at = datetime(2026, 11, 2, 9, 0, tzinfo=SH)
    district_post, transport_post = kit.post(DISTRICT_UID, at), kit.post(TRANSPORT_UID, at)
    decider = Decider(kit.sessions, FakeClock(at), load_rules(), kit.calendar, kit.sla)

    def decide(post: int, text: str, when: datetime) -> tuple[str, str, str]:
        comment, _ = kit.comment(post, when, text)
        decider.run(when)
        return _flag_of(kit, comment)

    # before: 西湖 and 滨江花园 are no place of the matrix, 交通局 owns its account
    assert decide(district_post, "西湖街道的路灯坏了一个月了，什么时候修？", at)[1] != "place"
    assert decide(district_post, "滨江花园门口的垃圾堆了一周没人清运，投诉", at)[1] != "place"
    assert decide(transport_post, "请问这个新政策什么时候开始执行？", at)[:2] == ("B03", "account")

    with kit.sessions.begin() as session:
        before = matrix_revision(session)
        assert sync_matrix(session, _changed(kit.matrix), at).changed
    with kit.sessions() as session:
        assert matrix_revision(session) == before + 1

    later = at + timedelta(hours=1)
    code, routing, reason = decide(district_post, "西湖街道的路灯坏了一个月了，什么时候修？", later)
    assert (code, routing) == ("S01", "place") and "西湖街道" in reason
    assert decide(district_post, "滨江花园门口的垃圾堆了一周没人清运，投诉", later)[:2] == ("S00", "place")
    code, routing, reason = decide(transport_post, "请问这个新政策什么时候开始执行？", later)
    assert (code, routing) == ("B08", "account") and "城市管理局" in reason


def test_a_sync_that_changes_nothing_keeps_the_revision(kit):
    with kit.sessions.begin() as session:
        before = matrix_revision(session)
        assert not sync_matrix(session, kit.matrix, datetime(2026, 11, 2, tzinfo=timezone.utc)).changed
        assert matrix_revision(session) == before


def test_the_workbench_and_the_digests_show_the_synced_matrix(db_url, tmp_path):
    kit = WebKit(db_url, tmp_path)
    try:
        client = kit.client_for(AUDITOR)
        page = f"/flags/{kit.flag['transport']}"
        assert "交通局" in client.get(page).get_data(as_text=True)
        renamed = Matrix(tuple(dataclasses.replace(u, name="交通运输局") if u.code == "B03" else u
                               for u in DIGEST_MATRIX.units), DIGEST_MATRIX.accounts)
        with kit.sessions.begin() as session:
            assert sync_matrix(session, renamed, NOW).changed
        # the same application, not restarted
        assert "交通运输局" in client.get(page).get_data(as_text=True)
        with kit.sessions() as session:
            (digest,) = gather(session, now=NOW, calendar=WorkCalendar(), recipients=[TRANSPORT])
        assert "交通运输局" in digest.names
    finally:
        kit.close()
