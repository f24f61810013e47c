"""The simulated world in Weibo's wire shapes (m.weibo.cn and weibo.com/ajax).

Pure functions: ``(world, query, now) -> (status, body)``.  Shapes follow
``weibo-api.md``; the choices that document leaves open are stated where made.
"""

from __future__ import annotations

import math
import re
import zlib
from datetime import datetime, timedelta
from html import escape
from typing import Any, Mapping

from huisheng.simulator.world import SHANGHAI, SimComment, SimPost, World

TIMELINE_PAGE = 10
SEARCH_PAGE = 10
INBOX_PAGE = 20
AJAX_TIMELINE_PAGE = 20
COMMENT_PAGE = 20
CHILD_PAGE = 20
OLD_COMMENT_PAGE = 10
INLINE_CHILDREN = 2
PREVIEW_CHARS = 120
#: cursors are opaque numbers to the client; offset + this base (0 means "end")
CURSOR_BASE = 138_000_000_000

NO_COMMENTS = {"ok": 0, "msg": "还没有人评论哦~快来抢沙发！"}
NO_CONTENT = {"ok": 0, "msg": "这里还没有内容"}
#: /statuses/show (and extend) for a deleted or unknown post: weibo-api.md gives no
#: shape for it; m.weibo.cn answers HTTP 200 with ok 0 and this message.
POST_GONE = {"ok": 0, "msg": "微博不存在或暂无查看权限!"}
ERROR_PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>微博-出错了</title></head>"
              "<body><p>暂无数据</p></body></html>")

_EMOTICON = re.compile(r"\[([^\[\]<>\s]{1,8})\]")
_MENTION = re.compile(r"@([\w\-\u4e00-\u9fff]{1,30})")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


Response = tuple[int, Any]


# --- text and time -----------------------------------------------------------------


def html(text: str) -> str:
    """Typed text as Weibo serves it: escaped, mentions as links, emoticons as images."""
    out = escape(text, quote=False)
    out = _MENTION.sub(lambda m: f"<a href='/n/{m.group(1)}'>@{m.group(1)}</a>", out)
    return _EMOTICON.sub(
        lambda m: ('<span class="url-icon"><img alt=[%s] src="https://face.t.sinajs.cn/t4/appstyle/'
                   'expression/ext/normal/%s.png" style="width:1em; height:1em;" /></span>'
                   % (m.group(1), zlib.crc32(m.group(1).encode()) % 1000)), out)


def abs_time(t: datetime) -> str:
    """``Fri Jun 14 20:39:20 +0800 2019`` (English names whatever the locale)."""
    lt = t.astimezone(SHANGHAI)
    return (f"{_DAYS[lt.weekday()]} {_MONTHS[lt.month - 1]} {lt.day:02d} "
            f"{lt:%H:%M:%S} +0800 {lt.year}")


def rel_time(t: datetime, now: datetime) -> str:
    """The relative forms of ``/api/comments/show``."""
    age = (now - t).total_seconds()
    lt, ln = t.astimezone(SHANGHAI), now.astimezone(SHANGHAI)
    if age < 60:
        return "刚刚"
    if age < 3600:
        return f"{int(age // 60)}分钟前"
    if age < 86400:
        return f"{int(age // 3600)}小时前"
    if lt.date() == ln.date() - timedelta(days=1):
        return f"昨天 {lt:%H:%M}"
    if lt.year == ln.year:
        return f"{lt:%m-%d}"
    return f"{lt:%Y-%m-%d}"


def big_count(n: int) -> int | str:
    return "100万+" if n >= 1_000_000 else n


def _grow(final: int, created: datetime, now: datetime) -> int:
    age = (now - created).total_seconds()
    return int(final * min(1.0, max(0.0, age) / 86400.0))


def _cursor(offset: int, total: int) -> int:
    return CURSOR_BASE + offset if offset < total else 0


def _offset(value: str | None) -> int:
    try:
        n = int(value or 0)
    except ValueError:
        return 0
    return max(0, n - CURSOR_BASE) if n else 0


# --- objects -------------------------------------------------------------------------


