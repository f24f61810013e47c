"""The decide step's classification: categories, needs reply, urgency, the
reasons with their spans, and the rules file (defaults, overrides, errors)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from huisheng.errors import ConfigError
from huisheng.adapters import text_conventions
from huisheng.flags.classify import Decision, Subject, build_directory, decide
from huisheng.flags.rules import DEFAULT_RULES, load_rules
from huisheng.config import load_settings
from huisheng.config.matrix import load_matrix

WEIBO_TEXT = text_conventions("weibo")

ROOT = Path(__file__).resolve().parent.parent
DISTRICT_UID = "5706878669"      # 沙坪坝发布 (district)
OTHER_GOV_UID = "5901922696"     # 沙坪坝城管 (department)


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.fixture(scope="module")
def directory():
    return build_directory(load_matrix(ROOT / "config" / "example-district"))


def run(text: str, rules, directory, account: str = DISTRICT_UID, author: str = "1234567") -> Decision:
    return decide(Subject(text=text, author_id=author, author_name="居民", platform="weibo",
                          conventions=WEIBO_TEXT, account_uid=account), rules, directory)


def kinds(decision: Decision) -> list[str]:
    return [r.kind for r in decision.reasons]


@pytest.mark.parametrize("text, category", [
    ("请问社保卡丢了在哪里补办", "consultation"),
    ("楼下烧烤店油烟太大，投诉好几次了也没人管", "complaint"),
    ("求助！家里停水两天了，老人孩子都没水喝", "help"),
    ("建议在路口加装红绿灯，太危险了", "suggestion"),
    ("希望多建几所公办幼儿园", "suggestion"),
])
def test_each_category_that_needs_a_reply(text, category, rules, directory):
    d = run(text, rules, directory)
    assert (d.needs_reply, d.category, d.urgent) == (True, category, False)
    assert any(r.kind == "category" and r.rule.startswith(category + "/") for r in d.reasons)
    assert d.reasons[-1].kind == "route" or "needs_reply" in kinds(d)


def test_praise_is_a_category_that_needs_no_reply_by_default(rules, directory):
    d = run("感谢社区工作人员，上门帮我们办好了手续[赞]", rules, directory)
    assert (d.needs_reply, d.category, d.unit_code, d.routing) == (False, "praise", None, None)
    assert any(r.kind == "no_reply" and "默认无需回复" in r.detail for r in d.reasons)


def test_praise_needing_a_reply_is_configurable(tmp_path, directory):
    text = DEFAULT_RULES.read_text(encoding="utf-8").replace(
        "needs_reply: false   # 感谢类", "needs_reply: true   # 感谢类")
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    d = run("谢谢你们，辛苦了", load_rules(path), directory)
    assert (d.needs_reply, d.category, d.unit_code) == (True, "praise", "spb")


@pytest.mark.parametrize("text", [
    "请问这个补贴在哪里领", "身份证怎么补办", "如何申请公租房", "社区医院在哪里", "能否延长办公时间",
    "周末可不可以办理", "附近有没有停车场", "什么时候开始报名", "办事大厅中午休息吗", "违停罚不罚",
    "幼儿园报名是线上还是线下",
])
def test_questions_without_a_question_mark(text, rules, directory):
    d = run(text, rules, directory)
    assert d.needs_reply and d.category == "consultation", d.reasons


def test_full_width_punctuation_is_normalized_and_spans_refer_to_the_normalized_text(rules, directory):
    d = run("这个是免费的吗？？", rules, directory)
    assert d.needs_reply and d.category == "consultation"
    assert d.text == "这个是免费的吗??"
    for reason in d.reasons:
        if reason.span is not None:
            assert d.text[reason.span.start:reason.span.end] == reason.span.text


def test_traditional_characters_are_converted_before_matching(rules, directory):
    d = run("請問孩子入學需要準備哪些材料", rules, directory)
    assert d.text == "请问孩子入学需要准备哪些材料"
    assert (d.needs_reply, d.category) == (True, "consultation")
    asked = next(r for r in d.reasons if r.rule == "consultation/请问")
    assert (asked.span.start, asked.span.end, asked.span.text) == (0, 2, "请问")
    assert d.unit_code == "dept-jw"  # 入学 → 教育委员会, matched on the converted text


@pytest.mark.parametrize("text", [
    "[赞][赞][赞]", "[心]👍🏻🔥", "[怒]", "@沙坪坝城管 @沙坪坝交通 @平安沙坪坝", "@小王 @小李",
    "转发微博", "//@沙坪坝发布:转发微博", "？？？", "沙发", "打卡", "学习了", "同感，希望早点解决", "+1",
])
def test_emoticons_mentions_reposts_and_chatter_need_no_reply(text, rules, directory):
    d = run(text, rules, directory)
    assert (d.needs_reply, d.category, d.urgent) == (False, None, False)
    assert kinds(d) == ["skip"]


def test_repost_chain_text_of_others_is_ignored(rules, directory):
    d = run("说得好//@某网友:投诉物业乱收费怎么没人管", rules, directory)
    assert not d.needs_reply


@pytest.mark.parametrize("text", ["加V信了解兼职，日赚300，名额有限", "低价代办各类证件，私信我",
                                  "互粉互关，有关必回", "兼职刷单，一单一结，vx：abc12345"])
def test_spam_needs_no_reply(text, rules, directory):
    d = run(text, rules, directory)
    assert not d.needs_reply
    assert d.reasons[0].rule == "skip/spam" and d.reasons[0].span is not None


def test_comments_by_the_account_and_by_other_government_accounts_are_never_flagged(rules, directory):
    text = "请问这个问题怎么处理？投诉！"
    own = run(text, rules, directory, account=DISTRICT_UID, author=DISTRICT_UID)
    other = run(text, rules, directory, account=DISTRICT_UID, author=OTHER_GOV_UID)
    same_unit = run(text, rules, directory, account=DISTRICT_UID, author="5913141888")  # 沙坪坝区人民政府
    for d in (own, other, same_unit):
        assert (d.needs_reply, d.category, d.unit_code) == (False, None, None)
        assert kinds(d) == ["skip"]
    assert "本单位账号" in own.reasons[0].detail and "本单位账号" in same_unit.reasons[0].detail
    assert "政务账号「沙坪坝城管」" in other.reasons[0].detail


def test_negation_cancels_the_overlapping_hit(rules, directory):
    d = run("不是投诉，就是想说一句，最近小区环境好多了", rules, directory)
    assert (d.needs_reply, d.category) == (False, "praise")
    negation = next(r for r in d.reasons if r.kind == "negation")
    assert negation.span.text == "不是投诉" and "投诉" in negation.detail
    assert not any(r.rule == "complaint/投诉" for r in d.reasons)
    # without the negation the same word is a complaint
    assert run("投诉，最近小区环境太差了", rules, directory).category == "complaint"


@pytest.mark.parametrize("text, word", [
    ("小区对面的楼着火了，浓烟很大！", "着火了"),
    ("老房子的墙塌了，下面好像压着人", "塌了"),
    ("楼道里煤气味很重，急！", "煤气味"),
    ("江边有人落水了，快来人", "落水"),
    ("有人在我家门口持刀闹事", "持刀"),
    ("我朋友说他不想活了，现在联系不上", "不想活"),
    ("我家孩子放学没回家，在学校附近走丢了", "走丢"),
    ("困在电梯里半小时了", "困在电梯"),
])
def test_urgent_cases(text, word, rules, directory):
    d = run(text, rules, directory)
    assert d.urgent and d.needs_reply and d.category is not None
    urgent = [r for r in d.reasons if r.kind == "urgent"]
    assert urgent and word in urgent[0].span.text


def test_urgent_without_another_category_is_help(rules, directory):
    d = run("有人落水了", rules, directory)
    assert (d.urgent, d.category) == (True, "help")


@pytest.mark.parametrize("text", ["今天社区搞了消防演练，着火的时候要用湿毛巾捂住口鼻",
                                  "家里失火后房子没法住了，能申请临时救助吗"])
def test_urgent_words_in_drills_or_the_past_are_not_urgent(text, rules, directory):
    d = run(text, rules, directory)
    assert not d.urgent


def test_very_long_text_is_cut_before_matching(rules, directory):
    d = run(("油烟太大了！" * 2000), rules, directory)
    assert d.needs_reply and d.category == "complaint"
    assert len(d.text) == rules.max_chars


def test_decide_is_pure(rules, directory):
    text = "@沙坪坝城管 磁器口的烧烤摊油烟太大[怒]"
    assert run(text, rules, directory) == run(text, rules, directory)


# --- the rules file --------------------------------------------------------------


def test_defaults_load_and_expose_acknowledgement_patterns(rules):
    assert [c.name for c in rules.categories] == ["help", "complaint", "consultation", "suggestion", "praise"]
    assert all(isinstance(p, re.Pattern) for p in rules.acknowledgement_patterns)
    acks = ("已收到，正在处理", "收到，已转相关部门处理", "您好，已收到您的留言，正在核实",
            "感谢您的反馈，我们将尽快核实", "您好，已转交相关部门。")
    for text in acks:
        assert any(p.search(text) for p in rules.acknowledgement_patterns), text
    replies = ("您好，可携带身份证到便民服务中心办理，咨询电话12345。", "感谢您的建议，我们已记录并转交相关部门研究。")
    for text in replies:
        assert not any(p.search(text) for p in rules.acknowledgement_patterns), text


def test_config_rules_yaml_is_the_packaged_defaults():
    link = ROOT / "config" / "rules.yaml"
    assert link.is_symlink() and link.resolve() == DEFAULT_RULES.resolve()
    assert load_rules(link) == dataclasses.replace(load_rules(None), source=link)
    # the example names none, so a copy of it works anywhere with the packaged defaults
    assert load_settings(ROOT / "config" / "huisheng.example.toml").rules_path is None


def test_rules_key_is_optional_and_relative_to_the_config(tmp_path):
    (tmp_path / "a.toml").write_text('matrix = "m"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('rules = "sub/r.yaml"\n', encoding="utf-8")
    assert load_settings(tmp_path / "a.toml").rules_path is None
    assert load_settings(tmp_path / "b.toml").rules_path == tmp_path.resolve() / "sub" / "r.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def errors(path: Path) -> list[ConfigError]:
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    return list(getattr(info.value, "errors", [info.value]))


def test_unknown_key_names_file_key_and_line(tmp_path):
    path = write(tmp_path, "version: 1\ncategories:\n  complaint:\n    keywrods: [投诉]\n")
    [error] = errors(path)
    assert (error.file, error.key, error.line) == (str(path), "categories.complaint.keywrods", 4)
    assert "未知的键" in error.message and "keywords" in error.message
    assert str(error).startswith(f"{path}:4: categories.complaint.keywrods: ")


def test_bad_regex_and_wrong_types_are_all_reported_with_lines(tmp_path):
    path = write(tmp_path, "\n".join([
        "categories:",
        "  help:",
        "    needs_reply: yes please",
        "    patterns:",
        "      - 求助",
        "      - {regex: '(未闭合', weight: 2}",
        "routing:",
        "  priority: [mention, nearby]",
        "  topics:",
        "    - unit: 3",
        "      keywords: [堵车]",
        "urgent:",
        "  patterns: ['a*']",
    ]) + "\n")
    found = {(e.key, e.line): e.message for e in errors(path)}
    assert "应为 true 或 false" in found[("categories.help.needs_reply", 3)]
    assert "正则表达式无效" in found[("categories.help.patterns[2].regex", 6)]
    assert "nearby" in found[("routing.priority", 8)]
    assert "单位名称" in found[("routing.topics[1].unit", 10)]
    assert "空文本" in found[("urgent.patterns[1]", 13)]


def test_yaml_syntax_error_carries_its_line(tmp_path):
    path = write(tmp_path, "version: 1\ncategories:\n  help: [a\n  complaint: {}\n")
    [error] = errors(path)
    assert error.file == str(path) and error.line == 4 and "YAML 语法错误" in error.message


def test_duplicate_key_and_missing_file(tmp_path):
    path = write(tmp_path, "min_score: 2\nmin_score: 3\n")
    [error] = errors(path)
    assert (error.key, error.line, error.message) == ("min_score", 2, "重复的键")
    [missing] = errors(tmp_path / "nope.yaml")
    assert missing.file == str(tmp_path / "nope.yaml") and "不存在" in missing.message


def test_rules_errors_read_like_config_errors(tmp_path):
    """One schema machinery: the same words for the same mistake, in both files."""
    rules = write(tmp_path, "min_score: -1\ncategories:\n  help:\n    colour: red\n")
    config = tmp_path / "huisheng.toml"
    config.write_text('[polling]\nworkers = 0\n\n[digest]\ncolour = "red"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert str(caught.value).replace(str(config), "<config>").startswith(
        "<config>:2: polling.workers: 应为介于 1 到 64 之间的整数（integer），实际为 0\n"
        "<config>:5: digest.colour: 未知的键 \"colour\"（此处允许的键：")
    assert [str(e).replace(str(rules), "<rules>") for e in errors(rules)] == [
        "<rules>:1: min_score: 应为正数字（number）（大于 0），实际为 -1",
        "<rules>:4: categories.help.colour: 未知的键 \"colour\"（此处允许的键：label, needs_reply, weight, "
        "keywords, patterns）",
    ]


def test_an_edited_file_changes_the_decision(tmp_path, directory):
    path = write(tmp_path, "categories:\n  complaint:\n    keywords: [不开心]\n")
    rules = load_rules(path)
    d = run("今天不开心", rules, directory)
    assert (d.needs_reply, d.category) == (True, "complaint")
    assert run("今天不开心", load_rules(), directory).needs_reply is False
