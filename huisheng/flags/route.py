"""Routing (分派): which unit owns a comment that needs a reply.

Pure: the :class:`Directory` is plain data built once from the matrix.
Candidates, in the rules' priority order (default mention > place > learned >
topic > account): an ``@`` of another matrix account → its owner unit; a street
or community name or alias (on the account levels the rules allow) → that unit;
the routing model's unit (:mod:`huisheng.flags.learn`, when one is configured,
its confidence clears the threshold and the account may route there); a
department's topic keywords (likewise) → that department; else the owner unit
of the account the comment was written under (谁开设、谁主办).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generator, Mapping, TypeVar

from huisheng.flags.rules import Matcher, Rules
from huisheng.flags.scan import Hit, Scan, WordFinder
from huisheng.config.settings import Matrix, UnitSpec
from huisheng.vocabulary import UnitLevel

if TYPE_CHECKING:
    from huisheng.flags.learn import Learned, Prediction

T = TypeVar("T")

#: looked up once per routed comment: a plain dict, not the enum
_LEVEL_NAMES = UnitLevel.labels()


@dataclass(frozen=True)
class Directory:
    """What routing needs to know about the matrix."""

    units: Mapping[str, UnitSpec]
    parents: Mapping[str, str | None]
    #: account (platform, uid) → owner unit code: the same uid on two platforms is two accounts
    account_units: Mapping[tuple[str, str], str]
    #: account (platform, uid) → display name
    account_names_by_key: Mapping[tuple[str, str], str]
    #: account display name → owner unit code (for @mentions)
    account_names: Mapping[str, str]
    #: unit name or alias → unit code (aliases shared by several units: the deepest)
    names: Mapping[str, str]
    #: (name or alias, unit code) of streets and communities, longest name first
    places: tuple[tuple[str, str], ...]
    district: str | None = None
    #: account display names, longest first (to find ``@name`` in text)
    mention_names: tuple[str, ...] = field(default=())

    def places_in(self, text: str) -> list[tuple[str, str]]:
        """The :attr:`places` entries whose name (of two characters or more) occurs
        in ``text``, in their order, found in one pass instead of one search per name."""
        finder, positions = self._place_finder
        present = finder.first(text)
        if not present:
            return []
        places = self.places
        return [places[i] for i in sorted(i for name in present for i in positions[name])]

    @functools.cached_property
    def _place_finder(self) -> tuple[WordFinder, dict[str, tuple[int, ...]]]:
        positions: dict[str, list[int]] = {}
        for i, (name, _) in enumerate(self.places):
            if len(name) >= 2:
                positions.setdefault(name, []).append(i)
        return WordFinder(positions), {name: tuple(p) for name, p in positions.items()}

    def topic_units(self, rules: Rules) -> tuple[tuple[tuple[Matcher, ...], ...], tuple[str, ...]]:
        """The topics this matrix has a unit for (the first of a topic's candidate
        names it has): their matchers and those units, in the rules' order,
        worked out once per rules."""
        entry = self._topic_cache.get(id(rules))
        if entry is None or entry[0] is not rules:
            units = [(t.matchers, code) for t in rules.topics
                     if (code := next((c for n in t.units if (c := self.resolve_unit(n))), None))]
            entry = self._topic_cache[id(rules)] = (rules, tuple(m for m, _ in units), tuple(c for _, c in units))
        return entry[1], entry[2]

    @functools.cached_property
    def _topic_cache(self) -> dict[int, tuple[Rules, tuple[tuple[Matcher, ...], ...], tuple[str, ...]]]:
        return {}

    def level(self, code: str | None) -> str | None:
        unit = self.units.get(code) if code else None
        return unit.level if unit else None

    def unit_name(self, code: str | None) -> str:
        unit = self.units.get(code) if code else None
        return unit.name if unit else (code or "")

    def depth(self, code: str) -> int:
        depth, seen = 0, set()
        while self.parents.get(code) and code not in seen:
            seen.add(code)
            code = self.parents[code]  # type: ignore[assignment]
            depth += 1
        return depth

    def is_ancestor(self, ancestor: str, code: str) -> bool:
        seen = set()
        while code in self.parents and code not in seen:
            seen.add(code)
            parent = self.parents[code]
            if parent is None:
                return False
            if parent == ancestor:
                return True
            code = parent
        return False

    def find_account(self, ref: str) -> tuple[str, str] | None:
        """An account by ``platform:uid``, by uid (when one platform alone has
        it) or by display name → its (platform, uid)."""
        platform, _, uid = ref.partition(":")
        if (platform, uid) in self.account_units:
            return platform, uid
        found = [key for key, name in self.account_names_by_key.items() if ref in (key[1], name)]
        return found[0] if len(found) == 1 else None

    def resolve_unit(self, ref: str) -> str | None:
        """A unit code, name or alias → its code."""
        ref = ref.strip()
        if ref in self.units:
            return ref
        return self.names.get(ref)


def fold(name: str) -> str:
    """A name as it appears in normalized text (NFKC, lower case: 重庆大学B区 → 重庆大学b区)."""
    return unicodedata.normalize("NFKC", name).lower()


def build_directory(matrix: Matrix) -> Directory:
    units = {u.code: u for u in matrix.units}
    parents = {u.code: u.parent for u in matrix.units}
    depth = {}
    for code in units:
        d, c, seen = 0, code, set()
        while parents.get(c) and c not in seen:
            seen.add(c)
            c = parents[c]  # type: ignore[assignment]
            d += 1
        depth[code] = d
    names: dict[str, str] = {}
    places: list[tuple[str, str]] = []
    for unit in matrix.units:
        for name in dict.fromkeys((unit.name, *unit.aliases)):
            if name not in names or depth[unit.code] > depth[names[name]]:
                names[name] = unit.code
            if unit.level in ("street", "community"):
                places.append((fold(name), unit.code))
    # longest first; of units sharing a name, the most specific (a community over its street)
    places.sort(key=lambda p: (-len(p[0]), -depth[p[1]]))
    account_names = {a.name: a.unit for a in matrix.accounts}
    account_names.update({fold(a.name): a.unit for a in matrix.accounts})
    district = next((u.code for u in matrix.units if u.level == "district"), None)
    return Directory(units=units, parents=parents,
                     account_units={(a.platform, a.uid): a.unit for a in matrix.accounts},
                     account_names_by_key={(a.platform, a.uid): a.name for a in matrix.accounts},
                     account_names=account_names, names=names, places=tuple(places), district=district,
                     mention_names=tuple(sorted(account_names, key=len, reverse=True)))


@dataclass(frozen=True)
class Route:
    unit_code: str | None
    routing: str
    reason: str
    #: (rule, start, end, matched text, detail) of what was considered, for the reasons
    notes: tuple[tuple[str, int | None, int | None, str, str], ...] = ()


def find_places(text: str, rules: Rules, directory: Directory) -> list[tuple[int, int, str, str]]:
    """(start, end, name, unit code) of place names in ``text``, longest first, not overlapping.
    A name in ``place.ignore`` (also an everyday word) counts only beside a place cue (住在…, …这边)."""
    taken: list[tuple[int, int]] = []
    found = []
    for name, code in directory.places_in(text):
        start = text.find(name)
        while start != -1:
            end = start + len(name)
            if not any(start < e and s < end for s, e in taken) and (
                    name not in rules.place_ignore or _cued(text, start, end, rules)):
                taken.append((start, end))
                found.append((start, end, name, code))
            start = text.find(name, end)
    return found


def _cued(text: str, start: int, end: int, rules: Rules) -> bool:
    before, after = text[:start], text[end:]
    return (any(re.search(f"(?:{cue})$", before) for cue in rules.place_cues_before)
            or any(re.match(cue, after) for cue in rules.place_cues_after))


def _pick_place(found: list[tuple[int, int, str, str]], directory: Directory) -> tuple[int, int, str, str]:
    """The most specific unit when the places form a chain (街道 + its 社区), else the first named."""
    codes = {f[3] for f in found}
    for f in sorted(found, key=lambda f: (-directory.depth(f[3]), f[0])):
        if all(c == f[3] or directory.is_ancestor(c, f[3]) for c in codes):
            return f
    return min(found, key=lambda f: f[0])


def may_route(code: str, own_unit: str | None, rules: Rules, directory: Directory) -> bool:
    """Whether a comment written under an account of ``own_unit`` may go to
    ``code`` (属地管理): streets and communities where the rules route by place,
    departments (and the district) where they route by topic, its own unit always."""
    if code == own_unit:
        return True
    level, target = directory.level(own_unit), directory.level(code)
    if target in ("street", "community"):
        return level in rules.place_levels
    return target is not None and level in rules.topic_levels


def _learned(text: str, found: Prediction | None, learned: Learned, own_unit: str | None, level_name: str,
             rules: Rules, directory: Directory, notes: list[tuple[str, int | None, int | None, str, str]]
             ) -> tuple[str, str] | None:
    """The routing model's unit and reason from its prediction ``found``, when it
    may be used; a note either way (the words that weighed most only when it is
    used: they cost as much again)."""
    if found is None:
        return None
    code, confidence = found.unit, found.confidence
    name = directory.unit_name(code)
    chosen, terms = None, ()
    if code not in directory.units:
        reason = f"学习模型预测的单位「{code}」不在矩阵中，不采用"
    elif confidence < learned.threshold:
        reason = f"学习模型预测{name}（置信度 {confidence:.2f}），低于阈值 {learned.threshold:g}，不采用"
    elif not may_route(code, own_unit, rules, directory):
        reason = f"学习模型预测{name}（置信度 {confidence:.2f}），出现在{level_name}账号下，按属地管理不改派"
    else:
        terms = learned.explain(text, code)
        words = "".join(f"「{term}」" for term in terms)
        reason = f"学习模型 → {name}（置信度 {confidence:.2f}" + (f"，依据{words}" if words else "") + "）"
        chosen = (code, reason)
    start = text.find(terms[0]) if terms else -1
    if start >= 0:
        notes.append(("route/learned", start, start + len(terms[0]), terms[0], reason))
    else:
        notes.append(("route/learned", None, None, "", reason))
    return chosen


def route(text: str, mentions: tuple[tuple[str, int | None, int | None], ...], account: tuple[str, str],
          rules: Rules, directory: Directory, scan: Scan | None = None, learned: Learned | None = None) -> Route:
    """The owning unit of a comment that needs a reply, written under
    ``account`` (platform, uid).  ``text`` is the
    normalized text with mentions masked; ``mentions`` are matrix account names
    the comment ``@``s, with their spans in the text when known; ``scan`` is
    ``text`` already scanned with these rules (the decide step has it);
    ``learned`` the routing model in use, if any (asked only when no signal
    before it in the priority decided)."""
    return ask_model(route_steps(text, mentions, account, rules, directory, scan, learned), learned)


Steps = Generator[str, "Prediction | None", T]


def ask_model(steps: Steps[T], learned: Learned | None, prediction: Prediction | None = None) -> T:
    """Run ``steps`` to their result, answering each text they ask the model
    about with ``learned``'s prediction (the first answer may be given)."""
    try:
        while True:
            text = steps.send(prediction)
            prediction = learned.predict(text) if learned is not None else None
    except StopIteration as done:
        return done.value


