"""The main config file (TOML) → :class:`~huisheng.monitor.settings.Settings`.

Validation is declarative: each table is a :class:`Table` of :class:`Key`
(a plain value), :class:`EnvKey` (``<name>_env``: the name of an environment
variable holding a secret) and nested tables.  Every key is known, so an
unknown key is an error; later features add their own top-level table with
:func:`register_table` and find its validated values in ``Settings.extra``.

Every error names the file, the dotted key path and the line.  tomllib does not
report where a key sits, so :class:`KeyLines` finds it by scanning the text.
Errors are collected, not stopped at the first, and raised together as
:class:`ConfigErrors`.  Messages are for district staff, hence Chinese.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from huisheng.adapters.base import Pace
from huisheng.errors import ConfigError
from huisheng.monitor.settings import PlatformSettings, PollingSettings, Settings

EXAMPLE_CONFIG = "config/huisheng.example.toml"
DEFAULT_DATABASE = "sqlite:///huisheng.sqlite"

#: key names that would put a secret inline (matched as a word of the key name)
SECRET_WORDS = ("cookie", "cookies", "password", "passwd", "pwd", "token", "secret", "apikey",
                "api_key", "credential", "credentials")


class ConfigErrors(ConfigError):
    """Several config errors at once; ``str()`` gives one line per error."""

    def __init__(self, errors: list[ConfigError]):
        # in file order: schema errors and cross-checks come out interleaved
        self.errors = tuple(sorted(errors, key=lambda e: (e.file or "", e.line or 0)))
        first = self.errors[0]
        super().__init__(first.message, file=first.file, key=first.key, line=first.line)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class SecretStr(str):
    """A secret resolved from the environment: a plain ``str`` to use, but its
    ``repr`` (what ends up in logs and tracebacks of records) hides it."""

    def __repr__(self) -> str:
        return "SecretStr('***')"


# --- locating keys in TOML text ------------------------------------------------

Path_ = tuple[str | int, ...]

_BARE = r"[A-Za-z0-9_\-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY_PART = rf"(?:{_BARE}|{_QUOTED})"
_KEY_RE = re.compile(rf"\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")
_HEADER_RE = re.compile(rf"\s*(\[\[?)\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*\]\]?")
_PART_RE = re.compile(_KEY_PART)


def _split_key(text: str) -> list[str]:
    parts = []
    for m in _PART_RE.finditer(text):
        part = m.group(0)
        if part[0] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return parts


def _strip_strings(line: str) -> str:
    """The line without string contents and comments (to count brackets)."""
    out = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', '""', line)
    return out.split("#", 1)[0]


class KeyLines:
    """Where each key (a path with 1-based array-of-tables indexes) is defined.

    A heuristic scanner, not a parser: the file has already parsed, so it only
    needs to follow headers, ``key =`` lines, multi-line strings and arrays.
    """

    def __init__(self, text: str):
        self.lines: dict[Path_, int] = {}
        counts: dict[Path_, int] = {}
        current: Path_ = ()
        depth = 0  # open brackets/braces of a multi-line value
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string:
                if in_string in line:
                    in_string = None
                continue
            if depth > 0:
                stripped = _strip_strings(line)
                depth += stripped.count("[") + stripped.count("{")
                depth -= stripped.count("]") + stripped.count("}")
                continue
            header = _HEADER_RE.match(line)
            if header and not _KEY_RE.match(line):
                names = _split_key(header.group(2))
                if header.group(1) == "[[":
                    base = self._resolve(names[:-1], counts) + (names[-1],)
                    counts[base] = counts.get(base, 0) + 1
                    self.lines.setdefault(base, number)
                    current = base + (counts[base],)
                else:
                    current = self._resolve(names, counts)
                self.lines.setdefault(current, number)
                continue
            key = _KEY_RE.match(line)
            if not key:
                continue
            path = current + tuple(_split_key(key.group(1)))
            self.lines.setdefault(path, number)
            rest = line[key.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) == 1:
                    in_string = quote
            if in_string is None:
                stripped = _strip_strings(rest)
                depth = (stripped.count("[") + stripped.count("{")
                         - stripped.count("]") - stripped.count("}"))
                depth = max(depth, 0)

    def _resolve(self, names: list[str], counts: dict[Path_, int]) -> Path_:
        # a header inside an array of tables belongs to its latest element
        path: Path_ = ()
        for name in names:
            path = path + (name,)
            if path in counts:
                path = path + (counts[path],)
        return path

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, else of its nearest defined parent."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None


def show_path(path: Path_) -> str:
    """``('account', 17, 'unit')`` → ``account[17].unit``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def parse_toml(path: Path, what: str = "配置文件") -> tuple[dict[str, Any], KeyLines]:
    """Read and parse a TOML file; syntax errors carry their line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{what}不存在", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what}不是 UTF-8 编码（{exc.reason}）", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"无法读取{what}：{exc.strerror}", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ConfigError("TOML 嵌套过深", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line = int(where.group(1)) if where else None
        detail = message[:where.start()].strip() if where else message
        column = f"，第 {where.group(2)} 列" if where else ""
        raise ConfigError(f"TOML 语法错误{column}：{detail}", file=str(path), line=line) from None
    return data, KeyLines(text)


# --- the declarative schema ----------------------------------------------------

_TYPE_NAMES = {
    "int": "整数（integer）", "float": "数字（number）", "str": "字符串（string）",
    "bool": "布尔值 true/false（boolean）", "str_list": "字符串数组（array of strings）",
    "table": "表（table）", "table_list": "表数组（[[...]]）",
}


def _actual(value: Any) -> str:
    if isinstance(value, bool):
        return "布尔值"
    if isinstance(value, int):
        return "整数"
    if isinstance(value, float):
        return "小数"
    if isinstance(value, str):
        return "字符串"
    if isinstance(value, list):
        return "数组"
    if isinstance(value, dict):
        return "表"
    return type(value).__name__


def _number(value: float) -> str:
    if isinstance(value, int) and abs(value) >= 10**12:
        try:
            return f"{value:.3g}"  # a 40-digit integer reads better as 1e+40
        except OverflowError:
            return "小于 -1e+308 的整数" if value < 0 else "大于 1e+308 的整数"
    return str(value) if isinstance(value, int) else f"{value:g}"


@dataclass(frozen=True)
class Key:
    """A plain value.  ``kind``: int, float, str, bool or str_list.  ``check``
    returns an error text (Chinese, saying what was expected) or None.

    A number is always finite (NaN and infinity are refused) and, with
    ``low``/``high``, inside that range (both ends included)."""

    kind: str
    default: Any = None
    required: bool = False
    doc: str = ""
    positive: bool = False
    choices: tuple[str, ...] = ()
    check: Callable[[Any], str | None] | None = None
    low: float | None = None
    high: float | None = None

    def expected(self) -> str:
        text = _TYPE_NAMES[self.kind]
        if self.low is not None and self.high is not None:
            text = f"介于 {_number(self.low)} 到 {_number(self.high)} 之间的{text}"
        elif self.positive:
            text = "正" + text
        if self.choices:
            text += "，取值为 " + "、".join(f'"{c}"' for c in self.choices) + " 之一"
        return text

    def validate(self, value: Any) -> tuple[Any, str | None]:
        kind = self.kind
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "str": isinstance(value, str),
            "bool": isinstance(value, bool),
            "str_list": isinstance(value, list) and all(isinstance(v, str) for v in value),
        }[kind]
        if not ok:
            actual = "含非字符串元素的数组" if kind == "str_list" and isinstance(value, list) else _actual(value)
            return None, f"应为{self.expected()}，实际为{actual}"
        if kind == "float":
            try:
                value = float(value)
            except OverflowError:  # an integer of hundreds of digits
                value = math.inf
            if not math.isfinite(value):  # TOML allows nan and inf; no setting means them
                return None, f"应为{'' if self.low is not None else '有限的'}{self.expected()}，实际为 {value}"
        if kind == "str_list":
            value = tuple(value)
        if kind in ("str", "str_list") and any("\x00" in v for v in ((value,) if kind == "str" else value)):
            # no setting means it, and paths and URLs holding one break deep in the OS
            return None, "不得包含 NUL 字符（\\u0000）"
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return None, f"应为{self.expected()}，实际为 {_number(value)}"
        if self.positive and value <= 0:
            return None, f"应为{self.expected()}（大于 0），实际为 {value}"
        if self.choices and value not in self.choices:
            return None, f"应为{self.expected()}，实际为 \"{value}\""
        if self.check is not None:
            problem = self.check(value)
            if problem:
                return None, problem
        return value, None


@dataclass(frozen=True)
class EnvKey:
    """``<target>_env = "VAR"``: the secret ``target`` comes from environment
    variable VAR.  ``required(values)`` says whether the secret is needed given
    the table's other values (an unset variable is then an error)."""

    target: str
    doc: str = ""
    required: Callable[[Mapping[str, Any]], bool] = lambda values: False


