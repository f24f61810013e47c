"""The workbench in real headless Chromium (Debian's ``chromium``, driven by
Playwright), served by waitress over real HTTP, with sign-in links delivered
over real SMTP (aiosmtpd).  Screenshots go to ``test-output/screenshots/``."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from huisheng.config import load_settings
from huisheng.notify.mail import mail_from_settings
from huisheng.notify.outbox import Sender
from huisheng.users import signin
from huisheng.web.app import create_app
from huisheng.web.serve import make_server
from huisheng.notify.sink import free_port
from tests.mailkit import Inbox, smtp_server
from tests.webkit import AUDITOR, COMMUNITY, KEY, WebKit, write_config

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"


def last_link(inbox: Inbox) -> str:
    body = inbox.messages[-1].get_body(("plain",)).get_content()
    return re.search(r"https?://\S+/signin/link/\S+", body).group(0)


@pytest.fixture
def served(tmp_path):
    """The web kit on SQLite, a mail server, and the app on a real port."""
    with smtp_server() as (inbox, smtp_port):
        db_url = f"sqlite:///{tmp_path / 'web.sqlite'}"
        kit = WebKit(db_url, tmp_path)
        web_port = free_port()
        config = write_config(tmp_path, db_url, f'\n[mail]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
                                                f'security = "none"\nfrom_address = "huisheng@example.org"\n')
        text = config.read_text(encoding="utf-8").replace("https://hs.example.gov.cn",
                                                          f"http://127.0.0.1:{web_port}")
        config.write_text(text, encoding="utf-8")
        settings = load_settings(config)
        sender = Sender(kit.sessions, kit.clock, mail_from_settings(settings),
                        finalize=lambda data: signin.fill_message(data, KEY))
        app = create_app(settings, kit.sessions, kit.clock, key=KEY, send_now=sender.run)
        server = make_server(app, "127.0.0.1", web_port).start()
        yield kit, inbox, f"http://127.0.0.1:{web_port}"
        server.stop()
        kit.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def sign_in_by_mail(page, base: str, inbox: Inbox, address: str, next_path: str = "/") -> None:
    page.goto(f"{base}{next_path}")
    assert "/signin" in page.url
    page.fill("#link-form input[name=email]", address)
    page.click("#link-form button")
    page.wait_for_selector(".flash")
    link = last_link(inbox)
    assert "HSSIGNIN" not in link  # the placeholder was filled in at delivery
    page.goto(link)
    page.click("#continue")


def test_a_community_administrator_signs_in_by_mail_and_acts(served, browser):
    kit, inbox, base = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_by_mail(page, base, inbox, COMMUNITY, f"/flags/{kit.flag['community']}")
    assert page.url.endswith(f"/flags/{kit.flag['community']}")
    assert page.inner_text("#flag-state") == "待回复"
    page.click("form[data-action=ack] button")
    page.wait_for_selector(".flash")
    assert page.inner_text("#flag-state") == "已受理"
    page.screenshot(path=str(SHOTS / "flag.png"), full_page=True)
    page.goto(f"{base}/")
    assert "小区门口的路灯坏了" in page.content()
    page.screenshot(path=str(SHOTS / "inbox.png"), full_page=True)
    # another unit's flag: not found, whatever the route
    response = page.goto(f"{base}/flags/{kit.flag['transport']}")
    assert response.status == 404
    assert "公交 302 路" not in page.content()
    page.screenshot(path=str(SHOTS / "refused.png"))


def test_an_auditor_sees_the_coverage_chart(served, browser):
    kit, inbox, base = served
    # some answered flags this month, so the bars have length
    now = kit.clock.now()
    for n, (uid, unit, hours) in enumerate((("1002", "B03", 3), ("1002", "B03", 70), ("1004", "S00C01", 5),
                                            ("1004", "S00C01", 2), ("1003", "S00", 30), ("1001", "D", 1))):
        started = now - timedelta(days=3, hours=n)
        reply = started + timedelta(hours=hours)
        kit.make_flag(f"answered{n}", uid, unit, text="请问？", created=started, due=started + timedelta(days=2),
                      status="replied", first_reply_at=reply, reply_seconds=hours * 3600.0,
                      reply_working_seconds=hours * 3600.0)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_by_mail(page, base, inbox, AUDITOR, "/audit/coverage")
    assert page.url.endswith("/audit/coverage")
    chart = page.wait_for_selector(".chart svg")
    assert chart.bounding_box()["width"] > 200
    page.screenshot(path=str(SHOTS / "coverage.png"), full_page=True)
    # a street's bars lead to the street and its communities
    page.click("svg a.drill")
    page.wait_for_selector(".crumbs")
    assert page.url.endswith(f"unit={kit.unit_id('S00')}") and "东城第1社区" in page.text_content(".chart svg")
    page.screenshot(path=str(SHOTS / "coverage-street.png"), full_page=True)
