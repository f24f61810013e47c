"""Pure helpers for Weibo values: HTML text, counts, times.

Each raises :class:`ValueError` on a value it does not understand; the parsers
turn that into ``ParseError(endpoint, field)`` with the field's path.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment as HtmlComment
from bs4.element import Declaration, Doctype, ProcessingInstruction

#: Weibo's relative times are Beijing time whatever the server or process zone.
SHANGHAI = ZoneInfo("Asia/Shanghai")

# --- HTML ---------------------------------------------------------------------

_MENTION_HREF = re.compile(r"^(?:(?:https?:)?//[^/]+)?/n/([^/?#]+)")
_FULLTEXT_HREF = re.compile(r"/(?:status|detail)/")
_PLAIN_MENTION = re.compile(r"@([\w\u4e00-\u9fff\-·]{1,30})")
_SKIPPED_STRINGS = (HtmlComment, Declaration, Doctype, ProcessingInstruction)


# The same posts come back on every poll; parsing their HTML again is most of
# the adapter's CPU time.
@functools.lru_cache(maxsize=8192)
def html_to_text(html: str) -> tuple[str, tuple[str, ...]]:
    """Weibo's HTML text → (plain text, mentioned names).

    Emoticons keep their alt text (``[赞]``), ``<br />`` becomes a newline, the
    trailing ``全文`` link of a truncated text is dropped, every other tag is
    dropped with its text kept.  Text that arrived entity-escaped (``&lt;script&gt;``)
    stays literal text.
    """
    soup = BeautifulSoup(html, "html.parser")
    truncated = _drop_fulltext_link(soup)
    parts: list[str] = []
    mentions: list[str] = []
    _walk(soup, parts, mentions)
    text = "".join(parts).strip()
    if truncated:
        text = re.sub(r"(?:\.\.\.|…)+$", "", text).rstrip()
    return text, tuple(dict.fromkeys(mentions))


def plain_mentions(text: str) -> tuple[str, ...]:
    """Mentions in already-plain text (``text_raw``)."""
    return tuple(dict.fromkeys(_PLAIN_MENTION.findall(text)))


def _drop_fulltext_link(soup: BeautifulSoup) -> bool:
    links = [a for a in soup.find_all("a")
             if a.get_text(strip=True) == "全文" and _FULLTEXT_HREF.search(a.get("href", ""))]
    if not links:
        return False
    last = links[-1]
    # only a link at the very end marks a preview; "全文" inside the text is content
    for sibling in last.next_elements:
        if (isinstance(sibling, NavigableString) and sibling.strip()
                and not any(parent is last for parent in sibling.parents)):
            return False
    last.decompose()
    return True


def _walk(node: Tag, parts: list[str], mentions: list[str]) -> None:
    for child in node.children:
        if isinstance(child, NavigableString):
            if not isinstance(child, _SKIPPED_STRINGS):
                parts.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        if child.name == "br":
            parts.append("\n")
        elif child.name == "img":
            alt = child.get("alt")
            if alt:
                parts.append(str(alt))
        else:
            if child.name == "a":
                shown = child.get_text()
                match = _MENTION_HREF.match(child.get("href", ""))
                if match and shown.startswith("@"):
                    mentions.append(shown[1:].strip() or unquote(match.group(1)))
            _walk(child, parts, mentions)


_REPLY_PREFIX = re.compile(r"^\s*回复\s*@([^:：\s]+?)\s*[:：]")


def reply_to_name(text: str) -> str | None:
    """NAME of a leading ``回复@NAME:`` (a reply to a second-level reply)."""
    match = _REPLY_PREFIX.match(text)
    return match.group(1) if match else None


# --- counts ---------------------------------------------------------------------

_COUNT = re.compile(r"^(\d+(?:\.\d+)?)\s*(万|亿)?\+?$")
_UNITS = {None: 1, "万": 10_000, "亿": 100_000_000}


def parse_count(value: object) -> int | None:
    """``12``, ``"12"``, ``"100万+"`` → 1000000, ``"2671.2万"``, ``"1.2亿"``; missing → None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a count: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        match = _COUNT.match(value.strip().replace(",", ""))
        if match:
            try:
                return int(Decimal(match.group(1)) * _UNITS[match.group(2)])
            except InvalidOperation:
                pass
    raise ValueError(f"not a count: {value!r}")


# --- times ----------------------------------------------------------------------

