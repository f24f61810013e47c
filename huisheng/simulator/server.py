"""The simulator's HTTP server: m.weibo.cn and weibo.com/ajax paths on one port,
answering as of ``clock.now()``, with fault injection and ``/_sim/`` control."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections import defaultdict
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

from huisheng.errors import ConfigError
from huisheng.clock import Clock
from huisheng.simulator import render
from huisheng.simulator.faults import FaultRule, FaultSet, parse_rules
from huisheng.simulator.minimal import minimal_requests
from huisheng.simulator.platforms import load_all
from huisheng.simulator.world import World

LOGIN_WALL = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sina Visitor System</title></head>"
              "<body><span id=\"message\"></span><script type=\"text/javascript\" "
              "src=\"//passport.weibo.com/js/visitor/mini_original.js\"></script></body></html>")
LOGIN_REDIRECT = ("https://passport.weibo.com/visitor/visitor?entry=miniblog&a=enter"
                  "&url=https%3A%2F%2Fm.weibo.cn%2F&domain=weibo.com")
CAPTCHA = {"ok": -100, "url": "https://passport.weibo.cn/api/geetest/verify?entry=mweibo&r=https%3A%2F%2Fm.weibo.cn%2F"}
#: the ``empty`` fault's answer per endpoint (weibo-api.md, "Empty is not complete")
EMPTY_ANSWERS: dict[str, Any] = {"comments": render.NO_COMMENTS, "comments_old": render.NO_COMMENTS,
                                 "ajax_comments": render.NO_COMMENTS, "child_comments": render.ERROR_PAGE}
STATUS_TEXT = {"500": "Internal Server Error", "502": "Bad Gateway", "503": "Service Unavailable",
               "418": "I'm a teapot", "432": "", "401": "Unauthorized", "403": "Forbidden",
               "429": "Too Many Requests"}


class _Abort(Exception):
    """The handler dropped the connection on purpose."""


def _rename(node: Any) -> bool:
    """Every post/comment object (those carrying ``mid``) loses ``mid``/``idstr`` and
    has ``id`` renamed to ``idx``; true when anything changed."""
    changed = False
    if isinstance(node, dict):
        if "mid" in node and "id" in node:
            node["idx"] = node.pop("id")
            node.pop("mid")
            node.pop("idstr", None)
            changed = True
        for value in node.values():
            changed = _rename(value) or changed
    elif isinstance(node, list):
        for value in node:
            changed = _rename(value) or changed
    return changed


def rename_field(body: Any) -> Any:
    """The ``renamed_field`` fault: a shape the adapter must refuse."""
    if _rename(body):
        return body
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and data:
        # the first structured field (userInfo on a profile), else the first field
        key = next((k for k, v in data.items() if isinstance(v, (dict, list))), next(iter(data)))
        data[key + "x"] = data.pop(key)
    elif isinstance(body, dict) and "ok" in body:
        body["okx"] = body.pop("ok")
    return body


class SimServer:
    """The simulator on ``host:port`` (port 0: any free port).

    ``start()`` returns the base URL; every platform path (``/api/container/getIndex``,
    ``/statuses/extend``, ``/comments/hotflow``, ``/ajax/statuses/mymblog`` …) is
    served under it.  ``truth()``, ``stats()``, ``minimal()`` and ``set_faults()``
    are also served as ``GET /_sim/truth|stats|minimal`` and ``POST /_sim/faults``.
    """

    def __init__(self, world: World, clock: Clock, faults: Iterable[FaultRule] | None = None,
                 host: str = "127.0.0.1", port: int = 0, search_limit: tuple[int, float] = (15, 60.0)):
        self.world = world
        self.clock = clock
        self.faults = FaultSet(faults or (), seed=world.seed)
        self.host = host
        self.port = port
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._by_endpoint: dict[str, int] = defaultdict(int)
        self._by_account: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._faults_served: dict[str, int] = defaultdict(int)
        self._polls: dict[str, list[datetime]] = defaultdict(list)
        #: first pages of the mention sources: endpoint → account → instants
        self._source_polls: dict[str, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
        self.search_limit = search_limit
        self._searches: list[datetime] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        present = {a.platform for a in world.matrix.accounts if a.enabled}
        #: the other platforms the matrix has accounts on, served on the same port
        self.platforms = [cls(world) for name, cls in sorted(load_all().items()) if name in present]

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> str:
        handler = type("SimHandler", (_Handler,), {"sim": self})
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        # a short poll interval makes stop() quick (tests start and stop many servers)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="huisheng-sim", daemon=True)
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "SimServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- control ------------------------------------------------------------------------

    def set_faults(self, rules: Iterable[FaultRule | Mapping[str, Any]]) -> None:
        """Replace the rule list (rules or their mapping form)."""
        rules = list(rules)
        if any(not isinstance(r, FaultRule) for r in rules):
            rules = [r if isinstance(r, FaultRule) else parse_rules([r])[0] for r in rules]
        self.faults.replace(rules)

    def truth(self) -> dict[str, Any]:
        now = self.clock.now()
        truth = self.world.truth(now)
        for platform in self.platforms:
            part = platform.truth(now)
            truth["posts"].extend(part["posts"])
            truth["comments"].extend(part["comments"])
        return truth

    def adapter_options(self, platform: str) -> dict[str, Any]:
        """The options of ``platform``'s adapter that read this server."""
        for sim in self.platforms:
            if sim.name == platform:
                return sim.adapter_options(self.base_url)
        raise KeyError(platform)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self._by_endpoint.values()),
                "by_endpoint": dict(self._by_endpoint),
                "by_account": {uid: dict(v) for uid, v in self._by_account.items()},
                "faults": dict(self._faults_served),
                "polls": {uid: len(v) for uid, v in self._polls.items()},
            }

    def polls(self) -> dict[str, list[datetime]]:
        with self._lock:
            return {uid: list(v) for uid, v in self._polls.items()}

    def source_polls(self) -> dict[str, dict[str, list[datetime]]]:
        """The instants each account's mention sources were read (their first pages)."""
        with self._lock:
            return {endpoint: {uid: list(v) for uid, v in by.items()} for endpoint, by in self._source_polls.items()}

    def minimal(self, window_days: int = 7) -> dict[str, Any]:
        """See :mod:`huisheng.simulator.minimal` for the definition."""
        return minimal_requests(self.world, self.polls(), window_days, self.source_polls())

    def reset_stats(self) -> None:
        """Forget request counts and poll instants (e.g. after a benchmark's warm-up)."""
        with self._lock:
            self._by_endpoint.clear()
            self._by_account.clear()
            self._faults_served.clear()
            self._polls.clear()
            self._source_polls.clear()

    # --- request plumbing ------------------------------------------------------------------

    def record(self, endpoint: str, account: str) -> None:
        with self._lock:
            self._by_endpoint[endpoint] += 1
            self._by_account[account][endpoint] += 1

    def record_poll(self, account: str, now: datetime, endpoint: str = "timeline") -> None:
        with self._lock:
            if endpoint in ("timeline", "ajax_timeline"):
                self._polls[account].append(now)
            else:
                self._source_polls[endpoint][account].append(now)

    def search_allowed(self, now: datetime) -> bool:
        """Weibo's tight limit on search: at most ``search_limit[0]`` searches in
        any ``search_limit[1]`` seconds (of the simulated clock), else 418."""
        count, seconds = self.search_limit
        with self._lock:
            recent = [t for t in self._searches if (now - t).total_seconds() < seconds]
            recent.append(now)
            self._searches = recent
            return len(recent) <= count

    def record_fault(self, kind: str) -> None:
        with self._lock:
            self._faults_served[kind] += 1

    def route(self, path: str, q: Mapping[str, str], cookie: str = "", headers: Mapping[str, str] | None = None
              ) -> tuple[str, str, Callable[[datetime], render.Response], bool]:
        """(endpoint name, account uid or '-', answer(now), is a first page: of a
        timeline, a search or an inbox)."""
        headers = headers or {}
        w = self.world
        now = self.clock.now()
        for platform in self.platforms:
            routed = platform.route(path, q, headers, now)
            if routed is not None:
                return routed

        def post_account(key: str) -> str:
            post = w.post(key, now)
            return post.account.uid if post else "-"

        def comment_account(cid: str) -> str:
            c = w.comment(cid, now)
            return c.post.account.uid if c else "-"

        if path == "/api/container/getIndex" and q.get("containerid", "").startswith("100103"):
            query = dict(part.partition("=")[::2] for part in q["containerid"].split("&"))
            account = w.by_name.get(query.get("q", "").removeprefix("@"))
            first = q.get("page", "1") in ("", "1")
            return "search", account.uid if account else "-", lambda t: render.search(
                w, q["containerid"], t, q.get("page")), first
        if path == "/api/container/getIndex":
            uid = q.get("value", "")
            if "containerid" in q and q.get("type") == "uid":
                first = not q.get("since_id") and q.get("page", "1") in ("", "1")
                return "timeline", uid, lambda t: render.timeline(
                    w, uid, q["containerid"], t, q.get("since_id"), q.get("page")), first
            return "profile", uid, lambda t: render.profile(w, uid, t), False
        if path == "/statuses/extend":
            key = q.get("id", "")
            return "longtext", post_account(key), lambda t: render.extend(w, key, t), False
        if path == "/statuses/show":
            key = q.get("id", "")
            return "status", post_account(key), lambda t: render.show(w, key, t), False
        if path == "/comments/hotflow":
            key = q.get("mid") or q.get("id", "")
            return "comments", post_account(key), lambda t: render.hotflow(w, key, t, q.get("max_id")), False
        if path == "/comments/hotFlowChild":
            cid = q.get("cid", "")
            return "child_comments", comment_account(cid), lambda t: render.hotflow_child(
                w, cid, t, q.get("max_id")), False
        if path == "/api/comments/show":
            key = q.get("id", "")
            return "comments_old", post_account(key), lambda t: render.comments_old(w, key, t, q.get("page")), False
        if path == "/ajax/statuses/mymblog":
            uid = q.get("uid", "")
            first = q.get("page", "1") in ("", "1")
            return "ajax_timeline", uid, lambda t: render.ajax_timeline(w, uid, t, q.get("page")), first
        if path == "/ajax/statuses/show":
            key = q.get("id", "")
            return "ajax_status", post_account(key), lambda t: render.ajax_show(w, key, t), False
        if path == "/ajax/statuses/longtext":
            key = q.get("id", "")
            return "ajax_longtext", post_account(key), lambda t: render.ajax_longtext(w, key, t), False
        if path in ("/ajax/statuses/mentions", "/ajax/comments/mentions"):
            # the inbox of the account the cookie is logged in as ("SUB=sim-UID")
            uid = cookie.partition("SUB=sim-")[2].split(";")[0].strip()
            endpoint = "ajax_mentions" if path == "/ajax/statuses/mentions" else "ajax_comment_mentions"
            if uid not in w.by_uid:
                return endpoint, "-", lambda t: (302, ""), False
            render_inbox = render.ajax_mentions if endpoint == "ajax_mentions" else render.ajax_comment_mentions
            return endpoint, uid, lambda t: render_inbox(w, uid, t, q.get("since_id")), not q.get("since_id")
        if path == "/ajax/statuses/buildComments":
            key = q.get("id", "")
            account = comment_account(key) if q.get("fetch_level") == "1" else post_account(key)
            return "ajax_comments", account, lambda t: render.ajax_comments(w, q, t), False
        raise KeyError(path)


