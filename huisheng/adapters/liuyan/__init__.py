"""The leaders' message board adapter (人民网领导留言板's JSON API shape)."""

from huisheng.adapters.liuyan.adapter import LiuyanAdapter

__all__ = ["LiuyanAdapter"]
