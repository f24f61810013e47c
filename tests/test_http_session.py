"""The adapters' default HTTP session reads the proxy environment once per
host, and decides what plain ``requests`` decides."""

from __future__ import annotations

import requests
import requests.sessions

from huisheng.adapters.base import Http, HttpSession

URLS = ["http://weibo.example/api/a?page=1", "http://weibo.example/api/b", "https://weibo.example/x",
        "http://intranet.example/feed.xml", "http://127.0.0.1:8080/feeds/001.xml"]


def settings(session, url):
    return session.merge_environment_settings(url, {}, True, None, None)


def test_the_same_proxies_as_requests_for_every_host(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://secure-proxy.example:3129")
    monkeypatch.setenv("NO_PROXY", "intranet.example,127.0.0.1")
    ours, plain = HttpSession(), requests.Session()
    for url in URLS * 2:
        assert settings(ours, url) == settings(plain, url)
    assert settings(ours, URLS[0])["proxies"]["http"] == "http://proxy.example:3128"
    assert "http" not in settings(ours, URLS[3])["proxies"]


def test_the_environment_is_read_once_per_host(monkeypatch):
    reads = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        lambda url, no_proxy=None: reads.append(url) or real(url, no_proxy))
    session = HttpSession()
    for url in URLS * 3:
        settings(session, url)
    assert len(reads) == 4  # http and https on weibo.example, intranet.example, 127.0.0.1:8080
    returned = settings(session, URLS[0])
    returned["proxies"]["http"] = "http://changed.example"  # requests may change what it is given
    assert settings(session, URLS[0])["proxies"].get("http") != "http://changed.example"


def test_adapters_use_it_by_default():
    assert isinstance(Http().session, HttpSession)
