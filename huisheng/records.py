"""Normalized records: what every adapter returns, whatever the platform.

Frozen dataclasses, no behaviour beyond small derived values.  Times are
timezone-aware UTC ``datetime`` or ``None``; ``created_at_approx`` is true when
the platform only gave a relative or date-only time ("5分钟前", "06-14") that
had to be resolved against the fetch time (an adapter that can recover the
exact time, e.g. from the item's id, does so and leaves it false).  ``raw`` is the platform's own JSON object for the item, kept so the
store can save it verbatim.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Mapping, TypeVar


def content_hash(text: str) -> str:
    """Stable hash of an item's visible content: a change means an edit."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Post:
    platform: str
    external_id: str
    #: the monitored account's uid whose timeline the post was read from
    account_uid: str
    author_id: str
    author_name: str
    created_at: datetime | None
    created_at_approx: bool
    #: plain text, emoticons as ``[alt]``, mentions as ``@name``
    text: str
    short_id: str | None = None
    url: str | None = None
    is_pinned: bool = False
    #: the text is a preview; ``Adapter.expand`` fetches the whole text
    is_truncated: bool = False
    #: external id of the post this one reposts (that post is its own record)
    repost_of: str | None = None
    comments_count: int | None = None
    reposts_count: int | None = None
    likes_count: int | None = None
    #: False when the author closed or restricted comments on this post
    comments_open: bool | None = None
    mentions: tuple[str, ...] = ()
    region: str | None = None
    edit_count: int = 0
    #: what the platform itself says of the item's handling, in its words (a
    #: message board's 待回复/办理中/已办理), recorded beside huisheng's own
    #: state; None where the platform says nothing
    platform_state: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    kind: Literal["post"] = "post"

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


@dataclass(frozen=True)
class Comment:
    platform: str
    external_id: str
    #: external id of the post the comment is under
    post_id: str
    author_id: str
    author_name: str
    created_at: datetime | None
    created_at_approx: bool
    text: str
    #: the top-level comment of a second-level reply; None for a top-level comment
    root_id: str | None = None
    #: the comment this one answers (for second-level replies: the root or the
    #: reply it names after 回复@); None for a top-level comment
    parent_id: str | None = None
    #: the name after a leading ``回复@NAME:``, if any
    reply_to_name: str | None = None
    is_from_owner: bool = False
    like_count: int | None = None
    #: replies under this comment as the platform counts them (unreliable)
    replies_count: int | None = None
    #: the platform hints that replies exist even when ``replies_count`` is 0
    has_more_replies: bool = False
    mentions: tuple[str, ...] = ()
    region: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    kind: Literal["comment"] = "comment"

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


Item = Post | Comment
T = TypeVar("T", Post, Comment)


@dataclass(frozen=True)
class Shortfall:
    """A listing that ended with far fewer items than the platform's counter
    for it claims (a platform may answer "no comments yet" for a post counting
    10,456 comments).  The adapter declares it, as it alone knows its platform's counters;
    nothing missing from such a read may be concluded gone, and the listing is
    read again later."""

    #: items the read accounted for (listed, or counted under a listed comment)
    got: int
    claimed: int

    @property
    def reason(self) -> str:
        """The stored form: ``empty 0/10456`` (nothing at all) or ``short 31/10456``."""
        return f"{'empty' if self.got == 0 else 'short'} {self.got}/{self.claimed}"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a paged listing.

    ``cursor`` is the opaque value to pass back for the next page, ``None`` at
    the end.  ``complete`` is true when the platform said the listing ended
    (rather than the adapter giving up on a loop guard or a depth limit), which
    is what allows concluding that something missing from it is gone; every
    page says it (there is no default).
    ``state`` is new adapter state for the account (e.g. a resolved container
    id, a fallback mode); the poller stores it in the same transaction as the
    items.  ``None`` means unchanged.
    """

    items: tuple[T, ...]
    cursor: str | None = None
    complete: bool = field(kw_only=True)
    total: int | None = None
    state: Mapping[str, Any] | None = None
    #: set by the adapter on the last page of a listing that ended far short
    #: of what the platform's own counter claims; such a page is never complete
    incomplete: Shortfall | None = None


@dataclass(frozen=True)
class AccountRef:
    """What an adapter knows about the account it fetches for."""

    platform: str
    uid: str
    name: str = ""
    #: opaque adapter state saved from earlier pages (see ``Page.state``)
    state: Mapping[str, Any] = field(default_factory=dict)
    #: the account's own logged-in cookie (its mention inbox), resolved from
    #: the variable the matrix names; never shown
    cookie: str | None = field(default=None, repr=False, compare=False)


def record_to_json(item: Item) -> dict[str, Any]:
    """The JSON form printed by ``huisheng parse`` (times as ISO 8601 UTC)."""
    out = asdict(item)
    out.pop("raw", None)
    for key, value in list(out.items()):
        if isinstance(value, datetime):
            out[key] = value.isoformat().replace("+00:00", "Z")
        elif isinstance(value, tuple):
            out[key] = list(value)
    if item.kind == "post":
        if out.get("platform_state") is None:
            out.pop("platform_state", None)  # only platforms that have one print it
        out.setdefault("root_id", None)
        out.setdefault("parent_id", None)
        out.setdefault("is_from_owner", item.author_id == item.account_uid)
    else:
        out.setdefault("is_pinned", False)
        out.setdefault("comments_count", item.replies_count)
    return out
