"""The ``[web]`` table: where the workbench listens, the address people reach
it at (for links in e-mail), and its secret key (sessions, sign-in links)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from huisheng.errors import ConfigError
from huisheng.config import EnvKey, Key, Table, register_table
from huisheng.config.settings import Settings

DEFAULT_PORT = 8470
KEY_BYTES = 32


def _check_public_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        return f"应为工作台的访问地址（如 \"https://huisheng.example.gov.cn\"），实际为 \"{value}\""
    return None


def _check_port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else f"端口应在 1–65535 之间，实际为 {value}"


WEB_TABLE = Table({
    "enabled": Key("bool", default=False, doc="huisheng run also serves the workbench"),
    "host": Key("str", default="127.0.0.1",
                doc="listen address; keep 127.0.0.1 behind the district's HTTPS reverse proxy"),
    "port": Key("int", default=DEFAULT_PORT, check=_check_port, doc="listen port"),
    "public_url": Key("str", check=_check_public_url,
                      doc="the address people open (links in digests and alerts)"),
    "secret_key_env": EnvKey("secret_key", doc="variable holding the secret key (sessions, sign-in links)"),
    "secret_key_file": Key("str", default="web-secret.key",
                           doc="else the key is kept in this file (created on first start, mode 600)"),
    "session_hours": Key("float", default=12.0, low=0.01, high=24 * 366, doc="a sign-in lasts this long"),
    "locale": Key("str", default="zh", choices=("zh", "en"), doc="zh or en (each user may switch)"),
    "behind_proxy": Key("bool", default=False,
                        doc="trust X-Forwarded-For/-Proto from one reverse proxy"),
}, doc="the web workbench")

register_table("web", WEB_TABLE)


@dataclass(frozen=True)
class WebSettings:
    enabled: bool
    host: str
    port: int
    public_url: str | None
    secret_key_env: str | None
    secret_key_file: Path
    session_hours: float
    locale: str
    behind_proxy: bool

    def __repr__(self) -> str:
        return f"WebSettings(host={self.host!r}, port={self.port}, public_url={self.public_url!r})"


def web_from_settings(settings: Settings) -> WebSettings:
    values: Mapping[str, Any] = settings.extra.get("web") or {
        k: v.default for k, v in WEB_TABLE.items.items() if isinstance(v, Key)}
    key_file = Path(values.get("secret_key_file") or "web-secret.key")
    if not key_file.is_absolute():
        key_file = settings.path.parent / key_file if settings.path else key_file.resolve()
    public_url = values.get("public_url")
    return WebSettings(enabled=bool(values.get("enabled")), host=values.get("host") or "127.0.0.1",
                       port=int(values.get("port") or DEFAULT_PORT),
                       public_url=public_url.rstrip("/") if public_url else None,
                       secret_key_env=values.get("secret_key_env"), secret_key_file=key_file,
                       session_hours=float(values.get("session_hours") or 12.0),
                       locale=values.get("locale") or "zh", behind_proxy=bool(values.get("behind_proxy")))


def secret_key(web: WebSettings, environ: Mapping[str, str] | None = None) -> bytes:
    """The key from its environment variable, else from its file (made on
    first use, readable by the service user only)."""
    environ = os.environ if environ is None else environ
    if web.secret_key_env:
        value = environ.get(web.secret_key_env, "")
        if len(value) < 32:
            raise ConfigError(f"环境变量 {web.secret_key_env} 未设置或短于 32 个字符", key="web.secret_key_env")
        return value.encode()
    path = web.secret_key_file
    try:
        if path.exists():
            data = path.read_bytes().strip()
            if len(data) < 32:
                raise ConfigError(f"密钥文件过短（应至少 32 个字符）：{path}", key="web.secret_key_file")
            return data
        path.parent.mkdir(parents=True, exist_ok=True)
        data = secrets.token_urlsafe(KEY_BYTES).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data + b"\n")
        return data
    except OSError as exc:
        raise ConfigError(f"无法读写密钥文件 {path}：{exc.strerror or exc}", key="web.secret_key_file") from None
