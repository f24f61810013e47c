"""Parsers of the message board's two JSON answers, and its error answers.

``list`` — a board's threads (``/threads/queryThreadsList``, by ``fid`` and
``lastItem``): ``{"result": "success", "resultDesc": …, "responseData": [thread, …]}``,
newest first, each thread with ``tid``, ``subject``, ``content``, ``dateline``
(Unix seconds), ``nickName``, ``domainName``, ``typeName``, ``stateInfo`` and,
once answered, ``answerId``, ``answerContent``, ``answerOrganization``,
``answerDateline``.  An empty ``responseData`` is the end of the board.

``detail`` — one thread (``/v1/threads/content``, by ``tid``):
``{"resultCode": 200, "resultMsg": …, "resultData": {"tid": …, "stateInfo": …,
"contentList": [entry, …]}}`` where an entry of ``dataType`` 1 is the citizen's
message (the list's fields) and one of ``dataType`` 4 an official answer
(``answerId``, ``content``, ``dateline``, ``answerOrganization``).

A thread is a citizen's message to the board's leader: a post of its own (its
root item is flagged like any citizen's message); the answers are the board
account's comments in it.  Nothing of a response these parsers refuse is kept.
"""

from __future__ import annotations

import html
import re
import warnings
from datetime import datetime, timezone
from typing import Any

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

from huisheng import errors
from huisheng.adapters.payload import load_json
from huisheng.records import Comment, Page, Post

PLATFORM = "liuyan"
THREAD_URL = "https://liuyan.people.com.cn/threads/content?tid={tid}"
#: ``contentList`` entry kinds: the citizen's message, an official answer
MESSAGE, ANSWER = 1, 4
#: what the board's error answers say, mapped to the exception tree (first match wins)
_DESCRIBED = (
    (re.compile(r"频繁|过快|限流|稍后再试"), errors.RateLimited),
    (re.compile(r"不存在|已删除|已被删除|未找到|审核中"), errors.NotFound),
    (re.compile(r"登录|登陆|验证码|安全验证|人机验证"), errors.AuthRequired),
    (re.compile(r"拒绝访问|禁止访问|非法请求|黑名单"), errors.Blocked),
)
#: the detail's result codes
_CODES = {401: errors.AuthRequired, 403: errors.Blocked, 404: errors.NotFound, 429: errors.RateLimited}
#: an author id cannot collide with a board's fid (the matrix's account ids)
AUTHOR_PREFIX = "u:"


def thread_url(tid: str) -> str:
    return THREAD_URL.format(tid=tid)


def decode_body(endpoint: str, body: str) -> Any:
    """JSON, or the error the HTML page in its place means (a WAF's check, a
    rate-limit page, an error page)."""
    stripped = body.lstrip()
    if stripped.startswith("<"):
        raise html_error(endpoint, stripped)
    return load_json(endpoint, body)


def html_error(endpoint: str, page: str) -> errors.AdapterError:
    """What an HTML page where JSON was expected says, as the tree's error."""
    with warnings.catch_warnings():  # whatever markup it is, only its words are read
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        text = BeautifulSoup(page, "html.parser").get_text(" ", strip=True)[:200]
    for pattern, kind in _DESCRIBED:
        if pattern.search(text):
            return kind(f"the board answered an HTML page: {text[:80]}", endpoint=endpoint)
    return errors.ParseError(endpoint, "<body>", "an HTML page, not JSON")


def described_error(endpoint: str, desc: str, default: type[errors.AdapterError] = errors.ServerError
                    ) -> errors.AdapterError:
    """The board's own failure answer (``resultDesc`` / ``resultMsg``) as the tree's error."""
    for pattern, kind in _DESCRIBED:
        if pattern.search(desc):
            return kind(f"the board says: {desc[:80]}", endpoint=endpoint)
    return default(f"the board says: {desc[:80] or 'fail'}", endpoint=endpoint)


def _field(item: Any, name: str, endpoint: str, kinds: type | tuple[type, ...] = str) -> Any:
    value = item.get(name) if isinstance(item, dict) else None
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise errors.ParseError(endpoint, name, "missing" if value is None else "unexpected type")
    return value


def _optional(item: dict, name: str, endpoint: str) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise errors.ParseError(endpoint, name, "unexpected type")
    return str(value).strip()


def _id(item: Any, name: str, endpoint: str) -> str:
    value = _field(item, name, endpoint, (int, str))
    text = str(value).strip()
    if not text.isdigit() or len(text) > 20:
        raise errors.ParseError(endpoint, name, "not a numeric id")
    return text


def _time(item: Any, name: str, endpoint: str) -> datetime:
    value = _field(item, name, endpoint, (int, float, str))
    try:
        seconds = float(value)
        # some answers give milliseconds
        return datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise errors.ParseError(endpoint, name, "not a Unix time") from None


