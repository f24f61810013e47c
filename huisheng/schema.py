"""The one schema machinery for huisheng's files: the main config (TOML), the
matrix and the decision rules (YAML) are validated by it, and each platform
adapter declares its own config options with it (hence its place below the
adapters).

Validation is declarative: each table is a :class:`Table` of :class:`Key`
(a plain value), :class:`EnvKey` (``<name>_env``: the name of an environment
variable holding a secret) and nested tables.  Every key is known, so an
unknown key is an error.  Every error names the file, the dotted key path and
the line, found by a :class:`Locator`: :class:`KeyLines` scans TOML text
for a key's line (tomllib does not report it), :class:`YamlLines` keeps the
line of every YAML node.  Errors are collected, not stopped at the first, and
raised together as :class:`~huisheng.errors.ConfigErrors`.  Messages are for
district staff, hence Chinese, and speak the file's syntax (a TOML table is a
YAML mapping).
"""


from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import yaml

from huisheng.errors import ConfigError

#: key names that would put a secret inline (matched as a word of the key name)
SECRET_WORDS = ("cookie", "cookies", "password", "passwd", "pwd", "token", "secret", "apikey",
                "api_key", "credential", "credentials")


class SecretStr(str):
    """A secret resolved from the environment: a plain ``str`` to use, but its
    ``repr`` (what ends up in logs and tracebacks of records) hides it."""

    def __repr__(self) -> str:
        return "SecretStr('***')"


# --- locating keys --------------------------------------------------------------

#: a key path; array items are numbered from 1, as people count them
Path_ = tuple[str | int, ...]


class Locator(Protocol):
    """Where a file defines each key path, and the file's syntax ("toml" or "yaml")."""

    syntax: str

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, else of its nearest defined parent."""

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
    """Where each key of a TOML text is defined (a :class:`Locator`).

    A heuristic scanner, not a parser: the file has already parsed, so it only
    needs to follow headers, ``key =`` lines, multi-line strings and arrays.
    """

    syntax = "toml"

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


class YamlLines:
    """Where each key and list item of a YAML document is (a :class:`Locator`),
    and the keys written twice (YAML loaders keep the last silently)."""

    syntax = "yaml"

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}
        #: (path, line) of each repeated key
        self.duplicates: list[tuple[Path_, int]] = []

    def line(self, path: Path_) -> int | None:
        for end in range(len(path), -1, -1):
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


def read_text(path: Path, what: str) -> str:
    """A UTF-8 file's text (a BOM is dropped); what goes wrong names the file."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{what}不存在", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what}不是 UTF-8 编码（{exc.reason}）", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"无法读取{what}：{exc.strerror}", file=str(path)) from None


def parse_toml(path: Path, what: str = "配置文件") -> tuple[dict[str, Any], KeyLines]:
    """Read and parse a TOML file; syntax errors carry their line."""
    text = read_text(path, what)
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


def parse_yaml(text: str, file: str) -> tuple[Any, YamlLines]:
    """Parse YAML text into plain values (None for an empty document) and the
    line of every key path; syntax errors carry their line and column."""
    lines = YamlLines()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        column = f"，第 {mark.column + 1} 列" if mark is not None else ""
        raise ConfigError(f"YAML 语法错误{column}：{problem}", file=file,
                          line=mark.line + 1 if mark is not None else None) from None
    except RecursionError:
        raise ConfigError("YAML 嵌套过深", file=file) from None
    constructor = yaml.constructor.SafeConstructor()

    def build(node: yaml.Node, path: Path_) -> Any:
        lines.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(constructor.construct_object(key_node))
                if key in out:
                    lines.duplicates.append((path + (key,), key_node.start_mark.line + 1))
                lines.lines[path + (key,)] = key_node.start_mark.line + 1
                out[key] = build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, path + (i,)) for i, item in enumerate(node.value, start=1)]
        return constructor.construct_object(node)

    try:
        return (build(node, ()) if node is not None else None), lines
    except RecursionError:
        raise ConfigError("YAML 嵌套过深", file=file) from None


# --- the declarative schema ----------------------------------------------------

