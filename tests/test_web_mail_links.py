"""Links in digests and alerts sign a workbench user in and open the flag:
the digest job queues a placeholder (no database row can sign anyone in),
the sender fills it in at delivery over real SMTP, the link works once."""

from __future__ import annotations

import email
import re
from email.policy import default as default_policy

import pytest
from sqlalchemy import select

from huisheng.config import load_settings
from huisheng.storage.models import Comment, OutboxMessage, SigninToken
from huisheng.notify.alerts import AlertJob
from huisheng.notify.digest import DigestJob
from huisheng.notify.mail import mail_from_settings
from huisheng.notify.outbox import Sender
from huisheng.users import signin
from tests.mailkit import smtp_server
from tests.webkit import KEY, NOW, STREET, TRANSPORT, WebKit, csrf, write_config


@pytest.fixture
def mailed(db_url, tmp_path):
    with smtp_server() as (inbox, port):
        kit = WebKit(db_url, tmp_path)
        settings = load_settings(write_config(tmp_path, db_url, (
            f'\n[mail]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            f'from_address = "huisheng@example.org"\n')))
        sender = Sender(kit.sessions, kit.clock, mail_from_settings(settings),
                        finalize=lambda data: signin.fill_message(data, KEY))
        yield kit, inbox, settings, sender
        kit.close()


def follow(kit, link: str):
    """Open a mailed link in a fresh browser session; the response after its button."""
    path = link.split("https://hs.example.gov.cn", 1)[1]
    client = kit.app.test_client()
    page = client.get(path)
    token = path.split("/signin/link/")[1].split("?")[0]
    next_path = path.split("?next=")[1]
    response = client.post(f"/signin/link/{token}", data={"csrf_token": csrf(page), "next": next_path})
    return client, response


def test_a_digest_link_signs_the_administrator_in_and_opens_the_flag(mailed):
    kit, inbox, settings, sender = mailed
    outcomes = DigestJob(kit.sessions, kit.clock, settings).send(NOW)
    assert any(o.recipient == STREET and o.status == "queued" for o in outcomes)
    with kit.sessions() as session:
        stored = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == STREET)).one()
        nonces = session.scalars(select(SigninToken.nonce)).all()
    # what is stored holds a placeholder, never a working token
    stored_body = email.message_from_string(stored.message, policy=default_policy).get_body(
        ("plain",)).get_content()
    assert "/signin/link/HSSIGNIN-" in stored_body and nonces
    assert not any(signin.token_for(KEY, n) in stored_body for n in nonces)
    assert sender.run(NOW).sent
    body = inbox.bodies(STREET)[0]
    links = re.findall(r"https://hs\.example\.gov\.cn/signin/link/\S+", body)
    flag_id = kit.flag["street"]
    link = next(x for x in links if x.endswith(f"?next=/flags/{flag_id}"))
    assert "HSSIGNIN" not in link
    client, response = follow(kit, link)
    assert response.status_code == 303 and response.headers["Location"] == f"/flags/{flag_id}"
    assert "街道办几点下班" in client.get(f"/flags/{flag_id}").get_data(as_text=True)
    # the same link in another browser: used up, back to the sign-in page (the flag kept as next)
    _, again = follow(kit, link)
    assert again.headers["Location"].startswith("/signin?next=")


def test_an_urgent_alert_links_each_recipient_in(mailed):
    kit, inbox, settings, sender = mailed
    from huisheng.flags.process import Decider
    from huisheng.flags.rules import load_rules
    from huisheng.flags.sla import calendar_from_settings, sla_from_settings

    with kit.sessions.begin() as session:
        session.add(Comment(platform="weibo", external_id="77", post_id=kit.posts["1002"], author_id="9001",
                            author_name="王五", created_at=NOW, text="小区对面的楼着火了，浓烟很大！",
                            content_hash="c", first_seen_at=NOW, last_seen_at=NOW, raw={}))
    decided = Decider(kit.sessions, kit.clock, load_rules(None), calendar_from_settings(settings),
                      sla_from_settings(settings)).run(NOW)
    assert len(decided.urgent) == 1
    AlertJob(kit.sessions, kit.clock, settings, sender=sender).run(NOW)
    body = inbox.bodies(TRANSPORT)[0]
    link = re.search(r"https://hs\.example\.gov\.cn/signin/link/\S+", body).group(0)
    client, response = follow(kit, link)
    assert response.headers["Location"] == f"/flags/{decided.urgent[0]}"
    assert "着火了" in client.get(response.headers["Location"]).get_data(as_text=True)