def account_user(world: World, uid: str, now: datetime | None = None) -> dict[str, Any]:
    """The account's ``user`` object; with ``now``, the fuller profile form."""
    account = world.by_uid[uid]
    prof = world.profile(uid)
    user: dict[str, Any] = {"id": int(uid), "screen_name": account.name, "verified": True, "verified_type": 1,
                            "profile_image_url": f"https://tvax1.sinaimg.cn/crop.0.0.180.180.180/{uid}.jpg",
                            "followers_count": prof["followers"]}
    if now is not None:
        user.update({"verified_reason": f"{account.name}官方微博", "description": prof["description"],
                     "follow_count": 120, "statuses_count": len(world.timeline(uid, now)),
                     "profile_url": f"https://m.weibo.cn/u/{uid}", "gender": "m"})
    return user


def comment_user(c: SimComment) -> dict[str, Any]:
    if c.is_owner:
        return {"id": c.author_id, "screen_name": c.author_name, "verified": True, "verified_type": 1}
    return {"id": c.author_id, "screen_name": c.author_name, "verified": False, "verified_type": -1}


def _preview(post: SimPost, text: str) -> str:
    return (html(text[:PREVIEW_CHARS]) + f"...<a href=\"/status/{post.bid}\">全文</a>")


def mblog(world: World, post: SimPost, now: datetime, *, ajax: bool = False, full_text: bool = False,
          nested: bool = False) -> dict[str, Any]:
    edits, text = post.version_at(now)
    truncated = post.is_long and not full_text
    body = _preview(post, text) if truncated else html(text)
    m: dict[str, Any] = {
        "created_at": abs_time(post.created_at),
        "id": int(post.id) if ajax else post.id,
        "idstr": post.id,
        "mid": post.id,
        "text": body,
        "source": "微博 weibo.com",
        "isLongText": post.is_long,
        "reposts_count": big_count(_grow(post.reposts_final, post.created_at, now)),
        "comments_count": post.comment_count(now),
        "attitudes_count": big_count(_grow(post.likes_final, post.created_at, now)),
        "user": account_user(world, post.account.uid) if post.citizen is None else {
            "id": post.citizen[0], "screen_name": post.citizen[1], "verified": False, "verified_type": -1},
        "pic_ids": [],
        "visible": {"type": 0, "list_id": 0},
        "region_name": f"发布于 {post.region}",
        "comment_manage_info": {"comment_permission_type": 2 if post.restricted else -1,
                                "approval_comment_type": 0},
        "edit_config": {"edited": edits > 0},
    }
    if ajax:
        m["mblogid"] = post.bid
        m["text_raw"] = text[:PREVIEW_CHARS] if truncated else text
        m["is_show_bulletin"] = 2
    else:
        m["bid"] = post.bid
        if int(post.id) % 3:  # plain text is "not always present"
            m["raw_text"] = text[:PREVIEW_CHARS] if truncated else text
    if edits:
        m["edit_count"] = edits
        m["edit_at"] = abs_time(post.versions[edits][0])
    if post.pinned and not nested:
        m["isTop"] = 1
        m["mblogtype"] = 2
        m["title"] = {"text": "置顶", "base_color": 1}
    if post.repost_of is not None and not nested:
        m["retweeted_status"] = mblog(world, post.repost_of, now, ajax=ajax, nested=True)
    return m


def comment_obj(c: SimComment, now: datetime, *, ajax: bool = False, top: bool = False) -> dict[str, Any]:
    root = c.root or c
    o: dict[str, Any] = {
        "created_at": abs_time(c.created_at),
        "id": int(c.id) if ajax else c.id,
        "idstr": c.id,
        "mid": c.id,
        "rootid": int(root.id) if ajax else root.id,
        "rootidstr": root.id,
        "floor_number": c.post.all_comments.index(c) + 1,
        "text": html(c.text),
        "disable_reply": 0,
        "user": comment_user(c),
        "source": f"来自{c.region}",
        "isLikedByMblogAuthor": c.likes_final > 20,
    }
    if ajax:
        o["text_raw"] = c.text
        o["like_counts"] = c.likes_at(now)
    else:
        o["like_count"] = c.likes_at(now)
    if c.is_owner and c.show_author_flag:
        o["is_mblog_author"] = True
    if ajax and c.root is not None and c.parent is not None and c.parent is not c.root:
        o["reply_comment"] = {"id": int(c.parent.id), "text": html(c.parent.text), "user": comment_user(c.parent)}
    if top:
        kids = c.live_children(now)
        o["total_number"] = len(kids)
        o["max_id"] = 0
        if c.inline_false and kids and not ajax:
            o["comments"] = False
        else:
            o["comments"] = [comment_obj(k, now, ajax=ajax) for k in kids[:INLINE_CHILDREN]]
        if len(kids) > INLINE_CHILDREN:
            o["more_info"] = {"scheme": f"sinaweibo://detail?mblogid={c.post.bid}&cid={c.id}",
                              "text": f"共{len(kids)}条回复", "id": c.id}
    return o


