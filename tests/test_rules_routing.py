"""Routing: the account's owner unit, @mentions, place names and aliases,
department topics, their priority and where each applies (属地管理)."""

from __future__ import annotations

from pathlib import Path

import pytest

from huisheng.adapters import text_conventions
from huisheng.flags.classify import Decision, Subject, build_directory, decide
from huisheng.flags.rules import DEFAULT_RULES, load_rules
from huisheng.config.matrix import load_matrix
from huisheng.config.settings import AccountSpec, Matrix, UnitSpec

WEIBO_TEXT = text_conventions("weibo")

ROOT = Path(__file__).resolve().parent.parent
DISTRICT = "5706878669"        # 沙坪坝发布 → spb
POLICE = "5673254969"          # 平安沙坪坝 → dept-ga
URBAN = "5901922696"           # 沙坪坝城管 → dept-cg
STREET = "5815966812"          # 沙坪坝磁器口街道 → street-ciqikou
COMMUNITY = "5938376818"       # 磁器口磁南街社区 → comm-ciqikou-01


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.fixture(scope="module")
def directory():
    return build_directory(load_matrix(ROOT / "config" / "example-district"))


def run(text: str, rules, directory, account: str, mentions: tuple[str, ...] = ()) -> Decision:
    return decide(Subject(text=text, author_id="42", author_name="居民", platform="weibo",
                          conventions=WEIBO_TEXT, account_uid=account, mentions=mentions),
                  rules, directory)


def test_default_is_the_owner_unit_of_the_account(rules, directory):
    d = run("请问社区食堂对外开放吗", rules, directory, COMMUNITY)
    assert (d.unit_code, d.routing) == ("comm-ciqikou-01", "account")
    assert d.routing_reason == "账号「磁器口磁南街社区」的主办单位 → 磁南街社区"
    assert run("请问你们几点上班", rules, directory, POLICE).unit_code == "dept-ga"


def test_mention_of_another_matrix_account_routes_to_its_owner_unit(rules, directory):
    d = run("@沙坪坝城管 小区门口的流动摊贩又来了，管不管", rules, directory, DISTRICT)
    assert (d.needs_reply, d.unit_code, d.routing) == (True, "dept-cg", "mention")
    assert d.routing_reason == "@沙坪坝城管 → 城市管理局"
    route = next(r for r in d.reasons if r.rule == "route/mention")
    assert route.span.text == "@沙坪坝城管" and (route.span.start, route.span.end) == (0, 6)
    # the name never counts as a keyword or a place
    assert not any(r.span and r.span.start < 6 for r in d.reasons if r.kind == "category")


def test_mention_without_a_space_and_from_the_adapter_only(rules, directory):
    glued = run("@平安沙坪坝晚上楼下有人打架，已经第三次了", rules, directory, STREET)
    assert (glued.unit_code, glued.routing) == ("dept-ga", "mention")
    extracted = run("楼下有人天天打架，管管吧", rules, directory, STREET, mentions=("平安沙坪坝",))
    assert (extracted.unit_code, extracted.routing) == ("dept-ga", "mention")


def test_mention_of_someone_outside_the_matrix_changes_nothing(rules, directory):
    d = run("@张三 你看这个停车场收不收费", rules, directory, COMMUNITY)
    assert (d.unit_code, d.routing) == ("comm-ciqikou-01", "account")


def test_place_alias_on_district_and_department_accounts(rules, directory):
    d = run("磁器口古镇里的商家强行拉客，还宰客", rules, directory, DISTRICT)
    assert (d.unit_code, d.routing) == ("street-ciqikou", "place")
    assert d.routing_reason == "地点「磁器口古镇」→ 磁器口街道"
    dept = run("宝轮寺门口的垃圾桶满了没人倒", rules, directory, URBAN)
    assert (dept.unit_code, dept.routing) == ("comm-ciqikou-01", "place")  # 宝轮寺: an alias of 磁南街社区


def test_place_on_a_street_or_community_account_stays_with_the_owner(rules, directory):
    d = run("杨公桥那边晚上吵死了", rules, directory, COMMUNITY)
    assert (d.unit_code, d.routing) == ("comm-ciqikou-01", "account")
    note = next(r for r in d.reasons if r.rule == "route/place")
    assert "属地管理" in note.detail and note.span.text == "杨公桥"


def test_a_community_and_its_street_named_together_go_to_the_community(rules, directory):
    d = run("磁器口街道金碧正街那边的路灯坏了好久了", rules, directory, DISTRICT)
    assert d.unit_code == "comm-ciqikou-03"