@dataclass(frozen=True)
class Table:
    """A TOML table.  ``items`` maps key names to :class:`Key`, :class:`EnvKey`
    (under ``<target>_env``), nested :class:`Table` or :class:`Many`.
    ``children`` makes a table of free-named sub-tables (``[platforms.NAME]``):
    it returns the schema for a name, or an error text."""

    items: Mapping[str, Any] = field(default_factory=dict)
    doc: str = ""
    children: Callable[[str], Table | str] | None = None
    #: a check across the table's validated values: (key name, error text) pairs
    check: Callable[[Mapping[str, Any]], list[tuple[str, str]]] | None = None


@dataclass(frozen=True)
class Many:
    """An array of tables (``[[name]]``)."""

    table: Table


def _is_secret_name(name: str) -> bool:
    words = re.split(r"[_\-.]", name.lower())
    return name.lower() in SECRET_WORDS or any(w in SECRET_WORDS for w in words)


class Validator:
    """Checks parsed TOML against a schema, collecting every error."""

    def __init__(self, file: Path, lines: KeyLines, environ: Mapping[str, str]):
        self.file = file
        self.lines = lines
        self.environ = environ
        self.errors: list[ConfigError] = []

    def error(self, path: Path_, message: str) -> None:
        self.errors.append(ConfigError(message, file=str(self.file), key=show_path(path) or None,
                                       line=self.lines.line(path)))

    def table(self, values: Mapping[str, Any], schema: Table, path: Path_ = ()) -> dict[str, Any]:
        """Validated values with defaults filled; secrets as :class:`SecretStr`
        under their target name, their variable names under ``"<target>_env"``."""
        if schema.children is not None:
            return self._children(values, schema, path)
        out: dict[str, Any] = {}
        allowed = ", ".join(schema.items)
        for name, value in values.items():
            spec = schema.items.get(name)
            here = path + (name,)
            if spec is None:
                if _is_secret_name(name):
                    self.error(here, f"密钥不得直接写在配置文件中：请改用 {name}_env = \"ENV_VAR_NAME\"，"
                                     f"并在环境变量（如 /etc/huisheng/secrets.env）中设置其值")
                else:
                    self.error(here, f"未知的键 \"{name}\"（此处允许的键：{allowed or '无'}）")
                continue
            if isinstance(spec, Key):
                checked, problem = spec.validate(value)
                if problem:
                    self.error(here, problem)
                    checked = spec.default  # so later checks still run on the rest
                out[name] = checked
            elif isinstance(spec, EnvKey):
                if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
                    self.error(here, "应为环境变量名（字母、数字、下划线，如 \"HUISHENG_WEIBO_COOKIE\"）")
                else:
                    out[name] = value
            elif isinstance(spec, Table):
                if not isinstance(value, dict):
                    self.error(here, f"应为表（[{show_path(here)}]），实际为{_actual(value)}")
                else:
                    out[name] = self.table(value, spec, here)
            elif isinstance(spec, Many):
                if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                    self.error(here, f"应为表数组（[[{name}]]），实际为{_actual(value)}")
                else:
                    out[name] = [self.table(v, spec.table, here + (i,))
                                 for i, v in enumerate(value, start=1)]
        for name, spec in schema.items.items():
            here = path + (name,)
            if isinstance(spec, Key) and name not in out and name not in values:
                if spec.required:
                    self.error(path, f"缺少必填的键 \"{name}\"（应为{spec.expected()}）")
                else:
                    out[name] = spec.default
            elif isinstance(spec, Table) and name not in values:
                if any(isinstance(k, Key) and k.required for k in spec.items.values()):
                    self.error(path, f"缺少 [{show_path(here)}] 表" + (f"（{spec.doc}）" if spec.doc else ""))
                else:
                    out[name] = self.table({}, spec, here)
            elif isinstance(spec, Many) and name not in values:
                out[name] = []
        for name, spec in schema.items.items():
            if isinstance(spec, EnvKey):
                self._resolve_env(out, name, spec, path)
        if schema.check is not None:
            for name, problem in schema.check(out):
                self.error(path + (name,), problem)
        return out

    def _children(self, values: Mapping[str, Any], schema: Table, path: Path_) -> dict[str, Any]:
        out = {}
        for name, value in values.items():
            here = path + (name,)
            child = schema.children(name)
            if isinstance(child, str):
                self.error(here, child)
            elif not isinstance(value, dict):
                self.error(here, f"应为表（[{show_path(here)}]），实际为{_actual(value)}")
            else:
                out[name] = self.table(value, child, here)
        return out

    def _resolve_env(self, out: dict[str, Any], name: str, spec: EnvKey, path: Path_) -> None:
        variable = out.get(name)
        out.setdefault(name, None)
        if variable is not None and out.get(spec.target) is not None:
            self.error(path + (name,), f"{spec.target} 与 {name} 只能写一个")
            return
        out.setdefault(spec.target, None)
        if variable is None:
            if spec.required(out):
                self.error(path + (name,), f"缺少 {name}：需要 {spec.target}，"
                                           f"请用 {name} = \"ENV_VAR_NAME\" 指定保存它的环境变量")
            return
        value = self.environ.get(variable)
        if value:
            out[spec.target] = SecretStr(value)
        elif spec.required(out):
            self.error(path + (name,), f"环境变量 {variable} 未设置或为空（{name} 指向它，此处需要 "
                                       f"{spec.target}）")


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


