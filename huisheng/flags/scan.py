"""Where the rules' keywords and patterns first match a text (the decide step's hot path).

Every literal of every group — the ``keywords``, and the strings a ``pattern``
stands for when they are few (``希望``, ``跳楼|轻生``, ``太(差|脏)``) — is found in
one pass over the text; the other patterns are searched one by one, each group's
behind one combined prefilter.  The result is exactly what searching
each matcher on its own gives: its first (leftmost) match.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Matcher:
    """One keyword or pattern; ``rule`` names it in reasons (``complaint/投诉``)."""

    rule: str
    regex: re.Pattern[str]
    weight: float = 1.0


@dataclass(frozen=True)
class Negation:
    """A phrase that cancels hits: of the listed categories (or ``urgent``),
    those overlapping the phrase (``scope: span``) or anywhere (``scope: text``)."""

    rule: str
    regex: re.Pattern[str]
    cancels: frozenset[str]
    scope: str = "span"


#: matchers searched as one group (a category, urgent, spam, the negations, a topic)
Group = tuple["Matcher | Negation", ...]
#: a matcher's (or negation's) first match: (matcher, start, end, matched text)
Hit = tuple["Matcher | Negation", int, int, str]

#: the most strings a pattern part is expanded to (太(差|脏) → 太差, 太脏); larger products are not
_MAX_EXPANSION = 256
#: references to numbered or named groups, which would point elsewhere once patterns are combined
_GROUP_REFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")
#: up to how many different first characters :class:`WordFinder` searches one regex of all words
_FEW_HEADS = 100
#: a counted repeat: {2}, {2,}, {1,3}
_COUNT = re.compile(r"\{(\d+)(,(\d*))?\}")


# --- what a pattern matches, as far as it is simple ----------------------------


class _Unknown(Exception):
    """A pattern (or part) this module does not look into."""


@dataclass(frozen=True)
class _Chars:
    """One character, any of these."""

    options: tuple[str, ...]


@dataclass(frozen=True)
class _Choice:
    """A choice of sequences: ``(a|b c)``, also the whole pattern."""

    branches: tuple[tuple[_Node, ...], ...]


@dataclass(frozen=True)
class _Repeat:
    node: _Node
    least: int
    #: None: unbounded
    most: int | None
    #: False for lazy (``??``) and possessive (``?+``) repeats
    greedy: bool


@dataclass(frozen=True)
class _Opaque:
    """Something not looked into: ``.``, ``\\d``, ``[^…]``, ranges, anchors,
    lookarounds, back-references (what it matches, if anything, is unknown)."""


_Node = _Chars | _Choice | _Repeat | _Opaque
_OPAQUE = _Opaque()


class _Parser:
    """Python regex syntax, enough to find every part's extent; anything unusual
    (flags, conditionals, atomic groups, ``{`` as a literal …) is :class:`_Unknown`."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.pos = 0

    def parse(self) -> _Choice:
        group = self.alternation()
        if self.pos != len(self.pattern):
            raise _Unknown
        return group

    def peek(self, ahead: int = 0) -> str:
        pos = self.pos + ahead
        return self.pattern[pos] if pos < len(self.pattern) else ""

    def alternation(self) -> _Choice:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        return _Choice(tuple(branches))

    def sequence(self) -> tuple[_Node, ...]:
        nodes = []
        while self.peek() not in ("", "|", ")"):
            nodes.append(self.repeated(self.atom()))
        return tuple(nodes)

    def repeated(self, node: _Node) -> _Node:
        char = self.peek()
        if char in ("*", "+", "?"):
            least, most = {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
            self.pos += 1
        elif char == "{":
            count = _COUNT.match(self.pattern, self.pos)
            if count is None:
                raise _Unknown
            least = int(count[1])
            most = least if count[2] is None else (int(count[3]) if count[3] else None)
            self.pos = count.end()
        else:
            return node
        greedy = self.peek() not in ("?", "+")
        if not greedy:
            self.pos += 1
        return _Repeat(node, least, most, greedy)

    def atom(self) -> _Node:
        char = self.peek()
        if char == "(":
            return self.group()
        if char == "[":
            return self.chars()
        if char == "\\":
            return self.escape()
        if char in (".", "^", "$"):
            self.pos += 1
            return _OPAQUE
        if char in ("*", "+", "?", "{"):
            raise _Unknown
        self.pos += 1
        return _Chars((char,))

    def group(self) -> _Node:
        rest = self.pattern[self.pos + 1:self.pos + 4]
        lookaround = rest.startswith(("?=", "?!", "?<=", "?<!"))
        if lookaround:
            self.pos += 4 if rest.startswith("?<") else 3
        elif rest.startswith("?:"):
            self.pos += 3
        elif rest.startswith("?P<"):
            end = self.pattern.find(">", self.pos)
            if end == -1:
                raise _Unknown
            self.pos = end + 1
        elif rest.startswith("?"):
            raise _Unknown
        else:
            self.pos += 1
        group = self.alternation()
        if self.peek() != ")":
            raise _Unknown
        self.pos += 1
        return _OPAQUE if lookaround else group

    def escape(self) -> _Node:
        char = self.peek(1)
        if not char:
            raise _Unknown
        if char.isascii() and char.isalnum():
            self.skip_escape()
            return _OPAQUE
        self.pos += 2
        return _Chars((char,))

    def skip_escape(self) -> None:
        """Past ``\\d``, ``\\1``, ``\\x41``, ``\\u4e00``, ``\\N{…}`` …"""
        char = self.peek(1)
        if char.isdigit():
            end = self.pos + 1
            while end < len(self.pattern) and end < self.pos + 4 and self.pattern[end].isdigit():
                end += 1
            self.pos = end
        elif char == "N":
            end = self.pattern.find("}", self.pos)
            if end == -1:
                raise _Unknown
            self.pos = end + 1
        else:
            self.pos += 2 + {"x": 2, "u": 4, "U": 8}.get(char, 0)

    def chars(self) -> _Node:
        self.pos += 1
        plain = self.peek() != "^"
        if not plain:
            self.pos += 1
        options: list[str] = []
        first = True
        while True:
            char = self.peek()
            if not char:
                raise _Unknown
            if char == "]" and not first:
                self.pos += 1
                break
            first = False
            if char == "\\":
                escaped = self.peek(1)
                if not escaped:
                    raise _Unknown
                if escaped.isascii() and escaped.isalnum():
                    plain = False
                    self.skip_escape()
                else:
                    options.append(escaped)
                    self.pos += 2
                continue
            if char in ("-", "["):
                plain = False  # a range, or what may become a nested set
            options.append(char)
            self.pos += 1
        return _Chars(tuple(options)) if plain else _OPAQUE


def _parse(regex: re.Pattern[str]) -> _Choice | None:
    if regex.flags != re.UNICODE:
        return None
    try:
        return _Parser(regex.pattern).parse()
    except _Unknown:
        return None


def _expand(node: _Node) -> list[str]:
    """Every string ``node`` matches, in the order the regex engine tries them."""
    if isinstance(node, _Chars):
        return list(node.options)
    if isinstance(node, _Choice):
        return [word for branch in node.branches for word in _expand_sequence(branch)]
    if isinstance(node, _Repeat) and (node.least, node.most, node.greedy) == (0, 1, True):
        return _expand(node.node) + [""]  # greedy: with it first
    raise _Unknown


def _expand_sequence(nodes: Sequence[_Node]) -> list[str]:
    words = [""]
    for node in nodes:
        options = _expand(node)
        if len(words) * len(options) > _MAX_EXPANSION:
            raise _Unknown
        words = [w + o for w in words for o in options]
    return words


def _expansion(node: _Node) -> list[str] | None:
    try:
        return _expand(node)
    except _Unknown:
        return None


def _necessary(group: _Choice) -> set[str] | None:
    """Strings one of which every match of ``group`` contains, or None if unknown."""
    words: set[str] = set()
    for branch in group.branches:
        found = _necessary_in_sequence(branch)
        if found is None:
            return None
        words |= found
    return words


def _necessary_in_sequence(nodes: Sequence[_Node]) -> set[str] | None:
    choices: list[list[str]] = []
    run = [""]  # what the consecutive simple parts so far match together

    def close(run: list[str]) -> None:
        if "" not in run:
            choices.append(run)

    for node in nodes:
        options = _expansion(node)
        if options is not None:
            if len(run) * len(options) <= _MAX_EXPANSION:
                run = [w + o for w in run for o in options]
            else:
                close(run)
                run = options
            continue
        close(run)
        run = [""]
        if isinstance(node, _Choice):
            found = _necessary(node)
        elif isinstance(node, _Repeat) and node.least >= 1:
            inner = _expansion(node.node)
            if inner is not None:
                # at least that many copies in a row
                power = [""]
                for _ in range(node.least):
                    if len(power) * len(inner) > _MAX_EXPANSION:
                        break
                    power = [w + o for w in power for o in inner]
                found = set(power) if "" not in power else None
            else:
                found = _necessary(node.node) if isinstance(node.node, _Choice) else None
        else:
            found = None
        if found:
            choices.append(sorted(found))
    close(run)
    if not choices:
        return None
    # the rarest: longest shortest string, then fewest strings
    return set(max(choices, key=lambda words: (min(map(len, words)), -len(words))))


def literal_expansion(regex: re.Pattern[str]) -> tuple[str, ...] | None:
    """The strings ``regex`` matches, in the order the regex engine tries them,
    when they are few: a keyword (``re.escape``d), an alternation of words, groups,
    character sets and optional parts (``(能|可以)(帮|上门)``, ``掉(进|到)?水里``);
    None for anything else (repetition, ``.``, anchors, classes like ``\\d`` …).

    At the leftmost position where such a pattern matches, the engine returns the
    first of these strings found there, which is how :class:`Scan` picks."""
    tree = _parse(regex)
    words = _expansion(tree) if tree is not None else None
    return tuple(words) if words and all(words) else None


def necessary_words(regex: re.Pattern[str]) -> frozenset[str] | None:
    """Words one of which a text must contain for ``regex`` to match it (``求.{0,2}帮``
    → 求; ``!{2,}|[?]{2,}`` → !!, ??), or None if there are none this module can tell."""
    tree = _parse(regex)
    words = _necessary(tree) if tree is not None else None
    return frozenset(words) if words else None


def _trie(words: Sequence[str]) -> str:
    """Sorted, distinct, non-empty ``words`` as one regex matching the longest of
    them that starts at a position: a character trie (没人管|没人修 → 没人(?:管|修)),
    each branch starting with its own character so at most one can go on, and a
    word that is a prefix of longer ones an optional end (greedy: longer first)."""
    branches = []
    for _, group in itertools.groupby(words, key=lambda w: w[0]):
        group = list(group)
        if len(group) == 1:
            branches.append(re.escape(group[0]))
            continue
        stem = os.path.commonprefix(group)
        longer = [w[len(stem):] for w in group if len(w) > len(stem)]
        optional = "?" if len(longer) < len(group) else ""
        branches.append(f"{re.escape(stem)}(?:{_trie(longer)}){optional}")
    return "|".join(branches)


class WordFinder:
    """Where each of many words first occurs in a text, in one pass."""

    def __init__(self, words: Iterable[str]):
        ordered = sorted({w for w in words if w})
        heads = {head: list(group) for head, group in itertools.groupby(ordered, key=lambda w: w[0])}
        # At a position the regex engine tries a trie's first characters one by
        # one.  With few of them, one regex of all words is searched from each
        # start on (the engine skips to the next possible first character);
        # with many, each character looks up the regex of its own words.
        self._regex = re.compile(_trie(ordered)) if 0 < len(heads) <= _FEW_HEADS else None
        #: a first character → a regex matching the longest of its words at a position
        self._tries = {head: re.compile(_trie(group)) for head, group in heads.items()} \
            if len(heads) > _FEW_HEADS else {}
        known = set(ordered)
        #: a word → itself and the shorter words it starts with (found wherever it is)
        self._prefixes = {w: tuple(w[:n] for n in range(len(w), 0, -1) if w[:n] in known) for w in ordered}

    def first(self, text: str) -> dict[str, int]:
        """Each word that occurs in ``text`` → where it first starts, in that order."""
        first: dict[str, int] = {}
        prefixes = self._prefixes
        if not prefixes:
            return first
        if self._regex is not None:
            search = self._regex.search
            m = search(text)
            while m is not None:
                start, word = m.start(), m.group()
                if word not in first:  # else so were its prefixes, at that earlier start
                    for prefix in prefixes[word]:
                        if prefix not in first:
                            first[prefix] = start
                m = search(text, start + 1)
            return first
        tries = self._tries  # the hot path: the same steps, inline
        for start, char in enumerate(text):
            trie = tries.get(char)
            if trie is None or (m := trie.match(text, start)) is None:
                continue
            word = m.group()
            if word not in first:
                for prefix in prefixes[word]:
                    if prefix not in first:
                        first[prefix] = start
        return first


def _combinable(regex: re.Pattern[str]) -> bool:
    """Whether the pattern means the same inside a combined alternation."""
    return regex.flags == re.UNICODE and not regex.groupindex and not _GROUP_REFERENCE.search(regex.pattern)


def combined(regexes: Sequence[re.Pattern[str]]) -> re.Pattern[str] | None:
    """One alternation that matches where any of ``regexes`` does; None when there
    are none, or one of them would mean something else inside it."""
    if not regexes or not all(map(_combinable, regexes)):
        return None
    return re.compile("|".join(f"(?:{r.pattern})" for r in regexes))


class _Unguarded:
    """A group's patterns without necessary words, with one combined prefilter
    when there are several (most texts match none of them)."""

    def __init__(self, patterns: list[tuple[int, Matcher | Negation]]):
        combinable = [m.regex for _, m in patterns if _combinable(m.regex)]
        self.prefilter = combined(combinable) if len(combinable) > 1 else None
        #: their positions in the group
        self.all = tuple(i for i, _ in patterns)
        #: of those, the ones the prefilter does not cover
        self.rest = tuple(i for i, m in patterns if not _combinable(m.regex)) \
            if self.prefilter is not None else self.all

    def to_search(self, text: str) -> tuple[int, ...]:
        if self.prefilter is not None and self.prefilter.search(text) is None:
            return self.rest
        return self.all


#: marks a word a pattern needs rather than matches
_GUARD = -1
#: how many group lists (:meth:`Scan.hits_of`) a scanner remembers
_LISTS_KEPT = 8


class Scanner:
    """The matcher groups of one set of rules (each category, urgent, spam, the
    negations, each topic), indexed once; :meth:`scan` a text, then ask for a
    group's hits."""

    def __init__(self, groups: Iterable[Group]):
        self._groups = tuple(groups)  # kept alive: groups are looked up by identity
        self._group_of: dict[int, int] = {}
        self._unguarded: dict[int, _Unguarded] = {}
        owners: dict[str, list[tuple[int, int, int]]] = {}
        for g, matchers in enumerate(self._groups):
            self._group_of.setdefault(id(matchers), g)
            unguarded = []
            for i, matcher in enumerate(matchers):
                words = literal_expansion(matcher.regex)
                if words is not None:
                    for order, word in enumerate(words):
                        owners.setdefault(word, []).append((g, i, order))
                    continue
                guard = necessary_words(matcher.regex)
                if guard is None:
                    unguarded.append((i, matcher))
                    continue
                for word in guard:
                    owners.setdefault(word, []).append((g, i, _GUARD))
            if unguarded:
                self._unguarded[g] = _Unguarded(unguarded)
        #: a word → (group, matcher position, position among the matcher's words or
        #: _GUARD) of every matcher that is or needs it
        self._owners = {w: tuple(o) for w, o in owners.items()}
        self._finder = WordFinder(owners)
        #: group lists asked for together (:meth:`Scan.hits_of`) → where each group is in them
        self._lists: dict[int, tuple[Sequence[Group], _Positions]] = {}

    def scan(self, text: str) -> Scan:
        return Scan(self, text)

    def _positions(self, groups: Sequence[Group]) -> _Positions:
        entry = self._lists.get(id(groups))
        if entry is None or entry[0] is not groups:
            if len(self._lists) >= _LISTS_KEPT:  # lists of directories replaced since
                self._lists.pop(next(iter(self._lists)), None)
            entry = self._lists[id(groups)] = (groups, _Positions(self, groups))
        return entry[1]


class _Positions:
    """A list of groups (the topics): where each group is in it, and which of them
    are worth searching in every text (those with unguarded patterns)."""

    def __init__(self, scanner: Scanner, groups: Sequence[Group]):
        self.groups = tuple(scanner._group_of[id(m)] for m in groups)
        self.of: dict[int, list[int]] = {}
        for position, g in enumerate(self.groups):
            self.of.setdefault(g, []).append(position)
        self.always = frozenset(p for p, g in enumerate(self.groups) if g in scanner._unguarded)


class Scan:
    """One text scanned: the literal matches of all groups at once; a group's
    patterns searched when its hits are asked for, those with necessary words
    only if the text has one."""

    __slots__ = ("_scanner", "_text", "_literal", "_armed")

    def __init__(self, scanner: Scanner, text: str):
        self._scanner = scanner
        self._text = text
        #: group → matcher position → (start, position among its words, word) of its first match
        literal: dict[int, dict[int, tuple[int, int, str]]] = {}
        #: group → positions of the patterns whose necessary words occur
        armed: dict[int, set[int]] = {}
        owners = scanner._owners
        # words come in the order of their starts: a matcher's first one is its
        # leftmost match, unless an earlier alternative starts there too
        for word, start in scanner._finder.first(text).items():
            for g, i, order in owners[word]:
                if order == _GUARD:
                    armed.setdefault(g, set()).add(i)
                    continue
                found = literal.get(g)
                if found is None:
                    found = literal[g] = {}
                best = found.get(i)
                if best is None or (best[0] == start and order < best[1]):
                    found[i] = (start, order, word)
        self._literal = literal
        self._armed = armed

    def hits(self, matchers: Group) -> list[Hit]:
        """The first match of each of the group's matchers that matches, in the group's order."""
        return self._hits(self._scanner._group_of[id(matchers)], matchers)

    def hits_of(self, groups: Sequence[Group]) -> list[tuple[int, list[Hit]]]:
        """(position in ``groups``, :meth:`hits`) of those of ``groups`` that have any,
        in order; ``groups`` is a sequence asked for again and again (the categories,
        a directory's topics)."""
        positions = self._scanner._positions(groups)
        of = positions.of
        maybe = {p for g in itertools.chain(self._literal, self._armed) if g in of for p in of[g]}
        maybe.update(positions.always)
        out = []
        for position in sorted(maybe):
            hits = self._hits(positions.groups[position], groups[position])
            if hits:
                out.append((position, hits))
        return out

    def _hits(self, g: int, matchers: Group) -> list[Hit]:
        literal = self._literal.get(g)
        armed = self._armed.get(g)
        unguarded = self._scanner._unguarded.get(g)
        if armed is None and unguarded is None:
            if literal is None:
                return []
            return [(matchers[i], start, start + len(word), word)
                    for i, (start, _, word) in sorted(literal.items())]
        text = self._text
        found: list[tuple[int, Hit]] = []
        for searched in (armed or (), unguarded.to_search(text) if unguarded is not None else ()):
            for i in searched:
                matcher = matchers[i]
                m = matcher.regex.search(text)
                if m is not None:
                    found.append((i, (matcher, m.start(), m.end(), m.group(0))))
        if literal is not None:
            found.extend((i, (matchers[i], start, start + len(word), word))
                         for i, (start, _, word) in literal.items())
        found.sort()  # by position in the group (each matcher is there once)
        return [hit for _, hit in found]


__all__ = ["Group", "Hit", "Scan", "Scanner", "WordFinder", "combined", "literal_expansion", "necessary_words"]
