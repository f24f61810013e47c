"""Sina Weibo (m.weibo.cn primary, weibo.com/ajax fallback).

``parse`` holds the pure parsers (one per response shape, registered in
``PARSERS``), ``text`` the value helpers, ``adapter`` the HTTP side.
"""

from huisheng.adapters.weibo.adapter import WeiboAdapter
from huisheng.adapters.weibo.parse import PARSERS, LongText, decode_body, parse_body

__all__ = ["WeiboAdapter", "PARSERS", "LongText", "decode_body", "parse_body"]
