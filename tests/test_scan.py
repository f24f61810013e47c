"""Keywords and patterns found in one pass: each matcher's reason is its first
(leftmost) match, as if it had been searched on its own — overlapping keywords,
keywords that start others, keywords shared by several groups, patterns that
look literal, keywords with regex metacharacters."""

from __future__ import annotations

from pathlib import Path

import pytest

from huisheng.adapters import text_conventions
from huisheng.flags.classify import Decision, Subject, build_directory, decide
from huisheng.flags.rules import load_rules
from huisheng.config.matrix import load_matrix

WEIBO_TEXT = text_conventions("weibo")

ROOT = Path(__file__).resolve().parent.parent
DISTRICT = "5706878669"        # 沙坪坝发布 → spb


@pytest.fixture(scope="module")
def directory():
    return build_directory(load_matrix(ROOT / "config" / "example-district"))


def decide_with(tmp_path: Path, rules_yaml: str, text: str, directory) -> Decision:
    path = tmp_path / "rules.yaml"
    path.write_text(rules_yaml, encoding="utf-8")
    return decide(Subject(text=text, author_id="42", author_name="居民", platform="weibo",
                          conventions=WEIBO_TEXT, account_uid=DISTRICT),
                  load_rules(path), directory)


def hits(decision: Decision, *kinds: str) -> list[tuple[str, int, int, str]]:
    return [(r.rule, r.span.start, r.span.end, r.span.text) for r in decision.reasons
            if r.kind in (kinds or ("category",))]


OVERLAPPING = """
min_score: 1
categories:
  complaint:
    weight: 1
    keywords: [不处理, 没人处理, 没人, 处理]
"""


def test_overlapping_keywords_each_count_at_their_first_occurrence(tmp_path, directory):
    d = decide_with(tmp_path, OVERLAPPING, "物业没人处理，也不处理", directory)
    # 没人 and 处理 only occur inside 没人处理; 处理 first there, not in 不处理
    assert hits(d) == [("complaint/不处理", 8, 11, "不处理"), ("complaint/没人处理", 2, 6, "没人处理"),
                       ("complaint/没人", 2, 4, "没人"), ("complaint/处理", 4, 6, "处理")]
    assert (d.needs_reply, d.category) == (True, "complaint")
    # 没人处理 scores once (不处理 apart): overlapping hits count as one
    assert d.reasons[len(hits(d))].detail == "类别「投诉」（得分 2）需回复"


def test_a_keyword_seen_alone_before_the_longer_one_it_starts(tmp_path, directory):
    d = decide_with(tmp_path, OVERLAPPING, "没人来，没人处理", directory)
    assert hits(d) == [("complaint/没人处理", 4, 8, "没人处理"), ("complaint/没人", 0, 2, "没人"),
                       ("complaint/处理", 6, 8, "处理")]


SHARED = """
min_score: 1
categories:
  help:
    weight: 2
    keywords: [欠薪, 救命]
  complaint:
    weight: 1
    keywords: [老板, 欠薪]
urgent:
  keywords: [救命]
routing:
  topics:
    - unit: 人力资源和社会保障局
      keywords: [工资, 欠薪]
"""


def test_a_keyword_shared_by_categories_urgent_and_a_topic_counts_in_each(tmp_path, directory):
    d = decide_with(tmp_path, SHARED, "老板欠薪半年，救命", directory)
    assert hits(d, "category", "urgent") == [  # categories in priority order (complaint before help)
        ("complaint/老板", 0, 2, "老板"), ("complaint/欠薪", 2, 4, "欠薪"),
        ("help/欠薪", 2, 4, "欠薪"), ("help/救命", 7, 9, "救命"),
        ("urgent/救命", 7, 9, "救命")]
    assert (d.needs_reply, d.category, d.urgent) == (True, "help", True)
    assert (d.unit_code, d.routing, d.routing_reason) == ("dept-rs", "topic", "话题「欠薪」→ 人力资源和社会保障局")
    assert hits(d, "route") == [("route/topic", 2, 4, "欠薪")]


