"""Rendering e-mails from the jinja2 templates in ``huisheng/templates/``.

Autoescaping is on for every template except plain-text ones (``*.txt.j2``),
so comment text, author names and reasons cannot inject markup into the HTML
part.  Citizens' text is also cleaned before either part sees it (:func:`clean`):
bidirectional control characters (an RTL override can make a line read
backwards, or hide where a link points) and other control characters go, emoji
stay; :func:`excerpt` then cuts long text without splitting an emoji sequence.

Filters: ``localtime`` (an aware datetime in the district's time zone, taken
from the context's ``tz``), ``excerpt``, ``clean``, ``safe_url`` (http(s) only),
``category``, ``step``, ``pct``, ``paren`` (a count after a heading), ``error_kind`` (a
source's error in words), ``todo`` (what to do next with a flag, from
``huisheng.notify.digest.next_step``) and ``commands`` (the command lines that
record it).  ``L`` in the context holds the labels of the message's locale
(:data:`LABELS`).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from functools import lru_cache
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context

from huisheng.errors import error_kind_name
from huisheng.vocabulary import Category, LadderStep

DEFAULT_TZ = "Asia/Shanghai"

#: bidi embeddings, overrides, isolates and marks; the Arabic letter mark
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
#: C0/C1 controls except tab and newline, and line/paragraph separators
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SPACE = re.compile(r"\s+")
_ZWJ = "\u200d"


def clean(text: str | None) -> str:
    """Text without bidi or control characters, whitespace runs as one space."""
    if not text:
        return ""
    text = _BIDI.sub("", text)
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def _joins_previous(char: str) -> bool:
    """Whether ``char`` belongs to the character before it (combining mark,
    variation selector, skin tone, ZWJ sequence part, tag)."""
    code = ord(char)
    return (unicodedata.category(char) in ("Mn", "Me", "Mc") or char == _ZWJ
            or 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F)


def excerpt(text: str | None, limit: int = 140) -> str:
    """Cleaned text of at most ``limit`` characters (plus "…" when cut), never
    cutting inside an emoji or a character with its combining marks."""
    text = clean(text)
    if len(text) <= limit:
        return text
    cut = limit
    while cut > 0 and (_joins_previous(text[cut]) or text[cut - 1] == _ZWJ):
        cut -= 1
    # a regional-indicator flag is a pair: never keep half of one
    indicators = 0
    while cut - indicators > 0 and 0x1F1E6 <= ord(text[cut - indicators - 1]) <= 0x1F1FF:
        indicators += 1
    cut -= indicators % 2
    return text[:cut].rstrip() + "…"


def safe_url(url: str | None) -> str | None:
    """The URL when it is plain http(s), else None (no javascript: links)."""
    if url and re.fullmatch(r"https?://[^\s\"'<>]+", url):
        return url
    return None


LABELS: Mapping[str, Mapping[str, Any]] = {
    "zh": {
        "brand": "回声",
        "subject": "【回声】{title} 新增待回复 {new} 条，超期 {overdue} 条",
        "subject_escalated": "，下级超期 {escalated} 条",
        "greeting": "您好！以下是 {title} 的政务账号留言办理日报（{since} 至 {until}）。",
        "new": "新增待回复",
        "urgent": "紧急",
        "due_soon": "1 个工作日内到期",
        "overdue": "已超期",
        "replied": "上次日报以来已回复",
        "escalation": "下级单位超期督办",
        "coverage": "回复率",
        "source_health": "账号状态",
        "failing": "抓取失败的账号",
        "silent14": "{days} 天未发布原创内容（单项否决）",
        "silent10": "{days} 天未发布原创内容（预警）",
        "unread": "从未读取成功的账号（无法读取，不判定是否更新）",
        "added": "加入监测",
        "none": "无",
        "cut": "共 {total} 条，以下列出 {listed} 条；全部可运行 huisheng flags list 查看。",
        "author": "留言人",
        "account": "账号",
        "unit": "单位",
        "routing": "分派依据",
        "due": "截止",
        "due_uncertain": "（节假日安排未公布，截止时间为估算）",
        "written": "留言时间",
        "comment_link": "留言",
        "link": "原帖",
        "todo": "处理",
        "todo_steps": {
            "reply": "用本单位账号在原帖下回复这条留言",
            "reply_or_promise": "用本单位账号在原帖下回复；一时办不完的，在回复中承诺办结日期并登记",
            "reply_promised": "用本单位账号在原帖下回复（已承诺 {promised} 前办结）",
            "promise": "已回复；请登记承诺办结日期，办结后办结销号",
            "resolve": "已回复；事项办结后登记办结并销号",
            "close": "已办结；请销号（办结销号）",
        },
        "commands": {"promise": "huisheng flags promise {id} --date 年-月-日 --by 姓名",
                     "resolve": "huisheng flags resolve {id} --by 姓名",
                     "close": "huisheng flags close {id} --by 姓名"},
        "workbench": "在工作台处理",
        "step": "督办进度",
        "replied_at": "回复时间",
        "on_time": "按时",
        "late": "超时",
        "offline": "线下回复",
        "flags": "需回复",
        "coverage_rate": "回复率",
        "on_time_rate": "按时回复率",
        "days7": "近 7 天",
        "days30": "近 30 天",
        "district": "全区",
        "since": "起始",
        "errors": "连续失败 {n} 次",
        "last_post": "最近原创",
        "never": "从未",
        "unread_threads": "评论未能读全的帖子（一天以上；系统自动重试）",
        "thread_comments": "帖子的评论",
        "thread_replies": "{author} 的评论下的回复",
        "attempts": "已连续 {n} 次未读全",
        "thread_cut": "共 {total} 个，以下列出 {listed} 个；全部可运行 huisheng status 查看。",
        "footer": "本邮件由回声（huisheng）自动生成，请勿直接回复。",
        "date_format": "%Y-%m-%d %H:%M",
        "colon": "：", "semi": "；", "comma": "，", "lp": "（", "rp": "）",
    },
    "en": {
        "brand": "Huisheng",
        "subject": "[Huisheng] {title}: {new} new to answer, {overdue} overdue",
        "subject_escalated": ", {escalated} overdue below",
        "greeting": "Hello! This is the daily digest for {title} ({since} to {until}).",
        "new": "New, awaiting a reply",
        "urgent": "Urgent",
        "due_soon": "Due within 1 working day",
        "overdue": "Overdue",
        "replied": "Replied since the last digest",
        "escalation": "Overdue in subordinate units",
        "coverage": "Reply coverage",
        "source_health": "Account health",
        "failing": "Accounts failing to poll",
        "silent14": "No original post for {days} days (single veto)",
        "silent10": "No original post for {days} days (warning)",
        "unread": "Accounts never read (unreadable, not judged)",
        "added": "monitored since",
        "none": "None",
        "cut": "{total} in all, {listed} listed; run huisheng flags list to see them all.",
        "author": "Author",
        "account": "Account",
        "unit": "Unit",
        "routing": "Routed by",
        "due": "Due",
        "due_uncertain": " (holiday arrangement not yet published: estimated)",
        "written": "Written",
        "comment_link": "Comment",
        "link": "Post",
        "todo": "To do",
        "todo_steps": {
            "reply": "reply under the post from your unit's account",
            "reply_or_promise": "reply under the post from your unit's account; if it takes time to get done, "
                                "promise a date in the reply and record it",
            "reply_promised": "reply under the post from your unit's account (promised done by {promised})",
            "promise": "replied; record the date promised for getting it done, then close it when done",
            "resolve": "replied; when it is done, record it done and close it",
            "close": "done; close it",
        },
        "commands": {"promise": "huisheng flags promise {id} --date YYYY-MM-DD --by NAME",
                     "resolve": "huisheng flags resolve {id} --by NAME",
                     "close": "huisheng flags close {id} --by NAME"},
        "workbench": "Open in the workbench",
        "step": "Ladder",
        "replied_at": "Replied",
        "on_time": "on time",
        "late": "late",
        "offline": "offline",
        "flags": "Flags",
        "coverage_rate": "Coverage",
        "on_time_rate": "On-time coverage",
        "days7": "Last 7 days",
        "days30": "Last 30 days",
        "district": "District",
        "since": "Since",
        "errors": "{n} failures in a row",
        "last_post": "Last original post",
        "never": "never",
        "unread_threads": "Threads the platform has not shown in full for a day or more (retried automatically)",
        "thread_comments": "comments on the post",
        "thread_replies": "replies under {author}'s comment",
        "attempts": "{n} short reads in a row",
        "thread_cut": "{total} in all, {listed} listed; run huisheng status to see them all.",
        "footer": "Sent automatically by huisheng; please do not reply to this message.",
        "date_format": "%Y-%m-%d %H:%M",
        "colon": ": ", "semi": "; ", "comma": ", ", "lp": " (", "rp": ")",
    },
}


def labels(locale: str) -> Mapping[str, Any]:
    return LABELS[locale if locale in LABELS else "zh"]


@pass_context
def _localtime(ctx: Any, value: datetime | None, fmt: str | None = None) -> str:
    if value is None:
        return ""
    tz = ZoneInfo(ctx.get("tz") or DEFAULT_TZ)
    fmt = fmt or ctx["L"]["date_format"]
    return value.astimezone(tz).strftime(fmt)


@pass_context
def _category(ctx: Any, value: str) -> str:
    return Category.label_of(value, ctx["locale"])


@pass_context
def _step(ctx: Any, value: str | None) -> str:
    # a flag that has taken no step yet is just overdue
    return LadderStep.label_of(value or LadderStep.OVERDUE, ctx["locale"])


#: the commands that record each next step (``todo``); replying is done on the platform itself
ACTION_COMMANDS: Mapping[str, tuple[str, ...]] = {
    "reply_or_promise": ("promise",), "promise": ("promise",), "resolve": ("resolve", "close"),
    "close": ("close",)}


@pass_context
def _todo(ctx: Any, action: str | None, promised_at: datetime | None = None) -> str:
    if action is None:
        return ""
    promised = _localtime(ctx, promised_at, "%Y-%m-%d") if promised_at else ""
    return ctx["L"]["todo_steps"][action].format(promised=promised)


@pass_context
def _commands(ctx: Any, action: str | None, flag_id: int) -> str:
    """The command lines for ``action``, joined; "" when there are none."""
    commands = ctx["L"]["commands"]
    return ctx["L"]["semi"].join(commands[c].format(id=flag_id) for c in ACTION_COMMANDS.get(action or "", ()))


@pass_context
def _error_kind(ctx: Any, kind: str | None) -> str:
    return error_kind_name(kind, ctx.get("locale") or "zh")


@pass_context
def _paren(ctx: Any, value: object) -> str:
    """A count after a heading: full-width brackets in Chinese."""
    return f"（{value}）" if ctx.get("locale") != "en" else f" ({value})"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _autoescape(name: str | None) -> bool:
    # on unless the template is declared plain text
    return not (name or "").endswith(".txt.j2")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("huisheng", "templates"), autoescape=_autoescape,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(localtime=_localtime, excerpt=excerpt, clean=clean, safe_url=safe_url,
                       category=_category, step=_step, pct=_pct, paren=_paren, error_kind=_error_kind,
                       todo=_todo, commands=_commands)
    return env


def render(template: str, *, locale: str = "zh", tz: str = DEFAULT_TZ, **context: Any) -> str:
    """Render ``template`` (a path under ``huisheng/templates/``) with the locale's labels."""
    return environment().get_template(template).render(L=labels(locale), tz=tz, locale=locale, **context)
