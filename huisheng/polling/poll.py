"""Polling one account: the unit of work ``poll(account_id)``.

The same function runs under the in-process dispatcher (``huisheng run``), for
``huisheng poll`` and ``huisheng backfill``, and would run unchanged in a
scale-out worker.  What it fetches is decided here, incrementally:

* Timeline pages are read newest first and paging stops after the page holding
  the first *known* non-pinned post of the account (known = stored and its
  comment thread read at least once, so a crash between storing a post and
  reading its thread is repaired by the next poll).  Every
  ``window_refresh_interval`` the pages covering the recent window are re-read
  instead, to refresh the counters of older posts and notice deleted ones.
* A post's comment thread is re-read only when the post's comment count
  differs from the count at the last complete read; a top-level comment's
  replies only when its reply counter changed.
* A thread read the adapter declares short of its counter (``Page.incomplete``:
  a platform may answer "no comments yet" for a post counting 10,000) is stored
  as far as it went, concludes nothing (no tombstones, the read marker stays)
  and is read again on its own backoff, through the platform's fallback
  endpoint where it has one, whatever the counter does, until a read is whole.
* Each timeline page (posts + adapter state) and each thread (comments + the
  thread's read marker) is stored in its own transaction: a crash loses at most
  the unit in flight, never leaves a marker ahead of the items.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable, Mapping, Sequence

from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from huisheng import errors
from huisheng.adapters.base import Adapter, Source
from huisheng.storage import store
from huisheng.storage.db import outage, transaction
from huisheng.polling.adapter_factory import AdapterFactory
from huisheng.clock import Clock
from huisheng.storage.models import Account, AccountSource, UTCDateTime
from huisheng.polling.pace import backoff_delay
from huisheng.config.settings import Settings
from huisheng.records import AccountRef, Comment, Post, Shortfall

log = logging.getLogger("huisheng.poll")

#: ``last_error_kind`` of an exception outside the adapters' error tree (a bug)
CRASH_KIND = "crash"
#: seconds below the newest item of a source's last read within which a new
#: item may still turn up (search results come somewhat out of order)
SOURCE_OVERLAP = 3600


def _describe_crash(exc: BaseException) -> str:
    return f"internal error {type(exc).__name__}: {exc}"[:500]


@dataclass
class PollResult:
    account_id: int
    account_name: str = ""
    platform: str = ""
    outcome: str = "ok"
    requests: int = 0
    timeline_pages: int = 0
    threads_read: int = 0
    #: thread or reply reads that came back far short of their counter
    incomplete: int = 0
    new_posts: int = 0
    new_comments: int = 0
    edited: int = 0
    tombstoned: int = 0
    #: mention posts and comments found by the account's sources
    mentions: int = 0
    #: sources read, and those that failed (kind → error kind)
    sources_read: list[str] = field(default_factory=list)
    source_errors: dict[str, str] = field(default_factory=dict)
    error_kind: str | None = None
    error_message: str | None = None
    new_comment_ids: list[int] = field(default_factory=list)

    def log_line(self) -> str:
        parts = [f"account={self.account_name or self.account_id}", f"platform={self.platform}",
                 f"outcome={self.outcome}", f"requests={self.requests}",
                 f"new_posts={self.new_posts}", f"new_comments={self.new_comments}",
                 f"edited={self.edited}", f"tombstoned={self.tombstoned}"]
        if self.incomplete:
            parts.append(f"incomplete={self.incomplete}")
        if self.sources_read or self.source_errors:
            parts.append(f"mentions={self.mentions}")
        for kind, error in self.source_errors.items():
            parts.append(f"{kind}={error}")
        if self.error_kind:
            parts.append(f"error={self.error_kind}")
            parts.append(f"message={self.error_message!r}")
        return " ".join(parts)


# A poll's own statements, built once: building an ORM statement cost more
# than running it, and most polls (nothing new) run nothing else.
_ACCOUNTS = Account.__table__
_AT = UTCDateTime()
#: what a poll reads of its account
_ACCOUNT = select(_ACCOUNTS.c.platform, _ACCOUNTS.c.uid, _ACCOUNTS.c.name, _ACCOUNTS.c.adapter_state,
                  _ACCOUNTS.c.cookie_env, _ACCOUNTS.c.unsupported, _ACCOUNTS.c.window_checked_at,
                  _ACCOUNTS.c.poll_interval, _ACCOUNTS.c.consecutive_errors, _ACCOUNTS.c.first_success_at,
                  ).where(_ACCOUNTS.c.id == bindparam("account_id"))

#: the adapter's own state of the account (a feed's validators, a cursor …)
_SET_STATE = update(_ACCOUNTS).where(_ACCOUNTS.c.id == bindparam("account_id")).values(
    adapter_state=bindparam("state", type_=_ACCOUNTS.c.adapter_state.type))


def _success(of_lease: bool):
    """A successful poll's UPDATE: the monitoring start from the first success
    (else the matrix set it, or an earlier poll did), errors cleared, the next
    check moved on unless someone moved it further, and the lease released —
    only the poll's own (``of_lease``), never another poll's (see _release)."""
    c, now = _ACCOUNTS.c, bindparam("now", type_=_AT)
    released = c.lease_owner == bindparam("owner")
    lease = {"lease_owner": case((released, None), else_=c.lease_owner),
             "lease_until": case((released, None), else_=c.lease_until)} if of_lease else {
        "lease_owner": None, "lease_until": None}
    return update(_ACCOUNTS).where(c.id == bindparam("account_id")).values(
        last_success_at=now, first_success_at=func.coalesce(c.first_success_at, now),
        monitoring_start=func.coalesce(c.monitoring_start, case(
            (c.first_success_at.is_(None), bindparam("start_if_first", type_=_AT)),
            else_=bindparam("start_if_not", type_=_AT))),
        consecutive_errors=0, failing_since=None,
        next_check_at=case((or_(c.next_check_at.is_(None), c.next_check_at < now),
                            bindparam("next_check", type_=_AT)), else_=c.next_check_at),
        **lease)


_SUCCESS, _SUCCESS_OF_LEASE = _success(False), _success(True)


class Poller:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], clock: Clock,
                 factory: AdapterFactory, *, rng: random.Random | None = None,
                 history_start: Callable[[datetime], datetime] | None = None):
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.factory = factory
        self.rng = rng or random.Random()
        #: an account's first successful poll → its monitoring start (what was
        #: written before is history); the wiring passes the configured grace
        self.history_start = history_start or (lambda first_success: first_success)

    # -- the unit of work ------------------------------------------------------------

    def poll(self, account_id: int, *, backfill_days: int | None = None,
             lease_owner: str | None = None,
             should_stop: Callable[[], bool] | None = None) -> PollResult:
        """Poll once.  ``should_stop`` is asked between units of work: a daemon
        told to stop ends the poll after the unit in flight (each unit is
        committed whole) and the account is due again at once.  A database
        that went away is said in one line and raised as
        ``DatabaseUnavailable``: the poll is tried again (the account's lease
        runs out, or the queue retries its job), not counted against it."""
        try:
            return self._poll(account_id, backfill_days, lease_owner, should_stop)
        except Exception as exc:
            problem = outage(exc)
            if problem is None:
                raise
            log.warning("account_id=%s outcome=database_unavailable %s", account_id, problem)
            if problem is exc:
                raise
            raise problem from exc

    def _poll(self, account_id: int, backfill_days: int | None, lease_owner: str | None,
              should_stop: Callable[[], bool] | None) -> PollResult:
        with transaction(self.sessions) as connection:
            account = connection.execute(_ACCOUNT, {"account_id": account_id}).first()
            if account is None:
                raise errors.HuishengError(f"no account with id {account_id}")
            # the variable's value, read at each poll: never stored, never logged
            cookie = os.environ.get(account.cookie_env) or None if account.cookie_env else None
            ref = AccountRef(platform=account.platform, uid=account.uid, name=account.name,
                             state=dict(account.adapter_state or {}), cookie=cookie)
            cookie_missing = account.cookie_env if account.cookie_env and cookie is None else None
            unsupported = list(account.unsupported or ())
            window_checked_at = account.window_checked_at
            interval = self.settings.interval_for(account.platform, account.poll_interval)
            consecutive_errors = account.consecutive_errors
            first_success_at = account.first_success_at
        result = PollResult(account_id=account_id, account_name=ref.name, platform=ref.platform)
        adapter: Adapter | None = None
        run: _AccountRun | None = None
        now = self.clock.now()
        try:
            adapter = self.factory.adapter(ref.platform)  # a broken plugin fails here
            run = _AccountRun(self, adapter, account_id, ref, result, now, should_stop,
                              threadless="comments" in unsupported)
            run.execute(window_checked_at=window_checked_at, backfill_days=backfill_days)
            run.read_sources(cookie_missing=cookie_missing)
        except (_Interrupted, errors.Cancelled):
            result.outcome = "interrupted"
            self._record_interrupted(account_id, lease_owner)
        except errors.AdapterError as exc:
            result.outcome = "error"
            result.error_kind = exc.kind
            result.error_message = str(exc)[:500]
            retry_after = getattr(exc, "retry_after", None)
            if exc.slows_platform:
                self.factory.slow_down(adapter, retry_after or self.settings.polling.backoff_base)
            self._record_failure(account_id, exc, consecutive_errors + 1, retry_after, lease_owner)
        except Exception as exc:
            if outage(exc):
                raise
            # A bug or a payload no parser foresaw: a failure like any other
            # (shown, backed off), never a silent crash of this account's polls.
            log.exception("account=%s platform=%s outcome=crash", ref.name, ref.platform)
            result.outcome = "error"
            result.error_kind = CRASH_KIND
            result.error_message = _describe_crash(exc)
            self._record_failure(account_id, exc, consecutive_errors + 1, None, lease_owner)
        else:
            self._record_success(account_id, interval, lease_owner, first_success_at)
        finally:
            result.requests = adapter.http.request_count if adapter is not None else 0
        if run is not None:
            self._record_capabilities(account_id, unsupported, run.capabilities)
        log.info(result.log_line())
        return result

    def _record_capabilities(self, account_id: int, before: list[str], seen: Mapping[str, bool]) -> None:
        """What the platform said it cannot do for the account (for ``status``):
        what this poll found unsupported joins the list, what worked leaves it."""
        after = sorted((set(before) | {c for c, ok in seen.items() if not ok}) - {c for c, ok in seen.items() if ok})
        if after != sorted(before):
            with self.sessions.begin() as session:
                session.execute(update(Account).where(Account.id == account_id).values(unsupported=after))

    def _record_success(self, account_id: int, interval: int, lease_owner: str | None,
                        first_success_at: datetime | None) -> None:
        """One UPDATE, no read (most polls find nothing new: this is all they
        write).  ``first_success_at``: the account's, read when the poll began
        (the monitoring start follows from it; set by nobody but a poll)."""
        now = self.clock.now()
        with transaction(self.sessions) as connection:
            connection.execute(
                _SUCCESS if lease_owner is None else _SUCCESS_OF_LEASE,
                {"account_id": account_id, "now": now, "owner": lease_owner,
                 "next_check": now + timedelta(seconds=interval),
                 "start_if_first": self.history_start(now),
                 "start_if_not": self.history_start(first_success_at or now)})

    def _record_failure(self, account_id: int, exc: Exception, consecutive: int,
                        retry_after: float | None, lease_owner: str | None) -> None:
        now = self.clock.now()
        polling = self.settings.polling
        if isinstance(exc, errors.AuthRequired):
            # Retrying a captcha or login wall in a loop only deepens the ban.
            delay = polling.backoff_cap
        else:
            delay = backoff_delay(consecutive, base=polling.backoff_base, cap=polling.backoff_cap,
                                  jitter=polling.backoff_jitter, retry_after=retry_after, rng=self.rng)
        with self.sessions.begin() as session:
            account = session.get(Account, account_id)
            account.consecutive_errors = consecutive
            if isinstance(exc, errors.AdapterError):
                account.last_error_kind = exc.kind
                account.last_error_message = str(exc)[:500]
            else:
                account.last_error_kind = CRASH_KIND
                account.last_error_message = _describe_crash(exc)
            account.last_error_at = now
            if account.failing_since is None:
                account.failing_since = now
            account.next_check_at = now + timedelta(seconds=delay)
            _release(account, lease_owner)


    def _record_interrupted(self, account_id: int, lease_owner: str | None) -> None:
        with self.sessions.begin() as session:
            account = session.get(Account, account_id)
            account.next_check_at = self.clock.now()
            _release(account, lease_owner)


def _settle_roots(comments: dict[str, Comment]) -> None:
    """Point every reply at its top-level comment.  The old comments endpoint
    only names a reply's parent, which may itself be a reply on another page;
    with the whole thread in hand the chain can be followed to its top."""
    for ext, comment in list(comments.items()):
        root, hops = comment.root_id, 0
        while root in comments and comments[root].root_id is not None and hops < 10:
            root, hops = comments[root].root_id, hops + 1
        if root != comment.root_id:
            comments[ext] = replace(comment, root_id=root)


def _replies_changed(top: Comment, state: store.CommentState | None) -> bool:
    """Whether ``top``'s second-level replies may have changed since their last
    complete read: its reply counter moved, or it was never read.  A counter
    may show 0 with replies present, so a 0 with a "more" hint is always
    treated as changed."""
    reported = top.replies_count or 0
    if reported == 0 and top.has_more_replies:
        return True
    return state is None or state.replies_read_count != reported


def _post_of(row, account_uid: str) -> Post:
    """A stored post as the record an adapter reads its thread with."""
    return Post(platform=row.platform, external_id=row.external_id, account_uid=account_uid,
                author_id=row.author_id, author_name=row.author_name, created_at=row.created_at,
                created_at_approx=row.created_at_approx, text=row.text, short_id=row.short_id,
                url=row.url, is_pinned=row.is_pinned, comments_count=row.comments_count,
                repost_of=row.repost_of, raw=row.raw or {})


def _comment_of(row, post_external_id: str) -> Comment:
    """A stored top-level comment as the record an adapter reads its replies with."""
    return Comment(platform=row.platform, external_id=row.external_id, post_id=post_external_id,
                   author_id=row.author_id, author_name=row.author_name, created_at=row.created_at,
                   created_at_approx=row.created_at_approx, text=row.text,
                   is_from_owner=row.is_from_owner, replies_count=row.replies_count,
                   raw=row.raw or {})


def _root_item(post: Post) -> Comment:
    """A citizen's post that mentions an account as the root item of its own
    thread: decided, flagged and answered like a comment (same external id)."""
    return Comment(platform=post.platform, external_id=post.external_id, post_id=post.external_id,
                   author_id=post.author_id, author_name=post.author_name, created_at=post.created_at,
                   created_at_approx=post.created_at_approx, text=post.text, mentions=post.mentions,
                   region=post.region, raw=post.raw)


def _parse_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class _Interrupted(Exception):
    """The daemon is stopping; the poll ends between two units of work."""


def _release(account: Account, lease_owner: str | None) -> None:
    if lease_owner is None or account.lease_owner == lease_owner:
        account.lease_owner = None
        account.lease_until = None


class _AccountRun:
    """The state of one poll of one account."""

    def __init__(self, poller: Poller, adapter: Adapter, account_id: int, ref: AccountRef,
                 result: PollResult, now: datetime, should_stop: Callable[[], bool] | None,
                 *, threadless: bool = False):
        self.should_stop = should_stop or (lambda: False)
        self.poller = poller
        self.adapter = adapter
        self.account_id = account_id
        self.ref = ref
        #: the adapter's state as stored (written again only when a page changed it)
        self.stored_state = dict(ref.state)
        self.result = result
        self.now = now
        self.polling = poller.settings.polling
        #: capability (an adapter method: "expand", "replies", "status") → whether
        #: it worked this poll (False: the adapter raised ``Unsupported``)
        self.capabilities: dict[str, bool] = {}
        #: the platform said it has no comment threads: none can be due for a retry
        self.threadless = threadless

    def execute(self, *, window_checked_at: datetime | None, backfill_days: int | None) -> None:
        window = timedelta(days=backfill_days if backfill_days else self.polling.recent_window_days)
        horizon = self.now - window
        refresh = backfill_days is not None or window_checked_at is None or (
            self.now - window_checked_at >= timedelta(seconds=self.polling.window_refresh_interval))
        posts, covered, whole = self._walk_timeline(horizon=horizon, to_horizon=refresh,
                                             max_pages=None if backfill_days else self.polling.max_timeline_pages)
        if posts:
            with self.poller.sessions.begin() as session:
                states = store.existing_posts(session, self.ref.platform, [p.external_id for p in posts])
        for post in posts:
            if self.should_stop():
                raise _Interrupted()
            self._maybe_read_thread(post, states[post.external_id])
        if not self.threadless:
            self._read_due_retries()
        if refresh and whole:
            if covered is not None:
                self._detect_deleted_posts(posts, covered)
            with self.poller.sessions.begin() as session:
                session.execute(update(Account).where(Account.id == self.account_id)
                                .values(window_checked_at=self.now))

    # -- timeline ---------------------------------------------------------------------

    def _walk_timeline(self, *, horizon: datetime, to_horizon: bool, max_pages: int | None
                       ) -> tuple[list[Post], tuple[datetime, datetime] | None, bool]:
        """Read timeline pages, store them, return the account's own posts seen;
        when the walk read a contiguous span down to the horizon (or the end),
        that span (oldest, newest) for deletion checks; and whether the walk
        read the whole window — also true of a timeline that ended with no post
        of the account in it (nothing to check for deletions, but the window
        was read: else such an account would walk its whole window every poll)."""
        seen: list[Post] = []
        cursor: str | None = None
        reached_end = False
        while True:
            page = self.adapter.timeline(self.ref, cursor)
            self.result.timeline_pages += 1
            if page.state is not None:
                self.ref = replace(self.ref, state={**self.ref.state, **page.state})
            own = [p for p in page.items if p.author_id == self.ref.uid]
            if page.items or page.state is not None:
                known_hit, oldest = self._store_timeline_page(page.items, own)
            else:  # nothing listed, nothing to keep (a feed unchanged since the last read)
                known_hit, oldest = False, None
            seen.extend(own)
            if page.cursor is None:
                reached_end = True
                break
            if to_horizon:
                if oldest is not None and oldest < horizon:
                    break
            elif known_hit:
                break
            if max_pages is not None and self.result.timeline_pages >= max_pages:
                break
            cursor = page.cursor
        dated = [p.created_at for p in seen if p.created_at and not p.is_pinned]
        covered = None
        if to_horizon and dated and (reached_end or min(dated) < horizon):
            covered = (horizon if not reached_end else min(dated), max(dated))
        return seen, covered, covered is not None or (to_horizon and reached_end and not dated)

    def _store_timeline_page(self, items: Sequence[Post], own: Sequence[Post]
                             ) -> tuple[bool, datetime | None]:
        sessions = self.poller.sessions
        with sessions.begin() as session:
            existing = store.existing_posts(session, self.ref.platform, [p.external_id for p in items])
        expanded: list[Post] = []
        previews: dict[str, str] = {}
        known_hit = False
        oldest: datetime | None = None
        for post in items:
            state = existing.get(post.external_id)
            if store.post_needs_expand(state, post):
                previews[post.external_id] = post.content_hash
                post = self._expand(post)
            expanded.append(post)
            if post.author_id == self.ref.uid and not post.is_pinned:
                if post.created_at is not None and (oldest is None or post.created_at < oldest):
                    oldest = post.created_at
                if state is not None and (state.comments_read_count is not None or self.threadless
                                          or state.comments_incomplete_reason is not None):
                    # an incomplete thread is on its own retry schedule; without threads, stored is known
                    known_hit = True
        with sessions.begin() as session:
            upserted = store.upsert_posts(session, expanded, account_id=self.account_id,
                                          account=(self.ref.platform, self.ref.uid), now=self.now,
                                          preview_hashes=previews)
            if self.ref.state != self.stored_state:
                session.connection().execute(_SET_STATE, {"account_id": self.account_id,
                                                          "state": dict(self.ref.state)})
                self.stored_state = dict(self.ref.state)
        self.result.new_posts += len([p for p in own if p.external_id not in existing])
        self.result.edited += len(upserted.edited)
        reposts = [p for p in own if p.repost_of]
        if reposts:
            with sessions.begin() as session:
                mentions = store.mention_posts(session, self.ref.platform, [p.repost_of for p in reposts])
                self._link_reposts(session, [p for p in reposts if p.repost_of in mentions], mentions)
        return known_hit, oldest

    def _expand(self, post: Post) -> Post:
        """The post's whole text; the preview itself (stored as truncated) when
        the platform has no way to read it."""
        try:
            whole = self.adapter.expand(post)
        except errors.Unsupported:
            self.capabilities["expand"] = False
            return post
        self.capabilities["expand"] = True
        return whole

    def _link_reposts(self, session: Session, reposts: Sequence[Post], mentions: dict[str, int]) -> None:
        """An account's repost with words of its own of a citizen's mention is
        its answer: stored in that post's thread as a top-level item."""
        items = []
        for post in reposts:
            try:
                text = self.adapter.repost_text(post)
            except errors.Unsupported:
                # no answer concluded from a repost whose own words cannot be told apart
                self.capabilities["repost_text"] = False
                break
            self.capabilities["repost_text"] = True
            if text is not None:
                items.append(Comment(platform=post.platform, external_id=post.external_id,
                                     post_id=post.repost_of, author_id=post.author_id,
                                     author_name=post.author_name, created_at=post.created_at,
                                     created_at_approx=post.created_at_approx, text=text,
                                     is_from_owner=True, mentions=post.mentions, raw=post.raw))
        if items:
            upserted = store.upsert_comments(session, items, post_row_ids=mentions, now=self.now, item="repost")
            self.result.new_comments += len(upserted.inserted)
            self.result.new_comment_ids.extend(upserted.inserted)

    # -- comment threads ----------------------------------------------------------------

    def _maybe_read_thread(self, post: Post, state: store.PostState) -> None:
        if state.deleted_at is not None or self.capabilities.get("comments") is False:
            return
        count = post.comments_count or 0
        if state.comments_incomplete_reason is not None:
            # on its own backoff, whether or not the counter moved
            if state.comments_retry_at is None or state.comments_retry_at <= self.now:
                self._read_thread(post, state.id, count, retry=state.comments_retry_attempts)
            return
        if state.comments_read_count is not None and state.comments_read_count == count:
            return
        # no counter at all (None) is not a counter saying 0: only the platform can tell
        if post.comments_count == 0 and state.comments_read_count is None:
            with self.poller.sessions.begin() as session:
                store.mark_thread_read(session, state.id, 0, self.now)
            return
        self._read_thread(post, state.id, count)

    def _read_thread(self, post: Post, post_row_id: int, count: int, *, retry: int = 0) -> None:
        """Read the post's thread (``retry``: the short reads before this one)."""
        comments: dict[str, Comment] = {}
        cursor = self.adapter.retry_cursor("comments", retry) if retry else None
        complete = False
        shortfall: Shortfall | None = None
        total: int | None = None
        for _ in range(self.polling.max_comment_pages):
            try:
                page = self.adapter.comments(post, self.ref, cursor)
            except errors.Unsupported:
                # a platform without comment threads (feeds): nothing read, nothing marked read
                self.capabilities["comments"] = False
                return
            self.capabilities["comments"] = True
            total = page.total if page.total is not None else total
            comments.update((c.external_id, c) for c in page.items)
            if page.cursor is None:
                complete = page.complete
                shortfall = page.incomplete
                break
            cursor = page.cursor
        _settle_roots(comments)
        tops = [c for c in comments.values() if c.root_id is None]
        with self.poller.sessions.begin() as session:
            known = store.existing_comments(session, self.ref.platform, [c.external_id for c in tops])
        reply_reads: dict[str, tuple[bool, Shortfall | None]] = {}
        for top in tops:
            state = known.get(top.external_id)
            if state is not None and state.replies_incomplete_reason is not None:
                if state.replies_retry_at is None or state.replies_retry_at <= self.now:
                    outcome = self._read_replies(post, top, comments, retry=state.replies_retry_attempts)
                    if outcome is not None:
                        reply_reads[top.external_id] = outcome
                continue
            if not _replies_changed(top, state):
                continue
            inline = sum(1 for c in comments.values() if c.root_id == top.external_id)
            if inline >= (top.replies_count or 0) and not top.has_more_replies:
                reply_reads[top.external_id] = (True, None)  # the inline replies are all of them
            else:
                outcome = self._read_replies(post, top, comments)
                if outcome is not None:  # a platform without reply threads: nothing read, nothing concluded
                    reply_reads[top.external_id] = outcome
        with self.poller.sessions.begin() as session:
            upserted = store.upsert_comments(session, list(comments.values()),
                                             post_row_ids={post.external_id: post_row_id}, now=self.now)
            self.result.new_comments += len(upserted.inserted)
            self.result.new_comment_ids.extend(upserted.inserted)
            self.result.edited += len(upserted.edited)
            gone: list[int] = []
            replies_total = sum(t.replies_count or 0 for t in tops)
            if complete and (total is None or len(tops) + replies_total >= total):
                # Platforms serve only part of big threads; only a read that the
                # platform says is complete and that covers its own count (which
                # includes the replies) lets us conclude a missing comment was
                # deleted.
                live = store.live_comment_ids(session, post_row_id, top_level_only=True)
                for ext, row_id in live.items():
                    if ext not in comments:
                        # the replies of a deleted comment go with it
                        gone.append(row_id)
                        gone += store.live_comment_ids(session, post_row_id, root_external_id=ext).values()
            for root_ext, outcome in reply_reads.items():
                state = known.get(root_ext)
                gone += self._settle_replies(session, post_row_id, comments[root_ext], upserted.ids[root_ext],
                                             outcome, comments, state.replies_retry_attempts if state else 0)
            if gone:
                self.result.tombstoned += len(store.tombstone(
                    session, "comment", gone, "absent from a complete thread read", self.now))
            if shortfall is not None:
                store.mark_thread_incomplete(session, post_row_id, shortfall.reason, self.now,
                                             self._retry_at(retry + 1))
                self.result.incomplete += 1
            else:
                store.mark_thread_read(session, post_row_id, count, self.now)
        self.result.threads_read += 1

    def _read_replies(self, post: Post, top: Comment, comments: dict[str, Comment], *,
                      retry: int = 0) -> tuple[bool, Shortfall | None] | None:
        """Read every reply page under ``top`` into ``comments``; (whether the
        platform said the listing ended, the adapter's shortfall if it fell
        short of the counter), or None when the platform has no reply threads."""
        cursor = self.adapter.retry_cursor("replies", retry) if retry else None
        for _ in range(self.polling.max_comment_pages):
            try:
                page = self.adapter.replies(post, top, self.ref, cursor)
            except errors.Unsupported:
                self.capabilities["replies"] = False
                return None
            self.capabilities["replies"] = True
            comments.update((r.external_id, r) for r in page.items)
            if page.cursor is None:
                return page.complete, page.incomplete
            cursor = page.cursor
        return False, None

    def _settle_replies(self, session: Session, post_row_id: int, root: Comment, root_row: int,
                        outcome: tuple[bool, Shortfall | None], comments: dict[str, Comment],
                        attempts: int) -> list[int]:
        """Record one root's replies read (``attempts``: its short reads
        before); returns the rows it proves gone (none from a short read)."""
        complete, shortfall = outcome
        if shortfall is not None:
            store.mark_replies_incomplete(session, root_row, shortfall.reason, self.now,
                                          self._retry_at(attempts + 1))
            self.result.incomplete += 1
            return []
        gone: list[int] = []
        if complete:
            live = store.live_comment_ids(session, post_row_id, root_external_id=root.external_id)
            gone = [row_id for ext, row_id in live.items() if ext not in comments]
        store.mark_replies_read(session, root_row, root.replies_count or 0)
        return gone

    def _retry_at(self, attempts: int) -> datetime:
        """When to read again a listing that came back short ``attempts`` times in a row."""
        polling = self.polling
        delay = backoff_delay(attempts, base=polling.thread_retry_base, cap=polling.thread_retry_cap,
                              jitter=polling.backoff_jitter, rng=self.poller.rng)
        return self.now + timedelta(seconds=delay)

    def _read_due_retries(self) -> None:
        """Threads and replies that came back short before and are due again,
        whether or not this poll's timeline pages showed their post (an old
        post's counter may never move again).  Those read above are no longer due."""
        with self.poller.sessions.begin() as session:  # one transaction for both lists
            due_posts = store.due_thread_retries(session, self.account_id, self.now)
            due_roots = store.due_reply_retries(session, self.account_id, self.now)
        for row in due_posts:
            if self.should_stop():
                raise _Interrupted()
            self._read_thread(_post_of(row, self.ref.uid), row.id, row.comments_count or 0,
                              retry=row.comments_retry_attempts)
        if due_posts:  # the threads just read may have settled some of them
            with self.poller.sessions.begin() as session:
                due_roots = store.due_reply_retries(session, self.account_id, self.now)
        for root_row, post_row in due_roots:
            if self.should_stop():
                raise _Interrupted()
            post, root = _post_of(post_row, self.ref.uid), _comment_of(root_row, post_row.external_id)
            comments: dict[str, Comment] = {}
            outcome = self._read_replies(post, root, comments, retry=root_row.replies_retry_attempts)
            if outcome is None:
                continue
            with self.poller.sessions.begin() as session:
                upserted = store.upsert_comments(session, list(comments.values()),
                                                 post_row_ids={post.external_id: post_row.id}, now=self.now)
                self.result.new_comments += len(upserted.inserted)
                self.result.new_comment_ids.extend(upserted.inserted)
                self.result.edited += len(upserted.edited)
                gone = self._settle_replies(session, post_row.id, root, root_row.id, outcome, comments,
                                            root_row.replies_retry_attempts)
                if gone:
                    self.result.tombstoned += len(store.tombstone(
                        session, "comment", gone, "absent from a complete thread read", self.now))

    # -- sources beside the timeline (mentions) ------------------------------------------

    def read_sources(self, *, cookie_missing: str | None = None) -> None:
        """Read each of the account's sources that is due.  A source's failure
        is its own (recorded on it, backed off on its own); one that slows the
        platform down ends this poll's source reads."""
        sources = self.adapter.sources(self.ref)
        if cookie_missing is not None:
            # the matrix names the variable, the process lacks it: the sources
            # it would open fail visibly rather than silently not exist
            have = {s.kind for s in sources}
            for source in self.adapter.sources(replace(self.ref, cookie="-")):
                if source.kind not in have:
                    self._source_failed(source, errors.AuthRequired(
                        f"环境变量 {cookie_missing} 未设置或为空（矩阵中该账号的 cookie_env 指向它）",
                        endpoint=source.kind))
        if not sources:
            return
        with self.poller.sessions.begin() as session:
            rows = {r.kind: (r.next_check_at, r.consecutive_errors, dict(r.cursor or {})) for r in session.scalars(
                select(AccountSource).where(AccountSource.account_id == self.account_id))}
            due = [s for s in sources if rows.get(s.kind, (None,))[0] is None or rows[s.kind][0] <= self.now]
            if due:  # the platform's accounts, read only when a source will be read (most polls read none)
                self.matrix = {uid: (row_id, name) for row_id, uid, name in session.execute(
                    select(Account.id, Account.uid, Account.name).where(Account.platform == self.ref.platform))}
        for source in due:
            _, errors_before, cursor = rows.get(source.kind, (None, 0, {}))
            if self.should_stop():
                raise _Interrupted()
            try:
                self._read_source(source, cursor)
            except (_Interrupted, errors.Cancelled):
                raise
            except errors.AdapterError as exc:
                self._source_failed(source, exc, errors_before + 1)
                if exc.slows_platform:
                    self.poller.factory.slow_down(self.adapter, getattr(exc, "retry_after", None)
                                                  or self.polling.backoff_base)
                    return
            except Exception as exc:
                if outage(exc):
                    raise
                log.exception("account=%s source=%s outcome=crash", self.ref.name, source.kind)
                self._source_failed(source, exc, errors_before + 1)

    def _source_row(self, session: Session, source: Source) -> AccountSource:
        row = session.scalars(select(AccountSource).where(AccountSource.account_id == self.account_id,
                                                          AccountSource.kind == source.kind)).first()
        if row is None:
            row = AccountSource(account_id=self.account_id, kind=source.kind, consecutive_errors=0, cursor={})
            session.add(row)
        return row

    def _source_failed(self, source: Source, exc: Exception, consecutive: int = 1) -> None:
        polling = self.polling
        if isinstance(exc, errors.AuthRequired):
            delay = polling.backoff_cap  # a wall does not open by asking again
        else:
            delay = backoff_delay(consecutive, base=polling.backoff_base, cap=polling.backoff_cap,
                                  jitter=polling.backoff_jitter, retry_after=getattr(exc, "retry_after", None),
                                  rng=self.poller.rng)
        kind = exc.kind if isinstance(exc, errors.AdapterError) else CRASH_KIND
        message = str(exc)[:500] if isinstance(exc, errors.AdapterError) else _describe_crash(exc)
        with self.poller.sessions.begin() as session:
            row = self._source_row(session, source)
            row.consecutive_errors = consecutive
            row.last_error_kind, row.last_error_message, row.last_error_at = kind, message, self.now
            row.last_check_at = self.now
            if row.failing_since is None:
                row.failing_since = self.now
            row.next_check_at = self.now + timedelta(seconds=delay)
        self.result.source_errors[source.kind] = kind

    def _read_source(self, source: Source, cursor: dict) -> None:
        """Page through the source until a page brings nothing new since the
        last complete read (the platform's order and deduplication are loose:
        the same item on two pages, items out of order — so a known item alone
        ends nothing), the listing's end, or the page cap.  A read the cap
        stopped keeps where it stopped (``resume``): the next read, once past
        what is new on top, goes on from there down to the recent window's
        end (pages there may repeat what is known: the listing shifted).
        A read that did not end (a stop, a kill, an outage, an error after
        some pages were stored) leaves ``reading`` in the cursor: the next
        read then takes nothing it finds stored for the end of what is new,
        and goes down to the last complete read's newest item."""
        interrupted = bool(cursor.get("reading"))
        if not interrupted:
            with self.poller.sessions.begin() as session:
                self._source_row(session, source).cursor = {**cursor, "reading": True}
        newest = _parse_time(cursor.get("newest"))
        window = self.now - timedelta(days=self.polling.recent_window_days)
        # reordering reaches this far below the newest item of the last read
        horizon = newest - timedelta(seconds=SOURCE_OVERLAP) if newest else window
        resume: str | None = cursor.get("resume")
        found: dict[str, Post] = {}
        page_cursor: str | None = None
        complete, reason, pages, deep = False, None, 0, False
        stopped_at: str | None = None  # the page the cap kept this read from
        while True:
            if self.should_stop():
                raise _Interrupted()
            page = self.adapter.read_source(source, self.ref, page_cursor)
            pages += 1
            fresh, posts = self._store_source_page(page.items, horizon, expand=source.expand,
                                                   stored_is_new=interrupted)
            found.update((p.external_id, p) for p in posts)
            dated = [i.created_at for i in page.items if i.created_at is not None]
            if dated and (newest is None or max(dated) > newest):
                newest = max(dated)
            if page.cursor is None:
                complete = page.complete
                reason = None if complete else "the listing ended without its end marker"
                break
            if not (any(i.created_at is None or i.created_at >= window for i in page.items) if deep else fresh):
                if resume is None or deep:
                    complete = True
                    break
                deep, page_cursor = True, resume
            else:
                page_cursor = page.cursor
            # a first read goes back over the whole recent window, deeper than a timeline's look
            if pages >= self.polling.max_comment_pages:
                reason, stopped_at = f"stopped after {pages} pages", page_cursor
                break
        with self.poller.sessions.begin() as session:
            states = store.existing_posts(session, self.ref.platform, list(found))
        for post in found.values():
            if self.should_stop():
                raise _Interrupted()
            self._maybe_read_thread(post, states[post.external_id])
        if source.follow:
            self._follow_mentions(set(found))
        with self.poller.sessions.begin() as session:
            row = self._source_row(session, source)
            if complete:
                row.cursor = {"newest": newest.isoformat()} if newest else {}
            elif stopped_at is not None:
                row.cursor = {**cursor, "resume": stopped_at}
            row.complete, row.incomplete_reason = complete, reason
            row.last_check_at = row.last_success_at = self.now
            row.consecutive_errors, row.failing_since = 0, None
            row.next_check_at = self.now + timedelta(seconds=source.interval) if source.interval else None
        self.result.sources_read.append(source.kind)

    def _store_source_page(self, items: Sequence[Post | Comment], horizon: datetime, *, expand: bool = False,
                           stored_is_new: bool = False) -> tuple[bool, list[Post]]:
        """Store what one source page found; (whether it brought anything not
        stored before — anything at all when ``stored_is_new`` — and newer
        than ``horizon``, the mention posts stored).
        Posts and comments by the matrix's own accounts are left to their
        timelines; a post is owned by the first matrix account it names.
        ``expand``: the source lists previews, read whole when new."""
        platform = self.ref.platform
        by_name = {name: row_id for row_id, name in self.matrix.values()}
        posts = {p.external_id: p for p in items if p.kind == "post" and p.author_id not in self.matrix}
        comments = [c for c in items if c.kind == "comment" and c.author_id not in self.matrix
                    and c.post_id in posts]
        # a preview of a post whose whole text is stored leaves its root item as it is
        previews: set[str] = set()
        if expand:
            with self.poller.sessions.begin() as session:
                stored = store.existing_posts(session, platform, list(posts))
            for ext, post in list(posts.items()):
                if store.post_needs_expand(stored.get(ext), post):
                    posts[ext] = self._expand(post)
                elif post.is_truncated and ext in stored:
                    previews.add(ext)
        with self.poller.sessions.begin() as session:
            known = set(store.existing_posts(session, platform, list(posts)))
            known |= set(store.existing_comments(session, platform, [c.external_id for c in comments]))
            owners = {}
            for ext, post in posts.items():
                named = [by_name[n] for n in post.mentions if n in by_name]
                owners[ext] = named[0] if named else self.account_id
            upserted = store.upsert_mention_posts(session, list(posts.values()), owners=owners, now=self.now)
            # a post that names an account is its own mention: the root item of its thread
            roots = [_root_item(p) for p in posts.values()
                     if any(n in by_name for n in p.mentions) and p.external_id not in previews]
            for item, batch in (("post", roots), ("comment", comments)):
                if batch:
                    done = store.upsert_comments(session, batch, post_row_ids=upserted.ids, now=self.now, item=item)
                    self.result.new_comments += len(done.inserted)
                    self.result.new_comment_ids.extend(done.inserted)
            mentions = {ext: upserted.ids[ext] for ext in posts}
            reposts = store.reposts_of(session, platform, list(mentions))
            self._link_reposts(session, [_post_of(r, r.author_id) for r in reposts], mentions)
        new = [i for i in (*posts.values(), *comments) if i.external_id not in known]
        self.result.mentions += len(new)
        fresh = any(i.created_at is None or i.created_at >= horizon
                    for i in ((*posts.values(), *comments) if stored_is_new else new))
        return fresh, list(posts.values())

    def _follow_mentions(self, seen: set[str]) -> None:
        """A mention still awaiting an answer is looked at again (its post's
        counters, then its thread if they moved): an answer in its thread
        shows nowhere else.  Those the source listed just now are done."""
        since = self.now - timedelta(days=self.polling.recent_window_days)
        with self.poller.sessions.begin() as session:
            rows = [r for r in store.followed_mentions(session, self.account_id, since)
                    if r.external_id not in seen]
        for row in rows:
            if self.should_stop():
                raise _Interrupted()
            try:
                post = self.adapter.status(row.external_id, self.ref)
            except errors.Unsupported:
                self.capabilities["status"] = False
                return  # no way to look a post up: its thread is read when a source lists it again
            except errors.NotFound:
                self.capabilities["status"] = True
                with self.poller.sessions.begin() as session:
                    store.tombstone(session, "post", [row.id], "status: not found", self.now)
                    root = session.scalar(select(store.COMMENTS.c.id).where(
                        store.COMMENTS.c.post_id == row.id, store.COMMENTS.c.item == "post"))
                    store.tombstone(session, "comment", [root] if root else [], "its post is gone", self.now)
                self.result.tombstoned += 1
                continue
            self.capabilities["status"] = True
            with self.poller.sessions.begin() as session:
                store.upsert_mention_posts(session, [post], owners={post.external_id: self.account_id}, now=self.now)
                state = store.existing_posts(session, self.ref.platform, [post.external_id])[post.external_id]
            self._maybe_read_thread(post, state)

    # -- deletions ------------------------------------------------------------------------

    def _detect_deleted_posts(self, seen: Sequence[Post], covered: tuple[datetime, datetime]) -> None:
        """Posts stored for this account inside the span the walk covered but not
        seen in it: timelines skip posts, so ask the platform about each."""
        oldest, newest = covered
        seen_ids = {p.external_id for p in seen}
        with self.poller.sessions.begin() as session:
            candidates = store.live_post_ids(session, self.account_id, since=oldest, until=newest)
        missing = [ext for ext in candidates if ext not in seen_ids]
        gone: list[int] = []
        for ext in missing:
            try:
                self.adapter.status(ext, self.ref)
            except errors.Unsupported:
                # a deleted post and one the timeline skipped look alike: nothing is concluded
                self.capabilities["status"] = False
                break
            except errors.NotFound:
                gone.append(candidates[ext])
            self.capabilities["status"] = True
        if gone:
            with self.poller.sessions.begin() as session:
                store.tombstone(session, "post", gone, "status: not found", self.now)
            self.result.tombstoned += len(gone)
