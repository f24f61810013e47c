"""A deterministic simulated Weibo world for a whole account matrix.

Activity is generated lazily, one local (Asia/Shanghai) day at a time for every
account at once, always in day order, from ``Random`` instances seeded by
``(seed, uid, day)``: the same seed, matrix and start give the same posts,
comments, ids, edits and deletions however the world is queried.  Everything
a post will ever receive (comments, replies, edits, its deletion) is decided
when its day is generated and carries its own timestamp; queries "as of t"
just filter by time, so the server answers for any clock instant.
"""

from __future__ import annotations

import bisect
import math
import random
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from huisheng.config.settings import AccountSpec, Matrix
from huisheng.simulator import texts

SHANGHAI = ZoneInfo("Asia/Shanghai")
_MENTION = re.compile(r"@([\w\-\u4e00-\u9fff]{1,30})")
#: Weibo's ids carry their time: ``(id >> 22) + ID_EPOCH_OFFSET`` is the Unix second
ID_EPOCH_OFFSET = 515483463
LEVEL_RANK = {"district": 0, "department": 1, "street": 2, "community": 3}
REGIONS = ("北京", "广东", "上海", "河北", "山东", "江苏", "浙江", "四川")


@dataclass(frozen=True)
class WorldConfig:
    """Knobs of the simulated activity (shares are probabilities)."""

    #: days of history generated before ``start``
    history_days: int = 20
    posts_per_day: tuple[tuple[str, float], ...] = (
        ("district", 3.0), ("department", 1.4), ("street", 1.0), ("community", 0.35))
    comments_per_post: tuple[tuple[str, float], ...] = (
        ("district", 7.0), ("department", 4.0), ("street", 3.0), ("community", 1.2))
    #: posting rate on weekends and holidays relative to working days
    day_off_pace: float = 0.4
    #: accounts whose last post is 10–16 days before start and who stay silent
    silent_share: float = 0.06
    pinned_share: float = 0.3
    long_share: float = 0.15
    repost_share: float = 0.12
    restricted_share: float = 0.05
    viral_share: float = 0.01
    edit_share: float = 0.05
    post_delete_share: float = 0.015
    comment_delete_share: float = 0.03
    hostile_share: float = 0.03
    #: share of needs-reply comments the account answers at all
    reply_share: float = 0.7
    #: of those, the share answered late (2–6 days) rather than within hours
    late_share: float = 0.15
    #: mean delay of a prompt reply, seconds
    reply_delay_mean: float = 4 * 3600.0
    #: share of replies moved into office hours on working days (the rest come any time)
    office_hours_share: float = 0.8
    #: share of answered comments first given an automatic acknowledgement
    ack_share: float = 0.1
    #: share of owner comments that omit ``is_mblog_author``
    omit_author_flag_share: float = 0.2
    #: share of top-level comments whose inline ``comments`` is ``false`` though replies exist
    comments_false_share: float = 0.25
    #: citizens' own posts that @ an account, per account and day
    mentions_per_day: tuple[tuple[str, float], ...] = (
        ("district", 1.5), ("department", 0.3), ("street", 0.3), ("community", 0.08))
    #: of those, the share that @ a second account too
    multi_mention_share: float = 0.15
    #: share of answers to a mention given as a repost with words (the rest: a comment in its thread)
    repost_answer_share: float = 0.25

    @classmethod
    def scripted(cls) -> "WorldConfig":
        """No generated activity: a world of only ``World.script_*`` posts and comments."""
        return cls(posts_per_day=tuple((level, 0.0) for level in LEVEL_RANK), silent_share=0.0, pinned_share=0.0,
                   mentions_per_day=tuple((level, 0.0) for level in LEVEL_RANK))

    def rate(self, table: tuple[tuple[str, float], ...], level: str) -> float:
        return dict(table).get(level, 1.0)


@dataclass(eq=False)
class SimComment:
    id: str
    post: "SimPost"
    author_id: int
    author_name: str
    created_at: datetime
    text: str
    is_owner: bool
    likes_final: int
    region: str
    labels: dict[str, Any]
    root: "SimComment | None" = None
    parent: "SimComment | None" = None
    deleted_at: datetime | None = None
    show_author_flag: bool = True
    inline_false: bool = False
    children: list["SimComment"] = field(default_factory=list)

    def alive(self, t: datetime) -> bool:
        """Visible at ``t``: published, not deleted, and (for a reply) its root alive."""
        if self.created_at > t or (self.deleted_at is not None and self.deleted_at <= t):
            return False
        return self.root is None or self.root.alive(t)

    def likes_at(self, t: datetime) -> int:
        age = (t - self.created_at).total_seconds()
        return int(self.likes_final * min(1.0, max(0.0, age) / 21600.0))

    def live_children(self, t: datetime) -> list["SimComment"]:
        return [c for c in self.children if c.alive(t)]