_TYPE_NAMES = {
    "toml": {"int": "整数（integer）", "float": "数字（number）", "str": "字符串（string）",
             "bool": "布尔值 true/false（boolean）", "str_list": "字符串数组（array of strings）"},
    "yaml": {"int": "整数（integer）", "float": "数字（number）", "str": "字符串（string）",
             "bool": "true 或 false（布尔值）", "str_list": "字符串列表（list of strings）"},
}
#: what a list and a mapping are called in each syntax
_CONTAINERS = {"toml": ("数组", "表"), "yaml": ("列表", "映射")}


def _actual(value: Any, syntax: str = "toml") -> str:
    if isinstance(value, bool):
        return "布尔值"
    if isinstance(value, int):
        return "整数"
    if isinstance(value, float):
        return "小数"
    if isinstance(value, str):
        return "字符串"
    if isinstance(value, list):
        return _CONTAINERS[syntax][0]
    if isinstance(value, dict):
        return _CONTAINERS[syntax][1]
    return "空值" if value is None else type(value).__name__


def _should_be(expected: str) -> str:
    # a space between Chinese and a Latin word that follows it
    return f"应为 {expected}" if expected[:1].isascii() else f"应为{expected}"


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
    ``low``/``high``, inside that range (both ends included).  ``choices``
    holds for each string of a str_list; ``single`` lets a str_list be written
    as one string; ``expect`` says in the domain's words what is expected
    instead of the type's name."""

    kind: str
    default: Any = None
    required: bool = False
    doc: str = ""
    positive: bool = False
    choices: tuple[str, ...] = ()
    check: Callable[[Any], str | None] | None = None
    low: float | None = None
    high: float | None = None
    single: bool = False
    expect: str = ""

    def expected(self, syntax: str = "toml") -> str:
        if self.expect:
            return self.expect
        text = _TYPE_NAMES[syntax][self.kind]
        if self.low is not None and self.high is not None:
            text = f"介于 {_number(self.low)} 到 {_number(self.high)} 之间的{text}"
        elif self.positive:
            text = "正" + text
        if self.choices:
            text += "，取值为 " + "、".join(f'"{c}"' for c in self.choices) + " 之一"
        return text

    def validate(self, value: Any, syntax: str = "toml") -> tuple[Any, str | None]:
        kind = self.kind
        if self.single and isinstance(value, str):
            value = [value]
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "str": isinstance(value, str),
            "bool": isinstance(value, bool),
            "str_list": isinstance(value, list) and all(isinstance(v, str) for v in value),
        }[kind]
        if not ok:
            actual = (f"含非字符串元素的{_CONTAINERS[syntax][0]}" if kind == "str_list" and isinstance(value, list)
                      else _actual(value, syntax))
            return None, f"{_should_be(self.expected(syntax))}，实际为{actual}"
        if kind == "float":
            try:
                value = float(value)
            except OverflowError:  # an integer of hundreds of digits
                value = math.inf
            if not math.isfinite(value):  # TOML allows nan and inf; no setting means them
                return None, f"应为{'' if self.low is not None else '有限的'}{self.expected(syntax)}，实际为 {value}"
        if kind == "str_list":
            value = tuple(value)
        if kind in ("str", "str_list") and any("\x00" in v for v in ((value,) if kind == "str" else value)):
            # no setting means it, and paths and URLs holding one break deep in the OS
            return None, "不得包含 NUL 字符（\\u0000）"
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return None, f"{_should_be(self.expected(syntax))}，实际为 {_number(value)}"
        if self.positive and value <= 0:
            return None, f"{_should_be(self.expected(syntax))}（大于 0），实际为 {_number(value)}"
        if self.choices and kind == "str_list":
            unknown = [v for v in value if v not in self.choices]
            if unknown:
                return None, f"{_should_be(self.expected(syntax))}，实际含 " + "、".join(f'"{v}"' for v in unknown)
        elif self.choices and value not in self.choices:
            return None, f"{_should_be(self.expected(syntax))}，实际为 \"{value}\""
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
    """An array of tables (``[[name]]``; in YAML a list of mappings).  With
    ``shorthand``, an item may be a plain value instead: the value of that key
    of the table, the others at their defaults."""

    table: Table
    shorthand: str | None = None


def check_url(url: str) -> str | None:
    """A ``check`` for a key holding an HTTP(S) base address (adapters' options)."""
    if not re.match(r"https?://[^/\s]+", url):
        return f"应为以 http:// 或 https:// 开头的地址，实际为 \"{url}\""
    return None


