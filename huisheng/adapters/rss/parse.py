"""Feeds (RSS 0.9x/2.0, Atom, RDF) through feedparser, as normalized records.

Pure functions of a parsed feed: ``decode_body`` turns a body into
feedparser's result (or refuses it), ``parse_feed`` turns that into a page of
posts.  An entry's id is its guid / Atom id, else its link, else a hash of its
content; its text is the title and the content (or summary) as plain text —
feedparser has already removed scripts, styles and unsafe attributes, and the
markup left is dropped here, so nothing of it reaches a page or a terminal.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import io
import re
import warnings
import xml.sax
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import urljoin, urlsplit

import feedparser
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from huisheng import errors
from huisheng.records import Page, Post, content_hash

PLATFORM = "rss"
#: ids longer than the store's column (or holding spaces) are stored as their hash
_ID_RE = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")
_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
_BLOCKS = ("br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr",
           "section", "article", "table", "ul", "ol", "dd", "dt")
#: elements whose content is no text for a reader
_HIDDEN = ("script", "style", "template", "noscript", "iframe", "object", "head", "title")
_BLANKS = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")


def decode_body(endpoint: str, body: str | bytes) -> Any:
    """feedparser's result for a body; ``ParseError`` when it is no feed, or
    not a well-formed one (a document cut short parses loosely into some of its
    entries: nothing of it may be taken for the whole feed)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    # a stream, never a string: feedparser fetches a string that looks like a URL or opens a file name.
    # Its own sanitiser and link rewriting are left off: every text is reduced to plain text here
    # (scripts and styles dropped, no markup kept), which makes the whole parse a third faster.
    try:
        parsed = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    except (ValueError, LookupError) as exc:  # feedparser's charset conversion fails on some garbled prologs
        raise errors.ParseError(endpoint, "<body>", f"undecodable ({type(exc).__name__})") from None
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(problem, xml.sax.SAXException):
        raise errors.ParseError(endpoint, "<body>", f"not well-formed XML ({type(problem).__name__})")
    if not parsed.get("version"):
        raise errors.ParseError(endpoint, "<body>", "not an RSS, Atom or RDF feed")
    return parsed


def plain_text(value: str, kind: str = "text/html") -> str:
    """The text of an HTML fragment (or of plain text), blank runs collapsed."""
    if any(t in (kind or "") for t in _HTML_TYPES):
        return _html_text(value)
    return _collapse(value)


@functools.lru_cache(maxsize=8192)
def _html_text(value: str) -> str:
    # cached: a feed read again lists mostly the entries it listed before
    with warnings.catch_warnings():  # a fragment that looks like a URL or a file name is still text
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(value, "html.parser")
    for tag in soup.find_all(_HIDDEN):
        tag.decompose()
    # a line break and a block's end are line ends; inline markup (<b>, <a>) is no break
    for tag in soup.find_all(_BLOCKS):
        tag.insert_after("\n")
    return _collapse(soup.get_text())


def _collapse(value: str) -> str:
    lines = (_BLANKS.sub(" ", line).strip() for line in value.splitlines())
    return "\n".join(line for line in lines if line)


def _time(entry: Mapping[str, Any], key: str) -> datetime | None:
    # the plain dict's get: feedparser's own maps a missing "updated" to "published" (with a warning)
    parsed = dict.get(entry, f"{key}_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), timezone.utc)


def _body(entry: Mapping[str, Any]) -> str:
    """The entry's fullest text: its content, else its summary."""
    for detail in entry.get("content") or ():
        if detail.get("value"):
            return plain_text(detail["value"], detail.get("type", "text/html"))
    detail = entry.get("summary_detail") or {}
    return plain_text(entry.get("summary") or "", detail.get("type", "text/html"))


def entry_text(entry: Mapping[str, Any]) -> str:
    """Title and body as plain text; the title alone is left out when the body
    starts with it (feeds made from posts repeat the post as its title)."""
    title = plain_text(entry.get("title") or "", (entry.get("title_detail") or {}).get("type", "text/plain"))
    body = _body(entry)
    if not title or body.startswith(title.rstrip("…. ")):
        return body or title
    return f"{title}\n{body}" if body else title


def entry_key(entry: Mapping[str, Any], text: str) -> str:
    """What the feed itself names the entry by: its guid or id, else its link,
    else (neither given) a hash of its text."""
    key = (entry.get("id") or entry.get("link") or "").strip()
    return key or "sha256:" + content_hash(text)


def external_id(key: str) -> str:
    """An entry's key as it is stored: itself when it fits, else its hash."""
    if _ID_RE.fullmatch(key):
        return key
    return "h:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def _link(entry: Mapping[str, Any], base: str) -> str | None:
    link = entry.get("link")
    if not link:
        return None
    link = urljoin(base, link) if base else link
    return link if urlsplit(link).scheme in ("http", "https") else None


def next_page(parsed: Mapping[str, Any], base: str) -> str | None:
    """The feed's next page (RFC 5005 ``rel="next"``), on the feed's own host."""
    for link in (parsed.get("feed") or {}).get("links") or ():
        if link.get("rel") == "next" and link.get("href"):
            href = urljoin(base, link["href"])
            if base and urlsplit(href).netloc == urlsplit(base).netloc:
                return href
    return None


def parse_entry(entry: Mapping[str, Any], *, account_uid: str, feed_title: str, base: str,
                now: datetime | None, endpoint: str = "feed", author_id: str | None = None) -> Post:
    text = entry_text(entry)
    key = entry_key(entry, text)
    published, updated = _time(entry, "published"), _time(entry, "updated")
    created = published or updated
    author = plain_text(entry.get("author") or "", "text/plain") or feed_title or account_uid
    link = _link(entry, base)
    if not text and not link:
        raise errors.ParseError(endpoint, "entry", "an entry with neither text nor link")
    return Post(platform=PLATFORM, external_id=external_id(key), account_uid=account_uid,
                author_id=author_id if author_id is not None else account_uid, author_name=author[:200],
                created_at=created or now, created_at_approx=created is None,
                text=text, url=link,
                # an entry updated after it was published says it was revised
                edit_count=1 if published and updated and updated > published else 0,
                raw={"key": key, "link": link, "published": published and published.isoformat(),
                     "updated": updated and updated.isoformat()})


def parse_feed(parsed: Any, *, account_uid: str = "", now: datetime | None = None, endpoint: str = "feed",
               base: str = "", **context: Any) -> Page[Post]:
    """One feed document as a page of the account's posts, newest first; its
    next page when the feed is paged (RFC 5005).  ``base`` is the feed's own
    address (relative links resolve against it)."""
    if not isinstance(parsed, Mapping) or "entries" not in parsed:
        raise errors.ParseError(endpoint, "<body>", "not a parsed feed")
    feed = parsed.get("feed") or {}
    title = plain_text(feed.get("title") or "", "text/plain")
    posts: dict[str, Post] = {}
    for entry in parsed["entries"]:
        post = parse_entry(entry, account_uid=account_uid, feed_title=title, base=base, now=now,
                           endpoint=endpoint)
        posts.setdefault(post.external_id, post)  # a feed listing one entry twice lists it once
    ordered = sorted(posts.values(), key=lambda p: p.created_at or datetime.min.replace(tzinfo=timezone.utc),
                     reverse=True)
    cursor = next_page(parsed, base)
    return Page(items=tuple(ordered), cursor=cursor, complete=cursor is None)


PARSERS = {"feed": parse_feed}