# --- endpoints --------------------------------------------------------------------------


def profile(world: World, uid: str, now: datetime) -> Response:
    if uid not in world.by_uid:
        return 200, NO_CONTENT
    world.ensure(now)
    tabs = [{"id": 1, "tabKey": "profile", "title": "主页", "tab_type": "profile", "containerid": f"230283{uid}"},
            {"id": 2, "tabKey": "weibo", "title": "微博", "tab_type": "weibo", "containerid": f"107603{uid}",
             "apipath": "/profile/statuses", "url": "/index/my"},
            {"id": 4, "tabKey": "album", "title": "相册", "tab_type": "album", "containerid": f"107803{uid}"}]
    return 200, {"ok": 1, "data": {"isStarStyle": 0, "userInfo": account_user(world, uid, now),
                                   "tabsInfo": {"selectedTab": 1, "tabs": tabs}, "scheme": f"sinaweibo://userinfo?uid={uid}"}}


def _card(world: World, post: SimPost, now: datetime, uid: str) -> dict[str, Any]:
    card = {"card_type": 9, "itemid": f"107603{uid}_-_{post.id}", "scheme": f"https://m.weibo.cn/status/{post.bid}",
            "mblog": mblog(world, post, now)}
    if post.pinned or int(post.id) % 5 == 0:
        return {"card_type": 11, "card_group": [card], "itemid": "", "show_type": 0}
    return card


def timeline(world: World, uid: str, containerid: str, now: datetime, since_id: str | None,
             page: str | None) -> Response:
    if uid not in world.by_uid or containerid != f"107603{uid}":
        return 200, NO_CONTENT
    posts = world.timeline(uid, now)
    if since_id:
        pinned = sum(1 for p in posts if p.pinned)
        start = next((i for i in range(pinned, len(posts)) if int(posts[i].id) <= int(since_id)), len(posts))
    else:
        start = (max(1, int(page or 1)) - 1) * TIMELINE_PAGE
    chunk = posts[start:start + TIMELINE_PAGE]
    if not chunk:
        return 200, NO_CONTENT
    cards: list[dict[str, Any]] = []
    if start == 0:
        cards.append({"card_type": 58, "itemid": "", "desc": "全部微博", "name": ""})
    cards.extend(_card(world, p, now, uid) for p in chunk)
    info: dict[str, Any] = {"containerid": containerid, "v_p": 42, "show_style": 1, "total": len(posts)}
    nxt = start + TIMELINE_PAGE
    if nxt < len(posts):
        if page is not None and not since_id:
            info["page"] = int(page or 1) + 1
        else:
            info["since_id"] = int(posts[nxt].id)
    elif page is not None and not since_id:
        info["page"] = None
    return 200, {"ok": 1, "data": {"cardlistInfo": info, "cards": cards, "scheme": ""}}


def extend(world: World, key: str, now: datetime) -> Response:
    post = world.post(key, now)
    if post is None or not post.alive(now):
        return 200, POST_GONE
    return 200, {"ok": 1, "data": {"ok": 1, "longTextContent": html(post.text_at(now)),
                                   "reposts_count": big_count(_grow(post.reposts_final, post.created_at, now)),
                                   "comments_count": post.comment_count(now),
                                   "attitudes_count": big_count(_grow(post.likes_final, post.created_at, now))}}


def show(world: World, key: str, now: datetime) -> Response:
    """One status; a long post comes with its whole text here."""
    post = world.post(key, now)
    if post is None or not post.alive(now):
        return 200, POST_GONE
    return 200, {"ok": 1, "data": mblog(world, post, now, full_text=True)}


def hotflow(world: World, mid: str, now: datetime, max_id: str | None) -> Response:
    post = world.post(mid, now)
    if post is None or not post.alive(now):
        return 200, NO_CONTENT
    order = post.hot_order(now)
    if not order:
        return 200, NO_COMMENTS
    start = _offset(max_id)
    chunk = order[start:start + COMMENT_PAGE]
    if not chunk:
        return 200, NO_COMMENTS
    return 200, {"ok": 1, "data": {"data": [comment_obj(c, now, top=True) for c in chunk],
                                   "total_number": post.comment_count(now),
                                   "max_id": _cursor(start + COMMENT_PAGE, len(order)),
                                   "max_id_type": 0 if start == 0 else 1}}


