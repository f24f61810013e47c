"""Sina Weibo (m.weibo.cn primary, weibo.com/ajax fallback)."""
