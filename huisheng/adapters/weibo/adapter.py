"""The Weibo adapter: HTTP (through the ``Http`` seam) and failure mapping.

Parsing lives in :mod:`.parse`; this module only decides which request to
send, maps HTTP statuses to the typed errors, and keeps cursors opaque.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import quote, urlsplit

from huisheng import errors
from huisheng.adapters.base import Adapter, Http, Pace, Source, TextConventions
from huisheng.adapters.weibo import parse as wparse
from huisheng.adapters.weibo import text as wtext
from huisheng.schema import EnvKey, Key, Table, check_url
from huisheng.records import AccountRef, Comment, Page, Post, Shortfall

MOBILE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
DESKTOP_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/126.0 Safari/537.36")
#: Weibo's 418 carries no Retry-After; bans last tens of minutes
DEFAULT_418_BACKOFF = 600.0
#: deeper timeline pages are served empty without a cookie
MAX_ANONYMOUS_PAGE = 200
#: remembered cursors for the loop guard (Weibo serves ~50 comment pages)
SEEN_LIMIT = 200
#: redirects to these (or their subdomains) mean the visitor/login wall
LOGIN_HOSTS = ("passport.weibo.com", "passport.weibo.cn", "login.sina.com.cn")
MODES = ("auto", "mobile", "ajax")
#: a uid: digits, no leading zero
UID_RE = re.compile(r"[1-9][0-9]{4,11}")
#: a thread listing that ends having accounted for less than this share of
#: what its counter claims is short (Weibo answers "还没有人评论" for posts
#: counting 10,000 comments, and "暂无数据" for comments counting 500 replies)…
SHORT_SHARE = 0.1
#: …once the counter claims this many (counters include hidden comments);
#: nothing at all against any counter above 0 is short too
SHORT_MIN_CLAIMED = 50
#: the sources beside the timeline: the public search for @NAME, and the
#: logged-in account's own inbox of posts and of comments that @ it
MENTIONS_SEARCH = "mentions_search"
MENTIONS_POSTS = "mentions_posts"
MENTIONS_COMMENTS = "mentions_comments"
DEFAULT_MENTIONS_INTERVAL = 1800


class _Forbidden(Exception):
    """HTTP 403, raised only where the caller has a fallback (hotflow)."""


class WeiboAdapter(Adapter):
    """Sina Weibo: m.weibo.cn primary, weibo.com/ajax when configured or walled."""

    name: ClassVar[str] = "weibo"
    description: ClassVar[str] = "Sina Weibo (m.weibo.cn, weibo.com/ajax fallback)"
    hosts: ClassVar[tuple[str, ...]] = ("m.weibo.cn", "weibo.com")
    label: ClassVar[tuple[str, str]] = ("微博", "Weibo")
    aliases: ClassVar[tuple[str, ...]] = ("微博", "新浪微博", "Weibo")
    default_pace: ClassVar[Pace] = Pace(min_interval=3.0, concurrency=1)
    options_schema: ClassVar[Table] = Table({
        "base_url": Key("str", default="https://m.weibo.cn", check=check_url,
                        doc="m.weibo.cn API (the simulator's address in tests and the demo)"),
        "ajax_base_url": Key("str", default="https://weibo.com", check=check_url,
                             doc="weibo.com/ajax fallback API"),
        "mode": Key("str", default="auto", choices=MODES,
                    doc="auto: m.weibo.cn, weibo.com/ajax when walled; mobile or ajax only"),
        "cookie_env": EnvKey("cookie", doc="variable holding a logged-in weibo.com cookie",
                             required=lambda values: values.get("mode") == "ajax"),
        "mentions_interval": Key("int", default=1800, low=60, high=30 * 86400,
                                 doc="seconds between two searches for one account's @NAME (the "
                                     "most rate-limited endpoint)"),
        "search_min_interval": Key("float", low=0.001, high=3600,
                                   doc="minimum seconds between two searches, over every account "
                                       "(default: the adapter's)"),
    })
    text_conventions: ClassVar[TextConventions] = TextConventions(
        reply_prefix=r"^\s*回复\s*@([^:：\s]{1,30})\s*[:：]",
        repost_chain=r"(?s)//@[^:：\s]{1,30}[:：].*",
        emoticon=r"\[[^\[\]\s]{1,10}\]",
        mention_sign="@", mention_name=r"[\w\-·]{1,30}",
        repost_words=r"(?i)转发微博|轉發微博|repost",
    )
    source_labels: ClassVar[Mapping[str, tuple[str, str]]] = {
        MENTIONS_SEARCH: ("搜索 @账号名", "search for @name"),
        MENTIONS_POSTS: ("@我的微博（本账号 cookie）", "posts @ing it (own cookie)"),
        MENTIONS_COMMENTS: ("@我的评论（本账号 cookie）", "comments @ing it (own cookie)"),
    }
    #: real-time search is Weibo's most rate-limited endpoint: searches keep
    #: their own spacing, over every account, within the host's pace
    lanes: ClassVar[Mapping[str, Pace]] = {"search": Pace(min_interval=5.0, concurrency=1)}
    parsers: ClassVar[Mapping[str, Any]] = wparse.PARSERS
    decode_body = staticmethod(wparse.decode_body)
    # 418 is Weibo's ban, 432 its risk control; a 403 some callers fall back from (``_Forbidden``)
    rate_limits: ClassVar[Mapping[int, float | None]] = {429: None, 418: DEFAULT_418_BACKOFF}
    status_errors: ClassVar[Mapping[int, type[errors.AdapterError]]] = {
        **Adapter.status_errors, 432: errors.Blocked}
    status_messages: ClassVar[Mapping[int | str, str]] = {
        "login_wall": "redirected to the login/visitor wall ({host}): a cookie is needed",
        418: "Weibo rate limit (HTTP 418)",
        432: "Weibo risk control (HTTP 432): a cookie is needed",
    }

    def __init__(self, http: Http, options: Mapping[str, Any] | None = None,
                 now: Callable[[], datetime] | None = None):
        super().__init__(http, options, now)
        self.base_url = str(self.options.get("base_url") or "https://m.weibo.cn").rstrip("/")
        self.ajax_base_url = str(self.options.get("ajax_base_url") or "https://weibo.com").rstrip("/")
        self.cookie = self.options.get("cookie") or None
        self.mode = self.options.get("mode") or "auto"
        if self.mode not in MODES:
            raise errors.ConfigError(f"weibo mode must be one of {', '.join(MODES)}, not {self.mode!r}",
                                     key="platforms.weibo.mode")

    def login_wall(self, location: str) -> bool:
        # the passport hosts themselves (and their subdomains)
        return urlsplit(location).netloc.endswith(LOGIN_HOSTS)

    @classmethod
    def check_account_id(cls, uid: str) -> str | None:
        if not UID_RE.fullmatch(uid):
            return "纯数字（微博 UID，如 \"1234567890\"）"
        return None

    # --- the Adapter methods -------------------------------------------------------

    def request_hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(urlsplit(url).netloc for url in (self.base_url, self.ajax_base_url)))

    def timeline(self, account: AccountRef, cursor: str | None = None) -> Page[Post]:
        return self._either(account, self._timeline_mobile, self._timeline_ajax, account, cursor)

    def expand(self, post: Post) -> Post:
        if not post.is_truncated:
            return post
        if self._uses_ajax_for(post.raw):
            result = self._call("longtext", self.ajax_base_url + "/ajax/statuses/longtext",
                                {"id": post.short_id or post.external_id}, self._ajax_headers(post.account_uid))
        else:
            result = self._call("longtext", self.base_url + "/statuses/extend", {"id": post.external_id},
                                self._mobile_headers(f"/detail/{post.external_id}"))
        if result.text is None:
            return post
        return replace(post, text=result.text, mentions=result.mentions or post.mentions,
                       is_truncated=False)

    def status(self, post_id: str, account: AccountRef) -> Post:
        if self._mode(account) == "ajax":
            page = self._call("status", self.ajax_base_url + "/ajax/statuses/show", {"id": post_id},
                              self._ajax_headers(account.uid), account_uid=account.uid)
        else:
            page = self._call("status", self.base_url + "/statuses/show", {"id": post_id},
                              self._mobile_headers(f"/detail/{post_id}"), account_uid=account.uid)
        return page.items[0]

    def comments(self, post: Post, account: AccountRef, cursor: str | None = None) -> Page[Comment]:
        state = _load(cursor)
        return _tallied(self._comments_page(post, account, state), state, post.comments_count)

    def replies(self, post: Post, root: Comment, account: AccountRef,
                cursor: str | None = None) -> Page[Comment]:
        state = _load(cursor)
        return _tallied(self._replies_page(post, root, account, state), state, root.replies_count)

    def sources(self, account: AccountRef) -> tuple[Source, ...]:
        out = []
        if account.name:
            out.append(Source(MENTIONS_SEARCH, interval=float(self.options.get("mentions_interval") or
                                                             DEFAULT_MENTIONS_INTERVAL), follow=True))
        if account.cookie:
            out += [Source(MENTIONS_POSTS), Source(MENTIONS_COMMENTS)]
        return tuple(out)

    def read_source(self, source: Source, account: AccountRef, cursor: str | None = None
                    ) -> Page[Post | Comment]:
        state = _load(cursor)
        if source.kind == MENTIONS_SEARCH:
            number = int(state.get("page", 1))
            params: dict[str, Any] = {"containerid": f"100103type=61&q=@{account.name}&t=0",
                                      "page_type": "searchall"}
            if number > 1:
                params["page"] = number
            page = self._call("search", self.base_url + "/api/container/getIndex", params,
                              self._mobile_headers(f"/search?containerid=100103type%3D61%26q%3D"
                                                   f"{quote('@' + account.name)}"),
                              lane="search", account_uid=account.uid, page=number)
            return self._guard(page, state, key=("page",))
        if source.kind in (MENTIONS_POSTS, MENTIONS_COMMENTS):
            if not account.cookie:
                raise errors.AuthRequired("the account's own cookie is needed for its mention inbox",
                                          endpoint=source.kind)
            endpoint, path = (("ajax_mentions", "/ajax/statuses/mentions") if source.kind == MENTIONS_POSTS
                              else ("ajax_comment_mentions", "/ajax/comments/mentions"))
            params = {"since_id": state["since_id"]} if "since_id" in state else {}
            headers = {**self._ajax_headers(account.uid), "Cookie": account.cookie}
            page = self._call(endpoint, self.ajax_base_url + path, params, headers, account_uid=account.uid)
            return self._guard(page, state, key=("since_id",))
        return super().read_source(source, account, cursor)

    def repost_text(self, post: Post) -> str | None:
        return wtext.repost_text(post.text)

    def retry_cursor(self, listing: str, attempt: int) -> str | None:
        # Odd retries go through the fallback, even ones through the primary
        # endpoint again: either may be the one answering short.
        if attempt % 2 == 0:
            return None
        if listing == "comments":
            return _dump({"mode": "old", "page": 1})
        if listing == "replies" and self.cookie:
            return _dump({"mode": "ajax"})
        return None

    @classmethod
    def post_url(cls, *, author_id: str, external_id: str, short_id: str | None = None) -> str | None:
        return wtext.post_url(author_id, external_id, short_id)

    @classmethod
    def comment_url(cls, *, post_external_id: str, external_id: str,
                    root_external_id: str | None = None, post_url: str | None = None) -> str | None:
        # The post's mobile page opened at one comment's floor; a reply has no
        # floor of its own, so it opens at the comment it is under.  A post
        # stored as its own thread's root item (a citizen's mention) is the page.
        if external_id == post_external_id:
            return f"https://m.weibo.cn/detail/{quote(post_external_id, safe='')}"
        return (f"https://m.weibo.cn/detail/{quote(post_external_id, safe='')}"
                f"?cid={quote(root_external_id or external_id, safe='')}")

    def _comments_page(self, post: Post, account: AccountRef, state: dict) -> Page[Comment]:
        if state.get("mode") == "ajax" or self._mode(account) == "ajax":
            return self._comments_ajax(post, account, state)
        if state.get("mode") == "old":
            return self._comments_old(post, account, state)
        try:
            return self._either(account, self._comments_hotflow, self._comments_ajax_from,
                                post, account, state)
        except _Forbidden:
            # hotflow refuses older posts; the old flat endpoint still serves them
            return self._comments_old(post, account, {"mode": "old", "page": 1})

    def _replies_page(self, post: Post, root: Comment, account: AccountRef, state: dict) -> Page[Comment]:
        if state.get("mode") == "ajax" or self._mode(account) == "ajax":
            return self._replies_ajax(post, root, account, state)
        return self._either(account, self._replies_mobile, self._replies_ajax_from,
                            post, root, account, state)

    # --- mode -------------------------------------------------------------------------

    def _mode(self, account: AccountRef) -> str:
        if self.mode != "auto":
            return self.mode
        return "ajax" if account.state.get("mode") == "ajax" and self.cookie else "mobile"

    def _either(self, account: AccountRef, mobile, ajax, *args):
        """Mobile first; in auto mode with a cookie, a walled m.weibo.cn switches
        this account to the weibo.com shapes (remembered in ``Page.state``)."""
        if self._mode(account) == "ajax":
            return ajax(*args)
        try:
            return mobile(*args)
        except errors.AuthRequired:
            if self.mode != "auto" or not self.cookie:
                raise
        page = ajax(*args)
        return replace(page, state={**(page.state or {}), "mode": "ajax"})

    def _uses_ajax_for(self, raw: Mapping[str, Any]) -> bool:
        # weibo.com statuses carry int ids and ``mblogid``; m.weibo.cn ones ``bid``
        return self.mode == "ajax" or ("mblogid" in raw and "bid" not in raw)

    # --- timeline ----------------------------------------------------------------------

    def _timeline_mobile(self, account: AccountRef, cursor: str | None) -> Page[Post]:
        state = _load(cursor)
        pages_read = int(state.get("n", 0))
        if pages_read >= MAX_ANONYMOUS_PAGE and not self.cookie:
            return Page(items=(), cursor=None, complete=False)
        new_state: dict[str, Any] | None = None
        containerid = account.state.get("containerid")
        if not containerid:
            payload = self._fetch("profile", self.base_url + "/api/container/getIndex",
                                  {"type": "uid", "value": account.uid},
                                  self._mobile_headers(f"/u/{account.uid}"))
            containerid = wparse.parse_profile(payload, uid=account.uid)
            new_state = {"containerid": containerid}
        params: dict[str, Any] = {"type": "uid", "value": account.uid, "containerid": containerid}
        if "since_id" in state:
            params["since_id"] = state["since_id"]
        elif "page" in state:
            params["page"] = state["page"]
        page = self._call("timeline", self.base_url + "/api/container/getIndex", params,
                          self._mobile_headers(f"/u/{account.uid}"), account_uid=account.uid)
        page = self._guard(page, state, key=("since_id", "page"), pages_read=pages_read)
        return replace(page, state=new_state) if new_state else page

    def _timeline_ajax(self, account: AccountRef, cursor: str | None) -> Page[Post]:
        state = _load(cursor)
        number = int(state.get("page", 1))
        if number > MAX_ANONYMOUS_PAGE and not self.cookie:
            return Page(items=(), cursor=None, complete=False)
        page = self._call("ajax_timeline", self.ajax_base_url + "/ajax/statuses/mymblog",
                          {"uid": account.uid, "page": number, "feature": 0},
                          self._ajax_headers(account.uid), account_uid=account.uid, page=number)
        return self._guard(page, state, key=("page",), pages_read=number)

    # --- comments ----------------------------------------------------------------------

    def _comments_hotflow(self, post: Post, account: AccountRef, state: dict) -> Page[Comment]:
        params: dict[str, Any] = {"id": post.external_id, "mid": post.external_id}
        if "max_id" in state:
            params["max_id"] = state["max_id"]
            params["max_id_type"] = state.get("max_id_type", 0)
        page = self._call("comments", self.base_url + "/comments/hotflow", params,
                          self._mobile_headers(f"/detail/{post.external_id}"),
                          account_uid=account.uid, post_id=post.external_id, forbidden_ok=True)
        return self._guard(page, state, key=("max_id",))

    def _comments_old(self, post: Post, account: AccountRef, state: dict) -> Page[Comment]:
        number = int(state.get("page", 1))
        page = self._call("comments_old", self.base_url + "/api/comments/show",
                          {"id": post.external_id, "page": number},
                          self._mobile_headers(f"/detail/{post.external_id}"),
                          account_uid=account.uid, post_id=post.external_id, page=number)
        return self._guard(page, {**state, "mode": "old"}, key=("page",))

    def _comments_ajax_from(self, post: Post, account: AccountRef, state: dict) -> Page[Comment]:
        return self._comments_ajax(post, account, {})

    def _comments_ajax(self, post: Post, account: AccountRef, state: dict) -> Page[Comment]:
        params: dict[str, Any] = {"id": post.external_id, "is_show_bulletin": post.raw.get("is_show_bulletin", 2),
                                  "is_mix": 0, "count": 20, "flow": 0, "uid": account.uid}
        if "max_id" in state:
            params["max_id"] = state["max_id"]
        page = self._call("ajax_comments", self.ajax_base_url + "/ajax/statuses/buildComments", params,
                          self._ajax_headers(account.uid), account_uid=account.uid,
                          post_id=post.external_id)
        return self._guard(page, {**state, "mode": "ajax"}, key=("max_id",))

    def _replies_mobile(self, post: Post, root: Comment, account: AccountRef, state: dict) -> Page[Comment]:
        params = {"cid": root.external_id, "max_id": state.get("max_id", 0),
                  "max_id_type": state.get("max_id_type", 0)}
        page = self._call("child_comments", self.base_url + "/comments/hotFlowChild", params,
                          self._mobile_headers(f"/detail/{post.external_id}"),
                          account_uid=account.uid, post_id=post.external_id)
        return self._guard(page, state, key=("max_id",))

    def _replies_ajax_from(self, post: Post, root: Comment, account: AccountRef, state: dict) -> Page[Comment]:
        return self._replies_ajax(post, root, account, {})

    def _replies_ajax(self, post: Post, root: Comment, account: AccountRef, state: dict) -> Page[Comment]:
        params: dict[str, Any] = {"id": root.external_id, "is_show_bulletin": post.raw.get("is_show_bulletin", 2),
                                  "is_mix": 1, "fetch_level": 1, "count": 20, "flow": 0, "uid": account.uid}
        if "max_id" in state:
            params["max_id"] = state["max_id"]
        page = self._call("ajax_comments", self.ajax_base_url + "/ajax/statuses/buildComments", params,
                          self._ajax_headers(account.uid), account_uid=account.uid,
                          post_id=post.external_id)
        return self._guard(page, {**state, "mode": "ajax"}, key=("max_id",))

    # --- paging ------------------------------------------------------------------------

    def _guard(self, page: Page, state: Mapping[str, Any], *, key: tuple[str, ...],
               pages_read: int | None = None) -> Page:
        """Wrap the parser's cursor with the mode and the cursors seen so far;
        a cursor seen before ends the listing, not complete (loop guard)."""
        if page.cursor is None:
            return page
        nxt = json.loads(page.cursor)
        token = json.dumps([nxt.get(k) for k in key])
        seen = list(state.get("seen", []))
        current = json.dumps([state.get(k) for k in key])
        if current != json.dumps([None] * len(key)):
            seen.append(current)
        if token in seen:
            return replace(page, cursor=None, complete=False)
        out = dict(nxt, seen=seen[-SEEN_LIMIT:])
        if "mode" in state:
            out["mode"] = state["mode"]
        if pages_read is not None:
            out["n"] = pages_read + 1
        return replace(page, cursor=_dump(out))

    # --- HTTP --------------------------------------------------------------------------

    def _mobile_headers(self, referer_path: str) -> dict[str, str]:
        headers = {"X-Requested-With": "XMLHttpRequest", "MWeibo-Pwa": "1", "User-Agent": MOBILE_UA,
                   "Referer": f"https://m.weibo.cn{referer_path}", "Accept": "application/json, text/plain, */*"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        return headers

    def _ajax_headers(self, uid: str) -> dict[str, str]:
        headers = {"X-Requested-With": "XMLHttpRequest", "User-Agent": DESKTOP_UA,
                   "Referer": f"https://weibo.com/u/{uid}", "Accept": "application/json, text/plain, */*"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        return headers

    def _call(self, endpoint: str, url: str, params: Mapping[str, Any], headers: Mapping[str, str],
              *, forbidden_ok: bool = False, lane: str | None = None, **context: Any) -> Any:
        payload = self._fetch(endpoint, url, params, headers, forbidden_ok=forbidden_ok, lane=lane)
        context.setdefault("now", self.now())
        return wparse.PARSERS[endpoint](payload, **context)

    def _fetch(self, endpoint: str, url: str, params: Mapping[str, Any], headers: Mapping[str, str],
               *, forbidden_ok: bool = False, lane: str | None = None) -> Any:
        response = self.http.get(url, endpoint=endpoint, params=params, headers=headers, lane=lane)
        if forbidden_ok and response.status_code == 403:
            raise _Forbidden()
        self.raise_for_status(response, endpoint)
        body = response.content.decode("utf-8", errors="replace")
        return wparse.decode_body(endpoint, body)


def _dump(state: Mapping[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


def _accounted(items: tuple[Comment, ...]) -> int:
    """The comments of a counter a page accounts for: each listed, plus the
    replies a listed top-level comment counts beyond those listed with it
    (a post's counter includes every reply)."""
    inline: dict[str, int] = {}
    for c in items:
        if c.root_id is not None:
            inline[c.root_id] = inline.get(c.root_id, 0) + 1
    return len(items) + sum(max(0, (c.replies_count or 0) - inline.get(c.external_id, 0))
                            for c in items if c.root_id is None)


def _tallied(page: Page[Comment], state: Mapping[str, Any], counter: int | None) -> Page[Comment]:
    """A thread page with the running tally (items accounted for, the largest
    claim seen) carried in its cursor; on the last page, whether the listing
    as a whole fell short of its counter (see ``SHORT_SHARE``)."""
    got = _int(state.get("got")) + _accounted(page.items)
    claimed = max(counter or 0, page.total or 0, _int(state.get("claimed")))
    if page.cursor is not None:
        return replace(page, cursor=_dump({**json.loads(page.cursor), "got": got, "claimed": claimed}))
    if claimed > 0 and (got == 0 or (claimed >= SHORT_MIN_CLAIMED and got < claimed * SHORT_SHARE)):
        return replace(page, complete=False, incomplete=Shortfall(got=got, claimed=claimed))
    return page


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _load(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        raise errors.ParseError("cursor", "<cursor>", "not a cursor this adapter made") from None
    if not isinstance(state, dict):
        raise errors.ParseError("cursor", "<cursor>", "not a cursor this adapter made")
    return state
