"""Parsers of a Discuz! X board's pages and of its mobile API.

Four endpoints, each one response to normalized records:

- ``forumdisplay``: a forum's thread list (``forum.php?mod=forumdisplay``);
- ``viewthread``: one page of a thread's posts (``forum.php?mod=viewthread``);
- ``mobile_forumdisplay`` / ``mobile_viewthread``: the same from the mobile
  API (``api/mobile/index.php?module=…``, JSON under ``Variables``).

A thread is a post (its title, the first post's message once read); the
thread's other posts are its comments, flat (Discuz floors have no reply
tree; a quote names whom a post answers).  Forum users are ``u<uid>``; a post
by one of the account's official uids is the account's own (author id = the
account's id), as the rest of huisheng tells an answer by author id.

Discuz shows times in the site's zone, often relatively ("3 天前",
"昨天 08:12", "半小时前"), the absolute time in a ``title`` attribute when
there is one; relative times are resolved against the fetch time and never
land after it.  Error pages (a ``messagetext`` box, a login form, a
``seccode`` challenge) and the API's ``Message`` are mapped to the exception
tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, Tag
from bs4.dammit import EncodingDetector

from huisheng import errors
from huisheng.adapters.payload import load_json
from huisheng.records import Comment, Page, Post, Shortfall

NAME = "discuz"
SITE_ZONE = ZoneInfo("Asia/Shanghai")
HTML_ENDPOINTS = ("forumdisplay", "viewthread")
MOBILE_ENDPOINTS = ("mobile_forumdisplay", "mobile_viewthread")
#: what a page's thread list or post list is under; neither: not a Discuz page we know
_UID_RE = re.compile(r"(?:space-uid-|[?&;]uid=)(\d+)")
_PAGE_RE = re.compile(r"[?&;]page=(\d+)")
_PID_RE = re.compile(r"[?&;]pid=(\d+)")
_QUOTED_RE = re.compile(r"^\s*(.+?)\s+发表于\s")
#: the store's width for a name: a quote header or an author cell holding more is cut
NAME_WIDTH = 200
_ID_RE = re.compile(r"\d{1,20}")
INT32 = 2**31 - 1

# --- error pages -------------------------------------------------------------------------

#: phrases of Discuz's message box (showmessage) and the API's messagestr, most specific first
_MESSAGES: tuple[tuple[re.Pattern[str], type[errors.AdapterError]], ...] = (
    (re.compile(r"seccode|验证码|安全验证|secqaa"), errors.AuthRequired),
    (re.compile(r"刷新过于频繁|请求过于频繁|过于频繁|两次发表间隔|flood|too_fast"), errors.RateLimited),
    (re.compile(r"您需要登录|需要登录|请先登录|登录后|尚未登录|to_login|not_login|login"), errors.AuthRequired),
    (re.compile(r"没有找到帖子|不存在|已被删除|正在被审核|nonexistence|not_exist|deleted"), errors.NotFound),
    (re.compile(r"没有权限|无权|禁止访问|访问被拒绝|被禁止|Access Denied|权限不足|nopermission|no_permission|"
                r"noallowed|banned"), errors.Blocked),
    (re.compile(r"站点已关闭|论坛已关闭|维护|Database Error|closed"), errors.ServerError),
)


def _message_error(text: str, endpoint: str) -> errors.AdapterError | None:
    for pattern, cls in _MESSAGES:
        if pattern.search(text):
            # the site's own words, short: they never hold a secret of ours
            return cls(text.strip()[:120], endpoint=endpoint)
    return None


def check_page(soup: BeautifulSoup, endpoint: str) -> None:
    """Raise the exception tree's error for a Discuz error page: the message
    box (``#messagetext``), a login form in place of the content, a
    ``seccode`` challenge, a database error."""
    if soup.find(attrs={"name": "seccodehash"}) or soup.find(id=re.compile(r"^seccode")):
        if not soup.find(id="postlist") and not soup.find(id="threadlisttableid"):
            raise errors.AuthRequired("安全验证（seccode）", endpoint=endpoint)
    box = soup.find(id="messagetext")
    if box is not None:
        text = box.get_text(" ", strip=True)
        raise _message_error(text, endpoint) or errors.ServerError(f"论坛提示：{text[:120]}", endpoint=endpoint)
    if soup.find(id="messagelogin") or (soup.find("form", attrs={"name": "login"})
                                        and not soup.find(id="postlist") and not soup.find(id="threadlisttableid")):
        raise errors.AuthRequired("您需要登录后才能继续本操作", endpoint=endpoint)
    title = soup.title.get_text(strip=True) if soup.title else ""
    if "Database Error" in title or "Discuz! System Error" in title:
        raise errors.ServerError(title[:120], endpoint=endpoint)


# --- decoding ------------------------------------------------------------------------------


def charset_of(body: bytes, header: str | None = None) -> str:
    """The page's charset: the HTTP header's, else the one the page declares
    (``<meta charset>``), else UTF-8.  GB2312 and GBK pages are read as
    GB18030, their superset (pages declaring GB2312 hold GBK characters)."""
    name = header or EncodingDetector.find_declared_encoding(body[:4096], is_html=True) or "utf-8"
    name = name.strip().lower()
    return "gb18030" if name in ("gb2312", "gbk", "gb18030", "x-gbk", "cp936") else name


def header_charset(content_type: str | None) -> str | None:
    match = re.search(r"charset=[\"']?([\w.-]+)", content_type or "", re.I)
    return match.group(1) if match else None


def decode_html(endpoint: str, text: str) -> BeautifulSoup:
    """A whole page as a soup; a page cut short is no page."""
    if not re.search(r"</html\s*>\s*$", text[-400:], re.I):
        raise errors.ParseError(endpoint, "<body>", "not a whole HTML page (cut short or not HTML)")
    return BeautifulSoup(text, "html.parser")


def decode_json(endpoint: str, text: str) -> Any:
    return load_json(endpoint, text)


def decode_text(endpoint: str, text: str) -> Any:
    return decode_json(endpoint, text) if endpoint in MOBILE_ENDPOINTS else decode_html(endpoint, text)


def decode_bytes(endpoint: str, body: bytes, content_type: str | None = None) -> Any:
    """A response's bytes in the charset the header or the page declares."""
    if endpoint in MOBILE_ENDPOINTS:
        return decode_json(endpoint, body.decode("utf-8", errors="replace"))
    try:
        text = body.decode(charset_of(body, header_charset(content_type)), errors="replace")
    except LookupError:
        raise errors.ParseError(endpoint, "charset", "unknown charset") from None
    return decode_html(endpoint, text)


# --- times ------------------------------------------------------------------------------------

_ABSOLUTE_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_AGO_RE = re.compile(r"(\d+)\s*(秒|分钟|小时|天)前")
_DAY_WORDS = {"今天": 0, "昨天": 1, "前天": 2}
_UNITS = {"秒": "seconds", "分钟": "minutes", "小时": "hours", "天": "days"}


def parse_time(text: str, title: str | None, now: datetime, endpoint: str, field: str,
               zone: tzinfo = SITE_ZONE) -> tuple[datetime, bool]:
    """(UTC time, approximate) of a time as a Discuz page shows it; the
    ``title`` attribute's absolute time wins over relative words.  Never
    after ``now``, the fetch time."""
    local_now = now.astimezone(zone)
    for candidate in (title, text):
        match = _ABSOLUTE_RE.search(candidate or "")
        if match:
            y, mo, d, h, mi, s = match.groups()
            try:
                day = date(int(y), int(mo), int(d))
                if h is None:  # a date alone: the time of day is unknown
                    words = _relative(text, local_now, endpoint, field) if candidate is title else None
                    at = words[0].astimezone(zone) if words else None
                    clock = time(at.hour, at.minute) if at is not None and at.date() == day else time(0, 0)
                    when = datetime.combine(day, clock, zone)
                    return min(when.astimezone(timezone.utc), now), True
                when = datetime.combine(day, time(int(h), int(mi), int(s or 0)), zone)
            except ValueError:
                raise errors.ParseError(endpoint, field, f"not a date: {candidate[:40]!r}") from None
            return min(when.astimezone(timezone.utc), now), False
    relative = _relative(text, local_now, endpoint, field)
    if relative is None:
        raise errors.ParseError(endpoint, field, f"not a time: {text[:40]!r}")
    return min(relative[0].astimezone(timezone.utc), now), True


def _relative(text: str, local_now: datetime, endpoint: str, field: str) -> tuple[datetime, bool] | None:
    text = (text or "").strip()
    if not text:
        return None
    if "刚刚" in text:
        return local_now, True
    if "半小时前" in text:
        return local_now - timedelta(minutes=30), True
    match = _AGO_RE.search(text)
    if match:
        return local_now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}), True
    match = re.search(r"(今天|昨天|前天)\s*(\d{1,2}):(\d{2})", text)
    if match:
        day = local_now.date() - timedelta(days=_DAY_WORDS[match.group(1)])
        try:
            return datetime.combine(day, time(int(match.group(2)), int(match.group(3))), local_now.tzinfo), True
        except ValueError:
            raise errors.ParseError(endpoint, field, f"not a time: {text[:40]!r}") from None
    return None