_MONTHS = {name: i for i, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ABSOLUTE = re.compile(
    r"^(?P<wd>[A-Z][a-z]{2}) (?P<mon>[A-Z][a-z]{2}) +(?P<d>\d{1,2}) (?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2}) "
    r"(?P<sign>[+-])(?P<oh>\d{2})(?P<om>\d{2}) (?P<y>\d{4})$")
_HM = r"(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
_AGO = re.compile(r"^(?P<n>\d+)\s*(?P<unit>秒|分钟|小时)前$")
_TODAY = re.compile(r"^(?P<day>今天|昨天|前天)\s*(?P<H>\d{1,2}):(?P<M>\d{2})$")
_FULL_DATE = re.compile(r"^(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})" + _HM + "$")
_FULL_DATE_CN = re.compile(r"^(?P<y>\d{4})年(?P<mo>\d{1,2})月(?P<d>\d{1,2})日" + _HM + "$")
_SHORT_DATE = re.compile(r"^(?P<mo>\d{1,2})-(?P<d>\d{1,2})" + _HM + "$")
_SHORT_DATE_CN = re.compile(r"^(?P<mo>\d{1,2})月(?P<d>\d{1,2})日" + _HM + "$")
_UNITS_AGO = {"秒": "seconds", "分钟": "minutes", "小时": "hours"}
_DAY_OFFSET = {"今天": 0, "昨天": 1, "前天": 2}


def parse_time(value: str, now: datetime) -> tuple[datetime, bool]:
    """A Weibo time → (aware UTC datetime, approximate?).

    Absolute ``"Fri Jun 14 20:39:20 +0800 2019"`` is exact and parsed with
    fixed English names (never the process locale).  Every relative form is
    resolved against ``now`` in Asia/Shanghai and marked approximate; a date
    without a year gets the year that puts it in the past (across New Year).
    """
    value = value.strip()
    match = _ABSOLUTE.match(value)
    if match:
        if match["wd"] not in _DAYS or match["mon"] not in _MONTHS:
            raise ValueError(f"not a Weibo time: {value!r}")
        offset = timedelta(hours=int(match["oh"]), minutes=int(match["om"]))
        tz = timezone(offset if match["sign"] == "+" else -offset)
        when = datetime(int(match["y"]), _MONTHS[match["mon"]], int(match["d"]),
                        int(match["H"]), int(match["M"]), int(match["S"]), tzinfo=tz)
        return when.astimezone(timezone.utc), False

    local_now = now.astimezone(SHANGHAI)
    if value == "刚刚":
        return now.astimezone(timezone.utc), True
    match = _AGO.match(value)
    if match:
        delta = timedelta(**{_UNITS_AGO[match["unit"]]: int(match["n"])})
        return (now - delta).astimezone(timezone.utc), True
    match = _TODAY.match(value)
    if match:
        day = local_now.date() - timedelta(days=_DAY_OFFSET[match["day"]])
        return _local(day, match), True
    for pattern in (_FULL_DATE, _FULL_DATE_CN):
        match = pattern.match(value)
        if match:
            day = date(int(match["y"]), int(match["mo"]), int(match["d"]))
            # a full date with seconds is as exact as Weibo gets
            return _local(day, match), match["S"] is None
    for pattern in (_SHORT_DATE, _SHORT_DATE_CN):
        match = pattern.match(value)
        if match:
            return _past_year(int(match["mo"]), int(match["d"]), match, local_now), True
    raise ValueError(f"not a Weibo time: {value!r}")


def _local(day: date, match: re.Match[str]) -> datetime:
    hm = time(int(match["H"] or 0), int(match["M"] or 0), int(match.groupdict().get("S") or 0))
    return datetime.combine(day, hm, tzinfo=SHANGHAI).astimezone(timezone.utc)


def _past_year(month: int, day: int, match: re.Match[str], local_now: datetime) -> datetime:
    # "MM-DD" means the current year, which is wrong right after New Year:
    # take the latest year that does not put the time in the future.
    for year in range(local_now.year, local_now.year - 5, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 02-29 outside a leap year
            continue
        when = _local(candidate, match)
        if match["H"] is None:
            if candidate <= local_now.date():
                return when
        elif when <= local_now + timedelta(hours=1):  # tolerate small clock skew
            return when
    raise ValueError(f"not a date: {month:02d}-{day:02d}")
