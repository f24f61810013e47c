"""The decide step: does a comment need a reply, of what category, how urgent,
owned by which unit — and why.  Pure (no database, no HTTP, no clock): the
same subject, rules and directory always give the same :class:`Decision`.

Order of the checks:

1. comments by any account of the matrix (the account's own, other government
   accounts) are never flagged;
2. the text is normalized (NFKC: full-width → half-width; lower case;
   traditional → simplified) — every span refers to this text — and mentions,
   a reply's addressee and quoted reposts are masked with spaces so names never
   match keywords (how a platform writes them is its adapter's
   ``TextConventions``, which the subject carries);
3. urgency (fire, collapse, gas, drowning, violence, self-harm, a missing person …);
4. unless urgent: texts that are only emoticons, mentions, a bare "repost" or
   chatter, and ads/spam, need no reply;
5. each category scores the weights of its keywords and patterns (negations such
   as 不是投诉 cancel hits; overlapping hits count once, the heaviest; in a comment
   to another resident — a reply to a resident (``回复@网友:``) — the rules' ``to_residents`` categories do
   not count); the best score at or above ``min_score`` wins, ties by priority;
   whether it needs a reply is the category's setting (感谢 not, by default);
6. routing (:mod:`huisheng.flags.route`) when a reply is needed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Sequence

from huisheng.adapters.base import TextConventions
from huisheng.flags.route import Directory, Steps, ask_model, build_directory, fold, route_steps
from huisheng.flags.rules import Rules
from huisheng.flags.scan import Hit, Scan
from huisheng.vocabulary import Category

if TYPE_CHECKING:
    from huisheng.flags.learn import Learned

_LABELS = {**Category.labels(), "urgent": "紧急"}

#: invisible format characters that would split a keyword (bidi overrides, zero-width)
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


# Span and Reason write their fields straight into __dict__: decide makes several of
# each per comment, and a frozen dataclass's own __init__ (object.__setattr__ per
# field) takes twice as long.  They stay frozen, compared and hashed by value.


@dataclass(frozen=True, init=False)
class Span:
    start: int
    end: int
    text: str

    def __init__(self, start: int, end: int, text: str):
        fields = self.__dict__
        fields["start"], fields["end"], fields["text"] = start, end, text


@dataclass(frozen=True, init=False)
class Reason:
    rule: str
    #: category | needs_reply | no_reply | urgent | negation | route | skip
    kind: str
    span: Span | None = None
    detail: str = ""

    def __init__(self, rule: str, kind: str, span: Span | None = None, detail: str = ""):
        fields = self.__dict__
        fields["rule"], fields["kind"], fields["span"], fields["detail"] = rule, kind, span, detail


@dataclass(frozen=True, init=False)
class Subject:
    """What is decided: a comment (or post) as the store holds it (one a
    comment: its fields filled in directly, like :class:`Span`'s)."""

    text: str
    author_id: str
    author_name: str
    #: the platform it was written on: its author and account are (platform, id)
    platform: str
    #: the account under whose post it was written
    account_uid: str
    #: how the platform's text marks replies, quotes, emoticons and mentions
    conventions: TextConventions
    #: @names (already extracted by the adapter)
    mentions: tuple[str, ...] = ()
    reply_to_name: str | None = None
    #: comment | post
    kind: str = "comment"

    def __init__(self, text: str, author_id: str, author_name: str, platform: str, account_uid: str,
                 conventions: TextConventions, mentions: tuple[str, ...] = (), reply_to_name: str | None = None,
                 kind: str = "comment"):
        self.__dict__.update(text=text, author_id=author_id, author_name=author_name, platform=platform,
                             account_uid=account_uid, conventions=conventions, mentions=mentions,
                             reply_to_name=reply_to_name, kind=kind)


@dataclass(frozen=True)
class Decision:
    needs_reply: bool
    #: consultation | complaint | help | suggestion | praise | None
    category: str | None
    urgent: bool
    reasons: tuple[Reason, ...]
    unit_code: str | None
    #: account | mention | place | learned | topic (None when no reply is needed)
    routing: str | None
    #: human-readable, Chinese, e.g. "地点「磁器口」→ 磁器口街道"
    routing_reason: str
    #: the normalized text the spans refer to
    text: str = ""


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def normalize(text: str, rules: Rules) -> str:
    """The text rules match on: invisible characters dropped, NFKC, lower case, simplified."""
    text = _INVISIBLE.sub("", text[: rules.max_chars])
    if not unicodedata.is_normalized("NFKC", text):  # a quick check; many comments already are
        text = unicodedata.normalize("NFKC", text)
    text = text.lower()
    if rules.traditional_to_simplified:
        text = _t2s().convert(text)
    return text


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def mask_mentions(text: str, subject: Subject, directory: Directory
                  ) -> tuple[str, list[tuple[str, int | None, int | None]]]:
    """``text`` with a reply's addressee (``回复@name:``), quoted reposts
    (``//@name:…``) and every mention (``@name``) blanked out, as the subject's
    conventions write them (offsets kept), and the matrix accounts mentioned,
    in order, with their spans."""
    mentioned: list[tuple[str, int | None, int | None]] = []
    conventions = subject.conventions
    pattern = conventions.reply_prefix_re
    m = pattern.match(text) if pattern is not None else None
    if m:
        text = _mask(text, m.start(), m.end())
    pattern = conventions.repost_chain_re
    m = pattern.search(text) if pattern is not None else None
    if m:
        text = _mask(text, m.start(), m.end())
    sign = conventions.mention_sign
    pos = text.find(sign) if sign else -1
    extra = {fold(n) for n in subject.mentions} - set(directory.mention_names) if pos != -1 else set()
    # longest first, so 沙坪坝城管 wins over a user called 沙坪坝
    known = sorted(extra | set(directory.mention_names), key=len, reverse=True) if extra \
        else directory.mention_names
    while pos != -1:
        after = text[pos + len(sign):]
        name = next((n for n in known if n and after.startswith(n)), None)
        if name:
            end = pos + len(sign) + len(name)
        else:
            word = conventions.mention_re.match(text, pos) if conventions.mention_re is not None else None
            end = word.end() if word else pos + len(sign)
        if name and name in directory.account_names:
            mentioned.append((name, pos, end))
        text = _mask(text, pos, end)
        pos = text.find(sign, end)
    # mentions the adapter extracted that the text no longer shows (e.g. rendered as links)
    for raw in subject.mentions:
        if raw in directory.account_names and raw not in [n for n, _, _ in mentioned]:
            mentioned.append((raw, None, None))
    return text, mentioned


class _NotContent(dict):
    """A :meth:`str.translate` table that deletes punctuation, separators, control
    characters, symbols (emoji) and marks, filled in as characters are met."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.category(chr(code))[0] in "PZCSM" else code
        self[code] = kept
        return kept


_NOT_CONTENT = _NotContent()


def content_of(masked: str, conventions: TextConventions) -> str:
    """What is left after emoticons, emoji, a bare "repost", punctuation and spaces go."""
    if conventions.emoticon_re is not None:
        masked = conventions.emoticon_re.sub("", masked)
    if conventions.repost_words_re is not None:
        masked = conventions.repost_words_re.sub("", masked)
    return masked.translate(_NOT_CONTENT)


def _counted(hits: list[Hit]) -> set[int]:
    """Which of a category's ``hits`` count: of each run of overlapping hits, the
    heaviest one only (the longest of equal weight), so that one phrase (是不是, 能不能,
    没人处理) scores once however many rules match it or part of it."""
    order = sorted(range(len(hits)), key=lambda i: (hits[i][1], -hits[i][2]))
    counted: set[int] = set()
    best, run_end = order[0], hits[order[0]][2]
    for i in order[1:]:
        if hits[i][1] < run_end:  # overlaps the run
            if hits[i][0].weight > hits[best][0].weight:
                best = i
            run_end = max(run_end, hits[i][2])
        else:
            counted.add(best)
            best, run_end = i, hits[i][2]
    counted.add(best)
    return counted


def _to_resident(text: str, subject: Subject, rules: Rules, directory: Directory, scan: Scan,
                 mentioned: list) -> Reason | None:
    """Why the comment speaks to another resident rather than to the government, or None:
    it answers a resident (``回复@NAME:`` where NAME is no matrix account) or opens with a
    cue of the rules (楼上的…), and neither @mentions a matrix account nor addresses the
    government (the rules' ``address``: 小编, 领导 …)."""
    pattern = subject.conventions.reply_prefix_re
    m = pattern.match(text) if pattern is not None else None
    name = m.group(1) if m else (fold(subject.reply_to_name) if subject.reply_to_name else None)
    if name is not None:
        if name in directory.account_names:
            return None
        rule, who = "to_residents/reply", f"回复网友「{name}」"
        span = Span(m.start(), m.end(), m.group(0)) if m else None
    else:
        cues = scan.hits(rules.to_resident_cues)
        if not cues:
            return None
        matcher, start, end, matched = cues[0]
        rule, span, who = matcher.rule, Span(start, end, matched), f"对其他网友说（「{matched.strip()}」）"
    if mentioned or scan.hits(rules.address):
        return None
    cancelled = "、".join(c.label() for c in Category if c in rules.to_resident_cancels)
    return Reason(rule, "negation", span, f"{who}，不是对政府说的：不计{cancelled}")


def _skip(reason: Reason, text: str) -> Decision:
    return Decision(False, None, False, (reason,), None, None, "", text)


def decide(subject: Subject, rules: Rules, directory: Directory, learned: Learned | None = None) -> Decision:
    """The decision on one comment or post (pure; ``learned``, the routing
    model in use, is read-only data too)."""
    return ask_model(decide_steps(subject, rules, directory, learned), learned)


def decide_many(subjects: Sequence[Subject], rules: Rules, directory: Directory,
                learned: Learned | None = None) -> list[Decision | Exception]:
    """:func:`decide` of each subject, the routing model asked about all those
    that reach it at once.  A subject whose decision raised has the exception
    in its place: one bad comment does not cost the others theirs."""
    decisions: list[Decision | Exception | None] = [None] * len(subjects)
    waiting: list[tuple[int, Steps[Decision], str]] = []
    for i, subject in enumerate(subjects):
        steps = decide_steps(subject, rules, directory, learned)
        try:
            waiting.append((i, steps, next(steps)))
        except StopIteration as done:
            decisions[i] = done.value
        except Exception as exc:
            decisions[i] = exc
    if waiting and learned is not None:  # only the model's step waits
        try:
            predictions = learned.predict_many([text for _, _, text in waiting])
        except Exception as exc:  # the model failed: none of the decisions waiting for it is made
            for i, _, _ in waiting:
                decisions[i] = exc
            return decisions  # type: ignore[return-value]  # every one filled in
        for (i, steps, _), prediction in zip(waiting, predictions):
            try:
                decisions[i] = ask_model(steps, learned, prediction)
            except Exception as exc:
                decisions[i] = exc
    return decisions  # type: ignore[return-value]  # every one filled in


def decide_steps(subject: Subject, rules: Rules, directory: Directory, learned: Learned | None = None
                 ) -> Steps[Decision]:
    """:func:`decide` as steps: yields the text the routing model is to be
    asked about, if it is, and is sent its prediction (see :func:`route_steps`)."""
    author = (subject.platform, subject.author_id)
    if author in directory.account_units:  # by id on its platform: a namesake is a citizen
        account = directory.account_names_by_key.get(author, subject.author_name)
        unit = directory.unit_name(directory.account_units[author])
        same = directory.account_units[author] == directory.account_units.get((subject.platform, subject.account_uid))
        who = "本单位账号" if same else "政务账号"
        return _skip(Reason("skip/government", "skip", detail=f"{who}「{account}」（{unit}）的评论，不需回复"),
                     subject.text)
    text = normalize(subject.text, rules)
    masked, mentioned = mask_mentions(text, subject, directory)
    reasons: list[Reason] = []

    scan = rules.scanner.scan(masked)
    # every match of the (rare) negations that match at all
    negations = [(n, m) for n, _, _, _ in scan.hits(rules.negations) for m in n.regex.finditer(masked)]

    noted: set[tuple[str, int, str]] = set()

    def negated(name: str, start: int, end: int) -> bool:
        """Whether a negation cancels this hit of ``name``; each negation that does is a reason, once."""
        found = False
        for negation, m in negations:
            if name in negation.cancels and (negation.scope == "text" or (m.start() < end and start < m.end())):
                found = True
                if (negation.rule, m.start(), name) not in noted:
                    noted.add((negation.rule, m.start(), name))
                    reasons.append(Reason(negation.rule, "negation", Span(m.start(), m.end(), m.group(0)),
                                          f"否定「{m.group(0)}」：不计{_LABELS.get(name, name)}"))
        return found

    urgent_hits = []
    for matcher, start, end, matched in scan.hits(rules.urgent):
        if negations and negated("urgent", start, end):
            continue
        urgent_hits.append(Reason(matcher.rule, "urgent", Span(start, end, matched), "紧急"))
    urgent = bool(urgent_hits)

    if not urgent:
        content = content_of(masked, subject.conventions)
        if len(content) < rules.min_content_chars:
            return _skip(Reason("skip/no-content", "skip",
                                detail="只有表情、@提及、转发或标点，无需回复"), text)
        chatter = rules.chatter if rules.any_chatter is None or rules.any_chatter.fullmatch(content) else ()
        for matcher in chatter:
            if matcher.regex.fullmatch(content):
                return _skip(Reason(matcher.rule, "skip", Span(0, len(text), text),
                                    f"闲聊「{content}」，无需回复"), text)
        spam_hits = scan.hits(rules.spam)
        if spam_hits and sum(hit[0].weight for hit in spam_hits) >= rules.spam_min_score:
            _, start, end, matched = spam_hits[0]
            return _skip(Reason("skip/spam", "skip", Span(start, end, matched),
                                "广告/垃圾信息：" + "、".join(f"「{hit[3]}」" for hit in spam_hits)), text)

    to_resident = _to_resident(text, subject, rules, directory, scan, mentioned) \
        if rules.to_resident_cancels else None
    if to_resident is not None:
        reasons.append(to_resident)
    best, best_score = None, 0.0
    # categories without hits score 0, below min_score (a positive number)
    for position, hits in scan.hits_of(rules.category_matchers):  # priority order: ties go to the earlier
        category = rules.categories[position]
        if to_resident is not None and category.name in rules.to_resident_cancels:
            continue
        if negations:
            hits = [hit for hit in hits if not negated(category.name, hit[1], hit[2])]
        counted = _counted(hits) if len(hits) > 1 else None
        total = 0.0
        for i, (matcher, start, end, matched) in enumerate(hits):
            if counted is None or i in counted:
                total += matcher.weight
                detail = f"{category.label} +{matcher.weight:g}"
            else:
                detail = f"{category.label} 不重复计分（与已计分的命中重叠）"
            reasons.append(Reason(matcher.rule, "category", Span(start, end, matched), detail))
        if total >= rules.min_score and (best is None or total > best_score):
            best, best_score = category, total
    category_name = best.name if best else None
    if urgent and category_name is None:
        category_name = rules.urgent_category
    reasons.extend(urgent_hits)

    if urgent:
        needs = True
        reasons.append(Reason("needs_reply/urgent", "needs_reply", detail="紧急情况，需回复"))
    elif best is None:
        needs = False
        reasons.append(Reason("no_reply/no-category", "no_reply",
                              detail=f"未达到任何类别的最低得分 {rules.min_score:g}，无需回复"))
    elif best.needs_reply:
        needs = True
        reasons.append(Reason(f"needs_reply/{best.name}", "needs_reply",
                              detail=f"类别「{best.label}」（得分 {best_score:g}）需回复"))
    else:
        needs = False
        reasons.append(Reason(f"no_reply/{best.name}", "no_reply",
                              detail=f"类别「{best.label}」（得分 {best_score:g}）默认无需回复"))

    if not needs:
        return Decision(False, category_name, False, tuple(reasons), None, None, "", text)
    chosen = yield from route_steps(masked, tuple(mentioned), (subject.platform, subject.account_uid), rules,
                                    directory, scan, learned)
    for rule, start, end, matched, detail in chosen.notes:
        span = Span(start, end, text[start:end]) if start is not None and end is not None else None
        reasons.append(Reason(rule, "route", span, detail))
    return Decision(True, category_name, urgent, tuple(reasons), chosen.unit_code, chosen.routing,
                    chosen.reason, text)


__all__ = ["Decision", "Directory", "Reason", "Span", "Subject", "build_directory", "content_of", "decide",
           "decide_many", "decide_steps", "normalize"]
