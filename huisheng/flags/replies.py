"""Which open flags an account's comment answers (pure; no I/O).

A qualifying reply (design.md) is a public comment by the account the flag was
raised under, or by an account of the flag's owning unit, in the flagged thread.
Who wrote it is decided by the caller, by author id on the comment's own
platform (never by display name: a citizen may call themselves anything):

* a second-level comment under the flagged comment's top-level comment (the
  flagged comment itself or a citizen's reply under it) — a reply to one
  person in it (``回复@NAME``) narrows it to the flags of the author of the
  comment it answers, matched by author id, when they have any there;
* a top-level comment under the same post that mentions the flag's author
  (``@NAME`` or ``回复@NAME``: a name is all such a comment gives);
* for a citizen's post that mentions the account (flagged as its own thread's
  root item), any top-level comment in its thread, or the account's repost of
  it with words of its own (stored there as a top-level item).

Only flags started before the reply, and not yet replied, are answered.  A
comment matching an acknowledgement pattern ("已收到，正在处理") acknowledges
them instead of replying.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence


@dataclass(frozen=True)
class OpenFlag:
    """What reply detection needs to know of a flag not yet replied."""

    id: int
    post_id: int
    #: external id of the top-level comment of the flagged thread
    thread_root: str
    #: the citizen who wrote the flagged comment (the platform is the post's)
    author_id: str
    author_name: str
    started_at: datetime
    #: the account under which it was raised, and its owning unit
    account_id: int
    unit_id: int
    #: raised on a citizen's post that mentions the account (the post is its
    #: thread's root item): any top-level comment of the account there answers it
    on_post: bool = False


@dataclass(frozen=True)
class AccountComment:
    """A comment written by an account of the matrix."""

    post_id: int
    external_id: str
    #: the top-level comment it hangs under; None when it is top-level
    root_external_id: str | None
    created_at: datetime
    text: str
    mentions: tuple[str, ...]
    reply_to_name: str | None
    #: the writing account and its owning unit
    account_id: int
    unit_id: int
    #: the author id of the comment a reply to one person (``reply_to_name``)
    #: answers, when it is known; None otherwise
    answers_author_id: str | None = None


@dataclass(frozen=True)
class ReplyMatch:
    flag_ids: tuple[int, ...]
    acknowledgement: bool


def is_acknowledgement(text: str, patterns: Sequence[re.Pattern[str]]) -> bool:
    return any(p.search(text) for p in patterns)


def match_reply(comment: AccountComment, flags: Iterable[OpenFlag],
                acknowledgement_patterns: Sequence[re.Pattern[str]]) -> ReplyMatch:
    """The flags ``comment`` answers (or acknowledges), among ``flags`` of its post."""
    eligible = [f for f in flags
                if f.post_id == comment.post_id
                and f.started_at <= comment.created_at
                and (comment.account_id == f.account_id or comment.unit_id == f.unit_id)]
    if comment.root_external_id is not None:
        in_thread = [f for f in eligible if f.thread_root == comment.root_external_id]
        named = [f for f in in_thread if comment.answers_author_id is not None
                 and f.author_id == comment.answers_author_id]
        chosen = named or in_thread
    else:
        names = set(comment.mentions)
        if comment.reply_to_name:
            names.add(comment.reply_to_name)
        chosen = [f for f in eligible if f.on_post or f.author_name in names]
    ack = is_acknowledgement(comment.text, acknowledgement_patterns)
    return ReplyMatch(tuple(sorted(f.id for f in chosen)), ack)
