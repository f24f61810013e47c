"""The decision rules (YAML) → :class:`Rules`.

A district edits ``rules.yaml`` (the shipped Chinese defaults are
``default_rules.yaml`` beside this module) without touching code.  Every key is
known, so a typo is an error; every error names the file, the key path and the
line.  Keywords are matched on the normalized text (NFKC, lower case,
traditional → simplified), so they are normalized the same way when loaded;
regex patterns are used as written and see that normalized text (half-width
punctuation: ``?`` not ``？``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from huisheng.errors import ConfigError
from huisheng.flags.scan import Matcher, Negation, Scanner, combined

DEFAULT_RULES = Path(__file__).with_name("default_rules.yaml")

CATEGORIES = ("consultation", "complaint", "help", "suggestion", "praise")
CATEGORY_LABELS = {"consultation": "咨询", "complaint": "投诉", "help": "求助", "suggestion": "建议",
                   "praise": "感谢"}
ROUTINGS = ("mention", "place", "learned", "topic", "account")
ROUTING_LABELS = {"mention": "@提及", "place": "地点", "learned": "学习模型", "topic": "话题",
                  "account": "账号主办单位"}
LEVELS = ("district", "department", "street", "community")

YamlPath = tuple[str | int, ...]


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
    #: whole-text chatter (沙发, 转发微博 …) matched on the text stripped of emoticons and punctuation
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


# --- YAML with lines -----------------------------------------------------------


def show_path(path: YamlPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + part
    return out


class _Doc:
    """Plain values of a YAML document plus the line of every key path."""

    def __init__(self, text: str, file: str):
        self.file = file
        self.lines: dict[YamlPath, int] = {}
        self.errors: list[ConfigError] = []
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            column = f"，第 {mark.column + 1} 列" if mark is not None else ""
            raise ConfigError(f"YAML 语法错误{column}：{problem}", file=file,
                              line=mark.line + 1 if mark is not None else None) from None
        except RecursionError:
            raise ConfigError("YAML 嵌套过深", file=file) from None
        self._constructor = yaml.constructor.SafeConstructor()
        try:
            self.data = self._build(node, ()) if node is not None else {}
        except RecursionError:
            raise ConfigError("YAML 嵌套过深", file=file) from None

    def _build(self, node: yaml.Node, path: YamlPath) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(self._constructor.construct_object(key_node))
                if key in out:
                    self.error(path + (key,), "重复的键", line=key_node.start_mark.line + 1)
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                out[key] = self._build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._constructor.construct_object(node)

    def line(self, path: YamlPath) -> int | None:
        for end in range(len(path), -1, -1):
            if tuple(path[:end]) in self.lines:
                return self.lines[tuple(path[:end])]
        return None

    def error(self, path: YamlPath, message: str, line: int | None = None) -> None:
        self.errors.append(ConfigError(message, file=self.file, key=show_path(path) or None,
                                       line=line or self.line(path)))


# --- validation -----------------------------------------------------------------


class _Reader:
    """Typed access to the document that records an error and returns a default."""

    def __init__(self, doc: _Doc):
        self.doc = doc

    def table(self, value: Any, path: YamlPath, known: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.doc.error(path, f"应为映射（键: 值），实际为{_kind(value)}")
            return {}
        for key in value:
            if key not in known:
                self.doc.error(path + (key,), f"未知的键「{key}」（可用：{'、'.join(known)}）")
        return value

    def get(self, table: dict[str, Any], path: YamlPath, key: str, check: Callable[[Any], str | None],
            default: Any) -> Any:
        if key not in table or table[key] is None:
            return default
        problem = check(table[key])
        if problem:
            self.doc.error(path + (key,), problem)
            return default
        return table[key]

    def regex(self, text: str, path: YamlPath) -> re.Pattern[str] | None:
        try:
            return re.compile(text)
        except re.error as exc:
            self.doc.error(path, f"正则表达式无效：{exc.msg}（位置 {exc.pos}）")
            return None

    def matchers(self, table: dict[str, Any], path: YamlPath, prefix: str, default_weight: float = 1.0,
                 keys: tuple[tuple[str, bool], ...] = (("keywords", False), ("patterns", True))
                 ) -> tuple[Matcher, ...]:
        """``keywords`` and ``patterns`` (or the ``keys`` given, each with whether it holds
        regexes): each item a string or ``{text|regex, weight}``."""
        out: list[Matcher] = []
        for key, is_regex in keys:
            items = table.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                self.doc.error(path + (key,), f"应为列表，实际为{_kind(items)}")
                continue
            for i, item in enumerate(items):
                where = path + (key, i)
                weight = default_weight
                if isinstance(item, dict):
                    field = "regex" if is_regex else "text"
                    item = self.table(item, where, (field, "weight"))
                    weight = self.get(item, where, "weight", _number, default_weight)
                    item = item.get(field)
                    where = where + (field,)
                if not isinstance(item, str) or not item:
                    self.doc.error(where, f"应为非空字符串，实际为{_kind(item)}")
                    continue
                if is_regex:
                    regex = self.regex(item, where)
                    if regex is None:
                        continue
                    if regex.search("") is not None:
                        self.doc.error(where, "正则表达式会匹配空文本")
                        continue
                else:
                    regex = re.compile(re.escape(normalize_keyword(item)))
                out.append(Matcher(f"{prefix}/{item}", regex, float(weight)))
        return tuple(out)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "布尔值"
    if isinstance(value, (int, float)):
        return "数字"
    if isinstance(value, str):
        return "字符串"
    if isinstance(value, list):
        return "列表"
    if isinstance(value, dict):
        return "映射"
    return "空值" if value is None else type(value).__name__


def _number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return f"应为正数，实际为{_kind(value)} {value!r}"
    return None


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"应为 true 或 false，实际为{_kind(value)}"


def _str_list(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return "应为字符串列表"
    return None


def _subset(allowed: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        problem = _str_list(value)
        if problem:
            return problem
        unknown = [v for v in value if v not in allowed]
        if unknown:
            return f"未知的取值「{'、'.join(unknown)}」（可用：{'、'.join(allowed)}）"
        return None
    return check


TOP = ("version", "normalize", "categories", "category_priority", "min_score", "negations", "to_residents",
       "no_reply", "spam", "urgent", "routing", "replies")


def parse_rules(text: str, file: str) -> Rules:
    """Validate the YAML text; raises ConfigError (ConfigErrors for several)."""
    doc = _Doc(text, file)
    r = _Reader(doc)
    top = r.table(doc.data, (), TOP)
    r.get(top, (), "version", lambda v: None if v == 1 else f"不支持的版本 {v!r}（应为 1）", 1)

    norm_path: YamlPath = ("normalize",)
    norm = r.table(top.get("normalize"), norm_path, ("traditional_to_simplified", "max_chars"))
    t2s = r.get(norm, norm_path, "traditional_to_simplified", _bool, True)
    max_chars = int(r.get(norm, norm_path, "max_chars", _number, 2000))

    categories: dict[str, CategoryRule] = {}
    cat_table = r.table(top.get("categories"), ("categories",), CATEGORIES)
    for name in CATEGORIES:
        path: YamlPath = ("categories", name)
        table = r.table(cat_table.get(name), path, ("label", "needs_reply", "weight", "keywords", "patterns"))
        weight = r.get(table, path, "weight", _number, 1.0)
        categories[name] = CategoryRule(
            name=name,
            label=r.get(table, path, "label", lambda v: None if isinstance(v, str) and v else "应为非空字符串",
                        CATEGORY_LABELS[name]),
            needs_reply=r.get(table, path, "needs_reply", _bool, name != "praise"),
            matchers=r.matchers(table, path, name, weight))
    priority = r.get(top, (), "category_priority", _subset(CATEGORIES), list(CATEGORIES))
    missing = [c for c in CATEGORIES if c not in priority]
    ordered = [categories[c] for c in dict.fromkeys(list(priority) + missing)]
    min_score = float(r.get(top, (), "min_score", _number, 1.0))

    negations: list[Negation] = []
    items = top.get("negations") or []
    if not isinstance(items, list):
        doc.error(("negations",), f"应为列表，实际为{_kind(items)}")
        items = []
    for i, item in enumerate(items):
        path = ("negations", i)
        table = r.table(item, path, ("pattern", "cancels", "scope"))
        pattern = r.get(table, path, "pattern", lambda v: None if isinstance(v, str) and v else "应为非空字符串",
                        None)
        if pattern is None:
            if "pattern" not in table:
                doc.error(path, "缺少 pattern")
            continue
        regex = r.regex(pattern, path + ("pattern",))
        cancels = r.get(table, path, "cancels", _subset(CATEGORIES + ("urgent",)), None)
        if cancels is None:
            if "cancels" not in table:
                doc.error(path, "缺少 cancels（被否定的类别，或 urgent）")
            continue
        scope = r.get(table, path, "scope",
                      lambda v: None if v in ("span", "text") else "应为 span 或 text", "span")
        if regex is not None:
            negations.append(Negation(f"negation/{pattern}", regex, frozenset(cancels), scope))

    residents_path: YamlPath = ("to_residents",)
    residents = r.table(top.get("to_residents"), residents_path, ("patterns", "cancels", "address"))
    resident_cues = r.matchers(residents, residents_path, "to_residents", keys=(("patterns", True),))
    to_resident_cancels = r.get(residents, residents_path, "cancels", _subset(CATEGORIES), [])
    address = r.matchers(residents, residents_path, "address", keys=(("address", False),))

    nr_path: YamlPath = ("no_reply",)
    nr = r.table(top.get("no_reply"), nr_path, ("min_content_chars", "chatter"))
    min_chars = int(r.get(nr, nr_path, "min_content_chars", _number, 2))
    chatter_table = r.table(nr.get("chatter"), nr_path + ("chatter",), ("keywords", "patterns"))
    chatter = r.matchers(chatter_table, nr_path + ("chatter",), "chatter")

    spam_path: YamlPath = ("spam",)
    spam_table = r.table(top.get("spam"), spam_path, ("min_score", "keywords", "patterns"))
    spam = r.matchers(spam_table, spam_path, "spam")
    spam_min = float(r.get(spam_table, spam_path, "min_score", _number, 2.0))

    urgent_path: YamlPath = ("urgent",)
    urgent_table = r.table(top.get("urgent"), urgent_path, ("category", "keywords", "patterns"))
    urgent = r.matchers(urgent_table, urgent_path, "urgent")
    urgent_category = r.get(urgent_table, urgent_path, "category",
                            lambda v: None if v in CATEGORIES else f"应为类别之一：{'、'.join(CATEGORIES)}", "help")

    route_path: YamlPath = ("routing",)
    route = r.table(top.get("routing"), route_path, ("priority", "place", "topic", "topics"))
    routing_priority = r.get(route, route_path, "priority", _subset(ROUTINGS), list(ROUTINGS))
    routing_priority = list(dict.fromkeys(list(routing_priority) + ["account"]))
    if "learned" not in routing_priority:
        # rules written before the routing model existed: it goes where the default puts it
        routing_priority.insert(routing_priority.index("topic" if "topic" in routing_priority else "account"),
                                "learned")
    place = r.table(route.get("place"), route_path + ("place",), ("on_levels", "ignore", "cues_before",
                                                                 "cues_after"))
    place_levels = r.get(place, route_path + ("place",), "on_levels", _subset(LEVELS), ["district", "department"])
    place_ignore = r.get(place, route_path + ("place",), "ignore", _str_list, [])
    cues = {}
    for key in ("cues_before", "cues_after"):
        cues[key] = []
        for i, pattern in enumerate(r.get(place, route_path + ("place",), key, _str_list, [])):
            if r.regex(pattern, route_path + ("place", key, i)) is not None:
                cues[key].append(pattern)
    topic = r.table(route.get("topic"), route_path + ("topic",), ("on_levels",))
    topic_levels = r.get(topic, route_path + ("topic",), "on_levels", _subset(LEVELS), ["district"])
    topics: list[TopicRule] = []
    items = route.get("topics") or []
    if not isinstance(items, list):
        doc.error(route_path + ("topics",), f"应为列表，实际为{_kind(items)}")
        items = []
    for i, item in enumerate(items):
        path = route_path + ("topics", i)
        table = r.table(item, path, ("unit", "keywords", "patterns"))
        unit = table.get("unit")
        units = [unit] if isinstance(unit, str) and unit else unit
        if _str_list(units):
            doc.error(path + ("unit",), "应为单位名称（字符串）或单位名称列表")
            continue
        topics.append(TopicRule(tuple(units), r.matchers(table, path, "topic")))

    replies_path: YamlPath = ("replies",)
    replies = r.table(top.get("replies"), replies_path, ("acknowledgement_patterns",))
    acks = []
    for i, pattern in enumerate(r.get(replies, replies_path, "acknowledgement_patterns", _str_list, [])):
        regex = r.regex(pattern, replies_path + ("acknowledgement_patterns", i))
        if regex is not None:
            acks.append(regex)

    if doc.errors:
        from huisheng.errors import ConfigErrors

        raise ConfigErrors(doc.errors)
    return Rules(
        source=Path(file), traditional_to_simplified=t2s, max_chars=max_chars, categories=tuple(ordered),
        min_score=min_score, negations=tuple(negations), chatter=chatter, min_content_chars=min_chars,
        spam=spam, spam_min_score=spam_min, urgent=urgent, urgent_category=urgent_category,
        routing_priority=tuple(routing_priority), place_levels=frozenset(place_levels),
        place_ignore=frozenset(place_ignore), place_cues_before=tuple(cues["cues_before"]),
        place_cues_after=tuple(cues["cues_after"]), topic_levels=frozenset(topic_levels), topics=tuple(topics),
        acknowledgement_patterns=tuple(acks), to_resident_cues=resident_cues,
        to_resident_cancels=frozenset(to_resident_cancels), address=address)


def load_rules(path: Path | None = None) -> Rules:
    """The rules at ``path``; None → the packaged defaults.  Errors name file, key path and line."""
    path = Path(path) if path is not None else DEFAULT_RULES
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("规则文件不存在", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"规则文件不是 UTF-8 编码（{exc.reason}）", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"无法读取规则文件：{exc.strerror}", file=str(path)) from None
    return parse_rules(text, str(path))


__all__ = ["CATEGORIES", "CATEGORY_LABELS", "DEFAULT_RULES", "ROUTINGS", "ROUTING_LABELS", "CategoryRule",
           "Matcher", "Negation", "Rules", "TopicRule", "load_rules", "parse_rules", "show_path"]
