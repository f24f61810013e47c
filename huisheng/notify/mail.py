"""The ``[mail]`` config table: the SMTP server, the sender, the duty address.

Importing this module declares the table (``load_settings`` imports it).  The
password never sits in the file: ``password_env`` names the environment
variable that holds it.  Without ``host`` mail is off: nothing is queued for
alerts and the sender does not run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from huisheng.config import EnvKey, Key, Table, register_table
from huisheng.config.settings import Settings

SECURITY = ("starttls", "tls", "none")
LOCALES = ("zh", "en")
#: the usual port of each security mode
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}

_EMAIL = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")


@dataclass(frozen=True)
class MailSettings:
    #: the SMTP server; None: mail is not configured
    host: str | None = None
    port: int | None = None
    #: starttls | tls (implicit TLS, "SMTPS") | none
    security: str = "starttls"
    user: str | None = None
    #: from the environment variable ``password_env`` names
    password: str | None = None
    from_address: str = "huisheng@localhost"
    from_name: str = "回声"
    #: the district duty address, copied on every urgent alert and told of every
    #: urgent flag still unanswered at its deadline
    duty_address: str | None = None
    locale: str = "zh"
    #: attempts before a message is given up (status failed); the defaults retry
    #: for more than a day before giving up
    max_attempts: int = 30
    #: first retry after this many seconds, doubling up to ``retry_cap``
    retry_base: float = 60.0
    retry_cap: float = 3600.0
    #: seconds for connecting and each SMTP command
    timeout: float = 30.0
    #: check the server's TLS certificate (and host name)
    verify: bool = True
    #: trust this CA bundle (PEM) instead of the system's
    ca_file: str | None = None
    #: the district's time zone, for the Date header
    timezone: str = "Asia/Shanghai"

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    def __repr__(self) -> str:  # keep the password out of logs
        return (f"MailSettings(host={self.host!r}, port={self.effective_port}, security={self.security!r}, "
                f"user={self.user!r}, from_address={self.from_address!r})")


def _check_email(value: str) -> str | None:
    if not _EMAIL.fullmatch(value):
        return f"应为电子邮件地址（如 \"huisheng@example.org\"），实际为 \"{value}\""
    return None


def _check_table(values) -> list[tuple[str, str]]:
    problems = []
    if values.get("host") and not values.get("from_address"):
        problems.append(("from_address", "配置了 host 时必须填写发件地址 from_address"))
    if values.get("password") and not values.get("user"):
        problems.append(("password_env", "配置了 password_env 时必须同时填写用户名 user"))
    if values.get("retry_base") and values.get("retry_cap") and values["retry_cap"] < values["retry_base"]:
        problems.append(("retry_cap", "retry_cap 不得小于 retry_base"))
    if values.get("security") == "none" and values.get("user") and not values.get("allow_plaintext_login"):
        problems.append(("security", "security = \"none\" 时登录会以明文传送密码：请改用 \"starttls\" 或 \"tls\"；"
                                     "确需明文登录（如仅本机的中继）时写 allow_plaintext_login = true"))
    return problems


MAIL_TABLE = Table({
    "host": Key("str", doc="SMTP server; absent: no mail is sent"),
    "port": Key("int", low=1, high=65535, doc="default 587 (starttls), 465 (tls), 25 (none)"),
    "security": Key("str", default="starttls", choices=SECURITY,
                    doc="starttls, tls (implicit TLS) or none"),
    "user": Key("str", doc="SMTP login (AUTH when set)"),
    "password_env": EnvKey("password", doc="variable holding the SMTP password",
                           required=lambda values: values.get("password_env") is not None),
    "from_address": Key("str", check=_check_email, doc="sender address"),
    "from_name": Key("str", default="回声", doc="sender name"),
    "duty_address": Key("str", check=_check_email,
                        doc="district duty address: every urgent alert, and urgent escalations"),
    "locale": Key("str", default="zh", choices=LOCALES, doc="zh or en"),
    "max_attempts": Key("int", default=30, low=1, high=1000, doc="attempts before a message is given up"),
    "retry_base": Key("float", default=60.0, low=0.01, high=86400, doc="first retry after this many seconds"),
    "retry_cap": Key("float", default=3600.0, low=0.01, high=30 * 86400,
                     doc="longest wait between attempts, seconds"),
    "timeout": Key("float", default=30.0, low=0.1, high=600, doc="seconds per connection and command"),
    "verify": Key("bool", default=True, doc="check the server's TLS certificate"),
    "allow_plaintext_login": Key("bool", default=False,
                                 doc="allow a login (user) over security = \"none\": the password travels in clear"),
    "ca_file": Key("str", doc="trust this CA bundle (PEM) instead of the system's"),
}, doc="e-mail", check=_check_table)

register_table("mail", MAIL_TABLE)


def mail_from_settings(settings: Settings) -> MailSettings:
    values = settings.extra.get("mail")
    if values is None:  # Settings built without load_settings, or no [mail] table
        return MailSettings(timezone=settings.timezone)
    return MailSettings(
        host=values["host"], port=values["port"], security=values["security"], user=values["user"],
        password=values["password"], from_address=values["from_address"] or MailSettings.from_address,
        from_name=values["from_name"], duty_address=values["duty_address"], locale=values["locale"],
        max_attempts=values["max_attempts"], retry_base=values["retry_base"], retry_cap=values["retry_cap"],
        timeout=values["timeout"], verify=values["verify"], ca_file=values["ca_file"],
        timezone=settings.timezone)
