"""The decision rules (YAML) → :class:`Rules`.

A district edits ``rules.yaml`` (the shipped Chinese defaults are
``default_rules.yaml`` beside this module) without touching code.  The file is
validated by the config's schema machinery (:mod:`huisheng.schema`):
every key is known, so a typo is an error; every error names the file, the key
path and the line, and all of them are reported at once.  Keywords are
matched on the normalized text (NFKC, lower case, traditional → simplified), so
they are normalized the same way when loaded; regex patterns are used as
written and see that normalized text (half-width punctuation: ``?`` not ``？``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from huisheng.schema import Key, Many, Table, Validator, parse_yaml, read_text
from huisheng.errors import ConfigErrors
from huisheng.flags.scan import Matcher, Negation, Scanner, combined
from huisheng.vocabulary import RULE_ROUTINGS, Category, UnitLevel

DEFAULT_RULES = Path(__file__).with_name("default_rules.yaml")


@dataclass(frozen=True)
class CategoryRule:
    name: str
    label: str
    needs_reply: bool
    matchers: tuple[Matcher, ...]


@dataclass(frozen=True)
class TopicRule:
    """A department's subject: ``units`` are candidate unit names, the first the
    matrix has is used (districts name departments differently)."""

    units: tuple[str, ...]
    matchers: tuple[Matcher, ...]


@dataclass(frozen=True)
class Rules:
    source: Path | None
    traditional_to_simplified: bool
    max_chars: int
    #: in priority order: ties of score go to the earlier category
    categories: tuple[CategoryRule, ...]
    min_score: float
    negations: tuple[Negation, ...]
    #: whole-text chatter (沙发, 顶 …) matched on the text stripped of emoticons and punctuation
    chatter: tuple[Matcher, ...]
    min_content_chars: int
    spam: tuple[Matcher, ...]
    spam_min_score: float
    urgent: tuple[Matcher, ...]
    urgent_category: str
    routing_priority: tuple[str, ...]
    place_levels: frozenset[str]
    place_ignore: frozenset[str]
    #: regexes right before / right after an ignored place name that make it a place after all
    place_cues_before: tuple[str, ...]
    place_cues_after: tuple[str, ...]
    topic_levels: frozenset[str]
    topics: tuple[TopicRule, ...]
    acknowledgement_patterns: tuple[re.Pattern[str], ...]
    #: cues (other than ``回复@a resident:``) that a comment answers another resident (楼上的…)
    to_resident_cues: tuple[Matcher, ...] = ()
    #: categories whose hits do not count in a comment to another resident …
    to_resident_cancels: frozenset[str] = frozenset()
    #: … unless it also speaks to the government (你们, 小编, 相关部门 …)
    address: tuple[Matcher, ...] = ()

    #: each category's matchers, in priority order (scanned together)
    category_matchers: tuple[tuple[Matcher, ...], ...] = field(init=False, repr=False, compare=False)
    #: the keywords and patterns of every category, urgent, spam, every topic and the negations
    scanner: Scanner = field(init=False, repr=False, compare=False)
    #: the chatter patterns as one, to rule them all out at once (most texts are not
    #: chatter); None when they cannot be combined
    any_chatter: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Indexed when the rules are loaded, not in the daemon's first decide tick.
        categories = tuple(c.matchers for c in self.categories)
        object.__setattr__(self, "category_matchers", categories)
        object.__setattr__(self, "scanner", Scanner([*categories, self.urgent, self.spam, self.negations,
                                                     self.to_resident_cues, self.address]
                                                    + [t.matchers for t in self.topics]))
        object.__setattr__(self, "any_chatter", combined([m.regex for m in self.chatter]))

    def category(self, name: str) -> CategoryRule:
        for rule in self.categories:
            if rule.name == name:
                return rule
        raise KeyError(name)


def normalize_keyword(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


# --- the schema ------------------------------------------------------------------


def _nonempty(text: str) -> str | None:
    return None if text else "不得为空"


def _regex(text: str) -> str | None:
    try:
        re.compile(text)
    except re.error as exc:
        return f"正则表达式无效：{exc.msg}（位置 {exc.pos}）"
    return None


def _pattern(text: str) -> str | None:
    """A category's (or spam's, urgent's …) regex: one that matches the empty text would match everything."""
    return _regex(text) or ("正则表达式会匹配空文本" if re.search(text, "") is not None else None)


def _matchers(field: str, check: Callable[[str], str | None]) -> Many:
    """Items written as ``text`` (``regex``) alone or as ``{text: …, weight: …}``."""
    return Many(Table({field: Key("str", required=True, check=check), "weight": Key("float", positive=True)}),
                shorthand=field)


_KEYWORDS = _matchers("text", _nonempty)
_PATTERNS = _matchers("regex", _pattern)
#: regexes used as written (place cues, acknowledgements)
_REGEXES = Many(Table({"regex": Key("str", required=True, check=_regex)}), shorthand="regex")
_CATEGORIES = Category.values()


def _category(category: Category) -> Table:
    return Table({"label": Key("str", default=category.label(), check=_nonempty),
                  "needs_reply": Key("bool", default=category is not Category.PRAISE),
                  "weight": Key("float", default=1.0, positive=True),
                  "keywords": _KEYWORDS, "patterns": _PATTERNS})


def _levels(*default: UnitLevel) -> Key:
    return Key("str_list", default=tuple(level.value for level in default), choices=UnitLevel.values())


def _words(**extra: Key) -> Table:
    """A table of ``keywords`` and ``patterns`` (and the ``extra`` keys)."""
    return Table({**extra, "keywords": _KEYWORDS, "patterns": _PATTERNS})


