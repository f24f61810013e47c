"""Mastodon-compatible servers (the client API, ``/api/v1``).

``parse`` holds the pure parsers (one per response shape, in ``PARSERS``),
``adapter`` the HTTP side.
"""

from huisheng.adapters.mastodon.adapter import MastodonAdapter
from huisheng.adapters.mastodon.parse import PARSERS, html_to_text

__all__ = ["MastodonAdapter", "PARSERS", "html_to_text"]