def hotflow_child(world: World, cid: str, now: datetime, max_id: str | None) -> Response:
    root = world.comment(cid, now)
    if root is None or root.root is not None or not root.alive(now) or not root.post.alive(now):
        return 200, ERROR_PAGE
    kids = root.live_children(now)
    start = _offset(max_id)
    chunk = kids[start:start + CHILD_PAGE]
    return 200, {"ok": 1, "data": [comment_obj(k, now) for k in chunk],
                 "rootComment": [comment_obj(root, now)],
                 "total_number": len(kids), "max_id": _cursor(start + CHILD_PAGE, len(kids)), "max_id_type": 0}


def comments_old(world: World, mid: str, now: datetime, page: str | None) -> Response:
    post = world.post(mid, now)
    if post is None or not post.alive(now):
        return 200, NO_CONTENT
    flat = sorted((c for c in post.all_comments if c.alive(now)), key=lambda c: -int(c.id))
    if not flat:
        return 200, NO_COMMENTS
    pages = math.ceil(len(flat) / OLD_COMMENT_PAGE)
    n = max(1, int(page or 1))
    if n > pages:
        return 200, NO_COMMENTS

    def old(c: SimComment) -> dict[str, Any]:
        o = {"id": int(c.id), "created_at": rel_time(c.created_at, now), "source": f"来自{c.region}",
             "user": comment_user(c), "text": html(c.text), "like_counts": c.likes_at(now), "liked": False}
        if c.parent is not None:
            o["reply_id"] = int(c.parent.id)
            o["reply_text"] = html(c.parent.text)
        if c.is_owner and c.show_author_flag:
            o["is_mblog_author"] = True
        return o

    data: dict[str, Any] = {"data": [old(c) for c in flat[(n - 1) * OLD_COMMENT_PAGE:n * OLD_COMMENT_PAGE]],
                            "total_number": len(flat), "max": pages}
    if n == 1:
        data["hot_data"] = [old(c) for c in sorted(flat, key=lambda c: -c.likes_at(now))[:3]]
    return 200, {"ok": 1, "data": data}


def ajax_timeline(world: World, uid: str, now: datetime, page: str | None) -> Response:
    if uid not in world.by_uid:
        return 200, {"ok": 0, "msg": "用户不存在"}
    posts = world.timeline(uid, now)
    n = max(1, int(page or 1))
    chunk = posts[(n - 1) * AJAX_TIMELINE_PAGE:n * AJAX_TIMELINE_PAGE]
    nxt = n * AJAX_TIMELINE_PAGE
    since = f"{posts[nxt].id}kp{n + 1}" if nxt < len(posts) else ""
    return 200, {"ok": 1, "data": {"since_id": since, "list": [mblog(world, p, now, ajax=True) for p in chunk],
                                   "total": len(posts)}}


def ajax_show(world: World, key: str, now: datetime) -> Response:
    """weibo.com's one status (by mid or mblogid), whole text, int ids."""
    post = world.post(key, now)
    if post is None or not post.alive(now):
        return 200, POST_GONE
    return 200, {"ok": 1, **mblog(world, post, now, ajax=True, full_text=True)}


def ajax_longtext(world: World, key: str, now: datetime) -> Response:
    post = world.post(key, now)
    if post is None or not post.alive(now) or not post.is_long:
        return 200, {"ok": 1, "data": {}}
    return 200, {"ok": 1, "data": {"longTextContent": post.text_at(now)}}