SCHEMA = Table({
    "version": Key("int", default=1, check=lambda v: None if v == 1 else f"不支持的版本 {v}（应为 1）"),
    "normalize": Table({"traditional_to_simplified": Key("bool", default=True),
                        "max_chars": Key("int", default=2000, positive=True)}),
    "categories": Table({c.value: _category(c) for c in Category}),
    "category_priority": Key("str_list", default=_CATEGORIES, choices=_CATEGORIES),
    "min_score": Key("float", default=1.0, positive=True),
    "negations": Many(Table({"pattern": Key("str", required=True, check=_regex),
                             "cancels": Key("str_list", required=True, choices=_CATEGORIES + ("urgent",)),
                             "scope": Key("str", default="span", choices=("span", "text"))})),
    "to_residents": Table({"patterns": _PATTERNS, "cancels": Key("str_list", default=(), choices=_CATEGORIES),
                           "address": _KEYWORDS}),
    "no_reply": Table({"min_content_chars": Key("int", default=2, positive=True), "chatter": _words()}),
    "spam": _words(min_score=Key("float", default=2.0, positive=True)),
    "urgent": _words(category=Key("str", default=Category.HELP.value, choices=_CATEGORIES)),
    "routing": Table({
        "priority": Key("str_list", default=RULE_ROUTINGS, choices=RULE_ROUTINGS),
        "place": Table({"on_levels": _levels(UnitLevel.DISTRICT, UnitLevel.DEPARTMENT),
                        "ignore": Key("str_list", default=()),
                        "cues_before": _REGEXES, "cues_after": _REGEXES}),
        "topic": Table({"on_levels": _levels(UnitLevel.DISTRICT)}),
        "topics": Many(_words(unit=Key("str_list", required=True, single=True,
                                       expect="单位名称（字符串）或单位名称列表"))),
    }),
    "replies": Table({"acknowledgement_patterns": _REGEXES}),
})


def _build(items: list[dict[str, Any]], field: str, prefix: str, weight: float) -> list[Matcher]:
    out = []
    for item in items:
        text = item[field]
        regex = re.compile(text if field == "regex" else re.escape(normalize_keyword(text)))
        out.append(Matcher(f"{prefix}/{text}", regex, float(item["weight"] or weight)))
    return out


def _matched(table: Mapping[str, Any], prefix: str, weight: float = 1.0) -> tuple[Matcher, ...]:
    """A table's ``keywords`` and ``patterns`` as matchers."""
    return tuple(_build(table["keywords"], "text", prefix, weight) + _build(table["patterns"], "regex", prefix, weight))


def parse_rules(text: str, file: str) -> Rules:
    """Validate the YAML text; raises ConfigError (ConfigErrors for several)."""
    data, lines = parse_yaml(text, file)
    v = Validator(file, lines, environ={})
    for path, line in lines.duplicates:
        v.error(path, "重复的键", line=line)
    top = v.document(data, SCHEMA)
    if v.errors:
        raise ConfigErrors(v.errors)

    categories = {name: CategoryRule(name=name, label=table["label"], needs_reply=table["needs_reply"],
                                     matchers=_matched(table, name, table["weight"]))
                  for name, table in top["categories"].items()}
    priority = list(dict.fromkeys([*top["category_priority"], *_CATEGORIES]))
    negations = tuple(Negation(f"negation/{n['pattern']}", re.compile(n["pattern"]), frozenset(n["cancels"]),
                               n["scope"]) for n in top["negations"])
    residents = top["to_residents"]
    routing, place = top["routing"], top["routing"]["place"]
    routing_priority = list(dict.fromkeys([*routing["priority"], "account"]))
    if "learned" not in routing_priority:
        # rules written before the routing model existed: it goes where the default puts it
        routing_priority.insert(routing_priority.index("topic" if "topic" in routing_priority else "account"),
                                "learned")
    return Rules(
        source=Path(file), traditional_to_simplified=top["normalize"]["traditional_to_simplified"],
        max_chars=top["normalize"]["max_chars"], categories=tuple(categories[c] for c in priority),
        min_score=top["min_score"], negations=negations, chatter=_matched(top["no_reply"]["chatter"], "chatter"),
        min_content_chars=top["no_reply"]["min_content_chars"], spam=_matched(top["spam"], "spam"),
        spam_min_score=top["spam"]["min_score"], urgent=_matched(top["urgent"], "urgent"),
        urgent_category=top["urgent"]["category"], routing_priority=tuple(routing_priority),
        place_levels=frozenset(place["on_levels"]), place_ignore=frozenset(place["ignore"]),
        place_cues_before=tuple(c["regex"] for c in place["cues_before"]),
        place_cues_after=tuple(c["regex"] for c in place["cues_after"]),
        topic_levels=frozenset(routing["topic"]["on_levels"]),
        topics=tuple(TopicRule(t["unit"], _matched(t, "topic")) for t in routing["topics"]),
        acknowledgement_patterns=tuple(re.compile(a["regex"]) for a in top["replies"]["acknowledgement_patterns"]),
        to_resident_cues=tuple(_build(residents["patterns"], "regex", "to_residents", 1.0)),
        to_resident_cancels=frozenset(residents["cancels"]),
        address=tuple(_build(residents["address"], "text", "address", 1.0)))


def load_rules(path: Path | None = None) -> Rules:
    """The rules at ``path``; None → the packaged defaults.  Errors name file, key path and line."""
    path = Path(path) if path is not None else DEFAULT_RULES
    return parse_rules(read_text(path, "规则文件"), str(path))


__all__ = ["DEFAULT_RULES", "SCHEMA", "CategoryRule", "Matcher", "Negation", "Rules", "TopicRule", "load_rules",
           "parse_rules"]