def _plain(text: str) -> str:
    """The board's text as plain text: its few tags (``<br>``, ``<p>``) as line breaks, entities decoded."""
    if "<" not in text and "&" not in text:
        return text.strip()
    soup = BeautifulSoup(text.replace("\r\n", "\n"), "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    return html.unescape(soup.get_text()).strip()


def message_text(type_name: str, subject: str, content: str) -> str:
    """What the decide step reads: the kind the citizen chose (咨询, 投诉 …),
    the subject and the message."""
    head = f"【{type_name}】" if type_name else ""
    return f"{head}{subject}\n{content}" if subject else f"{head}{content}"


def _thread(item: Any, endpoint: str, *, account_uid: str, account_name: str, answers: int) -> Post:
    tid = _id(item, "tid", endpoint)
    subject = _plain(_field(item, "subject", endpoint))
    content = _plain(_field(item, "content", endpoint))
    nick = _optional(item, "nickName", endpoint) or "网友"
    state = _optional(item, "stateInfo", endpoint) or None
    return Post(platform=PLATFORM, external_id=tid, account_uid=account_uid, author_id=AUTHOR_PREFIX + nick[:64 - len(AUTHOR_PREFIX)],
                author_name=nick[:200], created_at=_time(item, "dateline", endpoint), created_at_approx=False,
                text=message_text(_optional(item, "typeName", endpoint), subject, content),
                url=thread_url(tid), comments_count=answers,
                # the thread is the board owner's to answer: its root item is a mention of the account
                mentions=(account_name,) if account_name else (), platform_state=state, raw=item)


def _answered(item: dict, endpoint: str) -> bool:
    return bool(_optional(item, "answerId", endpoint) or _optional(item, "answerContent", endpoint))


def parse_list(payload: Any, *, account_uid: str = "", account_name: str = "", endpoint: str = "list",
               **context: Any) -> Page[Post]:
    """A page of a board's threads, newest first; the cursor is the last ``tid``."""
    if not isinstance(payload, dict) or "result" not in payload:
        raise errors.ParseError(endpoint, "result", "missing")
    if payload["result"] != "success":
        raise described_error(endpoint, _optional(payload, "resultDesc", endpoint))
    items = _field(payload, "responseData", endpoint, list)
    posts = tuple(_thread(item, endpoint, account_uid=account_uid, account_name=account_name,
                          answers=1 if isinstance(item, dict) and _answered(item, endpoint) else 0)
                  for item in items)
    if not posts:
        return Page(items=(), cursor=None, complete=True)
    return Page(items=posts, cursor=posts[-1].external_id, complete=False)


def parse_detail(payload: Any, *, account_uid: str = "", account_name: str = "", endpoint: str = "detail",
                 **context: Any) -> Page[Post | Comment]:
    """One thread: the citizen's message as its post, then the official answers
    (the board account's comments in it), oldest first.  A page of one whole
    thread: complete."""
    if not isinstance(payload, dict) or "resultCode" not in payload:
        raise errors.ParseError(endpoint, "resultCode", "missing")
    code = payload["resultCode"]
    try:
        code = int(code)
    except (TypeError, ValueError):
        raise errors.ParseError(endpoint, "resultCode", "not a number") from None
    if code != 200:
        desc = _optional(payload, "resultMsg", endpoint)
        kind = _CODES.get(code) or (errors.ServerError if 500 <= code < 600 else None)
        if kind is not None:
            raise kind(f"the board says {code}: {desc[:80]}", endpoint=endpoint)
        raise described_error(endpoint, desc)
    data = _field(payload, "resultData", endpoint, dict)
    entries = _field(data, "contentList", endpoint, list)
    messages = [e for e in entries if isinstance(e, dict) and e.get("dataType") == MESSAGE]
    if not messages:
        raise errors.ParseError(endpoint, "contentList", "no citizen's message (dataType 1)")
    answers = [e for e in entries if isinstance(e, dict) and e.get("dataType") == ANSWER]
    # the thread's own fields (state, kind) sit beside the list, the message's in its entry
    post = _thread({**data, **messages[0], "tid": data.get("tid", messages[0].get("tid"))}, endpoint,
                   account_uid=account_uid, account_name=account_name, answers=len(answers))
    comments = tuple(Comment(platform=PLATFORM, external_id="a" + _id(a, "answerId", endpoint),
                             post_id=post.external_id, author_id=account_uid,
                             author_name=(_optional(a, "answerOrganization", endpoint) or account_name)[:200],
                             created_at=_time(a, "dateline", endpoint), created_at_approx=False,
                             text=_plain(_field(a, "content", endpoint)), is_from_owner=True, raw=a)
                     for a in answers)
    return Page(items=(post, *comments), cursor=None, complete=True)


PARSERS = {"list": parse_list, "detail": parse_detail}