PATTERNS = r"""
min_score: 1
categories:
  suggestion:
    weight: 1
    patterns: ["希望", "多.点", "[?]", "ＡＢ"]
  complaint:
    weight: 1
    patterns: ["跳楼|轻生", "没人|没人管", "没人管|没人"]
  praise:
    weight: 1
    keywords: ["ＡＢ"]
"""


def test_patterns_that_look_literal_match_as_regexes_would(tmp_path, directory):
    d = decide_with(tmp_path, PATTERNS, "希望多开点？", directory)
    assert hits(d) == [("suggestion/希望", 0, 2, "希望"), ("suggestion/多.点", 2, 5, "多开点"),
                       ("suggestion/[?]", 5, 6, "?")]
    assert "[?]" not in [r.span.text for r in decide_with(tmp_path, PATTERNS, "[?]", directory).reasons if r.span]


def test_an_alternation_matches_leftmost_then_in_the_order_written(tmp_path, directory):
    d = decide_with(tmp_path, PATTERNS, "说要轻生，后来又说跳楼，没人管", directory)
    assert hits(d) == [("complaint/跳楼|轻生", 2, 4, "轻生"), ("complaint/没人|没人管", 12, 14, "没人"),
                       ("complaint/没人管|没人", 12, 15, "没人管")]


def test_patterns_are_used_as_written_and_keywords_normalized(tmp_path, directory):
    d = decide_with(tmp_path, PATTERNS, "ＡＢ两个字", directory)
    assert hits(d) == [("praise/ＡＢ", 0, 2, "ab")]


METACHARACTERS = """
min_score: 1
categories:
  praise:
    weight: 1
    keywords: ["[赞]", "+1", "a.b", "(急)", "Ｃ++"]
"""


def test_keywords_with_regex_metacharacters_match_literally(tmp_path, directory):
    d = decide_with(tmp_path, METACHARACTERS, "+1 [赞] a.b（急）c++", directory)
    assert hits(d) == [("praise/[赞]", 3, 6, "[赞]"), ("praise/+1", 0, 2, "+1"), ("praise/a.b", 7, 10, "a.b"),
                       ("praise/(急)", 10, 13, "(急)"), ("praise/Ｃ++", 13, 16, "c++")]
    assert (d.needs_reply, d.category) == (False, "praise")
    none = decide_with(tmp_path, METACHARACTERS, "赞 1 axb 急 c+ 11", directory)
    assert hits(none) == [] and none.category is None


REGEXES = r"""
min_score: 1
categories:
  consultation:
    weight: 1
    patterns: ['([\u4e00-\u9fff])不\1', "求.{0,2}帮", "!{2,}", "(吗|呢)$"]
"""


def test_patterns_with_repeats_back_references_and_anchors(tmp_path, directory):
    d = decide_with(tmp_path, REGEXES, "好不好，求你帮帮我！！！", directory)
    assert hits(d) == [(r"consultation/([\u4e00-\u9fff])不\1", 0, 3, "好不好"),
                       ("consultation/求.{0,2}帮", 4, 8, "求你帮帮"), ("consultation/!{2,}", 9, 12, "!!!")]
    assert hits(decide_with(tmp_path, REGEXES, "好不坏，求你了！能来吗", directory)) == [
        ("consultation/(吗|呢)$", 10, 11, "吗")]


UNWORDED = r"""
min_score: 1
categories:
  complaint:
    weight: 1
    patterns: ['\d{3,}', "[a-c]{2}", '(.)\1\1']
"""


def test_patterns_without_a_word_they_need_are_searched_too(tmp_path, directory):
    d = decide_with(tmp_path, UNWORDED, "等了120分钟，ab，好好好", directory)
    assert hits(d) == [(r"complaint/\d{3,}", 2, 5, "120"), ("complaint/[a-c]{2}", 8, 10, "ab"),
                       (r"complaint/(.)\1\1", 11, 14, "好好好")]
    assert hits(decide_with(tmp_path, UNWORDED, "等了12分钟，a，好好", directory)) == []