@dataclass(eq=False)
class SimPost:
    id: str
    account: AccountSpec
    created_at: datetime
    #: (time, text) of the original and each edit, in time order
    versions: list[tuple[datetime, str]]
    is_long: bool = False
    pinned: bool = False
    restricted: bool = False
    repost_of: "SimPost | None" = None
    deleted_at: datetime | None = None
    likes_final: int = 0
    reposts_final: int = 0
    viral: bool = False
    region: str = "北京"
    comments: list[SimComment] = field(default_factory=list)
    #: every comment of the thread (both levels), creation order
    all_comments: list[SimComment] = field(default_factory=list)
    #: sorted instants at which the thread changed (a comment appeared or vanished)
    thread_events: list[datetime] = field(default_factory=list)
    #: a citizen's own post (not an account's): its author, and the accounts it @s
    citizen: tuple[int, str] | None = None
    mentions: tuple[AccountSpec, ...] = ()
    labels: dict[str, Any] = field(default_factory=dict)

    @property
    def author(self) -> tuple[int, str]:
        return self.citizen or (int(self.account.uid), self.account.name)

    @property
    def bid(self) -> str:
        return base62(int(self.id))

    def alive(self, t: datetime) -> bool:
        return self.created_at <= t and (self.deleted_at is None or self.deleted_at > t)

    def version_at(self, t: datetime) -> tuple[int, str]:
        """(edit count, text) as of ``t``."""
        n = bisect.bisect_right([v[0] for v in self.versions], t) - 1
        n = max(n, 0)
        return n, self.versions[n][1]

    def text_at(self, t: datetime) -> str:
        return self.version_at(t)[1]

    def edit_times(self) -> list[datetime]:
        return [v[0] for v in self.versions[1:]]

    def live_comments(self, t: datetime) -> list[SimComment]:
        return [c for c in self.comments if c.alive(t)]

    def comment_count(self, t: datetime) -> int:
        return sum(1 for c in self.all_comments if c.alive(t))

    def hot_order(self, t: datetime) -> list[SimComment]:
        """Top-level comments as hotflow lists them: likes desc, then newest."""
        return sorted(self.live_comments(t), key=lambda c: (-c.likes_at(t), -int(c.id)))

    def reindex(self) -> None:
        self.thread_events = sorted(
            [c.created_at for c in self.all_comments]
            + [c.deleted_at for c in self.all_comments if c.deleted_at is not None])

    def changed_between(self, a: datetime | None, b: datetime) -> bool:
        lo = 0 if a is None else bisect.bisect_right(self.thread_events, a)
        hi = bisect.bisect_right(self.thread_events, b)
        return hi > lo


_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def base62(n: int) -> str:
    """Weibo's short id: the mid's base-10 groups of 7 digits, each in base 62 (4 chars)."""
    digits = str(n)
    groups = []
    while digits:
        groups.insert(0, digits[-7:])
        digits = digits[:-7]
    out = []
    for i, g in enumerate(groups):
        v = int(g)
        s = ""
        while v:
            v, r = divmod(v, 62)
            s = _B62[r] + s
        out.append(s.rjust(4, "0") if i else (s or "0"))
    return "".join(out)


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def is_workday(day: date) -> bool:
    try:
        import chinese_calendar

        return chinese_calendar.is_workday(day)
    except (NotImplementedError, ImportError):
        # chinesecalendar does not know the year yet: weekends off is enough here.
        return day.weekday() < 5


def into_office_hours(t: datetime, rng: random.Random) -> datetime:
    """``t`` if it falls in 09:00–18:00 of a working day, else the next such morning."""
    local = t.astimezone(SHANGHAI)
    day = local.date()
    if is_workday(day) and 9 <= local.hour < 18:
        return t
    if not (is_workday(day) and local.hour < 9):
        day += timedelta(days=1)
    while not is_workday(day):
        day += timedelta(days=1)
    start = datetime.combine(day, time(9, 0), SHANGHAI)
    return (start + timedelta(seconds=rng.uniform(0, 7200))).astimezone(timezone.utc)