def _check_url(url: str) -> str | None:
    if not re.match(r"https?://[^/\s]+", url):
        return f"应为以 http:// 或 https:// 开头的地址，实际为 \"{url}\""
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

WEIBO_MODES = ("auto", "mobile", "ajax")

#: adapter options per platform (beside the pace keys every platform has)
PLATFORM_OPTIONS: dict[str, Mapping[str, Any]] = {
    "weibo": {
        "base_url": Key("str", default="https://m.weibo.cn", check=_check_url,
                        doc="m.weibo.cn API (the simulator's address in tests and the demo)"),
        "ajax_base_url": Key("str", default="https://weibo.com", check=_check_url,
                             doc="weibo.com/ajax fallback API"),
        "mode": Key("str", default="auto", choices=WEIBO_MODES,
                    doc="auto: m.weibo.cn, weibo.com/ajax when walled; mobile or ajax only"),
        "cookie_env": EnvKey("cookie", doc="variable holding a logged-in weibo.com cookie",
                             required=lambda values: values.get("mode") == "ajax"),
    },
}
#: a third-party adapter without declared options gets these
GENERIC_OPTIONS: Mapping[str, Any] = {
    "base_url": Key("str", check=_check_url, doc="the platform API's base URL"),
    "cookie_env": EnvKey("cookie", doc="variable holding a cookie"),
}


