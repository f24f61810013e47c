"""A Discuz! X board for the matrix's ``discuz`` accounts: each account is a
forum whose ``fid`` is its uid, with one official forum user (uid
``OFFICIAL_BASE + index``) whose posts are the account's.

Citizens start threads in a forum (a title, a message); for most that need
it, the official user answers in the thread some hours later.  Threads are
generated one local day at a time per forum from ``world.seed``; tests may
also script threads (the official's too), posts, deletions and a thread whose
floors are hidden.  Forums of odd index serve their pages in GBK (declared in
the page only, as many do), the others in UTF-8.  Paths, as Discuz! X3.4:

- ``/forum.php?mod=forumdisplay&fid=&page=`` — the forum's threads, newest
  first (``orderby=dateline``), ``TPP`` a page, with the pager's 下一页;
- ``/forum.php?mod=viewthread&tid=&page=`` — a thread's posts, ``PPP`` a page;
- ``/api/mobile/index.php?module=forumdisplay|viewthread`` — the same as JSON
  under ``Variables`` (version 4).

A missing thread or forum is Discuz's own message page (``#messagetext``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any, Mapping

from huisheng.simulator import texts
from huisheng.simulator.platforms import register
from huisheng.simulator.world import SHANGHAI, World, iso

TPP = 20
PPP = 10
OFFICIAL_BASE = 990_000
_TID_BASE = 300_000
_PID_BASE = 7_000_000
NOT_FOUND = "抱歉，指定的主题不存在或已被删除或正在被审核"
NO_FORUM = "抱歉，指定的版块不存在"


@dataclass(eq=False)
class Floor:
    pid: int
    uid: int
    author: str
    created_at: datetime
    text: str
    labels: dict[str, Any] = field(default_factory=dict)
    deleted_at: datetime | None = None

    def visible(self, t: datetime) -> bool:
        return self.created_at <= t and (self.deleted_at is None or self.deleted_at > t)


@dataclass(eq=False)
class Thread:
    tid: int
    fid: str
    subject: str
    first: Floor
    labels: dict[str, Any]
    official: bool
    floors: list[Floor] = field(default_factory=list)
    #: the floors after the first are not shown while the counter counts them
    hidden: bool = False

    @property
    def created_at(self) -> datetime:
        return self.first.created_at

    def visible(self, t: datetime) -> bool:
        return self.first.visible(t)

    def replies(self, t: datetime) -> list[Floor]:
        return [f for f in self.floors if f.visible(t)]


def _minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def shown_time(at: datetime, now: datetime, seconds: bool = False) -> str:
    """A time as Discuz shows it: relative words for the last week, the
    absolute time in the ``title``; the absolute time alone before."""
    local, today = at.astimezone(SHANGHAI), now.astimezone(SHANGHAI)
    absolute = f"{local.year}-{local.month}-{local.day} {local:%H:%M}" + (f":{local:%S}" if seconds else "")
    ago = now - at
    if ago < timedelta(minutes=1):
        words = "刚刚"
    elif ago < timedelta(hours=1):
        words = "半小时前" if 29 <= ago.total_seconds() // 60 <= 31 else f"{int(ago.total_seconds() // 60)} 分钟前"
    elif local.date() == today.date():
        words = f"{int(ago.total_seconds() // 3600)} 小时前"
    elif (today.date() - local.date()).days == 1:
        words = f"昨天 {local:%H:%M}"
    elif (today.date() - local.date()).days == 2:
        words = f"前天 {local:%H:%M}"
    elif ago < timedelta(days=7):
        words = f"{(today.date() - local.date()).days} 天前"
    else:
        return escape(absolute)
    return f'<span title="{escape(absolute)}">{escape(words)}</span>'


@register
class DiscuzSim:
    name = "discuz"

    def __init__(self, world: World):
        self.world = world
        self.forums = sorted((a for a in world.matrix.accounts if a.platform == self.name and a.enabled),
                             key=lambda a: a.uid)
        self.by_fid = {a.uid: a for a in self.forums}
        self.threads: dict[int, Thread] = {}
        self.floors: dict[int, Floor] = {}
        self._by_forum: dict[str, list[Thread]] = {a.uid: [] for a in self.forums}
        self._day0 = world.start.astimezone(SHANGHAI).date()
        self._next_day = -world.config.history_days
        self._next_tid = _TID_BASE
        self._next_pid = _PID_BASE
        self._lock = threading.RLock()

    def official(self, fid: str) -> tuple[int, str]:
        index = self.forums.index(self.by_fid[fid])
        return OFFICIAL_BASE + index, self.by_fid[fid].name

    def charset(self, fid: str) -> str:
        return "gbk" if fid in self.by_fid and self.forums.index(self.by_fid[fid]) % 2 else "utf-8"

    # --- generation ------------------------------------------------------------------------

    def ensure(self, t: datetime) -> None:
        last = (t.astimezone(SHANGHAI).date() - self._day0).days
        with self._lock:
            while self._next_day <= last:
                day = self._day0 + timedelta(days=self._next_day)
                for forum in self.forums:
                    self._make_day(forum, day)
                self._next_day += 1

    def _make_day(self, forum, day) -> None:
        w = self.world
        for rng, when, written in w.messages_of_day(forum, day, "discuz", timedelta(minutes=1)):
            thread = self._thread(forum.uid, when, written, self.world._citizen(rng), official=False)
            if written.needs_reply and rng.random() < w.config.reply_share:
                delay = min(rng.expovariate(1 / w.config.reply_delay_mean), 5 * 86400) + 1800
                self._answer(thread, when + timedelta(seconds=delay),
                             texts.owner_reply(rng, written.category, w.places))

    def _thread(self, fid: str, when: datetime, written: texts.Written, author: tuple[int, str], *,
                official: bool) -> Thread:
        self._next_tid += 1
        self._next_pid += 1
        forum = self.by_fid[fid]
        labels = {"role": "owner"} if official else {
            "role": "resident", "category": written.category, "needs_reply": written.needs_reply,
            "target_unit": forum.unit if written.needs_reply else None,
            "routing": "mention" if written.needs_reply else None, "urgent": written.urgent,
            "hostile": None, "mentions": [fid]}
        first = Floor(self._next_pid, author[0], author[1], _minute(when), written.text)
        subject = written.text.split("，")[0].split("。")[0][:24]
        thread = Thread(self._next_tid, fid, subject, first, labels, official)
        self.threads[thread.tid] = thread
        self.floors[first.pid] = first
        self._by_forum[fid].append(thread)
        return thread

    def _floor(self, thread: Thread, when: datetime, text: str, author: tuple[int, str],
               labels: dict[str, Any]) -> Floor:
        self._next_pid += 1
        floor = Floor(self._next_pid, author[0], author[1], _minute(when), text, labels)
        thread.floors.append(floor)
        thread.floors.sort(key=lambda f: (f.created_at, f.pid))
        self.floors[floor.pid] = floor
        return floor

    def _answer(self, thread: Thread, when: datetime, text: str) -> Floor:
        return self._floor(thread, when, text, self.official(thread.fid),
                           {"role": "reply", "answers": str(thread.tid), "form": "comment",
                            "late": when - thread.created_at > timedelta(days=2)})

    # --- scripting (tests) ---------------------------------------------------------------------

    def script_thread(self, fid: str, when: datetime, text: str, *, official: bool = False,
                      author: tuple[int, str] = (4_200_001, "热心市民")) -> int:
        """A thread in forum ``fid``: the official's, or a citizen's never answered unless scripted."""
        with self._lock:
            self.ensure(when)
            written = texts.Written(text, None if official else "consultation", not official)
            return self._thread(fid, when, written, self.official(fid) if official else author,
                                official=official).tid

    def script_post(self, tid: int, when: datetime, text: str, *, official: bool = False,
                    author: tuple[int, str] = (4_200_002, "居民")) -> int:
        with self._lock:
            thread = self.threads[tid]
            if official:
                return self._answer(thread, when, text).pid
            return self._floor(thread, when, text, author, {"role": "resident"}).pid

    def delete(self, item_id: int, when: datetime) -> None:
        """A thread (its id) or one post (its pid) disappears."""
        with self._lock:
            target = self.threads[item_id].first if item_id in self.threads else self.floors[item_id]
            target.deleted_at = when

    def hide_floors(self, tid: int, on: bool = True) -> None:
        with self._lock:
            self.threads[tid].hidden = on

    # --- serving ---------------------------------------------------------------------------------

    def route(self, path: str, q: Mapping[str, str], headers: Mapping[str, str], now: datetime):
        page = int(q["page"]) if q.get("page", "").isdigit() and int(q["page"]) > 0 else 1
        mobile = path == "/api/mobile/index.php"
        if path == "/forum.php" and q.get("mod") == "forumdisplay" or mobile and q.get("module") == "forumdisplay":
            fid = q.get("fid", "")
            endpoint = "mobile_forumdisplay" if mobile else "forumdisplay"
            account = fid if fid in self.by_fid else "-"
            return endpoint, account, lambda t: self._forumdisplay(fid, page, t, mobile), page == 1
        if path == "/forum.php" and q.get("mod") == "viewthread" or mobile and q.get("module") == "viewthread":
            tid = q.get("tid", "")
            thread = self.threads.get(int(tid)) if tid.isdigit() else None
            endpoint = "mobile_viewthread" if mobile else "viewthread"
            return endpoint, thread.fid if thread else "-", lambda t: self._viewthread(tid, page, t, mobile), False
        return None

    def _html(self, fid: str, body: str, title: str) -> tuple[int, bytes, dict[str, str]]:
        charset = self.charset(fid)
        page = (f'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
                f'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n<html><head>'
                f'<meta http-equiv="Content-Type" content="text/html; charset={charset}" />'
                f'<title>{escape(title)} -  Powered by Discuz!</title>'
                f'<meta name="generator" content="Discuz! X3.4" /></head>\n<body id="nv_forum">'
                f'<div id="wp" class="wp">{body}</div></body></html>\n')
        # a GBK site's header often names no charset: the page's meta does
        kind = "text/html" if charset == "gbk" else "text/html; charset=utf-8"
        return 200, page.encode(charset, errors="xmlcharrefreplace"), {"Content-Type": kind}

    def _message(self, fid: str, text: str) -> tuple[int, bytes, dict[str, str]]:
        return self._html(fid, f'<div id="ct" class="wp cl w"><div class="nfl"><div class="f_c altw">'
                               f'<div id="messagetext" class="alert_error"><p>{escape(text)}</p>'
                               f'<script type="text/javascript">if(history.length > (BROWSER.ie ? 0 : 1)) '
                               f'{{}}</script></div></div></div></div>', "提示信息")

    @staticmethod
    def _api(variables: dict[str, Any] | None, message: tuple[str, str] | None = None) -> tuple[int, Any]:
        out: dict[str, Any] = {"Version": "4", "Charset": "UTF-8",
                               "Variables": {"cookiepre": "sim_", "auth": None, "member_uid": "0",
                                             **(variables or {})}}
        if message:
            out["Message"] = {"messageval": message[0], "messagestr": message[1]}
        return 200, out

    def _listed(self, fid: str, t: datetime) -> list[Thread]:
        return sorted((th for th in self._by_forum[fid] if th.visible(t)), key=lambda th: (th.created_at, th.tid),
                      reverse=True)

    def _forumdisplay(self, fid: str, page: int, t: datetime, mobile: bool):
        self.ensure(t)
        with self._lock:
            if fid not in self.by_fid:
                return self._api(None, ("forum_nonexistence", NO_FORUM)) if mobile else self._message(fid, NO_FORUM)
            listed = self._listed(fid, t)
            shown = listed[(page - 1) * TPP: page * TPP]
            if mobile:
                return self._api({
                    "forum": {"fid": fid, "name": self.by_fid[fid].name, "threads": str(len(listed))},
                    "forum_threadlist": [{
                        "tid": str(th.tid), "author": th.first.author, "authorid": str(th.first.uid),
                        "subject": escape(th.subject), "dbdateline": str(int(th.created_at.timestamp())),
                        "dateline": shown_time(th.created_at, t), "replies": str(len(th.replies(t))),
                        "views": str(3 * len(th.replies(t)) + 7), "displayorder": "0"} for th in shown],
                    "tpp": str(TPP), "page": page})
            rows = "".join(self._row(th, t) for th in shown)
            more = page * TPP < len(listed)
            pager = (f'<div class="pg"><strong>{page}</strong><a href="forum.php?mod=forumdisplay&amp;fid={fid}'
                     f'&amp;page={page + 1}" class="nxt">下一页</a></div>') if more else ""
            body = (f'<div id="pgt" class="bm bw0 pgs cl">{pager}</div><div id="threadlist" class="tl bm bmw">'
                    f'<div class="bm_c"><form method="post" name="moderate" id="moderate">'
                    f'<table summary="forum_{fid}" cellspacing="0" cellpadding="0" id="threadlisttableid">'
                    f'<tbody id="separatorline" class="emptb"><tr><td class="icn"></td><th></th></tr></tbody>'
                    f'{rows}</table></form></div></div><div class="bm bw0 pgs cl">{pager}</div>')
            return self._html(fid, body, self.by_fid[fid].name)

    def _row(self, th: Thread, t: datetime) -> str:
        replies = len(th.replies(t))
        return (f'<tbody id="normalthread_{th.tid}"><tr><td class="icn"><a href="forum.php?mod=viewthread&amp;'
                f'tid={th.tid}"><img src="static/image/common/folder_common.gif" /></a></td>'
                f'<th class="common"><a href="forum.php?mod=viewthread&amp;tid={th.tid}" onclick="atarget(this)" '
                f'class="s xst">{escape(th.subject)}</a></th>'
                f'<td class="by"><cite><a href="space-uid-{th.first.uid}.html" c="1">{escape(th.first.author)}</a>'
                f'</cite><em>{shown_time(th.created_at, t)}</em></td>'
                f'<td class="num"><a href="forum.php?mod=viewthread&amp;tid={th.tid}" class="xi2">{replies}</a>'
                f'<em>{3 * replies + 7}</em></td><td class="by"><cite></cite><em></em></td></tr></tbody>')

    def _viewthread(self, tid: str, page: int, t: datetime, mobile: bool):
        self.ensure(t)
        with self._lock:
            thread = self.threads.get(int(tid)) if tid.isdigit() else None
            if thread is None or not thread.visible(t):
                fid = thread.fid if thread else ""
                return (self._api(None, ("thread_nonexistence", NOT_FOUND)) if mobile
                        else self._message(fid, NOT_FOUND))
            replies = thread.replies(t)
            floors = [thread.first] + ([] if thread.hidden else replies)
            shown = floors[(page - 1) * PPP: page * PPP]
            if mobile:
                return self._api({
                    "thread": {"tid": str(thread.tid), "author": thread.first.author,
                               "authorid": str(thread.first.uid), "subject": escape(thread.subject),
                               "replies": str(len(replies)), "views": str(3 * len(replies) + 7)},
                    "fid": thread.fid, "ppp": str(PPP),
                    "postlist": [{"pid": str(f.pid), "tid": str(thread.tid), "first": "1" if f is thread.first else "0",
                                  "author": f.author, "authorid": str(f.uid), "dbdateline": str(int(f.created_at.timestamp())),
                                  "dateline": shown_time(f.created_at, t), "message": escape(f.text).replace("\n", "<br />"),
                                  "number": str((page - 1) * PPP + i + 1)} for i, f in enumerate(shown)]})
            more = page * PPP < len(floors) if not thread.hidden else False
            pager = (f'<div class="pg"><strong>{page}</strong><a href="forum.php?mod=viewthread&amp;tid={tid}'
                     f'&amp;page={page + 1}" class="nxt">下一页</a></div>') if more else ""
            posts = "".join(self._post(f, t) for f in shown)
            body = (f'<div id="pt" class="bm cl"><div class="z"><a href="forum.php?mod=forumdisplay&amp;fid='
                    f'{thread.fid}">{escape(self.by_fid[thread.fid].name)}</a></div></div>'
                    f'<div class="pgs mtm mbm cl">{pager}</div>'
                    f'<div id="postlist" class="pl bm"><table cellspacing="0" cellpadding="0"><tr>'
                    f'<td class="pls ptn pbn"><div class="hm ptn"><span class="xg1">查看:</span> '
                    f'<span class="xi1">{3 * len(replies) + 7}</span><span class="pipe">|</span>'
                    f'<span class="xg1">回复:</span> <span class="xi1">{len(replies)}</span></div></td>'
                    f'<td class="plc ptm pbn vwthd"><h1 class="ts"><span id="thread_subject">'
                    f'{escape(thread.subject)}</span></h1></td></tr></table>{posts}</div>'
                    f'<div class="pgs mtm mbm cl">{pager}</div>')
            return self._html(thread.fid, body, thread.subject)

    @staticmethod
    def _post(f: Floor, t: datetime) -> str:
        return (f'<div id="post_{f.pid}"><table id="pid{f.pid}" class="plhin" summary="pid{f.pid}"><tr>'
                f'<td class="pls" rowspan="2"><div class="pi"><div class="authi"><a href="space-uid-{f.uid}.html" '
                f'target="_blank" class="xw1">{escape(f.author)}</a></div></div></td><td class="plc"><div class="pi">'
                f'<div class="pti"><div class="authi"><em id="authorposton{f.pid}">发表于 '
                f'{shown_time(f.created_at, t, seconds=True)}</em></div></div></div><div class="pct"><div class="pcb">'
                f'<div class="t_fsz"><table cellspacing="0" cellpadding="0"><tr><td class="t_f" id="postmessage_{f.pid}">'
                f'{escape(f.text).replace(chr(10), "<br />")}</td></tr></table></div></div></div></td></tr></table></div>')

    # --- ground truth ---------------------------------------------------------------------------

    def truth(self, now: datetime) -> dict[str, list[dict[str, Any]]]:
        self.ensure(now)
        posts, comments = [], []
        with self._lock:
            threads = sorted((th for th in self.threads.values() if th.created_at <= now), key=lambda th: th.tid)
            for th in threads:
                deleted = not th.visible(now)
                posts.append({
                    "platform": self.name, "id": str(th.tid), "account_uid": th.fid,
                    "author_id": th.fid if th.official else f"u{th.first.uid}", "author_name": th.first.author,
                    "unit": self.by_fid[th.fid].unit, "created_at": iso(th.created_at), "citizen": not th.official,
                    "mentions": [] if th.official else [th.fid], "labels": dict(th.labels),
                    "text": f"{th.subject}\n{th.first.text}", "deleted": deleted,
                    "deleted_at": iso(th.first.deleted_at) if deleted else None,
                    "comments_count": len(th.replies(now)), "edit_count": 0, "is_pinned": False,
                })
                for f in th.floors:
                    if f.created_at > now:
                        continue
                    official = f.uid == self.official(th.fid)[0]
                    comments.append({
                        "platform": self.name, "id": str(f.pid), "post_id": str(th.tid), "account_uid": th.fid,
                        "root_id": None, "parent_id": None, "author_id": th.fid if official else f"u{f.uid}",
                        "author_name": f.author, "created_at": iso(f.created_at), "text": f.text,
                        "is_from_owner": official, "edit_count": 0, "deleted": not f.visible(now),
                        "post_deleted": deleted, "labels": dict(f.labels),
                    })
        return {"posts": posts, "comments": comments}

    def adapter_options(self, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "api": "html",
                "officials": [f"{fid}:{self.official(fid)[0]}" for fid in self.by_fid]}
