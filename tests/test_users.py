"""Users: the matrix's administrators kept in step, people added by hand,
roles and what each may see; the ``users`` commands."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from huisheng.cli import main
from huisheng.storage.matrix_sync import sync_matrix
from huisheng.storage.models import User
from huisheng.config.settings import Matrix, UnitSpec
from huisheng.users import Role, UserError, add_user, can_act, find_user, sync_matrix_users, visible_units
from huisheng.users.signin import hash_password
from tests.digestkit import COMMUNITY, DISTRICT, MATRIX, NOW, STREET, TRANSPORT, TRANSPORT_ACCOUNT, DigestKit


@pytest.fixture
def kit(db_url):
    kit = DigestKit(db_url)
    yield kit
    kit.close()


def users(kit) -> dict[str, User]:
    with kit.sessions() as session:
        return {u.email: u for u in session.scalars(select(User)) if u.units is not None}


def test_the_matrix_administrators_are_users(kit):
    with kit.sessions.begin() as session:
        sync_matrix_users(session, NOW)
    with kit.sessions() as session:
        found = {u.email: (u.role, u.source, [x.code for x in u.units])
                 for u in session.scalars(select(User))}
    assert found == {DISTRICT: ("unit_admin", "matrix", ["D"]), TRANSPORT: ("unit_admin", "matrix", ["B03"]),
                     TRANSPORT_ACCOUNT: ("unit_admin", "matrix", ["B03"]),
                     STREET: ("unit_admin", "matrix", ["S00"]), COMMUNITY: ("unit_admin", "matrix", ["S00C01"])}
    with kit.sessions.begin() as session:
        assert sync_matrix_users(session, NOW) == []  # idempotent


def test_sync_follows_the_matrix_and_leaves_hand_made_users_alone(kit):
    with kit.sessions.begin() as session:
        sync_matrix_users(session, NOW)
        add_user(session, "audit@example.org", role=Role.AUDITOR, now=NOW)
        find_user(session, STREET).role = "district_admin"  # changed by hand: kept
    # the community's administrator leaves the matrix; the street's is also named for the community
    units = tuple(u if u.code != "S00C01" else UnitSpec("S00C01", u.name, u.level, u.parent, admins=(STREET,))
                  for u in MATRIX.units)
    with kit.sessions.begin() as session:
        sync_matrix(session, Matrix(units, MATRIX.accounts), NOW)
        lines = sync_matrix_users(session, NOW + timedelta(hours=1))
    assert any(COMMUNITY in line and "停用" in line for line in lines)
    with kit.sessions() as session:
        assert not find_user(session, COMMUNITY).enabled
        street = find_user(session, STREET)
        assert [u.code for u in street.units] == ["S00", "S00C01"] and street.role == "district_admin"
        assert find_user(session, "audit@example.org").enabled


def test_a_street_administrator_sees_its_communities(kit):
    with kit.sessions.begin() as session:
        sync_matrix_users(session, NOW)
        street = find_user(session, STREET)
        scope = visible_units(session, street)
        auditor = add_user(session, "audit@example.org", role=Role.AUDITOR, now=NOW)
        assert visible_units(session, auditor) is None
        assert not can_act(auditor, None, kit.unit["S00"])
    assert scope == {kit.unit["S00"], kit.unit["S00C01"]}
    assert can_act(street, scope, kit.unit["S00C01"]) and not can_act(street, scope, kit.unit["B03"])


def test_a_unit_administrator_needs_a_unit(kit):
    with kit.sessions.begin() as session, pytest.raises(UserError):
        add_user(session, "x@example.org", role=Role.UNIT_ADMIN, now=NOW)
    with kit.sessions.begin() as session, pytest.raises(UserError):
        add_user(session, "not an address", role=Role.AUDITOR, now=NOW)
    with pytest.raises(UserError):
        hash_password("short")


def test_users_commands(kit, db_url, tmp_path):
    config = tmp_path / "huisheng.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, ["--config", str(config), "users", *args], input=input)

    added = run("add", "Liu@Example.org", "--unit", "东城街道", "--name", "刘")
    assert added.exit_code == 0, added.output
    assert "已添加用户 liu@example.org" in added.output
    assert run("add", "liu@example.org", "--unit", "S00").exit_code == 1  # already there
    listed = run("list")
    assert "liu@example.org" in listed.output and "东城街道" in listed.output and COMMUNITY in listed.output
    assert run("add", "x@example.org", "--unit", "没有这个单位").output.count("找不到单位") == 1
    assert run("role", "liu@example.org", "auditor").exit_code == 0
    assert run("password", "liu@example.org", input="correct horse b\ncorrect horse b\n").exit_code == 0
    assert run("disable", "liu@example.org").exit_code == 0
    with kit.sessions() as session:
        liu = find_user(session, "liu@example.org")
        assert liu.role == "auditor" and not liu.enabled and liu.password_hash.startswith("$argon2")
        assert "correct horse" not in liu.password_hash
    assert "没有用户" in run("disable", "nobody@example.org").output