def ajax_comments(world: World, q: Mapping[str, str], now: datetime) -> Response:
    start = _offset(q.get("max_id"))
    if q.get("fetch_level") == "1":
        root = world.comment(q.get("id", ""), now)
        if root is None or root.root is not None or not root.alive(now):
            return 200, {"ok": 1, "data": [], "rootComment": [], "max_id": 0, "total_number": 0}
        kids = root.live_children(now)
        chunk = kids[start:start + CHILD_PAGE]
        return 200, {"ok": 1, "data": [comment_obj(k, now, ajax=True) for k in chunk],
                     "rootComment": [comment_obj(root, now, ajax=True)],
                     "max_id": _cursor(start + CHILD_PAGE, len(kids)), "total_number": len(kids)}
    post = world.post(q.get("id", ""), now)
    if post is None or not post.alive(now):
        return 200, {"ok": 1, "data": [], "rootComment": [], "max_id": 0, "total_number": 0}
    order = post.hot_order(now)
    chunk = order[start:start + COMMENT_PAGE]
    return 200, {"ok": 1, "data": [comment_obj(c, now, ajax=True, top=True) for c in chunk], "rootComment": [],
                 "max_id": _cursor(start + COMMENT_PAGE, len(order)), "total_number": post.comment_count(now),
                 "trendsText": "已加载全部评论" if start + COMMENT_PAGE >= len(order) else ""}


# --- mentions -------------------------------------------------------------------------


def search_order(world: World, name: str, now: datetime) -> list[list[SimPost]]:
    """The real-time search for ``@name`` as pages: newest first, but Weibo's
    deduplication is partial — within a page two neighbours may come swapped,
    and a page may open with the last item of the page before again."""
    posts = world.mentioning(name, now)
    pages = [posts[i:i + SEARCH_PAGE] for i in range(0, len(posts), SEARCH_PAGE)]
    out = []
    for n, chunk in enumerate(pages):
        chunk = list(chunk)
        for i in range(0, len(chunk) - 1, 2):
            if int(chunk[i].id) % 4 == 0:
                chunk[i], chunk[i + 1] = chunk[i + 1], chunk[i]
        if n and int(pages[n - 1][-1].id) % 3 == 0:
            chunk.insert(0, pages[n - 1][-1])
        out.append(chunk)
    return out


def search(world: World, containerid: str, now: datetime, page: str | None) -> Response:
    """``getIndex`` with containerid ``100103type=61&q=@NAME&t=0``: cards of
    ``SEARCH_PAGE`` posts (``card_type`` 9, some wrapped in 11), ``cardlistInfo.page``
    the next page; past the last page (or for nothing found) ``这里还没有内容``."""
    query = dict(part.partition("=")[::2] for part in containerid.split("&"))
    name = query.get("q", "").removeprefix("@")
    try:
        n = max(1, int(page or 1))
    except ValueError:
        n = 1
    pages = search_order(world, name, now)
    if n > len(pages):
        return 200, NO_CONTENT
    cards = []
    for post in pages[n - 1]:
        card = {"card_type": 9, "itemid": f"seqid:{post.id}", "scheme": f"https://m.weibo.cn/status/{post.bid}",
                "mblog": mblog(world, post, now)}
        cards.append({"card_type": 11, "card_group": [card]} if int(post.id) % 5 == 0 else card)
    info: dict[str, Any] = {"containerid": containerid, "v_p": 42, "page_size": SEARCH_PAGE,
                            "page": n + 1 if n < len(pages) else None}
    return 200, {"ok": 1, "data": {"cardlistInfo": info, "cards": cards, "scheme": ""}}


def _inbox_page(items: list, since_id: str | None) -> tuple[list, str]:
    start = 0
    if since_id:
        start = next((i for i, item in enumerate(items) if int(item.id) <= int(since_id)), len(items))
    chunk = items[start:start + INBOX_PAGE]
    nxt = start + INBOX_PAGE
    return chunk, (items[nxt].id if nxt < len(items) else "0")


def ajax_mentions(world: World, uid: str, now: datetime, since_id: str | None) -> Response:
    """weibo.com ``/ajax/statuses/mentions`` for the logged-in account ``uid``."""
    chunk, nxt = _inbox_page(world.mentioning(world.by_uid[uid].name, now), since_id)
    return 200, {"ok": 1, "data": {"list": [mblog(world, p, now, ajax=True) for p in chunk], "since_id": nxt}}


def ajax_comment_mentions(world: World, uid: str, now: datetime, since_id: str | None) -> Response:
    """weibo.com ``/ajax/comments/mentions``: each comment with its post as ``status``."""
    chunk, nxt = _inbox_page(world.mentioning_comments(world.by_uid[uid].name, now), since_id)
    out = []
    for c in chunk:
        o = comment_obj(c, now, ajax=True)
        o["status"] = mblog(world, c.post, now, ajax=True)
        out.append(o)
    return 200, {"ok": 1, "data": {"list": out, "since_id": nxt}}