class _Handler(BaseHTTPRequestHandler):
    sim: SimServer
    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes; with Nagle on, keep-alive clients
    # wait ~40 ms per request for the delayed ACK
    disable_nagle_algorithm = True
    server_version = "nginx"
    sys_version = ""
    # Headers and body go out in separate writes; with Nagle on, a keep-alive
    # client's delayed ACK stalls every response by ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the simulator is quiet; /_sim/stats counts requests

    def handle(self) -> None:
        try:
            super().handle()
        except (_Abort, ConnectionError, OSError):
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    # --- responses ---------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status, STATUS_TEXT.get(str(status)) or None)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                   "application/json; charset=utf-8", headers)

    def _html(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, text.encode("utf-8"), "text/html; charset=utf-8", headers)

    def _body(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        if isinstance(payload, bytes):  # another platform's own body, typed by its headers
            headers = dict(headers or {})
            self._send(status, payload, headers.pop("Content-Type", "application/octet-stream"), headers)
        elif isinstance(payload, str):
            self._html(status, payload, headers)
        else:
            self._json(status, payload, headers)

    # --- verbs ---------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        split = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        if split.path.startswith("/_sim/"):
            self._control_get(split.path, q)
            return
        try:
            endpoint, account, answer, first = self.sim.route(split.path, q, self.headers.get("Cookie", ""),
                                                              self.headers)
        except KeyError:
            self._html(404, "<html><body>404 Not Found</body></html>")
            return
        self.sim.record(endpoint, account)
        rule = self.sim.faults.pick(account, endpoint)
        now = self.sim.clock.now()
        if rule is not None:
            self.sim.record_fault(rule.fault)
            self._fault(rule, endpoint, answer, now)
            return
        if endpoint == "search" and not self.sim.search_allowed(now):
            self.sim.record_fault("search_limit")
            self._html(418, "<html><body><h1>418 I'm a teapot</h1></body></html>")
            return
        if first:
            self.sim.record_poll(account, now, endpoint)
        status, payload, *extra = answer(now)
        if status == 302 and not extra:  # no valid cookie: the login wall
            self._html(302, "", {"Location": LOGIN_REDIRECT})
            return
        self._body(status, payload, extra[0] if extra else None)

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if split.path != "/_sim/faults":
            self._json(404, {"ok": 0, "msg": "unknown control path"})
            return
        try:
            rules = parse_rules(json.loads(raw or b"[]"), "POST /_sim/faults")
        except (ValueError, ConfigError) as exc:
            self._json(400, {"ok": 0, "msg": str(exc)})
            return
        self.sim.set_faults(rules)
        self._json(200, {"ok": 1, "rules": len(rules)})

    def _control_get(self, path: str, q: Mapping[str, str]) -> None:
        if path == "/_sim/truth":
            self._json(200, self.sim.truth())
        elif path == "/_sim/stats":
            self._json(200, self.sim.stats())
        elif path == "/_sim/minimal":
            try:
                window = int(q.get("window_days") or 7)
            except ValueError:
                self._json(400, {"ok": 0, "msg": "window_days must be an integer"})
                return
            self._json(200, self.sim.minimal(window))
        elif path == "/_sim/faults":
            self._json(200, {"faults": [r.__dict__ for r in self.sim.faults.rules()]})
        else:
            self._json(404, {"ok": 0, "msg": "unknown control path"})

    def _fault(self, rule: FaultRule, endpoint: str, answer: Callable[[datetime], render.Response],
               now: datetime) -> None:
        kind = rule.fault
        retry = {"Retry-After": f"{rule.retry_after:g}"} if rule.retry_after is not None else {}
        if kind == "timeout":
            # Real seconds on purpose: this is about the client's socket timeout. The wait
            # ends early when the server stops, so shutdown is never held up.
            self.sim._stopping.wait(rule.hold)
            self.close_connection = True
            raise _Abort()
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            raise _Abort()
        if kind in ("500", "502", "503", "401", "403", "418", "432"):
            self._html(int(kind), f"<html><body><h1>{kind} {STATUS_TEXT[kind]}</h1></body></html>", retry)
        elif kind == "429":
            self._html(429, "<html><body><h1>429 Too Many Requests</h1></body></html>",
                       retry or {"Retry-After": "60"})
        elif kind == "captcha":
            self._json(200, CAPTCHA)
        elif kind == "login_wall":
            self._html(200, LOGIN_WALL)
        elif kind == "redirect_login":
            self._html(302, "", {"Location": LOGIN_REDIRECT})
        elif kind == "truncated_json":
            _, payload, *extra = answer(now)
            if isinstance(payload, bytes):  # another platform's body (XML, HTML): cut in half too
                kind_of = (extra[0] if extra else {}).get("Content-Type", "application/octet-stream")
                self._send(200, payload[: len(payload) // 2], kind_of)
                return
            text = json.dumps(payload, ensure_ascii=False)
            self._send(200, text[: len(text) // 2].encode("utf-8"), "application/json; charset=utf-8")
        elif kind == "empty":
            self._body(200, EMPTY_ANSWERS.get(endpoint, render.NO_CONTENT))
        elif kind == "renamed_field":
            status, payload, *_ = answer(now)
            self._body(status, rename_field(payload) if not isinstance(payload, str) else payload)
