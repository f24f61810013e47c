"""Feeds: RSS 2.0, Atom and RDF through feedparser, RSSHub's included.

``parse`` holds the pure parsers (``huisheng parse --platform rss --endpoint
feed FILE``), ``adapter`` the HTTP side (conditional GET, failure mapping).
"""

from huisheng.adapters.rss.adapter import RssAdapter
from huisheng.adapters.rss.parse import PARSERS, decode_body, parse_feed

__all__ = ["RssAdapter", "PARSERS", "decode_body", "parse_feed"]