def _is_secret_name(name: str) -> bool:
    words = re.split(r"[_\-.]", name.lower())
    return name.lower() in SECRET_WORDS or any(w in SECRET_WORDS for w in words)


class Validator:
    """Checks a parsed file against a schema, collecting every error.  A key
    whose value is null (YAML's ``key:`` with nothing after it) counts as absent."""

    def __init__(self, file: Path | str, lines: Locator, environ: Mapping[str, str]):
        self.file = file
        self.lines = lines
        self.syntax = lines.syntax
        self.environ = environ
        self.errors: list[ConfigError] = []

    def error(self, path: Path_, message: str, line: int | None = None) -> None:
        self.errors.append(ConfigError(message, file=str(self.file), key=show_path(path) or None,
                                       line=line or self.lines.line(path)))

    def _not_table(self, path: Path_, value: Any) -> None:
        where = f"（[{show_path(path)}]）" if self.syntax == "toml" else ""
        self.error(path, f"应为{_CONTAINERS[self.syntax][1]}{where}，实际为{_actual(value, self.syntax)}")

    def document(self, data: Any, schema: Table) -> dict[str, Any]:
        """A whole file's values (an empty YAML document is an empty table)."""
        if data is not None and not isinstance(data, dict):
            self._not_table((), data)
            data = None
        return self.table(data or {}, schema)

    def table(self, values: Mapping[str, Any], schema: Table, path: Path_ = ()) -> dict[str, Any]:
        """Validated values with defaults filled; secrets as :class:`SecretStr`
        under their target name, their variable names under ``"<target>_env"``."""
        values = {name: value for name, value in values.items() if value is not None}
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
                checked, problem = spec.validate(value, self.syntax)
                if problem:
                    self.error(here, problem)
                    checked = spec.default  # so later checks still run on the rest
                out[name] = checked
            elif isinstance(spec, EnvKey):
                if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
                    self.error(here, "应为环境变量名（字母、数字、下划线，如 \"HUISHENG_COOKIE\"）")
                else:
                    out[name] = value
            elif isinstance(spec, Table):
                if not isinstance(value, dict):
                    self._not_table(here, value)
                else:
                    out[name] = self.table(value, spec, here)
            elif isinstance(spec, Many):
                out[name] = self._many(value, spec, here)
        for name, spec in schema.items.items():
            here = path + (name,)
            if isinstance(spec, Key) and name not in out and name not in values:
                if spec.required:
                    self.error(path, f"缺少必填的键 \"{name}\"（{_should_be(spec.expected(self.syntax))}）")
                else:
                    out[name] = spec.default
            elif isinstance(spec, Table) and name not in values:
                if any(isinstance(k, Key) and k.required for k in spec.items.values()):
                    what = f"[{show_path(here)}] 表" if self.syntax == "toml" else f"映射 {show_path(here)}"
                    self.error(path, f"缺少 {what}" + (f"（{spec.doc}）" if spec.doc else ""))
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

    def _many(self, value: Any, spec: Many, path: Path_) -> list[dict[str, Any]]:
        if self.syntax == "toml":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                self.error(path, f"应为表数组（[[{path[-1]}]]），实际为{_actual(value)}")
                return []
        elif not isinstance(value, list):
            self.error(path, f"应为列表（list），实际为{_actual(value, self.syntax)}")
            return []
        out = []
        for i, item in enumerate(value, start=1):
            here = path + (i,)
            if isinstance(item, dict):
                out.append(self.table(item, spec.table, here))
            elif spec.shorthand is None:
                self._not_table(here, item)
            else:
                # the plain value stands for the whole item: its problems are the item's
                checked, problem = spec.table.items[spec.shorthand].validate(item, self.syntax)
                if problem:
                    self.error(here, problem)
                rest = Table({n: s for n, s in spec.table.items.items() if n != spec.shorthand})
                out.append({**self.table({}, rest, here), spec.shorthand: checked})
        return out

    def _children(self, values: Mapping[str, Any], schema: Table, path: Path_) -> dict[str, Any]:
        out = {}
        for name, value in values.items():
            here = path + (name,)
            child = schema.children(name)
            if isinstance(child, str):
                self.error(here, child)
            elif not isinstance(value, dict):
                self._not_table(here, value)
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
