"""Pure parsers: one function per Weibo response shape, no I/O.

Every parser takes the decoded JSON payload and the same keyword context
(``account_uid``, ``now``, ``post_id``, ``page``) and builds the whole page
before returning.  A missing or mistyped required field raises
``ParseError(endpoint, path)`` with a path such as ``data.cards[3].mblog.id``,
so nothing half-parsed ever escapes.  :data:`PARSERS` is the one registry used
by the adapter and by ``huisheng parse``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

from huisheng import errors
from huisheng.adapters.weibo import text as wtext
from huisheng.adapters.payload import load_json
from huisheng.records import Comment, Page, Post

PLATFORM = "weibo"

#: widths of the store's columns (``huisheng.storage.models``): ids, short
#: ids, names, regions; a longer id is not Weibo's, a longer name is cut
ID_WIDTH = 64
SHORT_ID_WIDTH = 32
NAME_WIDTH = 200
REGION_WIDTH = 64
#: how far Weibo's clock may run ahead of ours
CLOCK_SKEW = timedelta(days=1)

#: ``ok:0`` messages that mean "nothing here" rather than failure
EMPTY_MESSAGES = ("这里还没有内容", "还没有人评论", "暂无数据", "微博-出错了")
#: ``ok:0`` messages for a post that is deleted or hidden (m.weibo.cn answers HTTP 200)
GONE_MESSAGES = ("微博不存在", "暂无查看权限", "已被作者删除", "已被删除")


@dataclass(frozen=True)
class LongText:
    """The whole text of a long post; ``text`` None means keep the preview."""

    text: str | None
    mentions: tuple[str, ...] = ()
    kind: str = "longtext"


class At:
    """A JSON value with its path, so every failure names the field."""

    __slots__ = ("value", "path", "endpoint")

    def __init__(self, value: Any, path: str, endpoint: str):
        self.value = value
        self.path = path
        self.endpoint = endpoint

    def _sub(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | None = None, message: str = "") -> errors.ParseError:
        return errors.ParseError(self.endpoint, self._sub(key) if key else (self.path or "<body>"),
                                 message)

    def get(self, key: str, default: Any = None) -> Any:
        if not isinstance(self.value, dict):
            raise self.fail(message="expected an object")
        found = self.value.get(key)
        return default if found is None else found

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and self.value.get(key) is not None

    def req(self, key: str, *alternatives: str) -> Any:
        """The first present of ``key`` and its ``alternatives``; else ParseError naming ``key``."""
        for name in (key, *alternatives):
            found = self.get(name)
            if found is not None:
                return found
        raise self.fail(key, "missing")

    def ident(self, key: str, *alternatives: str) -> str:
        found = self.req(key, *alternatives)
        return self._ident(key, found)

    def opt_ident(self, key: str, *alternatives: str) -> str | None:
        """The id under the first present of ``key`` and ``alternatives``, None when absent."""
        for name in (key, *alternatives):
            found = self.get(name)
            if found is not None:
                return self._ident(name, found)
        return None

    def _ident(self, key: str, found: Any) -> str:
        text = str(found) if isinstance(found, (str, int)) and not isinstance(found, bool) else ""
        # ids are stored in 64-character columns and sent back as parameters
        if text == "" or len(text) > ID_WIDTH or not text.isprintable() or text.strip() != text:
            raise self.fail(key, "expected an id")
        return text

    def name(self, key: str, width: int = NAME_WIDTH) -> str:
        """A display string (a user's name …): "" when absent, cut to ``width``."""
        found = self.get(key, "")
        if isinstance(found, bool) or not isinstance(found, (str, int)):
            raise self.fail(key, "expected a string")
        return _clean(str(found))[:width]

    def string(self, key: str, *alternatives: str) -> str:
        found = self.req(key, *alternatives)
        if not isinstance(found, str):
            raise self.fail(key, "expected a string")
        return found

    def obj(self, key: str) -> At:
        found = self.req(key)
        if not isinstance(found, dict):
            raise self.fail(key, "expected an object")
        return At(found, self._sub(key), self.endpoint)

    def opt_obj(self, key: str) -> At | None:
        return self.obj(key) if self.has(key) else None

    def items(self, key: str, *, required: bool = True) -> list[At]:
        if not required and not self.has(key):
            return []
        found = self.req(key)
        if not isinstance(found, list):
            raise self.fail(key, "expected a list")
        return [At(v, f"{self._sub(key)}[{i}]", self.endpoint) for i, v in enumerate(found)]

    def count(self, key: str, *alternatives: str) -> int | None:
        for name in (key, *alternatives):
            if self.has(name):
                try:
                    return wtext.parse_count(self.get(name))
                except ValueError as exc:
                    raise self.fail(name, str(exc)) from None
        return None

    def time(self, key: str, now: datetime, item_id: str) -> tuple[datetime, bool]:
        """The item's time; a relative or date-only one is taken from ``item_id``
        when the id's time fits it (see :func:`wtext.parse_time`)."""
        raw = self.string(key)
        try:
            when, approx = wtext.parse_time(raw, now, item_id)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None
        # Dated before Weibo existed or after it was fetched, an item is not
        # one Weibo made (and such a date would break the working-day clock)
        if not wtext.WEIBO_LAUNCH <= when <= now + CLOCK_SKEW:
            raise self.fail(key, f"not a plausible time: {raw[:40]!r}")
        return when, approx


# --- envelope -------------------------------------------------------------------


def _envelope(payload: Any, endpoint: str) -> At | Page:
    """The payload as ``At``, or the page it stands for when Weibo says there
    is nothing here: complete when the listing is empty, not complete when the
    post it belongs to is gone or hidden (nothing may be concluded from it)."""
    root = At(payload, "", endpoint)
    if not isinstance(payload, dict):
        raise root.fail(message="expected a JSON object")
    ok = payload.get("ok")
    if ok == 1 or (ok is None and endpoint == "status" and "id" in payload):
        return root
    if ok == -100:
        raise errors.AuthRequired("login or captcha required (ok=-100)", endpoint=endpoint)
    msg = str(payload.get("msg") or "")
    if ok == 0 and any(marker in msg for marker in EMPTY_MESSAGES):
        return Page(items=(), cursor=None, complete=True)
    if ok == 0 and any(marker in msg for marker in GONE_MESSAGES):
        return Page(items=(), cursor=None, complete=False)
    raise root.fail("ok", f"ok={ok!r} msg={msg[:80]!r}")


def _cursor(**values: Any) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


# --- posts ------------------------------------------------------------------------


def _text_of(item: At) -> tuple[str, tuple[str, ...]]:
    html = item.get("text")
    if html is not None:
        if not isinstance(html, str):
            raise item.fail("text", "expected a string")
        text, mentions = wtext.html_to_text(html)
    else:
        text = item.string("text", "text_raw", "raw_text").strip()
        mentions = wtext.plain_mentions(text)
    return _clean(text), tuple(_clean(m)[:NAME_WIDTH] for m in mentions)


def _clean(text: str) -> str:
    # PostgreSQL cannot store NUL in text; it carries nothing a reader sees
    return text.replace("\x00", "")


def _is_pinned(m: At) -> bool:
    title = m.get("title")
    return bool(m.get("isTop")) or m.get("mblogtype") == 2 or (
        isinstance(title, dict) and title.get("text") == "置顶")


def _edit_count(m: At) -> int:
    count = m.count("edit_count")
    if count:
        return count
    config = m.get("edit_config")
    return 1 if isinstance(config, dict) and config.get("edited") else 0


def _comments_open(m: At) -> bool | None:
    info = m.get("comment_manage_info")
    if not isinstance(info, dict) or info.get("comment_permission_type") is None:
        return None
    return info["comment_permission_type"] in (-1, 0)


def _region(value: Any, prefixes: Iterable[str]) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    for prefix in prefixes:
        if value.startswith(prefix):
            value = value[len(prefix):].strip()
    return _clean(value)[:REGION_WIDTH] or None


def _short_id(m: At) -> str | None:
    key = "bid" if m.get("bid") else "mblogid"
    short_id = m.opt_ident(key) if m.get(key) else None
    if short_id is not None and (len(short_id) > SHORT_ID_WIDTH or "/" in short_id):
        raise m.fail(key, "expected a short id")
    return short_id


def _post(m: At, *, account_uid: str, now: datetime, nested: bool = False) -> list[Post]:
    """The post, followed by the post it reposts (its own record) if any."""
    external_id = m.ident("id", "idstr", "mid")
    user = m.obj("user")
    author_id = user.ident("id")
    created_at, approx = m.time("created_at", now, external_id)
    text, mentions = _text_of(m)
    short_id = _short_id(m)
    repost_of: str | None = None
    original: list[Post] = []
    retweeted = m.opt_obj("retweeted_status")
    if retweeted is not None:
        repost_of = retweeted.ident("id", "idstr", "mid")
        # a deleted original comes back without its user: nothing to store for
        # it; Weibo names the root original of a repost chain, so an original's
        # own original (a payload nested without end) is not followed
        if retweeted.has("user") and not nested:
            original = _post(retweeted, account_uid=account_uid, now=now, nested=True)
    post = Post(
        platform=PLATFORM,
        external_id=external_id,
        account_uid=account_uid,
        author_id=author_id,
        author_name=user.name("screen_name"),
        created_at=created_at,
        created_at_approx=approx,
        text=text,
        short_id=short_id,
        url=wtext.post_url(author_id, external_id, short_id),
        is_pinned=_is_pinned(m),
        is_truncated=bool(m.get("isLongText")),
        repost_of=repost_of,
        comments_count=m.count("comments_count"),
        reposts_count=m.count("reposts_count"),
        likes_count=m.count("attitudes_count"),
        comments_open=_comments_open(m),
        mentions=mentions,
        region=_region(m.get("region_name"), ("发布于",)),
        edit_count=_edit_count(m),
        raw=m.value,
    )
    return [post, *original]


def _dedup(items: Iterable[Any]) -> tuple[Any, ...]:
    seen: dict[str, Any] = {}
    for item in items:
        seen.setdefault(item.external_id, item)
    return tuple(seen.values())


def parse_timeline(payload: Any, *, account_uid: str = "", now: datetime, post_id: str = "",
                   page: int = 1) -> Page[Post]:
    """``/api/container/getIndex`` with a timeline containerid (m.weibo.cn)."""
    root = _envelope(payload, "timeline")
    if isinstance(root, Page):
        return root
    data = root.obj("data")
    posts: list[Post] = []
    for card in data.items("cards"):
        card_type = card.get("card_type")
        if card_type == 9:
            posts += _post(card.obj("mblog"), account_uid=account_uid, now=now)
        elif card_type == 11:
            for inner in card.items("card_group", required=False):
                if inner.get("card_type") == 9 and inner.has("mblog"):
                    posts += _post(inner.obj("mblog"), account_uid=account_uid, now=now)
    info = data.opt_obj("cardlistInfo")
    cursor = None
    if info is not None and info.get("since_id") not in (None, "", 0, "0"):
        cursor = _cursor(since_id=_token(info, "since_id"))
    elif info is not None and info.get("page") not in (None, "", 0, "0"):
        cursor = _cursor(page=_page_number(info, "page"))
    total = info.count("total") if info is not None else None
    return Page(items=_dedup(posts), cursor=cursor, complete=cursor is None, total=total)


def parse_status(payload: Any, *, account_uid: str = "", now: datetime, post_id: str = "",
                 page: int = 1) -> Page[Post]:
    """``/statuses/show`` (``data`` = the status) or weibo.com's bare status object."""
    root = _envelope(payload, "status")
    if isinstance(root, Page):
        raise errors.NotFound("the post is gone", endpoint="status")
    status = root.obj("data") if root.has("data") else root
    return Page(items=_dedup(_post(status, account_uid=account_uid, now=now)), complete=True)


def parse_longtext(payload: Any, *, account_uid: str = "", now: datetime | None = None,
                   post_id: str = "", page: int = 1) -> LongText:
    """``/statuses/extend`` or ``/ajax/statuses/longtext``; ``data:{}`` keeps the preview."""
    root = _envelope(payload, "longtext")
    if isinstance(root, Page):
        return LongText(None)
    data = root.get("data")
    if isinstance(data, dict) and not data:
        return LongText(None)
    html = root.obj("data").string("longTextContent")
    text, mentions = wtext.html_to_text(html)
    return LongText(_clean(text), tuple(_clean(m)[:NAME_WIDTH] for m in mentions))


def parse_ajax_timeline(payload: Any, *, account_uid: str = "", now: datetime, post_id: str = "",
                        page: int = 1) -> Page[Post]:
    """weibo.com ``/ajax/statuses/mymblog``: page form, ends at an empty list."""
    root = _envelope(payload, "ajax_timeline")
    if isinstance(root, Page):
        return root
    data = root.obj("data")
    posts: list[Post] = []
    entries = data.items("list")
    for entry in entries:
        posts += _post(entry, account_uid=account_uid, now=now)
    if not entries:
        return Page(items=(), cursor=None, complete=True, total=data.count("total"))
    return Page(items=_dedup(posts), cursor=_cursor(page=page + 1), complete=False,
                total=data.count("total"))


# --- comments ---------------------------------------------------------------------


def _comment(c: At, *, account_uid: str, now: datetime, post_id: str) -> Comment:
    """One comment; ``root_id``/``parent_id`` are settled by :func:`_link`."""
    external_id = c.ident("id", "idstr")
    user = c.obj("user")
    author_id = user.ident("id")
    created_at, approx = c.time("created_at", now, external_id)
    text, mentions = _text_of(c)
    rootid = _root_ref(c)
    root_id = rootid if rootid is not None and rootid != external_id else None
    inline = c.get("comments")
    if inline is not None and not isinstance(inline, (list, bool)):
        raise c.fail("comments", "expected a list or false")
    replies_count = c.count("total_number")
    inline_count = len(inline) if isinstance(inline, list) else 0
    # ``comments: false`` (or a short inline list) while the counter says more
    has_more = c.has("more_info") or inline_count < (replies_count or 0)
    return Comment(
        platform=PLATFORM,
        external_id=external_id,
        post_id=post_id,
        author_id=author_id,
        author_name=user.name("screen_name"),
        created_at=created_at,
        created_at_approx=approx,
        text=text,
        root_id=root_id,
        parent_id=root_id,
        reply_to_name=wtext.reply_to_name(text),
        is_from_owner=(account_uid != "" and author_id == account_uid) or bool(c.get("is_mblog_author")),
        like_count=c.count("like_count", "like_counts"),
        replies_count=replies_count,
        has_more_replies=has_more,
        mentions=mentions,
        region=_region(c.get("source"), ("来自",)),
        raw=c.value,
    )


def _root_ref(c: At) -> str | None:
    """``rootid`` (or ``rootidstr`` when it is 0 or absent), None when neither says."""
    key = "rootid" if c.get("rootid") else "rootidstr"
    return c.opt_ident(key) if c.get(key) else None


def _with_links(comment: Comment, root_id: str | None, parent_id: str | None) -> Comment:
    return replace(comment, root_id=root_id, parent_id=parent_id)


def _link_siblings(children: list[tuple[Comment, At]], root_id: str) -> list[Comment]:
    """Parents of a root's replies: the sibling named after 回复@, else the root.

    On weibo.com ``reply_comment.id`` names the parent outright.
    """
    out = []
    for child, node in children:
        parent = root_id
        reply = node.get("reply_comment")
        if isinstance(reply, dict) and reply.get("id") is not None:
            parent = node.obj("reply_comment").ident("id")
        elif child.reply_to_name:
            named = [c for c, _ in children
                     if c.author_name == child.reply_to_name and c.external_id != child.external_id]
            # the latest reply by NAME before this one (parsers always set created_at)
            earlier = [c for c in named if c.created_at <= child.created_at]
            pick = earlier or named
            if pick:
                parent = max(pick, key=lambda c: c.created_at).external_id
        out.append(_with_links(child, root_id, parent))
    return out


def _thread(top: list[At], ctx: Mapping[str, Any]) -> list[Comment]:
    """Top-level comments, each followed by its inline replies."""
    out: list[Comment] = []
    for node in top:
        comment = _comment(node, **ctx)
        inline = node.items("comments") if isinstance(node.get("comments"), list) else []
        if comment.root_id is not None:
            # a reply listed at top level (weibo.com mixes): link it on its own
            out += _link_siblings([(comment, node)], comment.root_id)
        else:
            out.append(comment)
        children = [(_comment(child, **ctx), child) for child in inline]
        out += _link_siblings(children, comment.external_id)
    return out


def _ctx(account_uid: str, now: datetime, post_id: str) -> dict[str, Any]:
    return {"account_uid": account_uid, "now": now, "post_id": post_id}


def _max_id(at: At) -> Any:
    at.req("max_id")
    return _token(at, "max_id")


def _token(at: At, key: str, default: Any = None) -> Any:
    """A paging cursor as received (a number or a numeric string), to send back."""
    value = at.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or len(str(value)) > ID_WIDTH:
        raise at.fail(key, "expected a number")
    return value


def _page_number(at: At, key: str) -> int:
    try:
        number = wtext.parse_count(at.get(key))
    except ValueError:
        number = None
    if number is None or number < 1:
        raise at.fail(key, "expected a page number")
    return number


def _ended(max_id: Any) -> bool:
    return str(max_id) in ("0", "")


def parse_hotflow(payload: Any, *, account_uid: str = "", now: datetime, post_id: str = "",
                  page: int = 1) -> Page[Comment]:
    """``/comments/hotflow``: ``data.data[]``, both cursors passed back as received."""
    root = _envelope(payload, "comments")
    if isinstance(root, Page):
        return root
    data = root.obj("data")
    items = _thread(data.items("data"), _ctx(account_uid, now, post_id))
    max_id = _max_id(data)
    cursor = None if _ended(max_id) else _cursor(max_id=max_id, max_id_type=_token(data, "max_id_type", 0))
    return Page(items=_dedup(items), cursor=cursor, complete=cursor is None,
                total=data.count("total_number"))


def parse_comments_show(payload: Any, *, account_uid: str = "", now: datetime, post_id: str = "",
                        page: int = 1) -> Page[Comment]:
    """``/api/comments/show?page=n``: flat list, replies name ``reply_id``; ends after ``data.max``."""
    root = _envelope(payload, "comments_old")
    if isinstance(root, Page):
        return root
    data = root.obj("data")
    ctx = _ctx(account_uid, now, post_id)
    nodes = data.items("data") + data.items("hot_data", required=False)
    parsed = [(_comment(node, **ctx), node) for node in nodes]
    parent_of = {c.external_id: n.ident("reply_id") for c, n in parsed if n.has("reply_id")}
    items = []
    for comment, node in parsed:
        parent = parent_of.get(comment.external_id)
        if parent is None:
            items.append(comment)
            continue
        # follow the chain inside the page to the top-level comment
        root_id, hops = parent, 0
        while root_id in parent_of and hops < 10:
            root_id, hops = parent_of[root_id], hops + 1
        items.append(_with_links(comment, comment.root_id or root_id, parent))
    last = data.count("max")
    cursor = _cursor(page=page + 1) if last is not None and page < last else None
    return Page(items=_dedup(items), cursor=cursor, complete=cursor is None,
                total=data.count("total_number"))


def parse_child_comments(payload: Any, *, account_uid: str = "", now: datetime, post_id: str = "",
                         page: int = 1) -> Page[Comment]:
    """``/comments/hotFlowChild``: flat ``{ok, data[], rootComment[], max_id, total_number}``."""
    root = _envelope(payload, "child_comments")
    if isinstance(root, Page):
        return root
    ctx = _ctx(account_uid, now, post_id)
    roots = root.items("rootComment", required=False)
    children = [(_comment(node, **ctx), node) for node in root.items("data")]
    root_id = roots[0].ident("id", "idstr") if roots else None
    if root_id is None and children:
        root_id = children[0][0].root_id
    if root_id is None and children:
        raise children[0][1].fail("rootid", "missing")
    items = _link_siblings(children, root_id) if children else []
    max_id = _max_id(root)
    cursor = None if _ended(max_id) else _cursor(max_id=max_id, max_id_type=_token(root, "max_id_type", 0))
    return Page(items=_dedup(items), cursor=cursor, complete=cursor is None,
                total=root.count("total_number"))


def parse_ajax_comments(payload: Any, *, account_uid: str = "", now: datetime, post_id: str = "",
                        page: int = 1) -> Page[Comment]:
    """weibo.com ``/ajax/statuses/buildComments`` (top level, or second level with
    ``is_mix=1&fetch_level=1``): ``{ok, data[], max_id, total_number}``."""
    root = _envelope(payload, "ajax_comments")
    if isinstance(root, Page):
        return root
    ctx = _ctx(account_uid, now, post_id)
    nodes = root.items("data")
    top = [n for n in nodes if _is_top_level(n)]
    if len(top) == len(nodes):
        items = _thread(nodes, ctx)
    else:  # a second-level page: every item is a reply under one root
        parsed = [(_comment(node, **ctx), node) for node in nodes]
        items = []
        for root_id in dict.fromkeys(c.root_id for c, _ in parsed if c.root_id):
            items += _link_siblings([(c, n) for c, n in parsed if c.root_id == root_id], root_id)
        items += [c for c, _ in parsed if c.root_id is None]
    max_id = _max_id(root)
    cursor = None if _ended(max_id) else _cursor(max_id=max_id)
    return Page(items=_dedup(items), cursor=cursor, complete=cursor is None,
                total=root.count("total_number"))


def _is_top_level(node: At) -> bool:
    rootid = _root_ref(node)
    return rootid is None or rootid == node.opt_ident("id", "idstr")


# --- mentions --------------------------------------------------------------------


def parse_search(payload: Any, *, account_uid: str = "", now: datetime, post_id: str = "",
                 page: int = 1) -> Page[Post]:
    """m.weibo.cn real-time search (``getIndex``, containerid ``100103type=61&q=…``):
    the timeline's card shapes, ``cardlistInfo.page`` the next page, ``这里还没有
    内容`` the end.  Only the posts found are kept, not the originals they repost
    (an original is no mention of the account)."""
    root = _envelope(payload, "search")
    if isinstance(root, Page):
        return root
    data = root.obj("data")
    posts: list[Post] = []
    for card in data.items("cards"):
        card_type = card.get("card_type")
        if card_type == 9:
            posts += _post(card.obj("mblog"), account_uid=account_uid, now=now)[:1]
        elif card_type == 11:
            for inner in card.items("card_group", required=False):
                if inner.get("card_type") == 9 and inner.has("mblog"):
                    posts += _post(inner.obj("mblog"), account_uid=account_uid, now=now)[:1]
    info = data.opt_obj("cardlistInfo")
    cursor = None
    if info is not None and info.get("page") not in (None, "", 0, "0"):
        cursor = _cursor(page=_page_number(info, "page"))
    # no next page named: the last page (the same as the end marker one page on)
    return Page(items=_dedup(posts), cursor=cursor, complete=cursor is None)


def _since(data: At) -> str | None:
    """weibo.com's ``since_id`` paging: the next page's cursor, None at the end."""
    if data.get("since_id") in (None, "", 0, "0"):
        return None
    return _cursor(since_id=_token(data, "since_id"))


def parse_ajax_mentions(payload: Any, *, account_uid: str = "", now: datetime, post_id: str = "",
                        page: int = 1) -> Page[Post]:
    """weibo.com ``/ajax/statuses/mentions`` (the logged-in account's inbox of
    posts that @ it): ``{ok, data:{list[], since_id}}``, newest first."""
    root = _envelope(payload, "ajax_mentions")
    if isinstance(root, Page):
        return root
    data = root.obj("data")
    posts: list[Post] = []
    for entry in data.items("list"):
        posts += _post(entry, account_uid=account_uid, now=now)[:1]
    cursor = _since(data)
    return Page(items=_dedup(posts), cursor=cursor, complete=cursor is None)


def parse_ajax_comment_mentions(payload: Any, *, account_uid: str = "", now: datetime, post_id: str = "",
                                page: int = 1) -> Page:
    """weibo.com ``/ajax/comments/mentions`` (comments that @ the logged-in
    account, anywhere): ``{ok, data:{list[], since_id}}``, each comment with
    the post it is under as ``status``; that post comes first in the page."""
    root = _envelope(payload, "ajax_comment_mentions")
    if isinstance(root, Page):
        return root
    data = root.obj("data")
    items: list[Post | Comment] = []
    for entry in data.items("list"):
        status = entry.obj("status")
        post = _post(status, account_uid=account_uid, now=now)[0]
        comment = _comment(entry, account_uid="", now=now, post_id=post.external_id)
        items += [post, comment]
    cursor = _since(data)
    seen: dict[tuple[str, str], Any] = {}
    for item in items:
        seen.setdefault((item.kind, item.external_id), item)
    return Page(items=tuple(seen.values()), cursor=cursor, complete=cursor is None)


# --- profile ---------------------------------------------------------------------


def parse_profile(payload: Any, *, uid: str) -> str:
    """The timeline containerid from ``getIndex?type=uid`` (the tab with tab_type "weibo")."""
    root = _envelope(payload, "profile")
    if isinstance(root, Page):
        raise errors.NotFound(f"no Weibo account {uid}", endpoint="profile")
    data = root.obj("data")
    user = data.obj("userInfo")
    if user.ident("id") != str(uid):
        raise user.fail("id", "the profile of another account")
    tabs = data.obj("tabsInfo").items("tabs")
    for tab in tabs:
        if tab.get("tab_type") == "weibo":
            return tab.ident("containerid")
    raise errors.NotFound(f"account {uid} has no timeline container", endpoint="profile")


Parser = Callable[..., Any]

#: endpoint name → parser; the adapter and ``huisheng parse`` use exactly these
PARSERS: Mapping[str, Parser] = {
    "timeline": parse_timeline,
    "status": parse_status,
    "longtext": parse_longtext,
    "comments": parse_hotflow,
    "comments_old": parse_comments_show,
    "child_comments": parse_child_comments,
    "ajax_timeline": parse_ajax_timeline,
    "ajax_comments": parse_ajax_comments,
    "search": parse_search,
    "ajax_mentions": parse_ajax_mentions,
    "ajax_comment_mentions": parse_ajax_comment_mentions,
}


# --- bodies -------------------------------------------------------------------------


def decode_body(endpoint: str, body: str) -> Any:
    """A response body → JSON payload.

    Weibo's HTML error pages for "nothing here" become the equivalent
    ``{"ok": 0, "msg": ...}``; any other HTML is a login wall; a body that is
    not JSON raises ``ParseError(endpoint, "<body>")``.
    """
    stripped = body.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<"):
        for marker in ("微博-出错了", "暂无数据"):
            if marker in stripped:
                return {"ok": 0, "msg": marker}
        raise errors.AuthRequired("login wall (HTML page instead of data): a cookie is needed",
                                  endpoint=endpoint)
    return load_json(endpoint, stripped)


def parse_body(endpoint: str, body: str, **context: Any) -> Any:
    """Decode and parse one saved or fetched body with the endpoint's parser."""
    try:
        parser = PARSERS[endpoint]
    except KeyError:
        raise errors.ParseError(endpoint, "<endpoint>", "unknown endpoint") from None
    return parser(decode_body(endpoint, body), **context)