def _platform_table(name: str) -> Table | str:
    from huisheng import adapters

    installed = adapters.available()
    if name not in installed:
        known = "、".join(sorted(installed)) or "无"
        return f"未安装平台 \"{name}\" 的适配器（已安装：{known}）"
    return Table({**_PACE_ITEMS, **PLATFORM_OPTIONS.get(name, GENERIC_OPTIONS)})


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
                   "huisheng.notify.schedule", "huisheng.notify.mail", "huisheng.web.config"]


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
        platforms[name] = _platform_settings(name, table, path, lines)
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


def _platform_settings(name: str, table: Mapping[str, Any], path: Path, lines: KeyLines
                       ) -> PlatformSettings:
    min_interval, concurrency = table["min_interval"], table["concurrency"]
    if min_interval is None or concurrency is None:
        default = _default_pace(name, path, lines)
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


def _default_pace(name: str, path: Path, lines: KeyLines) -> Pace:
    from huisheng import adapters

    key = ("platforms", name)
    try:
        return adapters.load(name).default_pace
    except ConfigError as exc:
        raise ConfigError(exc.message, file=str(path), key=show_path(key), line=lines.line(key)) from None
    except Exception as exc:  # a broken plugin: say which, without a traceback
        raise ConfigError(f"平台 \"{name}\" 的适配器无法加载（{type(exc).__name__}）；"
                          f"请在此表中写明 min_interval 与 concurrency，或修复该适配器",
                          file=str(path), key=show_path(key), line=lines.line(key)) from None
