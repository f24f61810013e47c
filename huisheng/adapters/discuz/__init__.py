"""Discuz! X forums: a forum (fid) of a board as an account.

``parse`` holds the parsers of the HTML pages and of the mobile API (one per
endpoint, in ``PARSERS``), ``adapter`` the HTTP side.
"""

from huisheng.adapters.discuz.adapter import DiscuzAdapter
from huisheng.adapters.discuz.parse import PARSERS

__all__ = ["DiscuzAdapter", "PARSERS"]
