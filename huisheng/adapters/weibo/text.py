"""Pure helpers for Weibo values: HTML text, counts, times.

Each raises :class:`ValueError` on a value it does not understand; the parsers
turn that into ``ParseError(endpoint, field)`` with the field's path.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment as HtmlComment
from bs4.element import Declaration, Doctype, ProcessingInstruction

#: Weibo's relative times are Beijing time whatever the server or process zone.
SHANGHAI = ZoneInfo("Asia/Shanghai")

# --- links --------------------------------------------------------------------


def post_url(author_id: str, external_id: str, short_id: str | None = None) -> str:
    """A post's public page (weibo.com/UID/BID): the link stored with the
    post, and the one built for a post stored without it."""
    return f"https://weibo.com/{quote(author_id, safe='')}/{quote(short_id or external_id, safe='')}"

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
    # depth first with a stack of its own: HTML nested thousands deep must not
    # exhaust Python's recursion limit
    stack = [iter(node.children)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
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
                match = _MENTION_HREF.match(str(child.get("href", "")))
                if match and shown.startswith("@"):
                    mentions.append(shown[1:].strip() or unquote(match.group(1)))
            stack.append(iter(child.children))


_REPLY_PREFIX = re.compile(r"^\s*回复\s*@([^:：\s]{1,200}?)\s*[:：]")


def reply_to_name(text: str) -> str | None:
    """NAME of a leading ``回复@NAME:`` (a reply to a second-level reply)."""
    match = _REPLY_PREFIX.match(text)
    return match.group(1) if match else None


#: what Weibo fills in for a repost whose author wrote nothing
BARE_REPOSTS = ("转发微博", "Repost", "轉發微博")


def repost_text(text: str) -> str | None:
    """The reposter's own words: the text before the quoted ``//@NAME:`` chain;
    None for a bare repost."""
    own = text.split("//@", 1)[0].strip()
    return None if not own or own in BARE_REPOSTS else own


# --- counts ---------------------------------------------------------------------

_COUNT = re.compile(r"^(\d+(?:\.\d+)?)\s*(万|亿)?\+?$")
#: the largest count stored (a 32-bit column)
MAX_COUNT = 2**31 - 1
_UNITS = {None: 1, "万": 10_000, "亿": 100_000_000}


def parse_count(value: object) -> int | None:
    """``12``, ``"12"``, ``"100万+"`` → 1000000, ``"2671.2万"``, ``"1.2亿"``; missing → None.

    A count is 0 … :data:`MAX_COUNT` (what the store's columns hold); anything
    else (negative, NaN, 1e400, thousands of digits) is not a count."""
    if value is None or value == "":
        return None
    count: int | None = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        count = value
    elif isinstance(value, float):
        count = int(value) if math.isfinite(value) else None
    elif isinstance(value, str) and len(value) <= 40:
        match = _COUNT.match(value.strip().replace(",", ""))
        if match:
            try:
                count = int(Decimal(match.group(1)) * _UNITS[match.group(2)])
            except InvalidOperation:
                pass
    if count is None or not 0 <= count <= MAX_COUNT:
        raise ValueError(f"not a count: {_shown(value)}")
    return count


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, (str, int, float, bool)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."



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
_UNITS_AGO = {"秒": timedelta(seconds=1), "分钟": timedelta(minutes=1), "小时": timedelta(hours=1)}
_DAY_OFFSET = {"今天": 0, "昨天": 1, "前天": 2}

#: Weibo's numeric ids (a post's mid, a comment's id) are snowflake-like: the
#: bits above the lowest 22 count seconds from this offset to the Unix epoch
#: (checked against ``created_at`` on 44 real items: all within 1 s)
ID_EPOCH_OFFSET = 515483463
#: what the formula gives for ids of another scheme is earlier than Weibo itself
WEIBO_LAUNCH = datetime(2009, 8, 1, tzinfo=timezone.utc)
#: how far the formula may be off
_ID_SLACK = (timedelta(0), timedelta(seconds=-1), timedelta(seconds=1))
#: "N分钟前" is floored by Weibo's clock, which is not ours
_AGO_SLACK = timedelta(seconds=60)

Window = Callable[[datetime], bool]


def id_time(item_id: object) -> datetime | None:
    """The creation time (UTC, whole seconds) a numeric Weibo id encodes, or
    None for an id that is not a number or gives no time Weibo could have."""
    text = str(item_id) if isinstance(item_id, (str, int)) and not isinstance(item_id, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    try:
        when = datetime.fromtimestamp((int(text) >> 22) + ID_EPOCH_OFFSET, timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None
    return when if when >= WEIBO_LAUNCH else None


def parse_time(value: str, now: datetime, item_id: object = None) -> tuple[datetime, bool]:
    """A Weibo time → (aware UTC datetime, approximate?).

    Absolute ``"Fri Jun 14 20:39:20 +0800 2019"`` (and a full date with
    seconds) is exact and parsed with fixed English names (never the process
    locale).  A relative or date-only form (``刚刚``, ``5分钟前``, ``昨天 20:15``,
    ``06-14``, ``2019-06-14`` …) takes the time ``item_id`` encodes when that
    time is plausible: not after ``now`` (the fetch time) and inside the span
    the string allows, in Asia/Shanghai; that time is exact.  Otherwise the
    string is resolved against ``now`` and marked approximate: a date without
    a year gets the latest year that does not put it after ``now`` (across New
    Year), and nothing is ever dated after ``now``.
    """
    value = value.strip()
    try:
        exact = _exact(value)
        if exact is not None:
            return exact, False
        guess, window = _relative(value, now)
    except OverflowError:  # "99999999999小时前", "Mon Jan 01 00:00:00 +0800 0001"
        raise ValueError(f"not a Weibo time: {value[:40]!r}") from None
    from_id = id_time(item_id)
    if from_id is not None and from_id <= now and any(window(from_id + slack) for slack in _ID_SLACK):
        return from_id, False
    return min(guess, now.astimezone(timezone.utc)), True


def _exact(value: str) -> datetime | None:
    match = _ABSOLUTE.match(value)
    if match:
        if match["wd"] not in _DAYS or match["mon"] not in _MONTHS:
            raise ValueError(f"not a Weibo time: {value!r}")
        offset = timedelta(hours=int(match["oh"]), minutes=int(match["om"]))
        tz = timezone(offset if match["sign"] == "+" else -offset)
        when = datetime(int(match["y"]), _MONTHS[match["mon"]], int(match["d"]),
                        int(match["H"]), int(match["M"]), int(match["S"]), tzinfo=tz)
        return when.astimezone(timezone.utc)
    for pattern in (_FULL_DATE, _FULL_DATE_CN):
        match = pattern.match(value)
        if match and match["S"] is not None:  # a full date with seconds is as exact as Weibo gets
            return _local(date(int(match["y"]), int(match["mo"]), int(match["d"])), match)
    return None


def _relative(value: str, now: datetime) -> tuple[datetime, Window]:
    """(the time the string names resolved against ``now``, the test a time
    must pass to be the one the string was made from)."""
    now = now.astimezone(timezone.utc)
    local_now = now.astimezone(SHANGHAI)
    if value == "刚刚":
        return now, _between(now - 2 * _AGO_SLACK, now)
    match = _AGO.match(value)
    if match:
        step = _UNITS_AGO[match["unit"]]
        ago = now - int(match["n"]) * step
        return ago, _between(ago - step - _AGO_SLACK, ago + _AGO_SLACK)
    match = _TODAY.match(value)
    if match:
        start = _local(local_now.date() - timedelta(days=_DAY_OFFSET[match["day"]]), match)
        return start, _between(start, start + timedelta(minutes=1))
    for pattern in (_FULL_DATE, _FULL_DATE_CN):
        match = pattern.match(value)
        if match:
            start = _local(date(int(match["y"]), int(match["mo"]), int(match["d"])), match)
            span = timedelta(days=1) if match["H"] is None else timedelta(minutes=1)
            return start, _between(start, start + span)
    for pattern in (_SHORT_DATE, _SHORT_DATE_CN):
        match = pattern.match(value)
        if match:
            month, day = int(match["mo"]), int(match["d"])
            return _past_year(month, day, match, local_now), _same_day(month, day, match)
    raise ValueError(f"not a Weibo time: {value!r}")


def _between(start: datetime, end: datetime) -> Window:
    return lambda t: start <= t < end


def _same_day(month: int, day: int, match: re.Match[str]) -> Window:
    """``MM-DD [HH:MM]``: that day (and minute) of any year."""
    def window(t: datetime) -> bool:
        local = t.astimezone(SHANGHAI)
        if (local.month, local.day) != (month, day):
            return False
        return match["H"] is None or (local.hour, local.minute) == (int(match["H"]), int(match["M"]))
    return window


def _local(day: date, match: re.Match[str]) -> datetime:
    hm = time(int(match["H"] or 0), int(match["M"] or 0), int(match.groupdict().get("S") or 0))
    return datetime.combine(day, hm, tzinfo=SHANGHAI).astimezone(timezone.utc)


def _past_year(month: int, day: int, match: re.Match[str], local_now: datetime) -> datetime:
    # "MM-DD" means the current year, which is wrong right after New Year:
    # take the latest year that does not put the day after today.
    for year in range(local_now.year, local_now.year - 5, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 02-29 outside a leap year
            continue
        if candidate <= local_now.date():
            return _local(candidate, match)
    raise ValueError(f"not a date: {month:02d}-{day:02d}")