def test_a_name_shared_by_a_street_and_its_community_goes_to_the_community(rules, directory):
    d = run("团结村的垃圾三天没人清运了", rules, directory, DISTRICT)
    assert d.unit_code == "comm-tuzhu-02"


def test_alias_that_is_an_everyday_word_needs_a_place_cue(rules, directory):
    assert run("火车站月台上的垃圾没人扫", rules, directory, DISTRICT).routing != "place"
    d = run("我是月台的居民，垃圾没人清运", rules, directory, DISTRICT)
    assert (d.unit_code, d.routing) == ("comm-tuzhu-03", "place")


def test_topic_routes_on_the_district_account(rules, directory):
    d = run("每天早上都堵车，红绿灯配时太不合理了", rules, directory, DISTRICT)
    assert (d.unit_code, d.routing) == ("dept-jt", "topic")
    assert d.routing_reason == "话题「堵车」「红绿灯」→ 交通局"
    for text, unit in (("小区门口的垃圾一周没人清", "dept-cg"), ("请问学位划片什么时候公布", "dept-jw"),
                       ("退休金什么时候补发", "dept-rs")):
        assert run(text, rules, directory, DISTRICT).unit_code == unit, text


def test_topic_on_a_department_or_street_account_stays_with_the_owner(rules, directory):
    d = run("每天早上都堵车，红绿灯配时太不合理了", rules, directory, POLICE)
    assert (d.unit_code, d.routing) == ("dept-ga", "account")
    assert "由账号主办单位负责" in next(r for r in d.reasons if r.rule == "route/topic").detail
    assert run("垃圾一周没人清", rules, directory, STREET).unit_code == "street-ciqikou"


def test_topic_names_a_department_by_its_first_name_the_matrix_has(rules, directory):
    # 医保 → 医疗保障局 where the district has one, else 人力资源和社会保障局
    assert run("医保异地就医怎么备案", rules, directory, DISTRICT).unit_code == "dept-yb"
    small = Matrix(units=(UnitSpec("d", "某区", "district"), UnitSpec("rs", "人力资源和社会保障局", "department", "d")),
                   accounts=(AccountSpec("weibo", "1", "某区发布", "d"), AccountSpec("weibo", "2", "某区人社", "rs")))
    d = run("医保异地就医怎么备案", rules, build_directory(small), "1")
    assert (d.unit_code, d.routing) == ("rs", "topic")


def test_default_priority_mention_over_place_over_topic(rules, directory):
    text = "@沙坪坝交通 磁器口门口天天堵车，红绿灯也坏了"
    assert run(text, rules, directory, DISTRICT).unit_code == "dept-jt"           # mention
    assert run(text[7:], rules, directory, DISTRICT).unit_code == "street-ciqikou"  # place over topic


def test_priority_is_configurable(tmp_path, directory):
    text = DEFAULT_RULES.read_text(encoding="utf-8").replace(
        "priority: [mention, place, learned, topic, account]", "priority: [topic, place, mention]")
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    d = run("@沙坪坝城管 磁器口门口天天堵车，红绿灯也坏了", load_rules(path), directory, DISTRICT)
    assert (d.unit_code, d.routing) == ("dept-jt", "topic")


def test_where_place_and_topic_apply_is_configurable(tmp_path, directory):
    text = DEFAULT_RULES.read_text(encoding="utf-8").replace(
        "    on_levels: [district, department]", "    on_levels: [district, department, street, community]")
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    d = run("杨公桥那边晚上吵死了", load_rules(path), directory, COMMUNITY)
    assert (d.unit_code, d.routing) == ("comm-xiaolongkan-02", "place")


def test_account_outside_the_matrix_has_no_unit(rules, directory):
    d = run("请问在哪里办理", rules, directory, "999")
    assert d.needs_reply and d.unit_code is None and "不在矩阵中" in d.routing_reason


def test_no_routing_when_no_reply_is_needed(rules, directory):
    d = run("@沙坪坝城管 [赞]", rules, directory, DISTRICT)
    assert (d.needs_reply, d.unit_code, d.routing, d.routing_reason) == (False, None, None, "")


def test_longest_account_name_wins_over_a_shorter_user_name(rules, directory):
    d = run("@沙坪坝城管 垃圾三天没人清", rules, directory, DISTRICT, mentions=("沙坪坝", "沙坪坝城管"))
    assert (d.unit_code, d.routing) == ("dept-cg", "mention")