def route_steps(text: str, mentions: tuple[tuple[str, int | None, int | None], ...], account: tuple[str, str],
                rules: Rules, directory: Directory, scan: Scan | None = None, learned: Learned | None = None
                ) -> Steps[Route]:
    """:func:`route` as steps: yields the text when the model is to be asked,
    and is sent its prediction, so that the decide step can ask the model
    about a whole batch at once (:func:`huisheng.flags.classify.decide_many`)."""
    own_unit = directory.account_units.get(account)
    level = directory.level(own_unit)
    level_name = _LEVEL_NAMES.get(level or "", "")
    notes: list[tuple[str, int | None, int | None, str, str]] = []
    #: routing → (unit code, reason)
    candidates: dict[str, tuple[str, str]] = {}

    for name, start, end in mentions:
        code = directory.account_names.get(name)
        if code is not None:
            reason = f"@{name} → {directory.unit_name(code)}"
            candidates["mention"] = (code, reason)
            notes.append(("route/mention", start, end, f"@{name}", reason))
            break

    found = find_places(text, rules, directory)
    if found:
        start, end, name, code = _pick_place(found, directory)
        if level in rules.place_levels:
            reason = f"地点「{name}」→ {directory.unit_name(code)}"
            candidates["place"] = (code, reason)
        else:
            reason = f"地点「{name}」出现在{level_name}账号下，按属地管理不改派"
        notes.append(("route/place", start, end, name, reason))

    if scan is None:
        scan = rules.scanner.scan(text)
    best: tuple[int, str, list[Hit]] | None = None
    groups, codes = directory.topic_units(rules)
    for position, hits in scan.hits_of(groups):
        # ties go to the earlier topic
        if best is None or len(hits) > best[0]:
            best = (len(hits), codes[position], hits)
    if best is not None:
        _, code, hits = best
        hits = sorted(hits, key=lambda hit: hit[1])
        words = "".join(f"「{matched}」" for _, _, _, matched in hits[:3])
        if level in rules.topic_levels:
            reason = f"话题{words}→ {directory.unit_name(code)}"
            candidates["topic"] = (code, reason)
        else:
            reason = f"话题{words}出现在{level_name}账号下，由账号主办单位负责"
        _, start, end, matched = hits[0]
        notes.append(("route/topic", start, end, matched, reason))

    for kind in rules.routing_priority:
        # under an account that routes nowhere else (属地管理) the model could only name its own unit
        if kind == "learned" and learned is not None and (level in rules.place_levels or level in rules.topic_levels):
            found = _learned(text, (yield text), learned, own_unit, level_name, rules, directory, notes)
            if found is not None:
                candidates["learned"] = found
        if kind in candidates:
            code, reason = candidates[kind]
            return Route(code, kind, reason, tuple(notes))
        if kind == "account" and own_unit is not None:
            name = directory.account_names_by_key.get(account, account[1])
            return Route(own_unit, "account", f"账号「{name}」的主办单位 → {directory.unit_name(own_unit)}",
                         tuple(notes))
    return Route(None, "account", f"账号 {account[0]}:{account[1]} 不在矩阵中，无法确定主办单位", tuple(notes))


__all__ = ["Directory", "Route", "Steps", "ask_model", "build_directory", "find_places", "may_route", "route",
           "route_steps"]