class World:
    """The simulated platform.  Thread-safe: the server queries it from many threads."""

    def __init__(self, matrix: Matrix, seed: int, start: datetime, config: WorldConfig | None = None):
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.matrix = matrix
        self.seed = seed
        self.start = start.astimezone(timezone.utc)
        self.config = config or WorldConfig()
        self.accounts = sorted((a for a in matrix.accounts if a.platform == "weibo" and a.enabled),
                               key=lambda a: (LEVEL_RANK.get(self._level(a), 9), a.uid))
        self.by_uid = {a.uid: a for a in self.accounts}
        self.by_name = {a.name: a for a in self.accounts}
        self.posts: dict[str, SimPost] = {}
        self.by_bid: dict[str, SimPost] = {}
        self.comments: dict[str, SimComment] = {}
        self._account_posts: dict[str, list[SimPost]] = {a.uid: [] for a in self.accounts}
        #: account name → posts whose text @s it (citizens' and accounts'), and
        #: comments that do, creation order
        self._mentioning: dict[str, list[SimPost]] = {a.name: [] for a in self.accounts}
        self._mentioning_comments: dict[str, list[SimComment]] = {a.name: [] for a in self.accounts}
        self._day0 = self.start.astimezone(SHANGHAI).date()
        self._next_day = -self.config.history_days
        self._used_ids: set[int] = set()
        self._lock = threading.RLock()
        self.places = self._places()
        crng = random.Random(f"{seed}:citizens")
        self.citizens = [(crng.randrange(1_000_000_000, 7_999_999_999), texts.citizen_name(crng))
                         for _ in range(3000)]
        self._profile = {a.uid: self._account_profile(a) for a in self.accounts}

    # --- matrix helpers ----------------------------------------------------------

    def _level(self, account: AccountSpec) -> str:
        try:
            return self.matrix.unit(account.unit).level
        except KeyError:
            return "community"

    def _places(self) -> texts.Places:
        streets = tuple(u.name for u in self.matrix.units if u.level == "street")
        place_units = tuple((name, u.code) for u in self.matrix.units if u.level in ("street", "community")
                            for name in (u.name, *u.aliases))
        topic_units = []
        for key in texts.DEPARTMENT_KEYS:
            for u in self.matrix.units:
                if u.level == "department" and key in u.name:
                    topic_units.append((key, u.code))
                    break
        return texts.Places(streets, place_units, tuple(topic_units))

    def _account_profile(self, account: AccountSpec) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}:{account.uid}:profile")
        level = self._level(account)
        hd = self.config.history_days
        silent = rng.random() < self.config.silent_share and level != "district"
        followers: int | str
        if level == "district":
            followers = f"{rng.uniform(100, 3000):.1f}万"
        elif level == "department":
            followers = f"{rng.uniform(1, 60):.1f}万" if rng.random() < 0.6 else rng.randrange(3000, 9999)
        else:
            followers = rng.randrange(200, 9000)
        return {
            "level": level,
            "silent_from": -rng.randint(min(10, hd), min(16, hd)) if silent and hd else None,
            "pinned": rng.random() < self.config.pinned_share,
            "followers": followers,
            "description": f"{account.name}官方微博",
        }

    def profile(self, uid: str) -> dict[str, Any]:
        return self._profile[uid]

    def level(self, uid: str) -> str:
        return self._profile[uid]["level"]

    # --- lazy generation ---------------------------------------------------------

    def day_index(self, t: datetime) -> int:
        return (t.astimezone(SHANGHAI).date() - self._day0).days

    def ensure(self, t: datetime) -> None:
        """Generate every day up to (and including) the local day of ``t``."""
        target = self.day_index(t)
        with self._lock:
            while self._next_day <= target:
                self._generate_day(self._next_day)
                self._next_day += 1

    def _alloc_id(self, t: datetime) -> str:
        ts = int(t.timestamp())
        # Weibo's layout: the second above the low 22 bits, which vary so
        # ids don't look alike (a collision takes the next free one).
        n = ((ts - ID_EPOCH_OFFSET) << 22) + (ts * 7919) % 997 * 4096
        while n in self._used_ids:
            n += 1
        self._used_ids.add(n)
        return str(n)

    def _generate_day(self, d: int) -> None:
        day = self._day0 + timedelta(days=d)
        district_posts: list[SimPost] = []
        # Government accounts post less on weekends and holidays.
        pace = 1.0 if is_workday(day) else self.config.day_off_pace
        for account in self.accounts:
            rng = random.Random(f"{self.seed}:{account.uid}:{d}")
            prof = self._profile[account.uid]
            level = prof["level"]
            if d == -self.config.history_days and prof["pinned"]:
                self._make_post(account, rng, datetime.combine(day, time(10, 0), SHANGHAI), pinned=True)
            silent_from = prof["silent_from"]
            if silent_from is not None and d > silent_from:
                continue
            if silent_from is not None and d == silent_from:
                n = 1
            else:
                n = poisson(rng, self.config.rate(self.config.posts_per_day, level) * pace)
            moments = sorted(datetime.combine(day, time(7, 30), SHANGHAI)
                             + timedelta(seconds=rng.uniform(0, 14 * 3600)) for _ in range(n))
            for when in moments:
                repost = None
                if level != "district" and district_posts and rng.random() < self.config.repost_share:
                    earlier = [p for p in district_posts if p.created_at < when]
                    repost = rng.choice(earlier) if earlier else None
                post = self._make_post(account, rng, when, repost=repost)
                if level == "district":
                    district_posts.append(post)
        for account in self.accounts:
            rng = random.Random(f"{self.seed}:{account.uid}:{d}:mentions")
            n = poisson(rng, self.config.rate(self.config.mentions_per_day, self._profile[account.uid]["level"])
                        * (1.0 if is_workday(day) else 0.7))
            for _ in range(n):
                when = datetime.combine(day, time(0, 0), SHANGHAI) + timedelta(seconds=rng.uniform(0, 86400))
                self._make_mention(account, rng, when)

    def _make_post(self, account: AccountSpec, rng: random.Random, when: datetime, *, pinned: bool = False,
                   repost: SimPost | None = None) -> SimPost:
        cfg = self.config
        level = self._profile[account.uid]["level"]
        created = when.astimezone(timezone.utc).replace(microsecond=0)
        if pinned:
            text = f"【置顶】欢迎关注{account.name}，留言咨询请注明小区和具体问题，我们会在工作日及时回复。"
            is_long = False
        elif repost is not None:
            text = rng.choice(("转发微博", "【转发】请大家相互转告！", f"//@{repost.account.name}: 关注"))
            is_long = False
        else:
            is_long = rng.random() < cfg.long_share
            text = texts.post_text(rng, self.places, account.name, is_long)
        post = SimPost(id=self._alloc_id(created), account=account, created_at=created,
                       versions=[(created, text)], is_long=is_long, pinned=pinned, repost_of=repost,
                       region=rng.choice(REGIONS))
        post.restricted = not pinned and rng.random() < cfg.restricted_share
        post.viral = not pinned and rng.random() < cfg.viral_share
        post.likes_final = rng.randrange(1_000_000, 3_000_000) if post.viral else int(rng.paretovariate(1.3) * 3)
        post.reposts_final = rng.randrange(1_000_000, 2_000_000) if post.viral else int(rng.paretovariate(1.5))
        if not pinned and repost is None and rng.random() < cfg.edit_share:
            t = created
            for _ in range(rng.choice((1, 1, 2))):
                t = t + timedelta(seconds=rng.randrange(600, 86400))
                post.versions.append((t, post.versions[-1][1] + texts.fill(
                    rng.choice(texts.EDIT_TAILS), rng, self.places, account.name)))
        if not pinned and level != "district" and rng.random() < cfg.post_delete_share:
            post.deleted_at = created + timedelta(seconds=rng.randrange(3600, 3 * 86400))
        self.posts[post.id] = post
        self.by_bid[post.bid] = post
        self._account_posts[account.uid].append(post)
        self._index_mentions(post, text)
        if not post.restricted:
            self._make_thread(post, rng, level)
        post.reindex()
        return post

    def _index_mentions(self, item: SimPost | SimComment, text: str) -> None:
        index = self._mentioning if isinstance(item, SimPost) else self._mentioning_comments
        for name in dict.fromkeys(_MENTION.findall(text)):
            if name in index:
                index[name].append(item)

    # --- citizens' posts that @ an account ---------------------------------------------

    def _make_mention(self, account: AccountSpec, rng: random.Random, when: datetime) -> SimPost:
        """A citizen writes on their own timeline to ``account`` (and now and then
        to a second one); the first named account's unit owns it, as the
        district's routing policy puts a mention first.  Its thread: some
        citizens' chat, now and then another citizen asking the account the
        same; the answer, if any, a comment of the account in the thread or
        the account's repost with words of its own."""
        cfg = self.config
        created = when.astimezone(timezone.utc).replace(microsecond=0)
        level = self._profile[account.uid]["level"]
        others = [a for a in self.accounts if a.uid != account.uid]
        named = [account]
        if others and rng.random() < cfg.multi_mention_share:
            named.append(rng.choice(others))
        written = texts.resident_comment(rng, self.places, level, ())
        if written.category == "topic" or written.routing != "account":
            written = texts.Written(written.text, written.category, written.needs_reply, urgent=written.urgent)
        text = " ".join(f"@{a.name}" for a in named) + " " + written.text
        author = self._citizen(rng)
        labels = {"role": "resident", "category": written.category, "needs_reply": written.needs_reply,
                  "target_unit": account.unit if written.needs_reply else None,
                  "routing": "mention" if written.needs_reply else None, "urgent": written.urgent,
                  "hostile": None, "mentions": [a.uid for a in named]}
        post = SimPost(id=self._alloc_id(created), account=account, created_at=created,
                       versions=[(created, text)], region=rng.choice(REGIONS), citizen=author,
                       mentions=tuple(named), labels=labels)
        post.likes_final = int(rng.paretovariate(1.3))
        post.reposts_final = int(rng.paretovariate(1.5)) - 1
        if rng.random() < cfg.post_delete_share:
            post.deleted_at = created + timedelta(seconds=rng.randrange(3600, 3 * 86400))
        self.posts[post.id] = post
        self.by_bid[post.bid] = post
        self._index_mentions(post, text)
        for _ in range(poisson(rng, 1.0)):
            t = created + timedelta(seconds=rng.expovariate(1 / 7200.0))
            if rng.random() < 0.2:
                again = texts.resident_comment(rng, self.places, level, ())
                if again.needs_reply and again.routing == "account":
                    c = self._comment(post, rng, t, self._citizen(rng), f"@{account.name} {again.text}",
                                      {"role": "resident", "category": again.category, "needs_reply": True,
                                       "target_unit": account.unit, "routing": "mention",
                                       "urgent": again.urgent, "hostile": None})
                    self._index_mentions(c, c.text)
                    continue
            self._comment(post, rng, t, self._citizen(rng), rng.choice(texts.CITIZEN_CHAT),
                          {"role": "resident", "category": None, "needs_reply": False, "target_unit": None,
                           "routing": None, "urgent": False, "hostile": None})
        if written.needs_reply and rng.random() < cfg.reply_share:
            t, late = self._reply_time(rng, created)
            body = texts.owner_reply(rng, written.category, self.places)
            labels = {"role": "reply", "answers": post.id, "late": late}
            if rng.random() < cfg.repost_answer_share:
                answer = SimPost(id=self._alloc_id(t), account=account, created_at=t.replace(microsecond=0),
                                 versions=[(t.replace(microsecond=0), f"{body}//@{author[1]}:{text}")],
                                 repost_of=post, region=rng.choice(REGIONS), labels={**labels, "form": "repost"})
                self.posts[answer.id] = answer
                self.by_bid[answer.bid] = answer
                self._account_posts[account.uid].append(answer)
                answer.reindex()
            else:
                self._comment(post, rng, t, (int(account.uid), account.name), body, {**labels, "form": "comment"})
        post.reindex()
        return post

    # --- threads -------------------------------------------------------------------

    def _citizen(self, rng: random.Random) -> tuple[int, str]:
        return self.citizens[rng.randrange(len(self.citizens))]

    def messages_of_day(self, account: AccountSpec, day: date, salt: str, step: timedelta
                        ) -> Iterator[tuple[random.Random, datetime, texts.Written]]:
        """One day of the messages residents write to an account that holds
        messages only (a forum, a message board): each with the day's own
        random stream (to draw the rest of it from, in order), its time (7–23
        h local, in whole ``step``s) and its words."""
        rng = random.Random(f"{self.seed}:{account.uid}:{day}:{salt}")
        try:
            level = self.matrix.unit(account.unit).level
        except KeyError:
            level = "district"
        midnight = datetime.combine(day, time.min, SHANGHAI).astimezone(timezone.utc)
        first, last = timedelta(hours=7) // step, timedelta(hours=23) // step
        n = poisson(rng, self.config.rate(self.config.mentions_per_day, level))
        for when in sorted(midnight + step * rng.randrange(first, last) for _ in range(n)):
            written = texts.resident_comment(rng, self.places, level, ())
            while written.category is None or written.category == "topic":  # a message, not chatter
                written = texts.resident_comment(rng, self.places, level, ())
            yield rng, when, written

    def _add(self, post: SimPost, comment: SimComment) -> SimComment:
        # Lists stay in time order whatever order the generator made things in.
        self.comments[comment.id] = comment
        bisect.insort(post.all_comments, comment, key=_time_key)
        siblings = post.comments if comment.root is None else comment.root.children
        bisect.insort(siblings, comment, key=_time_key)
        return comment

    def _comment(self, post: SimPost, rng: random.Random, when: datetime, author: tuple[int, str], text: str,
                 labels: dict[str, Any], *, owner: bool = False, root: SimComment | None = None,
                 parent: SimComment | None = None) -> SimComment:
        when = when.replace(microsecond=0)  # the wire formats have whole seconds
        c = SimComment(id=self._alloc_id(when), post=post, author_id=author[0], author_name=author[1],
                       created_at=when, text=text.strip(), is_owner=owner,
                       likes_final=int(rng.paretovariate(1.2)) - 1 + (50 if rng.random() < 0.03 else 0),
                       region=rng.choice(REGIONS), labels=labels, root=root, parent=parent,
                       show_author_flag=not (owner and rng.random() < self.config.omit_author_flag_share))
        return self._add(post, c)

    def _owner(self, post: SimPost) -> tuple[int, str]:
        return int(post.account.uid), post.account.name

    def _target(self, post: SimPost, written: texts.Written) -> str:
        if written.routing == "mention" and written.target_hint in self.by_name:
            return self.by_name[written.target_hint].unit
        if written.routing in ("place", "topic") and written.target_hint:
            return written.target_hint
        return post.account.unit

    def _make_thread(self, post: SimPost, rng: random.Random, level: str) -> None:
        cfg = self.config
        lam = cfg.rate(cfg.comments_per_post, level)
        n = rng.randrange(40, 130) if post.viral else poisson(rng, lam)
        mention_names = tuple(rng.sample([a.name for a in self.accounts if a.uid != post.account.uid],
                                         min(3, len(self.accounts) - 1)))
        for _ in range(n):
            when = post.created_at + timedelta(seconds=min(rng.expovariate(1 / 10800.0), 6.5 * 86400))
            written = texts.resident_comment(rng, self.places, level, mention_names)
            if rng.random() < cfg.hostile_share:
                written = texts.hostile(rng, written)
            labels = {"role": "resident", "category": written.category, "needs_reply": written.needs_reply,
                      "target_unit": self._target(post, written) if written.needs_reply else None,
                      "routing": written.routing if written.needs_reply else None,
                      "urgent": written.urgent, "hostile": written.hostile}
            root = self._comment(post, rng, when, self._citizen(rng), written.text, labels)
            root.inline_false = rng.random() < cfg.comments_false_share
            if rng.random() < cfg.comment_delete_share:
                root.deleted_at = root.created_at + timedelta(seconds=rng.randrange(600, 2 * 86400))
            self._citizen_chat(post, rng, root)
            self._owner_answer(post, rng, root, written)

    def _citizen_chat(self, post: SimPost, rng: random.Random, root: SimComment) -> None:
        if rng.random() >= 0.15:
            return
        t = root.created_at
        for _ in range(rng.randint(1, 3)):
            t = t + timedelta(seconds=rng.expovariate(1 / 7200.0))
            target = rng.choice([root, *root.children])
            text = rng.choice(texts.CITIZEN_CHAT)
            if target is not root:
                target = self._named(root, target.author_name, t)
                text = f"回复@{target.author_name}:{text}"
            self._comment(post, rng, t, self._citizen(rng), text,
                          {"role": "resident", "category": None, "needs_reply": False, "target_unit": None,
                           "routing": None, "urgent": False, "hostile": None},
                          root=root, parent=target)

    def _reply_time(self, rng: random.Random, after: datetime) -> tuple[datetime, bool]:
        cfg = self.config
        late = rng.random() < cfg.late_share
        delay = rng.uniform(2 * 86400, 6 * 86400) if late else rng.expovariate(1 / cfg.reply_delay_mean) + 300
        t = after + timedelta(seconds=delay)
        if rng.random() < cfg.office_hours_share:
            t = into_office_hours(t, rng)
        return t, late

    def _owner_answer(self, post: SimPost, rng: random.Random, root: SimComment, written: texts.Written) -> None:
        cfg = self.config
        owner = self._owner(post)
        if not written.needs_reply:
            if written.category == "praise" and rng.random() < 0.3:
                t, _ = self._reply_time(rng, root.created_at)
                self._comment(post, rng, t, owner, texts.owner_reply(rng, "praise", self.places),
                              {"role": "thanks", "answers": root.id}, owner=True, root=root, parent=root)
            return
        if rng.random() >= cfg.reply_share:
            return
        if rng.random() < cfg.ack_share:
            t_ack = root.created_at + timedelta(seconds=rng.uniform(60, 1800))
            self._comment(post, rng, t_ack, owner, rng.choice(texts.ACKS),
                          {"role": "ack", "answers": root.id}, owner=True, root=root, parent=root)
            if rng.random() < 0.4:
                return
        t, late = self._reply_time(rng, root.created_at)
        body = texts.owner_reply(rng, written.category, self.places)
        chatters = [c for c in root.children if not c.is_owner and c.created_at < t]
        form = rng.random()
        labels = {"role": "reply", "answers": root.id, "late": late}
        if form < 0.07:
            # A fresh top-level comment naming the resident.
            reply = self._comment(post, rng, t, owner, f"@{root.author_name} {body}",
                                  {**labels, "form": "mention"}, owner=True)
        elif form < 0.3 and chatters:
            target = self._named(root, rng.choice(chatters).author_name, t)
            reply = self._comment(post, rng, t, owner, f"回复@{target.author_name}:{body}",
                                  {**labels, "form": "reply_to_child", "replies_to": target.id},
                                  owner=True, root=root, parent=target)
        else:
            reply = self._comment(post, rng, t, owner, body, {**labels, "form": "child"},
                                  owner=True, root=root, parent=root)
        if written.category == "complaint" and rng.random() < 0.15:
            t2 = reply.created_at + timedelta(seconds=rng.uniform(3600, 2 * 86400))
            parent = self._named(root, post.account.name, t2)
            text = rng.choice(texts.FOLLOW_UP)
            self._comment(post, rng, t2, (root.author_id, root.author_name),
                          f"回复@{post.account.name}:{text}" if parent is not root else text,
                          {"role": "resident", "category": "complaint", "needs_reply": True,
                           "target_unit": root.labels["target_unit"], "routing": root.labels["routing"],
                           "urgent": False, "hostile": None, "follow_up_of": root.id},
                          root=root, parent=parent)

    @staticmethod
    def _named(root: SimComment, name: str, before: datetime) -> SimComment:
        """The comment a ``回复@name:`` typed at ``before`` answers: the latest reply
        by ``name`` in the thread (what a reader of the text would conclude), else the root."""
        named = [c for c in root.children if c.author_name == name and c.created_at < before]
        return named[-1] if named else root

    # --- scripted activity (tests that need an exact scenario) ------------------------

    def script_post(self, uid: str, created_at: datetime, text: str, *, is_long: bool = False,
                    pinned: bool = False, deleted_at: datetime | None = None,
                    edits: tuple[tuple[datetime, str], ...] = ()) -> SimPost:
        """Add a post by hand (use a config with zero rates for a world of only these)."""
        with self._lock:
            post = SimPost(id=self._alloc_id(created_at), account=self.by_uid[uid], created_at=created_at,
                           versions=[(created_at, text), *edits], is_long=is_long, pinned=pinned,
                           deleted_at=deleted_at)
            self.posts[post.id] = post
            self.by_bid[post.bid] = post
            self._account_posts[uid].append(post)
        return post

    def script_comment(self, post: SimPost, created_at: datetime, text: str, *, owner: bool = False,
                       root: SimComment | None = None, parent: SimComment | None = None, likes: int = 0,
                       deleted_at: datetime | None = None, inline_false: bool = False,
                       labels: dict[str, Any] | None = None) -> SimComment:
        """Add a comment by hand; a citizen author unless ``owner``."""
        with self._lock:
            author = self._owner(post) if owner else self.citizens[len(post.all_comments) % len(self.citizens)]
            c = SimComment(id=self._alloc_id(created_at), post=post, author_id=author[0], author_name=author[1],
                           created_at=created_at, text=text, is_owner=owner, likes_final=likes, region="北京",
                           labels=dict(labels or {}), root=root, parent=parent or root, deleted_at=deleted_at,
                           inline_false=inline_false)
            self._add(post, c)
            post.reindex()
        return c

    # --- queries ---------------------------------------------------------------------

    def mentioning(self, name: str, t: datetime) -> list[SimPost]:
        """Live posts whose text @s ``name`` at ``t``, newest first."""
        self.ensure(t)
        with self._lock:
            posts = [p for p in self._mentioning.get(name, ()) if p.alive(t)]
        return sorted(posts, key=lambda p: -int(p.id))

    def mentioning_comments(self, name: str, t: datetime) -> list[SimComment]:
        """Live comments whose text @s ``name`` at ``t``, newest first."""
        self.ensure(t)
        with self._lock:
            found = [c for c in self._mentioning_comments.get(name, ()) if c.alive(t) and c.post.alive(t)]
        return sorted(found, key=lambda c: -int(c.id))

    def timeline(self, uid: str, t: datetime) -> list[SimPost]:
        """The account's live posts at ``t``: pinned first, then newest first."""
        self.ensure(t)
        with self._lock:
            posts = [p for p in self._account_posts.get(uid, ()) if p.alive(t)]
        pinned = [p for p in posts if p.pinned]
        rest = sorted((p for p in posts if not p.pinned), key=lambda p: -int(p.id))
        return pinned + rest

    def post(self, key: str, t: datetime) -> SimPost | None:
        """A post by mid or bid, whether or not alive."""
        self.ensure(t)
        with self._lock:
            post = self.posts.get(key) or self.by_bid.get(key)
        return post if post is not None and post.created_at <= t else None

    def comment(self, cid: str, t: datetime) -> SimComment | None:
        self.ensure(t)
        with self._lock:
            c = self.comments.get(cid)
        return c if c is not None and c.created_at <= t else None

    def account_posts(self, uid: str) -> list[SimPost]:
        with self._lock:
            return list(self._account_posts.get(uid, ()))

    def truth(self, t: datetime) -> dict[str, Any]:
        """Everything published by ``t`` (live and deleted), see :mod:`huisheng.simulator`."""
        self.ensure(t)
        posts, comments = [], []
        with self._lock:
            all_posts = sorted((p for p in self.posts.values() if p.created_at <= t), key=lambda p: int(p.id))
        for p in all_posts:
            edits, text = p.version_at(t)
            posts.append({
                "id": p.id, "bid": p.bid, "account_uid": p.account.uid, "author_id": str(p.author[0]),
                "author_name": p.author[1], "unit": p.account.unit, "created_at": iso(p.created_at),
                "citizen": p.citizen is not None, "mentions": [a.uid for a in p.mentions],
                "labels": dict(p.labels),
                "text": text, "is_long": p.is_long, "is_pinned": p.pinned,
                "comments_restricted": p.restricted,
                "repost_of": p.repost_of.id if p.repost_of else None, "edit_count": edits,
                "deleted": not p.alive(t), "deleted_at": iso(p.deleted_at) if p.deleted_at and p.deleted_at <= t else None,
                "comments_count": p.comment_count(t),
            })
            for c in p.all_comments:
                if c.created_at > t:
                    continue
                comments.append({
                    "id": c.id, "post_id": p.id, "account_uid": p.account.uid,
                    "root_id": c.root.id if c.root else None, "parent_id": c.parent.id if c.parent else None,
                    "author_id": str(c.author_id), "author_name": c.author_name, "created_at": iso(c.created_at),
                    "text": c.text, "is_from_owner": c.is_owner, "edit_count": 0,
                    "deleted": not c.alive(t), "post_deleted": not p.alive(t), "labels": dict(c.labels),
                })
        comments.sort(key=lambda c: int(c["id"]))
        return {"as_of": iso(t), "seed": self.seed, "posts": posts, "comments": comments}


def _time_key(c: SimComment) -> tuple[datetime, int]:
    return c.created_at, int(c.id)


def iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

