"""One mapping from an HTTP status to the exception tree (``Adapter.raise_for_status``),
driven by each adapter's declarations: the base's defaults, every built-in
adapter's differences, and messages that never carry a path or a query."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from huisheng import errors
from huisheng.adapters.base import Http
from huisheng.adapters.discuz.adapter import DiscuzAdapter
from huisheng.adapters.liuyan.adapter import LiuyanAdapter
from huisheng.adapters.mastodon import MastodonAdapter
from huisheng.adapters.rss.adapter import RssAdapter
from huisheng.adapters.testing import FakeAdapter, FakePlatform
from huisheng.adapters.weibo import WeiboAdapter

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
ADAPTERS = {cls.name: cls for cls in (FakeAdapter, WeiboAdapter, MastodonAdapter, RssAdapter, DiscuzAdapter,
                                      LiuyanAdapter)}


def _raised(platform: str, status: int, headers: dict[str, str] | None = None) -> errors.AdapterError | None:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response.url = "https://api.example.invalid/v1/read?access_token=s3cret"
    cls = ADAPTERS[platform]
    extra = {"platform": FakePlatform()} if cls is FakeAdapter else {}
    adapter = cls(Http(), {}, now=lambda: NOW, **extra)
    try:
        adapter.raise_for_status(response, "timeline")
    except errors.AdapterError as exc:
        assert exc.endpoint == "timeline"
        return exc
    return None


@pytest.mark.parametrize("status,headers,kind,retry", [
    (302, {"Location": "https://elsewhere.example/next"}, "error", None),
    (401, {}, "auth_required", None),
    (403, {}, "blocked", None),
    (403, {"Retry-After": "60"}, "blocked", None),
    (404, {}, "not_found", None),
    (410, {}, "error", None),
    (418, {}, "error", None),
    (429, {"Retry-After": "30"}, "rate_limited", 30.0),
    (429, {"Retry-After": "0"}, "rate_limited", 0.0),
    (429, {}, "rate_limited", None),
    (503, {"Retry-After": "60"}, "server_error", None),
    (599, {}, "server_error", None),
    (204, {}, "error", None),
])
def test_the_defaults_map_every_status(status, headers, kind, retry):
    caught = _raised("fake", status, headers)
    assert caught is not None and caught.kind == kind
    assert getattr(caught, "retry_after", None) == retry
    assert f"HTTP {status}" in str(caught)


def test_a_200_raises_nothing():
    assert all(_raised(platform, 200) is None for platform in ADAPTERS)


@pytest.mark.parametrize("platform,status,headers,kind,retry", [
    # a ban and risk control of the platform's own
    ("weibo", 418, {}, "rate_limited", 600.0),
    ("weibo", 418, {"Retry-After": "120"}, "rate_limited", 120.0),
    ("weibo", 429, {}, "rate_limited", None),
    ("weibo", 432, {}, "blocked", None),
    ("weibo", 302, {"Location": "https://visitor.passport.weibo.cn/visitor/genvisitor"}, "auth_required", None),
    ("weibo", 302, {"Location": "https://m.weibo.cn/login?x=1"}, "error", None),
    # gone for good; the limiter's reset time where no Retry-After is given
    ("mastodon", 410, {}, "not_found", None),
    ("mastodon", 429, {"X-RateLimit-Reset": "2026-11-02T01:05:00.000Z"}, "rate_limited", 300.0),
    ("mastodon", 429, {"Retry-After": "0", "X-RateLimit-Reset": "2026-11-02T01:05:00.000Z"}, "rate_limited", 0.0),
    # a feed that redirects needs a person; a 503 with Retry-After is a rate limit
    ("rss", 301, {"Location": "https://feeds.example/moved"}, "auth_required", None),
    ("rss", 503, {"Retry-After": "90"}, "rate_limited", 90.0),
    ("rss", 503, {}, "server_error", None),
    ("rss", 410, {}, "not_found", None),
    ("rss", 204, {}, "server_error", None),
    # anti-CC: 503 and 429, a 403 with Retry-After; the login wall is in the query
    ("discuz", 503, {}, "rate_limited", 300.0),
    ("discuz", 429, {"Retry-After": "0"}, "rate_limited", 300.0),
    ("discuz", 403, {"Retry-After": "45"}, "rate_limited", 45.0),
    ("discuz", 403, {}, "blocked", None),
    ("discuz", 302, {"Location": "/member.php?mod=logging&action=login"}, "auth_required", None),
    ("discuz", 302, {"Location": "https://bbs.example.invalid/forum.php?mod=viewthread"}, "server_error", None),
    ("discuz", 204, {}, "server_error", None),
    # its limits last minutes; a wall's words in the host or path only
    ("liuyan", 429, {}, "rate_limited", 300.0),
    ("liuyan", 503, {}, "server_error", None),
    ("liuyan", 302, {"Location": "https://passport.people.com.cn/verify"}, "auth_required", None),
    ("liuyan", 302, {"Location": "https://liuyan.people.com.cn/threads?from=login"}, "error", None),
])
def test_each_adapter_declares_its_differences(platform, status, headers, kind, retry):
    caught = _raised(platform, status, headers)
    assert caught is not None and caught.kind == kind
    assert getattr(caught, "retry_after", None) == retry


@pytest.mark.parametrize("platform", sorted(ADAPTERS))
@pytest.mark.parametrize("location", ["https://passport.example/login/s3cret?ticket=s3cret",
                                      "https://cdn.example/a/s3cret/b?token=s3cret", "/login/s3cret?t=s3cret"])
def test_a_redirect_is_named_by_its_host_only(platform, location):
    caught = _raised(platform, 302, {"Location": location})
    assert caught is not None and "s3cret" not in str(caught)
    host = location.split("/")[2] if location.startswith("https://") else "api.example.invalid"
    assert host in str(caught)


def test_the_platforms_own_words_where_they_matter():
    assert "cookie" in str(_raised("weibo", 432))
    assert "cookie" in str(_raised("weibo", 302, {"Location": "https://passport.weibo.com/sso/signin"}))
    assert "access token" in str(_raised("mastodon", 401))
    assert "firewall" in str(_raised("liuyan", 403))
    assert "请核对矩阵中的地址" in str(_raised("rss", 302, {"Location": "https://feeds.example/moved"}))
