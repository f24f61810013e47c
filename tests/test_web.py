"""The workbench through Flask's test client, on SQLite and PostgreSQL: who
may see and do what, sign-in and its limits, the actions, escaping."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from huisheng.storage.models import Flag, FlagEvent, User
from huisheng.users.signin import MAX_FAILURES_PER_EMAIL, hash_password
from huisheng.web.audit import PAGES as AUDIT_PAGES
from huisheng.web.flag import ACTIONS as FLAG_ACTIONS
from tests.webkit import ADMIN, AUDITOR, COMMUNITY, KEY, STREET, WebKit, csrf, days

MAIL = '\n[mail]\nhost = "127.0.0.1"\nport = 2525\nsecurity = "none"\nfrom_address = "huisheng@example.org"\n'


@pytest.fixture
def kit(db_url, tmp_path):
    kit = WebKit(db_url, tmp_path)
    yield kit
    kit.close()


def flag(kit, name: str) -> Flag:
    with kit.sessions() as session:
        return session.get(Flag, kit.flag[name])


def events(kit, name: str) -> list[FlagEvent]:
    with kit.sessions() as session:
        return session.scalars(select(FlagEvent).where(FlagEvent.flag_id == kit.flag[name])
                               .order_by(FlagEvent.id)).all()


def post_action(client, kit, name: str, action: str, **form):
    page = client.get(f"/flags/{kit.flag[name]}")
    token = csrf(page) if page.status_code == 200 else csrf(client.get("/"))
    return client.post(f"/flags/{kit.flag[name]}/{action}", data={"csrf_token": token, **form})


def test_every_page_but_signin_needs_a_session(kit):
    client = kit.app.test_client()
    for path in ("/", f"/flags/{kit.flag['community']}"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/signin?next=")
    assert client.get("/signin").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    # a POST without a session (and so without a CSRF token) changes nothing
    assert client.post(f"/flags/{kit.flag['community']}/ack").status_code in (400, 403)
    assert flag(kit, "community").status == "open"


def test_a_community_administrator_sees_only_their_flags(kit):
    client = kit.client_for(COMMUNITY)
    inbox = client.get("/").get_data(as_text=True)
    assert "小区门口的路灯坏了" in inbox
    assert "公交 302 路" not in inbox and "街道办几点下班" not in inbox
    own = client.get(f"/flags/{kit.flag['community']}")
    assert own.status_code == 200 and "小区门口的路灯坏了" in own.get_data(as_text=True)
    for other in ("transport", "street"):
        assert client.get(f"/flags/{kit.flag[other]}").status_code == 404
        for action in ("ack", "dismiss", "reassign", "reply", "promise", "resolve", "close"):
            response = post_action(client, kit, other, action, note="x", unit="东城第1社区", date="2026-11-20")
            assert response.status_code == 404, action
        assert flag(kit, other).status == "open"
        assert [e.kind for e in events(kit, other)] == []
    # filters and search do not widen the scope
    for query in (f"?account={kit.account['1002']}", "?q=公交", "?section=overdue", "?page=2"):
        assert "公交 302 路" not in client.get("/" + query).get_data(as_text=True)


def test_a_street_administrator_sees_the_streets_communities(kit):
    client = kit.client_for(STREET)
    inbox = client.get("/").get_data(as_text=True)
    assert "小区门口的路灯坏了" in inbox and "街道办几点下班" in inbox
    assert "公交 302 路" not in inbox
    assert client.get(f"/flags/{kit.flag['transport']}").status_code == 404


def test_inbox_sections_order_and_counts(kit):
    kit.make_flag("urgent", "1003", "S00", text="楼道里有煤气味！", created=kit.clock.now() - timedelta(hours=1),
                  due=kit.clock.now() + timedelta(hours=1), urgent=True)
    client = kit.client_for(STREET)
    page = client.get("/").get_data(as_text=True)
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', page))
    assert counts["urgent"] == "1" and counts["overdue"] == "1" and counts["all"] == "3"
    # urgent first, then overdue, then the rest
    assert page.index("楼道里有煤气味") < page.index("街道办几点下班") < page.index("小区门口的路灯坏了")
    overdue = client.get("/?section=overdue").get_data(as_text=True)
    assert "街道办几点下班" in overdue and "小区门口的路灯坏了" not in overdue
    assert "小区门口" in client.get("/?q=路灯").get_data(as_text=True)
    assert "小区门口" not in client.get("/?q=%25").get_data(as_text=True)  # LIKE wildcards are literal


def test_actions_move_the_flag_and_record_the_signed_in_user(kit):
    client = kit.client_for(COMMUNITY)
    assert post_action(client, kit, "community", "ack").status_code == 303
    assert flag(kit, "community").status == "acknowledged"
    # an offline reply needs a note
    post_action(client, kit, "community", "reply", note="")
    assert flag(kit, "community").status == "acknowledged"
    post_action(client, kit, "community", "reply", note="电话回复：已报修，三天内修好")
    promised = (kit.clock.now() + days(5)).date().isoformat()
    post_action(client, kit, "community", "promise", date=promised)
    post_action(client, kit, "community", "resolve", note="已修好")
    post_action(client, kit, "community", "close")
    row = flag(kit, "community")
    assert row.status == "closed" and row.replied_offline and row.promised_at is not None
    steps = events(kit, "community")
    assert [e.kind for e in steps] == ["acknowledged", "replied", "promised", "resolved", "closed"]
    with kit.sessions() as session:
        user = session.scalars(select(User).where(User.email == COMMUNITY)).one()
    assert {e.actor for e in steps} == {COMMUNITY}
    assert {e.data["user_id"] for e in steps} == {user.id}


def test_a_promise_beyond_the_limit_needs_a_reason(kit):
    client = kit.client_for(COMMUNITY)
    far = (kit.clock.now() + days(60)).date().isoformat()
    page = post_action(client, kit, "community", "promise", date=far)
    assert page.status_code == 303 and flag(kit, "community").promised_at is None
    post_action(client, kit, "community", "promise", date=far, extension_reason="需区财政立项")
    assert flag(kit, "community").promised_at is not None


def test_reassign_and_dismiss(kit):
    client = kit.client_for(STREET)
    page = client.get(f"/flags/{kit.flag['street']}").get_data(as_text=True)
    assert "示范区" in page  # the parent unit is suggested
    response = post_action(client, kit, "street", "reassign", unit="交通局", note="公交问题")
    assert response.status_code == 303 and response.headers["Location"] == "/"  # no longer the street's
    assert flag(kit, "street").unit_id == kit.unit_id("B03")
    assert client.get(f"/flags/{kit.flag['street']}").status_code == 404
    post_action(client, kit, "community", "dismiss", note="")
    assert flag(kit, "community").status == "open"
    post_action(client, kit, "community", "dismiss", note="广告")
    assert flag(kit, "community").status == "dismissed"


def test_auditors_see_everything_and_act_on_nothing(kit):
    client = kit.client_for(AUDITOR)
    inbox = client.get("/").get_data(as_text=True)
    assert all(text in inbox for text in ("小区门口的路灯坏了", "公交 302 路", "街道办几点下班"))
    page = client.get(f"/flags/{kit.flag['transport']}").get_data(as_text=True)
    assert 'data-action="ack"' not in page
    assert post_action(client, kit, "transport", "ack").status_code == 403
    assert flag(kit, "transport").status == "open"
    district = kit.client_for(ADMIN)
    assert post_action(district, kit, "transport", "ack").status_code == 303
    assert flag(kit, "transport").status == "acknowledged"


def test_a_post_without_the_sessions_csrf_token_is_refused(kit):
    client = kit.client_for(COMMUNITY)
    response = client.post(f"/flags/{kit.flag['community']}/ack", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert flag(kit, "community").status == "open"


def test_hostile_comment_text_is_escaped(kit):
    kit.make_flag("evil", "1004", "S00C01", text='<script>alert(1)</script><img src=x onerror=alert(2)>\u202e',
                  created=kit.clock.now(), due=kit.clock.now() + days(2), author="<b>坏人</b>")
    client = kit.client_for(COMMUNITY)
    for path in ("/", f"/flags/{kit.flag['evil']}"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>坏人" not in html
        assert "&lt;script&gt;alert(1)" in html
        assert "\u202e" not in html


def test_a_link_signs_in_once_and_expires(kit):
    client = kit.app.test_client()
    token = kit.link(COMMUNITY)
    page = client.get(f"/signin/link/{token}?next=/flags/{kit.flag['community']}")
    assert page.status_code == 200  # a mail scanner fetching the link does not use it up
    first = client.post(f"/signin/link/{token}", data={"csrf_token": csrf(page),
                                                        "next": f"/flags/{kit.flag['community']}"})
    assert first.status_code == 303 and first.headers["Location"] == f"/flags/{kit.flag['community']}"
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie and "Expires=" in cookie
    again = kit.app.test_client()
    page = again.get(f"/signin/link/{token}")
    assert again.post(f"/signin/link/{token}", data={"csrf_token": csrf(page)}).headers["Location"].startswith(
        "/signin")
    assert again.get("/").status_code == 302
    # forged signature, expired link
    nonce = token.split(".")[0]
    page = again.get("/signin")
    assert again.post(f"/signin/link/{nonce}.AAAA", data={"csrf_token": csrf(page)}).headers[
        "Location"].startswith("/signin")
    old = kit.link(COMMUNITY, ttl=timedelta(minutes=5))
    kit.clock.advance(6 * 60)
    assert again.post(f"/signin/link/{old}", data={"csrf_token": csrf(page)}).headers["Location"].startswith(
        "/signin")


def test_next_never_leaves_the_site(kit):
    client = kit.app.test_client()
    token = kit.link(COMMUNITY)
    page = client.get(f"/signin/link/{token}")
    response = client.post(f"/signin/link/{token}", data={"csrf_token": csrf(page), "next": "//evil.example/x"})
    assert response.headers["Location"] == "/"


def test_a_disabled_user_is_signed_out_and_sessions_expire(kit):
    client = kit.client_for(COMMUNITY)
    assert client.get("/").status_code == 200
    with kit.sessions.begin() as session:
        session.scalars(select(User).where(User.email == COMMUNITY)).one().enabled = False
    assert client.get("/").status_code == 302
    other = kit.client_for(STREET)
    kit.clock.advance(13 * 3600)
    assert other.get("/").status_code == 302


def test_password_signin_is_rate_limited(kit):
    with kit.sessions.begin() as session:
        session.scalars(select(User).where(User.email == AUDITOR)).one().password_hash = hash_password(
            "correct horse battery")
    client = kit.app.test_client()
    token = csrf(client.get("/signin"))
    ok = client.post("/signin/password", data={"csrf_token": token, "email": AUDITOR,
                                               "password": "correct horse battery", "next": "/"})
    assert ok.status_code == 303 and ok.headers["Location"] == "/"
    client = kit.app.test_client()
    token = csrf(client.get("/signin"))
    for _ in range(MAX_FAILURES_PER_EMAIL):
        bad = client.post("/signin/password", data={"csrf_token": token, "email": AUDITOR, "password": "guess"})
        assert bad.headers["Location"].startswith("/signin")
    refused = client.post("/signin/password", data={"csrf_token": token, "email": AUDITOR,
                                                    "password": "correct horse battery"})
    assert refused.headers["Location"].startswith("/signin")
    assert client.get("/").status_code == 302
    kit.clock.advance(16 * 60)
    assert client.post("/signin/password", data={"csrf_token": token, "email": AUDITOR,
                                                 "password": "correct horse battery"}).headers["Location"] == "/"


def test_english_is_available(kit):
    client = kit.client_for(COMMUNITY)
    assert "我的待办" in client.get("/").get_data(as_text=True)
    assert "My inbox" in client.get("/?lang=en").get_data(as_text=True)
    assert "My inbox" in client.get("/").get_data(as_text=True)  # remembered in the session


def test_an_urgent_flag_shows_clock_hours_left(kit):
    kit.make_flag("gas", "1004", "S00C01", text="楼道里有煤气味！", created=kit.clock.now() - timedelta(minutes=30),
                  due=kit.clock.now() + timedelta(minutes=90), urgent=True)
    page = kit.client_for(COMMUNITY).get(f"/flags/{kit.flag['gas']}").get_data(as_text=True)
    assert "剩余 1.5 小时" in page


def test_a_flags_page_explains_the_decision_the_clock_and_every_event(kit):
    from huisheng.storage.models import FlagEvent

    reasons = [{"rule": "category/consultation", "kind": "category", "detail": "咨询 +1", "span": [4, 6, "请问"]},
               {"rule": "needs_reply/consultation", "kind": "needs_reply", "detail": "类别「咨询」（得分 1）需回复",
                "span": None},
               {"rule": "route/place", "kind": "route", "detail": "<b>地点</b>「磁器口」", "span": None}]
    reminded, escalated = kit.clock.now() - timedelta(hours=30), kit.clock.now() - timedelta(hours=6)
    kit.make_flag("explained", "1004", "S00C01", text="小区门口请问能修吗", created=kit.clock.now() - days(3),
                  due=kit.clock.now() - days(1), reasons=reasons, reminded_at=reminded, escalated_at=escalated)
    with kit.sessions.begin() as session:
        session.add(FlagEvent(flag_id=kit.flag["explained"], at=reminded, kind="reminder", actor="rule:ladder",
                              note="已催办 1 次", data={}))
    page = kit.client_for(COMMUNITY).get(f"/flags/{kit.flag['explained']}").get_data(as_text=True)
    # why it was flagged, in words, with the words that counted
    assert "咨询 +1：「请问」" in page and "类别「咨询」（得分 1）需回复" in page
    assert "&lt;b&gt;地点&lt;/b&gt;" in page and "<b>地点</b>" not in page
    # where it went and why, and what the ladder did when (local time)
    assert "评论在账号 1004 下" in page
    assert "已催办" in page and "已督办" in page
    local = ZoneInfo("Asia/Shanghai")
    assert reminded.astimezone(local).strftime("%Y-%m-%d %H:%M") in page
    assert escalated.astimezone(local).strftime("%Y-%m-%d %H:%M") in page
    assert "已超期" in page
    assert "已催办 1 次" in page and "rule:ladder" in page


def test_a_flag_links_to_the_comment_on_the_platform(kit):
    page = kit.client_for(COMMUNITY).get(f"/flags/{kit.flag['community']}").get_data(as_text=True)
    with kit.sessions() as session:
        from huisheng.storage.models import Comment, Post

        row = session.get(Flag, kit.flag["community"])
        comment, post = session.get(Comment, row.comment_id), session.get(Post, row.post_id)
    assert f"https://m.weibo.cn/detail/{post.external_id}?cid={comment.external_id}" in page


def test_behind_the_proxy_each_forwarded_client_has_its_own_limit(db_url, tmp_path):
    from huisheng.users.signin import MAX_FAILURES_PER_CLIENT

    kit = WebKit(db_url, tmp_path, config_extra="behind_proxy = true\n")
    try:
        with kit.sessions.begin() as session:
            session.scalars(select(User).where(User.email == AUDITOR)).one().password_hash = hash_password(
                "correct horse battery")
        client = kit.app.test_client()
        token = csrf(client.get("/signin"))

        def attempt(address: str, email: str, password: str) -> str:
            return client.post("/signin/password", headers={"X-Forwarded-For": address},
                               data={"csrf_token": token, "email": email, "password": password}).headers["Location"]

        for n in range(MAX_FAILURES_PER_CLIENT):
            attempt("203.0.113.7", f"guess{n}@example.org", "x")
        assert attempt("203.0.113.7", AUDITOR, "correct horse battery").startswith("/signin")
        assert attempt("198.51.100.9", AUDITOR, "correct horse battery") == "/"
    finally:
        kit.close()


#: every route of the workbench (rule, method) → the concrete requests the test below makes of it; a new
#: route fails that test until it is added here, and so checked as the wrong unit, as an auditor and
#: without the CSRF token
ROUTES = {
    ("/", "GET"): ["/?account={account}&q=公交", "/?account={account}&section=overdue&page=2"],
    ("/audit/", "GET"): ["/audit/?unit={unit}"],
    **{(f"/audit/{page}", "GET"): [f"/audit/{page}?unit={{unit}}&by=unit"] for page in AUDIT_PAGES},
    **{(f"/audit/{page}.<any(csv, xlsx):export>", "GET"): [f"/audit/{page}.csv?unit={{unit}}",
                                                           f"/audit/{page}.xlsx?unit={{unit}}"]
       for page in AUDIT_PAGES},
    ("/flags/<int:flag_id>", "GET"): ["/flags/{flag}"],
    ("/flags/<int:flag_id>/<action>", "POST"): [f"/flags/{{flag}}/{action}" for action in FLAG_ACTIONS],
    ("/signin", "GET"): ["/signin?next=/flags/{flag}"],
    ("/signin/link", "POST"): ["/signin/link"],
    ("/signin/link/<token>", "GET"): ["/signin/link/forged.token?next=/flags/{flag}"],
    ("/signin/link/<token>", "POST"): ["/signin/link/forged.token"],
    ("/signin/password", "POST"): ["/signin/password"],
    ("/signout", "POST"): ["/signout"],
    ("/static/<path:filename>", "GET"): ["/static/style.css"],
}


def test_every_route_is_refused_to_the_wrong_unit_to_auditors_and_without_csrf(kit):
    rules = {(r.rule, m) for r in kit.app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    assert rules == set(ROUTES)
    other = {"flag": kit.flag["transport"], "unit": kit.unit_id("B03"), "account": kit.account["1002"]}
    community, auditor = kit.client_for(COMMUNITY), kit.client_for(AUDITOR)
    token = csrf(community.get("/"))
    for (rule, method), paths in ROUTES.items():
        for path in (p.format(**other) for p in paths):
            if method == "GET":
                response = community.get(path)
                assert response.status_code in (200, 302, 404), path
                if rule.startswith(("/flags/", "/audit/")) and rule != "/audit/":
                    assert response.status_code == 404, path
                assert "公交 302 路" not in response.get_data(as_text=True), path
                continue
            form = {"csrf_token": token, "note": "x", "unit": "东城第1社区", "date": "2026-11-20",
                    "email": COMMUNITY, "password": "x" * 12}
            if rule.startswith("/flags/"):  # another unit's flag: not found; an auditor's action: refused
                assert community.post(path, data=form).status_code == 404, path
                own = path.replace(f"/{other['flag']}/", f"/{kit.flag['community']}/")
                assert auditor.post(own, data={**form, "csrf_token": csrf(auditor.get("/"))}).status_code == 403
            # a forged CSRF token is refused on every form, whoever posts it
            assert community.post(path, data={**form, "csrf_token": "forged"}).status_code == 400, path
    for name in ("transport", "community"):
        assert flag(kit, name).status == "open" and events(kit, name) == []
    assert community.get("/").status_code == 200  # the forged sign-out did not sign out


def test_sign_out_ends_the_session(kit):
    client = kit.client_for(COMMUNITY)
    response = client.post("/signout", data={"csrf_token": csrf(client.get("/"))})
    assert response.status_code == 303 and response.headers["Location"] == "/signin"
    assert client.get("/").status_code == 302
    assert client.get(f"/flags/{kit.flag['community']}").status_code == 302


def test_no_secret_appears_in_a_page(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("HS_TEST_SMTP_PASSWORD", "smtp-secret-Zq8uW3")
    kit = WebKit(db_url, tmp_path, config_extra=MAIL + 'user = "hs"\npassword_env = "HS_TEST_SMTP_PASSWORD"\n'
                                                                 'allow_plaintext_login = true\n')
    try:
        with kit.sessions.begin() as session:
            admin = session.scalars(select(User).where(User.email == ADMIN)).one()
            admin.password_hash = hash_password("correct horse battery")
            secrets = [KEY.decode(), admin.password_hash, admin.password_hash.rsplit("$", 1)[-1],
                       "smtp-secret-Zq8uW3"]
        unused = kit.link(COMMUNITY)
        secrets += unused.split(".")
        client = kit.client_for(ADMIN)
        cookie = client.get_cookie("huisheng_session").value
        ids = {"flag": kit.flag["community"], "unit": kit.unit_id("S00"), "account": kit.account["1004"]}
        pages = [p.format(**ids) for (rule, method), paths in ROUTES.items() if method == "GET" for p in paths]
        for path in pages + ["/audit/coverage?by=month", "/?lang=en"]:
            data = client.get(path).data
            if ".xlsx" in path:  # a workbook is a zip of XML parts
                with zipfile.ZipFile(io.BytesIO(data)) as book:
                    data = b"".join(book.read(name) for name in book.namelist())
            body = data.decode("utf-8")
            assert not [s for s in secrets + [cookie] if s in body], path
    finally:
        kit.close()


def test_signin_links_are_mailed_at_most_three_times_an_address_in_the_window(db_url, tmp_path):
    from huisheng.storage.models import OutboxMessage
    from huisheng.users.signin import MAX_LINKS_PER_EMAIL

    kit = WebKit(db_url, tmp_path, config_extra=MAIL)
    try:
        client = kit.app.test_client()
        token = csrf(client.get("/signin"))

        def ask(address: str) -> str:
            response = client.post("/signin/link", data={"csrf_token": token, "email": address, "next": "/"})
            assert response.headers["Location"].startswith("/signin")
            return client.get(response.headers["Location"]).get_data(as_text=True)

        def mailed() -> int:
            with kit.sessions() as session:
                return len(session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == COMMUNITY,
                                                                       OutboxMessage.kind == "signin")).all())

        # an unknown address is told what a user is told, and nothing is mailed
        assert "登录链接已发送" in ask("nobody@example.org")
        for _ in range(MAX_LINKS_PER_EMAIL):
            assert "登录链接已发送" in ask(COMMUNITY)
        assert mailed() == MAX_LINKS_PER_EMAIL
        assert "请求过于频繁" in ask(COMMUNITY) and mailed() == MAX_LINKS_PER_EMAIL
        kit.clock.advance(16 * 60)
        assert "登录链接已发送" in ask(COMMUNITY) and mailed() == MAX_LINKS_PER_EMAIL + 1
    finally:
        kit.close()


def test_the_demo_prints_links_that_sign_in_a_community_administrator_and_an_auditor(kit, capsys):
    from huisheng import demo
    from huisheng.clock import Clock
    from huisheng.web.app import create_app
    from tests.digestkit import MATRIX

    demo._web_links(kit.settings, MATRIX, "huisheng", "huisheng.toml")
    printed = capsys.readouterr().out
    links = re.findall(r"https://hs\.example\.gov\.cn(/signin/link/(\S+)\?next=(\S+))", printed)
    assert [next_path for *_, next_path in links] == ["/", "/audit/coverage"]
    app = create_app(kit.settings, kit.sessions, Clock())  # the key the demo used: the configured one
    for (path, token, next_path), (role, text) in zip(links, (("单位管理员", "小区门口的路灯坏了"),
                                                              ("考评员", "回复率"))):
        client = app.test_client()
        response = client.post(f"/signin/link/{token}", data={"csrf_token": csrf(client.get(path)),
                                                               "next": next_path})
        assert response.headers["Location"] == next_path
        page = client.get(next_path).get_data(as_text=True)
        assert text in page and f"{role}</span>" in page


def test_inbox_filters_by_category_and_state(kit):
    client = kit.client_for(STREET)
    complaints = client.get("/?category=complaint").get_data(as_text=True)
    assert "小区门口的路灯坏了" in complaints and "街道办几点下班" not in complaints
    post_action(kit.client_for(COMMUNITY), kit, "community", "ack")
    acknowledged = client.get("/?state=acknowledged").get_data(as_text=True)
    assert "小区门口的路灯坏了" in acknowledged and "街道办几点下班" not in acknowledged
    assert "小区门口的路灯坏了" not in client.get("/?state=open").get_data(as_text=True)