def _epoch(value: Any, endpoint: str, field: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        raise errors.ParseError(endpoint, field, "not a Unix time") from None


# --- who wrote it ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a parser needs beyond the response: the account whose forum is
    read, its official uids, the fetch time and the site's zone."""

    account_uid: str = ""
    account_name: str = ""
    officials: frozenset[str] = frozenset()
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    zone: tzinfo = SITE_ZONE
    #: the forum's address, for links (None: no links)
    site: str | None = None

    def author(self, uid: str) -> str:
        """The author id of forum user ``uid`` (0: a guest or anonymous)."""
        return self.account_uid if self.account_uid and uid in self.officials else f"u{uid}"


def make_context(account_uid: str = "", now: datetime | None = None, officials: Iterable[str] = (),
                 account_name: str = "", zone: tzinfo | None = None, site: str | None = None,
                 **_: Any) -> Context:
    return Context(account_uid=account_uid, account_name=account_name, officials=frozenset(officials),
                   now=now or datetime.now(timezone.utc), zone=zone or SITE_ZONE, site=site)


def thread_url(site: str | None, tid: str) -> str | None:
    return f"{site.rstrip('/')}/forum.php?mod=viewthread&tid={tid}" if site else None


def site_of(thread: str | None) -> str | None:
    """The board's address in a thread's (``thread_url``'s inverse)."""
    if not thread:
        return None
    site, found, _ = thread.partition("/forum.php?")
    return site if found else None


def post_link(site: str | None, tid: str, pid: str) -> str | None:
    return f"{site.rstrip('/')}/forum.php?mod=redirect&goto=findpost&ptid={tid}&pid={pid}" if site else None


def _uid_of(link: Tag | None, endpoint: str, field: str) -> str:
    if link is None:
        return "0"
    match = _UID_RE.search(link.get("href") or "")
    return _id(match.group(1), endpoint, field) if match else "0"


def _id(value: Any, endpoint: str, field: str) -> str:
    """A Discuz id (tid, pid, uid: digits): anything else, or one too long for
    the store's columns, is a shape this parser does not know."""
    text = str(value)
    if not _ID_RE.fullmatch(text):
        raise errors.ParseError(endpoint, field, f"not an id: {text[:20]!r}")
    return text


def _int(text: str | None, endpoint: str, field: str) -> int:
    digits = re.sub(r"[\s,]", "", text or "")
    if not digits.isascii() or not digits.isdigit():
        raise errors.ParseError(endpoint, field, f"not a number: {(text or '')[:20]!r}")
    if len(digits) > 10 or int(digits) > INT32:  # a count the store's integer columns cannot hold
        raise errors.ParseError(endpoint, field, f"out of range: {digits[:20]}")
    return int(digits)


def _next_page(soup: BeautifulSoup) -> int | None:
    """The page the pager's 下一页 link leads to; None on the last page."""
    pager = soup.find("div", class_="pg")
    link = pager.find("a", class_="nxt") if pager else None
    if link is None:
        return None
    match = _PAGE_RE.search(link.get("href") or "")
    return int(match.group(1)) if match else None


# --- forumdisplay -----------------------------------------------------------------------------


def parse_forumdisplay(soup: BeautifulSoup, *, page: int = 1, **context: Any) -> Page[Post]:
    """A page of a forum's thread list: each thread a post whose text is its
    title for now (``is_truncated``: the first post's message is read with
    ``viewthread``); pinned threads first, as the forum lists them."""
    endpoint = "forumdisplay"
    ctx = context.get("ctx") or make_context(**context)
    check_page(soup, endpoint)
    table = soup.find(id="threadlisttableid") or soup.find(id="threadlist")
    if table is None:
        raise errors.ParseError(endpoint, "threadlist", "missing")
    posts = []
    for body in table.find_all("tbody", id=re.compile(r"^(normal|stick)thread_\d+$")):
        tid = _id(body["id"].rpartition("_")[2], endpoint, "threadlist.tid")
        title = body.find("a", class_="xst")
        if title is None:
            raise errors.ParseError(endpoint, "threadlist.xst", "missing")
        cells = body.find_all("td", class_="by")
        if not cells:
            raise errors.ParseError(endpoint, "threadlist.by", "missing")
        cite = cells[0].find("cite")
        link = cite.find("a") if cite else None
        uid = _uid_of(link, endpoint, "threadlist.authorid")
        name = (link or cite).get_text(strip=True) if (link or cite) else ""
        when = cells[0].find("em")
        if when is None:
            raise errors.ParseError(endpoint, "threadlist.dateline", "missing")
        span = when.find("span", title=True)
        created, approx = parse_time(when.get_text(" ", strip=True), span["title"] if span else None,
                                     ctx.now, endpoint, "threadlist.dateline", ctx.zone)
        num = body.find("td", class_="num")
        replies = num.find("a") if num else None
        count = _int(replies.get_text() if replies else None, endpoint, "threadlist.replies")
        posts.append(_thread_post(ctx, tid, uid, name, title.get_text(" ", strip=True), created, approx,
                                  count, pinned=body["id"].startswith("stick"), truncated=True,
                                  raw={"tid": tid, "authorid": uid, "author": name}))
    following = _next_page(soup)
    return Page(items=tuple(posts), cursor=str(following) if following else None, complete=following is None)


def _thread_post(ctx: Context, tid: str, uid: str, name: str, text: str, created: datetime | None,
                 approx: bool, replies: int | None, *, pinned: bool = False, truncated: bool,
                 raw: Mapping[str, Any]) -> Post:
    author = ctx.author(uid)
    return Post(platform=NAME, external_id=tid, account_uid=ctx.account_uid, author_id=author,
                author_name=name[:NAME_WIDTH], created_at=created, created_at_approx=approx, text=text,
                url=thread_url(ctx.site, tid), is_pinned=pinned, is_truncated=truncated,
                comments_count=replies,
                # a citizen's thread in the account's forum is addressed to the account
                mentions=(ctx.account_name,) if ctx.account_name and author != ctx.account_uid else (),
                raw=dict(raw))


# --- viewthread ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadPage:
    """One page of a thread: the thread itself (its first post's message
    when this page holds it) and the page's other posts as comments."""

    thread: Post
    comments: Page[Comment]


def _message_text(cell: Tag) -> tuple[str, str | None, str | None]:
    """(the post's own words, the name and pid of the post it quotes)."""
    quoted_name = quoted_pid = None
    for quote in cell.find_all("div", class_="quote"):
        first = quote.find("font", color=True) or quote
        match = _QUOTED_RE.match(first.get_text(" ", strip=True))
        if match and quoted_name is None:
            quoted_name = match.group(1)[:NAME_WIDTH]
            pid = _PID_RE.search((quote.find("a") or {}).get("href", "") if quote.find("a") else "")
            quoted_pid = pid.group(1) if pid else None
        quote.decompose()
    # scripts, edit notes, attachment notices and the anti-copy "jammer" text hidden from readers
    hidden = cell.find_all(style=re.compile(r"display\s*:\s*none", re.I))
    for noise in cell.find_all(["script", "style"]) + cell.find_all(class_=["pstatus", "jammer", "attach_nopermission"]) \
            + hidden:
        noise.decompose()
    for br in cell.find_all("br"):
        br.replace_with("\n")
    lines = [re.sub(r"[ \t\u00a0\u3000]+", " ", line).strip() for line in cell.get_text().split("\n")]
    return "\n".join(line for line in lines if line), quoted_name, quoted_pid


def parse_viewthread_page(soup: BeautifulSoup, *, page: int = 1, post_id: str = "", **context: Any) -> ThreadPage:
    endpoint = "viewthread"
    ctx = context.get("ctx") or make_context(**context)
    check_page(soup, endpoint)
    postlist = soup.find(id="postlist")
    if postlist is None:
        raise errors.ParseError(endpoint, "postlist", "missing")
    subject = soup.find(id="thread_subject")
    if subject is None:
        raise errors.ParseError(endpoint, "thread_subject", "missing")
    tid = post_id
    if not tid:
        link = soup.find("a", href=re.compile(r"tid=\d+"))
        found = re.search(r"tid=(\d+)", link["href"]) if link else None
        tid = found.group(1) if found else ""
    tid = _id(tid, endpoint, "tid")
    replies = None
    for label in soup.select("div.hm span.xg1"):
        if "回复" in label.get_text():
            value = label.find_next_sibling("span", class_="xi1")
            replies = _int(value.get_text() if value else None, endpoint, "replies")
    if replies is None:
        raise errors.ParseError(endpoint, "replies", "missing")
    first: Post | None = None
    comments = []
    for index, box in enumerate(postlist.find_all("div", id=re.compile(r"^post_\d+$"), recursive=False)):
        pid = _id(box["id"].partition("_")[2], endpoint, "postlist.pid")
        author_box = box.find("div", class_="authi")
        link = author_box.find("a", href=_UID_RE) if author_box else None
        uid = _uid_of(link, endpoint, "postlist.authorid")
        name = link.get_text(strip=True) if link else (author_box.get_text(strip=True) if author_box else "")
        stamp = box.find("em", id=f"authorposton{pid}")
        if stamp is None:
            raise errors.ParseError(endpoint, "authorposton", "missing")
        span = stamp.find("span", title=True)
        created, approx = parse_time(stamp.get_text(" ", strip=True), span["title"] if span else None,
                                     ctx.now, endpoint, "authorposton", ctx.zone)
        cell = box.find(id=f"postmessage_{pid}") or box.find("div", class_="locked")
        if cell is None:
            raise errors.ParseError(endpoint, "postmessage", "missing")
        text, quoted_name, quoted_pid = _message_text(cell)
        raw = {"pid": pid, "tid": tid, "authorid": uid, "author": name}
        if page == 1 and index == 0:
            title = subject.get_text(" ", strip=True)
            first = _thread_post(ctx, tid, uid, name, f"{title}\n{text}" if text else title, created, approx,
                                 replies, truncated=False, raw=raw)
            continue
        author = ctx.author(uid)
        comments.append(Comment(platform=NAME, external_id=pid, post_id=tid, author_id=author, author_name=name[:NAME_WIDTH],
                                created_at=created, created_at_approx=approx, text=text,
                                parent_id=quoted_pid, reply_to_name=quoted_name,
                                is_from_owner=bool(ctx.account_uid) and author == ctx.account_uid, raw=raw))
    if page == 1 and first is None:
        raise errors.ParseError(endpoint, "postlist", "no first post")
    following = _next_page(soup)
    thread = first or _thread_post(ctx, tid, "0", "", subject.get_text(" ", strip=True), None, True, replies,
                                   truncated=True, raw={"tid": tid})
    return ThreadPage(thread, _comment_page(comments, following, replies))


def _comment_page(comments: list[Comment], following: int | None, replies: int) -> Page[Comment]:
    if following is None and not comments and replies > 0:
        # the floors are hidden (under moderation, or the thread served short): nothing is concluded gone
        return Page(items=(), complete=False, total=replies, incomplete=Shortfall(got=0, claimed=replies))
    return Page(items=tuple(comments), cursor=str(following) if following else None,
                complete=following is None, total=replies)


def parse_viewthread(soup: BeautifulSoup, **context: Any) -> Page[Post | Comment]:
    """``huisheng parse``'s view of a thread page: the thread (page 1) and its posts."""
    result = parse_viewthread_page(soup, **context)
    items = ((result.thread,) if not result.thread.is_truncated else ()) + result.comments.items
    return Page(items=items, cursor=result.comments.cursor, complete=result.comments.complete,
                total=result.comments.total, incomplete=result.comments.incomplete)


# --- the mobile API ------------------------------------------------------------------------------


def _variables(payload: Any, endpoint: str) -> Mapping[str, Any]:
    if not isinstance(payload, dict):
        raise errors.ParseError(endpoint, "<body>", "not a JSON object")
    message = payload.get("Message")
    if isinstance(message, dict) and (message.get("messageval") or message.get("messagestr")):
        val, text = str(message.get("messageval") or ""), str(message.get("messagestr") or "")
        if not val.endswith("_succeed"):
            raise _message_error(f"{text} ({val})", endpoint) or errors.ServerError(text[:120] or val[:60],
                                                                                 endpoint=endpoint)
    if "error" in payload and "Variables" not in payload:
        raise _message_error(str(payload["error"]), endpoint) or errors.ServerError(
            str(payload["error"])[:120], endpoint=endpoint)
    variables = payload.get("Variables")
    if not isinstance(variables, dict):
        raise errors.ParseError(endpoint, "Variables", "missing" if variables is None else "unexpected type")
    return variables


def _get(item: Any, key: str, endpoint: str, where: str) -> Any:
    value = item.get(key) if isinstance(item, dict) else None
    if value is None or isinstance(value, (dict, list)):
        raise errors.ParseError(endpoint, f"{where}.{key}", "missing" if value is None else "unexpected type")
    return value


def _pages(count: int, per_page: int, page: int) -> int | None:
    """The next page number while ``count`` items at ``per_page`` go on past ``page``."""
    return page + 1 if per_page > 0 and page * per_page < count else None


def parse_mobile_forumdisplay(payload: Any, *, page: int = 1, **context: Any) -> Page[Post]:
    endpoint = "mobile_forumdisplay"
    ctx = context.get("ctx") or make_context(**context)
    variables = _variables(payload, endpoint)
    threads = variables.get("forum_threadlist")
    if not isinstance(threads, list):
        raise errors.ParseError(endpoint, "forum_threadlist", "missing" if threads is None else "unexpected type")
    forum = variables.get("forum")
    total = _int(str(_get(forum, "threads", endpoint, "forum")), endpoint, "forum.threads")
    per_page = _int(str(_get(variables, "tpp", endpoint, "Variables")), endpoint, "tpp")
    posts = []
    for item in threads:
        where = "forum_threadlist"
        tid = _id(_get(item, "tid", endpoint, where), endpoint, f"{where}.tid")
        uid = _id(_get(item, "authorid", endpoint, where), endpoint, f"{where}.authorid")
        created = _epoch(_get(item, "dbdateline", endpoint, where), endpoint, f"{where}.dbdateline")
        replies = _int(str(_get(item, "replies", endpoint, where)), endpoint, f"{where}.replies")
        posts.append(_thread_post(ctx, tid, uid, str(_get(item, "author", endpoint, where)),
                                  BeautifulSoup(str(_get(item, "subject", endpoint, where)), "html.parser").get_text(),
                                  min(created, ctx.now), False, replies,
                                  pinned=str(item.get("displayorder") or "0") not in ("0", "-1"), truncated=True,
                                  raw=item))
    following = _pages(total, per_page, page)
    return Page(items=tuple(posts), cursor=str(following) if following else None, complete=following is None,
                total=total)


def parse_mobile_viewthread_page(payload: Any, *, page: int = 1, post_id: str = "", **context: Any) -> ThreadPage:
    endpoint = "mobile_viewthread"
    ctx = context.get("ctx") or make_context(**context)
    variables = _variables(payload, endpoint)
    thread = variables.get("thread")
    postlist = variables.get("postlist")
    if not isinstance(postlist, list):
        raise errors.ParseError(endpoint, "postlist", "missing" if postlist is None else "unexpected type")
    tid = _id(_get(thread, "tid", endpoint, "thread"), endpoint, "thread.tid")
    replies = _int(str(_get(thread, "replies", endpoint, "thread")), endpoint, "thread.replies")
    per_page = _int(str(_get(variables, "ppp", endpoint, "Variables")), endpoint, "ppp")
    subject = BeautifulSoup(str(_get(thread, "subject", endpoint, "thread")), "html.parser").get_text()
    first: Post | None = None
    comments = []
    for item in postlist:
        where = "postlist"
        pid = _id(_get(item, "pid", endpoint, where), endpoint, f"{where}.pid")
        uid = _id(_get(item, "authorid", endpoint, where), endpoint, f"{where}.authorid")
        name = str(_get(item, "author", endpoint, where))
        created = min(_epoch(_get(item, "dbdateline", endpoint, where), endpoint, f"{where}.dbdateline"), ctx.now)
        cell = BeautifulSoup(f"<div>{_get(item, 'message', endpoint, where)}</div>", "html.parser").div
        text, quoted_name, quoted_pid = _message_text(cell)
        if str(item.get("first") or "0") == "1":
            first = _thread_post(ctx, tid, uid, name, f"{subject}\n{text}" if text else subject, created, False,
                                 replies, truncated=False, raw=item)
            continue
        author = ctx.author(uid)
        comments.append(Comment(platform=NAME, external_id=pid, post_id=tid, author_id=author, author_name=name[:NAME_WIDTH],
                                created_at=created, created_at_approx=False, text=text, parent_id=quoted_pid,
                                reply_to_name=quoted_name,
                                is_from_owner=bool(ctx.account_uid) and author == ctx.account_uid, raw=item))
    if page == 1 and first is None:
        raise errors.ParseError(endpoint, "postlist", "no first post")
    following = _pages(replies + 1, per_page, page)
    result = first or _thread_post(ctx, tid, _id(thread.get("authorid") or "0", endpoint, "thread.authorid"), str(thread.get("author") or ""),
                                   subject, None, True, replies, truncated=True, raw=thread)
    return ThreadPage(result, _comment_page(comments, following, replies))


def parse_mobile_viewthread(payload: Any, **context: Any) -> Page[Post | Comment]:
    result = parse_mobile_viewthread_page(payload, **context)
    items = ((result.thread,) if not result.thread.is_truncated else ()) + result.comments.items
    return Page(items=items, cursor=result.comments.cursor, complete=result.comments.complete,
                total=result.comments.total, incomplete=result.comments.incomplete)


PARSERS = {"forumdisplay": parse_forumdisplay, "viewthread": parse_viewthread,
           "mobile_forumdisplay": parse_mobile_forumdisplay, "mobile_viewthread": parse_mobile_viewthread}

