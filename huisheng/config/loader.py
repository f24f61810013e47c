"""The main config file (TOML) → :class:`~huisheng.config.settings.Settings`.

The core tables are declared here; later features add their own top-level
table with :func:`register_table` (imported from :data:`FEATURE_MODULES`) and
find its validated values in ``Settings.extra``.  Validation itself is
:mod:`huisheng.schema`.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from huisheng.adapters.base import Pace
from huisheng.schema import EnvKey, Key, SecretStr, Table, Validator, parse_toml
from huisheng.config.settings import PlatformSettings, PollingSettings, Settings
from huisheng.errors import ConfigError, ConfigErrors

EXAMPLE_CONFIG = "config/huisheng.example.toml"
DEFAULT_DATABASE = "sqlite:///huisheng.sqlite"


# --- the main config schema ----------------------------------------------------


def _check_timezone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"未知的时区 \"{name}\"（应为 IANA 时区名，如 \"Asia/Shanghai\"）"
    return None


def _check_database_url(url: str, inline: bool = True) -> str | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "无法解析的数据库 URL（应形如 \"sqlite:///huisheng.sqlite\" 或 \"postgresql://user@host/db\"）"
    if inline and parsed.password:
        return ("数据库密码不得直接写在配置文件中：请改用 url_env = \"ENV_VAR_NAME\"，"
                "或使用 PGPASSWORD / ~/.pgpass")
    if parsed.get_backend_name() not in ("sqlite", "postgresql", "postgres"):
        return f"不支持的数据库 \"{parsed.get_backend_name()}\"（应为 sqlite 或 postgresql）"
    return None


_POLLING_DOCS = {
    "interval": "seconds between polls of one account",
    "recent_window_days": "posts younger than this have their threads re-read on change",
    "window_refresh_interval": "seconds between re-reads of the recent window's timeline pages",
    "max_timeline_pages": "timeline pages read at most per poll",
    "max_comment_pages": "comment pages read at most per thread and poll",
    "thread_retry_base": "first wait before reading a thread again that came back far short of its counter, seconds",
    "thread_retry_cap": "longest wait between such reads, seconds",
    "tick": "dispatcher tick in seconds",
    "workers": "accounts polled at once",
    "lease_seconds": "a claimed account's lease",
    "backoff_base": "first backoff after an error, seconds",
    "backoff_cap": "longest backoff, seconds",
    "backoff_jitter": "random share added to each backoff (0–1)",
    "request_timeout": "the whole of one HTTP request, seconds",
    "stop_grace": "longest a stop (SIGTERM) takes, seconds",
}

_DAY = 86400
#: the sane range of each polling setting (both ends allowed): beyond it a
#: value is a typo or would break the daemon (a lease of 1e14 s overflows dates)
_POLLING_RANGES: dict[str, tuple[float, float]] = {
    "interval": (1, 30 * _DAY),
    "recent_window_days": (1, 366),
    "window_refresh_interval": (1, 30 * _DAY),
    "max_timeline_pages": (1, 1000),
    "max_comment_pages": (1, 1000),
    "thread_retry_base": (1, 30 * _DAY),
    "thread_retry_cap": (1, 30 * _DAY),
    "tick": (0.01, 3600),
    "workers": (1, 64),
    "lease_seconds": (1, 7 * _DAY),
    "backoff_base": (0.01, 7 * _DAY),
    "backoff_cap": (0.01, 30 * _DAY),
    "backoff_jitter": (0, 1),
    "request_timeout": (0.1, 3600),
    "stop_grace": (1, 3600),
}


def _polling_table() -> Table:
    defaults = PollingSettings()
    items = {}
    for f in fields(PollingSettings):
        value = getattr(defaults, f.name)
        kind = "float" if isinstance(value, float) else "int"
        low, high = _POLLING_RANGES.get(f.name, (None, None))
        items[f.name] = Key(kind, default=value, positive=f.name != "backoff_jitter", low=low, high=high,
                            doc=_POLLING_DOCS.get(f.name, ""))
    return Table(items, doc="polling defaults", check=_check_polling)


def _check_polling(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    if values["backoff_base"] > values["backoff_cap"]:
        return [("backoff_cap", f"backoff_cap（{values['backoff_cap']:g}）不得小于 backoff_base"
                                f"（{values['backoff_base']:g}）")]
    return []


_PACE_ITEMS = {
    "min_interval": Key("float", low=0.001, high=3600, doc="minimum seconds between request starts per host"),
    "concurrency": Key("int", low=1, high=64, doc="requests in flight at once per host"),
    "interval": Key("int", low=1, high=30 * _DAY, doc="seconds between polls of one account on this platform"),
}

def _platform_table(name: str) -> Table | str:
    from huisheng import adapters

    installed = adapters.available()
    if name not in installed:
        known = "、".join(sorted(installed)) or "无"
        return f"未安装平台 \"{name}\" 的适配器（已安装：{known}）"
    try:
        own = adapters.load(name).options_schema
    except Exception as exc:  # a broken plugin: say which, without a traceback
        return f"平台 \"{name}\" 的适配器无法加载（{type(exc).__name__}），无法检查此表中的设置"
    return Table({**_PACE_ITEMS, **(own.items if own is not None else {})},
                 check=own.check if own is not None else None)


TOP_KEYS: dict[str, Any] = {
    "timezone": Key("str", default="Asia/Shanghai", check=_check_timezone,
                    doc="the district's time zone (office hours, digests, reports)"),
    "log_level": Key("str", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    "matrix": Key("str", doc="the matrix: a folder holding matrix.toml, or the file itself"),
    "rules": Key("str", doc="the decision rules (YAML); absent: the packaged defaults"),
    "database": Table({
        "url": Key("str", check=_check_database_url, doc="SQLAlchemy URL"),
        "url_env": EnvKey("url", doc="variable holding the URL (when it carries a password)",
                          required=lambda values: values.get("url_env") is not None),
    }),
    "polling": _polling_table(),
    "platforms": Table(children=_platform_table),
}


def register_table(name: str, table: Table) -> None:
    """Declare a top-level table for a later feature (``[mail]``, ``[sla]``…).

    Its validated values (defaults filled) appear in ``Settings.extra[name]``.
    """
    if name in TOP_KEYS:
        raise ValueError(f"config table {name!r} is already declared")
    TOP_KEYS[name] = table


#: modules that declare their tables with register_table when imported; imported
#: lazily by load_settings (they import this module, so not at the top)
FEATURE_MODULES = ["huisheng.flags.sla", "huisheng.flags.relearn", "huisheng.reports.compliance",
                   "huisheng.notify.schedule", "huisheng.notify.mail", "huisheng.web.config",
                   "huisheng.scale.settings"]


def _register_features() -> None:
    for module in FEATURE_MODULES:
        importlib.import_module(module)


_CORE = ("timezone", "log_level", "matrix", "rules", "database", "polling", "platforms")


# --- loading -----------------------------------------------------------------


def missing_config_message(path: Path) -> str:
    return (f"配置文件不存在。请复制示例配置创建它：cp {EXAMPLE_CONFIG} {path}，"
            f"再按其中注释修改（也可用 --config 或环境变量 HUISHENG_CONFIG 指定其他路径）")


def resolve_database_url(url: str, base: Path) -> str:
    """A relative SQLite file resolves against ``base`` (the config's folder)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return url
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    if Path(database).is_absolute():
        return url
    return parsed.set(database=str((base / database).resolve())).render_as_string(hide_password=False)


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, validate and resolve the main config.  ``environ`` defaults to
    ``os.environ`` (secrets are looked up there).  Raises :class:`ConfigError`
    (usually :class:`ConfigErrors`, holding every problem found)."""
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise ConfigError("应为配置文件，实际为文件夹", file=str(path))
        raise ConfigError(missing_config_message(path), file=str(path))
    data, lines = parse_toml(path)
    _register_features()
    validator = Validator(path, lines, os.environ if environ is None else environ)
    values = validator.table(data, Table(TOP_KEYS))
    if validator.errors:
        raise ConfigErrors(validator.errors)
    base = path.resolve().parent

    database = values["database"]
    url = database["url"] or DEFAULT_DATABASE
    if database["url_env"] is not None:
        url = database["url"]  # the SecretStr from the environment
        problem = _check_database_url(url, inline=False)
        if problem:
            raise ConfigError(f"环境变量 {database['url_env']} 中的数据库 URL 无效：{problem}",
                              file=str(path), key="database.url_env",
                              line=lines.line(("database", "url_env")))
    settings_url = resolve_database_url(url, base)
    if isinstance(url, SecretStr):  # it may hold a password: keep it out of reprs
        settings_url = SecretStr(settings_url)

    matrix = values["matrix"]
    platforms = {}
    for name, table in values["platforms"].items():
        platforms[name] = _platform_settings(name, table)
    return Settings(
        path=path.resolve(),
        database_url=settings_url,
        timezone=values["timezone"],
        matrix_path=(base / matrix).resolve() if matrix else None,
        polling=PollingSettings(**values["polling"]),
        platforms=platforms,
        log_level=values["log_level"],
        rules_path=Path(os.path.abspath(base / values["rules"])) if values["rules"] else None,
        extra={k: v for k, v in values.items() if k not in _CORE},
    )


def _platform_settings(name: str, table: Mapping[str, Any]) -> PlatformSettings:
    min_interval, concurrency = table["min_interval"], table["concurrency"]
    if min_interval is None or concurrency is None:
        default = _default_pace(name)
        min_interval = default.min_interval if min_interval is None else min_interval
        concurrency = default.concurrency if concurrency is None else concurrency
    options, secret_env = {}, {}
    for key, value in table.items():
        if key in _PACE_ITEMS:
            continue
        if key.endswith("_env"):
            if value is not None:
                secret_env[key[:-4]] = value
            continue
        if value is not None:
            options[key] = value
    return PlatformSettings(name=name, pace=Pace(min_interval=min_interval, concurrency=concurrency),
                            interval=table["interval"], options=options, secret_env=secret_env)


def _default_pace(name: str) -> Pace:
    from huisheng import adapters

    return adapters.load(name).default_pace  # loaded once already, to validate its table
