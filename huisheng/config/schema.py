"""The one schema machinery for huisheng's files: the main config (TOML) and
the decision rules (YAML) are both validated by it.

Validation is declarative: each table is a :class:`Table` of :class:`Key`
(a plain value), :class:`EnvKey` (``<name>_env``: the name of an environment
variable holding a secret) and nested tables.  Every key is known, so an
unknown key is an error.  Every error names the file, the dotted key path and
the line: :class:`KeyLines` finds a TOML key's line by scanning the text (tomllib
does not report it); a YAML reader passes its own node lines.  Errors are
collected, not stopped at the first, and raised together as
:class:`~huisheng.errors.ConfigErrors`.  Messages are for district staff, hence
Chinese.
"""


from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from huisheng.errors import ConfigError

#: key names that would put a secret inline (matched as a word of the key name)
SECRET_WORDS = ("cookie", "cookies", "password", "passwd", "pwd", "token", "secret", "apikey",
                "api_key", "credential", "credentials")


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
