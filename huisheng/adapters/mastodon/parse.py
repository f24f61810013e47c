"""Parsers of the Mastodon client API's JSON (docs.joinmastodon.org/entities).

Each parser takes one decoded body and returns normalized records; a shape it
does not know raises ``ParseError`` naming the endpoint and the field, and
nothing of that body is kept.  Paging lives in the ``Link`` header, which the
adapter reads (:func:`next_max_id`); the parsers see bodies only.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup

from huisheng import errors
from huisheng.records import Comment, Page, Post

PLATFORM = "mastodon"
#: Mastodon's ids are decimal strings (snowflakes on current servers, small
#: numbers on old ones and for notifications)
ID_RE = re.compile(r"[0-9]{1,20}")
_BLOCKS = ("p", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6")


def html_to_text(html: str) -> str:
    """A status's HTML content as the plain text a reader sees: paragraphs
    apart, line breaks kept, a link's whole address (Mastodon hides part of it
    in ``invisible`` spans, the text keeps it), mentions as ``@name``."""
    soup = BeautifulSoup(html, "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    parts = [block.get_text() for block in soup.find_all(_BLOCKS) if not block.find_parent(_BLOCKS)]
    text = "\n\n".join(parts) if parts else soup.get_text()
    return "\n".join(line.strip() for line in text.strip().splitlines())


def _field(item: Any, name: str, endpoint: str, kind: type | tuple[type, ...] = str) -> Any:
    value = item.get(name) if isinstance(item, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise errors.ParseError(endpoint, name, "missing" if value is None else "unexpected type")
    return value


def _optional(item: Mapping[str, Any], name: str, endpoint: str, kind: type) -> Any:
    value = item.get(name)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool) and kind is int):
        raise errors.ParseError(endpoint, name, "unexpected type")
    return value


def _id(item: Any, name: str, endpoint: str) -> str:
    value = _field(item, name, endpoint)
    if not ID_RE.fullmatch(value):
        raise errors.ParseError(endpoint, name, "not a Mastodon id")
    return value


def _time(item: Any, name: str, endpoint: str) -> datetime:
    text = _field(item, name, endpoint)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.ParseError(endpoint, name, "not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise errors.ParseError(endpoint, name, "a time without its offset")
    return when.astimezone(timezone.utc)


def _author(status: Mapping[str, Any], endpoint: str) -> tuple[str, str]:
    account = _field(status, "account", endpoint, dict)
    uid = _id(account, "id", endpoint)
    name = _optional(account, "display_name", endpoint, str) or _field(account, "acct", endpoint)
    return uid, name[:200]  # the store's width for a name


def _text(status: Mapping[str, Any], endpoint: str) -> str:
    body = html_to_text(_field(status, "content", endpoint))
    # a content warning is what readers see first; the body is behind it
    warning = _optional(status, "spoiler_text", endpoint, str)
    return f"{warning}\n\n{body}" if warning else body


def _mentions(status: Mapping[str, Any], endpoint: str) -> tuple[str, ...]:
    listed = _optional(status, "mentions", endpoint, list) or []
    return tuple(_field(m, "acct", endpoint) for m in listed)


def mentioned_ids(status: Mapping[str, Any]) -> set[str]:
    """The account ids a (parsed, hence well-formed) status mentions."""
    return {m["id"] for m in status.get("mentions") or () if isinstance(m, dict) and isinstance(m.get("id"), str)}


def _count(status: Mapping[str, Any], name: str, endpoint: str) -> int | None:
    value = _optional(status, name, endpoint, int)
    if value is not None and value < 0:
        raise errors.ParseError(endpoint, name, "a negative count")
    if value is not None and value > 2**31 - 1:  # more than the store's integer columns hold
        raise errors.ParseError(endpoint, name, "a count out of range")
    return value


def status_to_post(status: Any, *, account_uid: str, endpoint: str, extra_comments: int = 0) -> Post:
    """One status as a post.  A boost is the booster's post of the original
    (``repost_of``; its text the original's, no words of its own).
    ``extra_comments``: replies deeper in its thread the adapter knows of (a
    status counts its direct replies only)."""
    if not isinstance(status, dict):
        raise errors.ParseError(endpoint, "<status>", "not an object")
    ext = _id(status, "id", endpoint)
    author_id, author_name = _author(status, endpoint)
    boosted = _optional(status, "reblog", endpoint, dict)
    shown = boosted if boosted is not None else status
    url = _optional(status, "url", endpoint, str) or _optional(status, "uri", endpoint, str)
    replies = _count(status, "replies_count", endpoint)
    return Post(platform=PLATFORM, external_id=ext, account_uid=account_uid, author_id=author_id,
                author_name=author_name, created_at=_time(status, "created_at", endpoint),
                created_at_approx=False, text=_text(shown, endpoint), url=url,
                is_pinned=status.get("pinned") is True,
                repost_of=_id(boosted, "id", endpoint) if boosted is not None else None,
                comments_count=None if replies is None else replies + extra_comments,
                reposts_count=_count(status, "reblogs_count", endpoint),
                likes_count=_count(status, "favourites_count", endpoint),
                mentions=_mentions(shown, endpoint),
                edit_count=1 if _optional(status, "edited_at", endpoint, str) else 0, raw=status)


def parse_statuses(payload: Any, *, account_uid: str = "", endpoint: str = "statuses", **context: Any) -> Page[Post]:
    """A page of ``GET /api/v1/accounts/:id/statuses`` (newest first).  The
    page's cursor comes from its ``Link`` header (the adapter's business):
    alone, a body says nothing of what follows, so it is never complete."""
    if not isinstance(payload, list):
        raise errors.ParseError(endpoint, "<body>", "not a list of statuses")
    return Page(items=tuple(status_to_post(s, account_uid=account_uid, endpoint=endpoint) for s in payload),
                complete=False)


def parse_status(payload: Any, *, account_uid: str = "", endpoint: str = "status", **context: Any) -> Post:
    """``GET /api/v1/statuses/:id``."""
    return status_to_post(payload, account_uid=account_uid, endpoint=endpoint)


def parse_context(payload: Any, *, account_uid: str = "", post_id: str = "", endpoint: str = "context",
                  **context: Any) -> Page[Comment]:
    """``GET /api/v1/statuses/:id/context``: the status's whole reply tree at
    once (``descendants``, in thread order), so the page is the listing's end.
    A reply to ``post_id`` is a top-level comment; a deeper one is a reply
    under the top-level comment its ``in_reply_to_id`` chain leads to, its
    parent the status it answers.  A top-level comment counts the replies
    listed under it (they are all there).  A status whose parent is not in
    the tree (hidden from us) is taken as top-level."""
    descendants = _field(payload, "descendants", endpoint, list)
    _field(payload, "ancestors", endpoint, list)
    parents: dict[str, str | None] = {}
    authors: dict[str, tuple[str, str]] = {}
    for status in descendants:
        ext = _id(status, "id", endpoint)
        parents[ext] = _optional(status, "in_reply_to_id", endpoint, str)
        authors[ext] = _author(status, endpoint)

    def top_of(ext: str) -> str:
        seen = set()
        while parents.get(ext) in parents and ext not in seen:
            seen.add(ext)
            ext = parents[ext]  # type: ignore[assignment]
        return ext

    tops = {ext: top_of(ext) for ext in parents}
    under: dict[str, int] = {}
    for ext, top in tops.items():
        if top != ext:
            under[top] = under.get(top, 0) + 1
    comments = []
    for status in descendants:
        ext = status["id"]
        author_id, author_name = authors[ext]
        top = tops[ext]
        reply = top != ext
        parent = parents[ext] if reply else None
        # whom a reply answers, when that is a resident rather than the account
        answered = authors[parent] if parent else None
        comments.append(Comment(
            platform=PLATFORM, external_id=ext, post_id=post_id, author_id=author_id, author_name=author_name,
            created_at=_time(status, "created_at", endpoint), created_at_approx=False,
            text=_text(status, endpoint), root_id=top if reply else None, parent_id=parent,
            reply_to_name=answered[1] if answered and answered[0] != account_uid else None,
            is_from_owner=bool(account_uid) and author_id == account_uid,
            like_count=_count(status, "favourites_count", endpoint),
            replies_count=None if reply else under.get(ext, 0), mentions=_mentions(status, endpoint),
            raw=status))
    return Page(items=tuple(comments), complete=True)


def parse_notifications(payload: Any, *, account_uid: str = "", endpoint: str = "notifications",
                        **context: Any) -> Page[Post]:
    """``GET /api/v1/notifications?types[]=mention``: the statuses that
    mention the account (each as a post; other types, and mentions without
    their status, are skipped).  Never complete alone, as for statuses."""
    if not isinstance(payload, list):
        raise errors.ParseError(endpoint, "<body>", "not a list of notifications")
    posts = []
    for note in payload:
        _id(note, "id", endpoint)
        if _field(note, "type", endpoint) != "mention":
            continue
        status = _optional(note, "status", endpoint, dict)
        if status is not None:
            posts.append(status_to_post(status, account_uid=account_uid, endpoint=endpoint))
    return Page(items=tuple(posts), complete=False)


def next_max_id(link: str | None) -> str | None:
    """The ``max_id`` of the ``rel="next"`` link of a ``Link`` header (the
    page after this one, older); None when there is none."""
    for part in (link or "").split(","):
        url, _, params = part.partition(";")
        if re.search(r'rel="?next"?', params):
            values = parse_qs(urlsplit(url.strip().strip("<>")).query).get("max_id")
            if values and ID_RE.fullmatch(values[0]):
                return values[0]
    return None


PARSERS: dict[str, Callable[..., Any]] = {
    "statuses": parse_statuses,
    "status": parse_status,
    "context": parse_context,
    "notifications": parse_notifications,
}
