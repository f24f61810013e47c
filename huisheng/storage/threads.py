"""Threads as stored: the conversation a flag sits in (:func:`flag_thread`,
shown by the workbench and ``huisheng flags show``), and threads the platform
would not show in full: reads recorded as incomplete
(``posts.comments_incomplete_*``, ``comments.replies_incomplete_*``) that the
poller keeps retrying.  ``huisheng status`` lists them all; the digest's
source health lists those that stay unreadable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from huisheng.adapters import platform_label
from huisheng.storage.models import Account, Comment, Post

#: a thread still incomplete this long after its first short read stays unreadable
STAYS_UNREADABLE = timedelta(hours=24)

_REASON = re.compile(r"^(empty|short) (\d+)/(\d+)$")

#: how a reason reads, per language; {got} and {claimed} from ``records.Shortfall.reason``,
#: {platform} what staff call the platform
REASONS = {
    "zh": {"empty": "{platform}返回空白，计数为 {claimed} 条", "short": "只读到 {got} 条，计数为 {claimed} 条"},
    "en": {"empty": "{platform} answered empty; the counter says {claimed}",
           "short": "only {got} read; the counter says {claimed}"},
}


class ThreadItem(NamedTuple):
    comment: Comment
    #: written by an account of the matrix (its author id on the thread's platform)
    by_account: bool


def flag_thread(session: Session, item: Comment, *, limit: int | None = None) -> list[ThreadItem]:
    """The conversation a flagged item sits in, oldest first (the first
    ``limit`` items when given): for a comment, its top-level comment and the
    replies under it; for a citizen's post flagged as its own thread's root
    item (a mention), the post and every comment under it, where the
    account's answer is."""
    query = (select(Comment, Account.id.is_not(None))
             .outerjoin(Account, (Account.platform == Comment.platform) & (Account.uid == Comment.author_id))
             .where(Comment.post_id == item.post_id))
    if item.item != "post":
        root = item.root_external_id or item.external_id
        query = query.where((Comment.external_id == root) | (Comment.root_external_id == root))
    query = query.order_by(Comment.created_at, Comment.id)
    return [ThreadItem(c, bool(ours))
            for c, ours in session.execute(query if limit is None else query.limit(limit))]


@dataclass(frozen=True)
class UnreadThread:
    account_id: int
    account: str
    platform: str
    #: "comments": the post's thread; "replies": the replies under one comment
    kind: str
    post_external_id: str
    post_url: str | None
    #: for "replies": the comment they are under
    comment_external_id: str | None
    comment_author: str | None
    reason: str
    since: datetime
    retry_at: datetime | None
    #: short reads in a row so far
    attempts: int

    def describe(self, lang: str = "zh") -> str:
        """The reason in words; a reason of another shape as it was stored."""
        match = _REASON.match(self.reason)
        if match is None:
            return self.reason
        words = REASONS.get(lang, REASONS["zh"])[match[1]]
        return words.format(got=f"{int(match[2]):,}", claimed=f"{int(match[3]):,}",
                            platform=platform_label(self.platform, lang))


def unread_threads(session: Session, *, incomplete_before: datetime | None = None,
                   account_ids: Iterable[int] | None = None) -> list[UnreadThread]:
    """Threads under live posts whose last read fell short, oldest first:
    those incomplete since ``incomplete_before`` or earlier when given, of
    ``account_ids`` when given."""
    threads = (select(Post, Account.name)
               .join(Account, Account.id == Post.account_id)
               .where(Post.comments_incomplete_reason.is_not(None), Post.deleted_at.is_(None)))
    replies = (select(Comment, Post, Account.name)
               .join(Post, Post.id == Comment.post_id).join(Account, Account.id == Post.account_id)
               .where(Comment.replies_incomplete_reason.is_not(None), Comment.deleted_at.is_(None),
                      Post.deleted_at.is_(None)))
    if incomplete_before is not None:
        threads = threads.where(Post.comments_incomplete_since <= incomplete_before)
        replies = replies.where(Comment.replies_incomplete_since <= incomplete_before)
    if account_ids is not None:
        wanted = list(account_ids)
        threads = threads.where(Post.account_id.in_(wanted))
        replies = replies.where(Post.account_id.in_(wanted))
    out = [UnreadThread(post.account_id, name, post.platform, "comments", post.external_id, post.url, None, None,
                        post.comments_incomplete_reason, post.comments_incomplete_since,
                        post.comments_retry_at, post.comments_retry_attempts)
           for post, name in session.execute(threads)]
    out += [UnreadThread(post.account_id, name, post.platform, "replies", post.external_id, post.url,
                         comment.external_id,
                         comment.author_name, comment.replies_incomplete_reason,
                         comment.replies_incomplete_since, comment.replies_retry_at,
                         comment.replies_retry_attempts)
            for comment, post, name in session.execute(replies)]
    return sorted(out, key=lambda t: (t.since, t.account, t.post_external_id, t.comment_external_id or ""))
