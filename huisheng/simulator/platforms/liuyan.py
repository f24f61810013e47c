"""Leaders' message boards in the shape of 人民网领导留言板's JSON API, for the
matrix's ``liuyan`` accounts (a board's ``fid`` is the account's uid).

Citizens leave threads on a board (a subject, a message, the kind they chose:
咨询/投诉/求助/建议/感谢); the board accepts each (待回复 → 办理中) and, for most
that need it, the leader's unit answers some hours or days later (已办理, the
answer with its organisation).  Threads are generated one local day at a time
per board from ``world.seed``; tests may also script them.  Paths:

- ``GET /threads/queryThreadsList?fid=&lastItem=`` — the board's threads older
  than ``lastItem`` (0: from the newest), ten a page, newest first;
- ``GET /v1/threads/content?tid=`` — one thread, its message and answers.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from huisheng.simulator import texts
from huisheng.simulator.platforms import register
from huisheng.simulator.world import SHANGHAI, World, iso

PAGE = 10
#: the kind a citizen picks for what they write (category → 留言类型)
TYPE_NAMES = {"consultation": "咨询", "complaint": "投诉", "help": "求助", "suggestion": "建议", "praise": "感谢"}
DOMAINS = ("城建", "交通", "教育", "医疗", "环保", "治安", "民生", "其他")
#: the board's own states
WAITING, HANDLING, DONE = "待回复", "办理中", "已办理"
#: seconds from 1 Jan 2020 make a thread id, times ten plus the board's index
_TID_EPOCH = 1_577_836_800


@dataclass(eq=False)
class Thread:
    tid: int
    fid: str
    created_at: datetime
    author: str
    subject: str
    content: str
    type_name: str
    domain: str
    labels: dict[str, Any]
    accepted_at: datetime
    answer: tuple[datetime, str, str] | None = None  # (when, text, organisation)
    deleted_at: datetime | None = None

    def visible(self, t: datetime) -> bool:
        return self.created_at <= t and (self.deleted_at is None or self.deleted_at > t)

    def answered(self, t: datetime) -> bool:
        return self.answer is not None and self.answer[0] <= t

    def state(self, t: datetime) -> str:
        if self.answered(t):
            return DONE
        return HANDLING if self.accepted_at <= t else WAITING

    def item(self, t: datetime) -> dict[str, Any]:
        """The thread as the list gives it."""
        out: dict[str, Any] = {
            "tid": self.tid, "fid": int(self.fid), "subject": self.subject, "content": self.content,
            "dateline": int(self.created_at.timestamp()), "nickName": self.author,
            "domainName": self.domain, "typeName": self.type_name, "stateInfo": self.state(t),
            "threadsCheckTime": int(self.accepted_at.timestamp()) if self.accepted_at <= t else None,
            "answerId": None, "answerContent": None, "answerOrganization": None, "answerDateline": None,
        }
        if self.answered(t):
            when, text, org = self.answer
            out.update(answerId=self.answer_id, answerContent=text, answerOrganization=org,
                       answerDateline=int(when.timestamp()))
        return out

    @property
    def answer_id(self) -> int:
        return self.tid * 10 + 1


@register
class LiuyanSim:
    name = "liuyan"

    def __init__(self, world: World):
        self.world = world
        self.boards = sorted((a for a in world.matrix.accounts if a.platform == self.name and a.enabled),
                             key=lambda a: a.uid)
        self.by_fid = {a.uid: a for a in self.boards}
        self.threads: dict[int, Thread] = {}
        self._by_board: dict[str, list[Thread]] = {a.uid: [] for a in self.boards}
        self._day0 = world.start.astimezone(SHANGHAI).date()
        self._next_day = -world.config.history_days
        self._lock = threading.RLock()

    # --- generation ----------------------------------------------------------------------

    def ensure(self, t: datetime) -> None:
        """Generate every board's days up to the one holding ``t``."""
        last = (t.astimezone(SHANGHAI).date() - self._day0).days
        with self._lock:
            while self._next_day <= last:
                day = self._day0 + timedelta(days=self._next_day)
                for index, board in enumerate(self.boards):
                    self._make_day(board, index, day)
                self._next_day += 1

    def _make_day(self, board, index: int, day) -> None:
        for rng, when, written in self.world.messages_of_day(board, day, "liuyan", timedelta(seconds=1)):
            self._add(board, index, when, rng, written)

    def _add(self, board, index: int, when: datetime, rng: random.Random, written: texts.Written,
             *, answer: bool | None = None) -> Thread:
        cfg = self.world.config
        when = when.replace(microsecond=0)
        tid = (int(when.timestamp()) - _TID_EPOCH) * 10 + index
        while tid in self.threads:
            tid += 10
        subject = written.text.split("，")[0][:20]
        labels = {"role": "resident", "category": written.category, "needs_reply": written.needs_reply,
                  "target_unit": board.unit if written.needs_reply else None,
                  "routing": "mention" if written.needs_reply else None, "urgent": written.urgent,
                  "hostile": None, "mentions": [board.uid]}
        thread = Thread(tid=tid, fid=board.uid, created_at=when, author=self.world._citizen(rng)[1],
                        subject=subject, content=written.text, type_name=TYPE_NAMES[written.category],
                        domain=rng.choice(DOMAINS), labels=labels,
                        accepted_at=when + timedelta(seconds=rng.randrange(600, 4 * 3600)))
        if answer is None:
            answer = written.needs_reply and rng.random() < cfg.reply_share
        if answer:
            delay = min(rng.expovariate(1 / cfg.reply_delay_mean), 5 * 86400) + 1800
            unit = self.world.matrix.unit(board.unit).name if board.unit else board.name
            thread.answer = (thread.accepted_at + timedelta(seconds=int(delay)),
                             texts.owner_reply(rng, written.category, self.world.places), unit)
        self.threads[tid] = thread
        self._by_board[board.uid].append(thread)
        self._by_board[board.uid].sort(key=lambda th: th.tid)
        return thread

    # --- scripted threads (tests) ----------------------------------------------------------

    def script_thread(self, fid: str, when: datetime, text: str, *, category: str = "consultation") -> int:
        """A citizen's thread on board ``fid`` at ``when``, never answered unless scripted."""
        board = self.by_fid[fid]
        written = texts.Written(text, category, category != "praise")
        with self._lock:
            rng = random.Random(f"{self.world.seed}:{fid}:{when.isoformat()}:script")
            return self._add(board, self.boards.index(board), when, rng, written, answer=False).tid

    def script_answer(self, tid: int, when: datetime, text: str, organisation: str = "区委办公室") -> None:
        with self._lock:
            self.threads[tid].answer = (when.replace(microsecond=0), text, organisation)

    def delete(self, tid: int, when: datetime) -> None:
        with self._lock:
            self.threads[tid].deleted_at = when

    # --- serving ----------------------------------------------------------------------------

    def route(self, path: str, q: Mapping[str, str], headers: Mapping[str, str], now: datetime):
        if path == "/threads/queryThreadsList":
            fid, last = q.get("fid", ""), q.get("lastItem", "0") or "0"
            first = last == "0"
            return "list", fid if fid in self.by_fid else "-", lambda t: self._list(fid, last, t), first
        if path == "/v1/threads/content":
            tid = q.get("tid", "")
            thread = self.threads.get(int(tid)) if tid.isdigit() else None
            return "detail", thread.fid if thread else "-", lambda t: self._detail(tid, t), False
        return None

    def _list(self, fid: str, last: str, t: datetime) -> tuple[int, Any]:
        if fid not in self.by_fid:
            return 200, {"result": "fail", "resultDesc": "留言板不存在", "responseData": None}
        if not last.isdigit():
            return 200, {"result": "fail", "resultDesc": "参数错误", "responseData": None}
        self.ensure(t)
        below = int(last) if last != "0" else None
        with self._lock:
            shown = [th for th in reversed(self._by_board[fid])
                     if th.visible(t) and (below is None or th.tid < below)][:PAGE]
            return 200, {"result": "success", "resultDesc": "", "responseData": [th.item(t) for th in shown]}

    def _detail(self, tid: str, t: datetime) -> tuple[int, Any]:
        self.ensure(t)
        with self._lock:
            thread = self.threads.get(int(tid)) if tid.isdigit() else None
            if thread is None or not thread.visible(t):
                return 200, {"resultCode": 404, "resultMsg": "留言不存在或已被删除", "resultData": None}
            item = thread.item(t)
            message = {k: item[k] for k in ("tid", "subject", "content", "dateline", "nickName")}
            entries = [{"dataType": 1, **message}]
            if thread.answered(t):
                when, text, org = thread.answer
                entries.append({"dataType": 4, "answerId": thread.answer_id, "content": text,
                                "dateline": int(when.timestamp()), "answerOrganization": org})
            return 200, {"resultCode": 200, "resultMsg": "success", "resultData": {
                "tid": thread.tid, "fid": int(thread.fid), "stateInfo": item["stateInfo"],
                "typeName": thread.type_name, "domainName": thread.domain, "contentList": entries}}

    # --- ground truth ------------------------------------------------------------------------

    def truth(self, now: datetime) -> dict[str, list[dict[str, Any]]]:
        self.ensure(now)
        posts, comments = [], []
        with self._lock:
            threads = sorted((th for th in self.threads.values() if th.created_at <= now), key=lambda th: th.tid)
        for th in threads:
            deleted = th.deleted_at is not None and th.deleted_at <= now
            posts.append({
                "platform": self.name, "id": str(th.tid), "account_uid": th.fid, "author_id": "u:" + th.author,
                "author_name": th.author, "unit": self.by_fid[th.fid].unit, "created_at": iso(th.created_at),
                "citizen": True, "mentions": [th.fid], "labels": dict(th.labels),
                "text": f"【{th.type_name}】{th.subject}\n{th.content}", "state": th.state(now),
                "deleted": deleted, "deleted_at": iso(th.deleted_at) if deleted else None,
                "comments_count": 1 if th.answered(now) else 0, "edit_count": 0,
            })
            if th.answered(now):
                when, text, org = th.answer
                comments.append({
                    "platform": self.name, "id": f"a{th.answer_id}", "post_id": str(th.tid),
                    "account_uid": th.fid, "root_id": None, "parent_id": None, "author_id": th.fid,
                    "author_name": org, "created_at": iso(when), "text": text, "is_from_owner": True,
                    "edit_count": 0, "deleted": deleted, "post_deleted": deleted,
                    "labels": {"role": "reply", "answers": str(th.tid), "late": when - th.created_at
                               > timedelta(days=2), "form": "comment"},
                })
        return {"posts": posts, "comments": comments}

    def adapter_options(self, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url}
