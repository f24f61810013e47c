"""The digest tests' small district, served by the workbench, for web tests.

Users come from the matrix (each unit's administrator; 交通局's account admin)
plus an auditor and a district administrator added by hand.  ``client_for``
signs a Flask test client in through a real one-time link.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from huisheng.clock import FakeClock
from huisheng.config import load_settings
from huisheng.storage.models import Unit
from huisheng.users import Role, add_user, signin, sync_matrix_users
from huisheng.web.app import create_app
from tests.digestkit import COMMUNITY, DISTRICT, NOW, STREET, TRANSPORT, DigestKit, days

AUDITOR = "audit@example.org"
ADMIN = "admin@example.org"
KEY = b"k" * 40


def write_config(tmp_path: Path, db_url: str, extra: str = "") -> Path:
    path = tmp_path / "huisheng.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n\n[web]\npublic_url = "https://hs.example.gov.cn"\n{extra}',
                    encoding="utf-8")
    return path


class WebKit(DigestKit):
    def __init__(self, db_url: str, tmp_path: Path, config_extra: str = ""):
        super().__init__(db_url)
        self.clock = FakeClock(NOW)
        for uid in ("1001", "1002", "1003", "1004"):
            self.post(uid, NOW - days(2))
        with self.sessions.begin() as session:
            sync_matrix_users(session, NOW)
            add_user(session, AUDITOR, role=Role.AUDITOR, now=NOW)
            add_user(session, ADMIN, role=Role.DISTRICT_ADMIN, now=NOW)
        self.settings = load_settings(write_config(tmp_path, db_url, config_extra))
        self.app = create_app(self.settings, self.sessions, self.clock, key=KEY)
        # 交通局's flag, the community's flag, the street's flag
        self.make_flag("transport", "1002", "B03", text="公交 302 路什么时候恢复？", created=NOW - days(1),
                       due=NOW + days(1))
        self.make_flag("community", "1004", "S00C01", text="小区门口的路灯坏了一个月了，能修吗？",
                       created=NOW - days(1), due=NOW + days(3), category="complaint")
        self.make_flag("street", "1003", "S00", text="街道办几点下班？", created=NOW - days(3), due=NOW - days(1))

    def link(self, email: str, ttl: timedelta = signin.LINK_TTL) -> str:
        with self.sessions.begin() as session:
            from huisheng.users import find_user

            placeholder = signin.new_link(session, find_user(session, email), self.clock.now(), ttl)
        return signin.fill_placeholders(placeholder, KEY)

    def client_for(self, email: str):
        client = self.app.test_client()
        token = self.link(email)
        page = client.get(f"/signin/link/{token}?next=/")
        assert page.status_code == 200
        response = client.post(f"/signin/link/{token}", data={"csrf_token": csrf(page), "next": "/"})
        assert response.status_code == 303 and response.headers["Location"] == "/", response.data
        return client

    def unit_id(self, code: str) -> int:
        with self.sessions() as session:
            return session.query(Unit).filter_by(code=code).one().id


def csrf(response) -> str:
    import re

    match = re.search(rb'name="csrf_token" value="([^"]+)"', response.data)
    assert match, response.data[:500]
    return match.group(1).decode()


__all__ = ["WebKit", "csrf", "AUDITOR", "ADMIN", "COMMUNITY", "DISTRICT", "STREET", "TRANSPORT", "NOW", "days"]
