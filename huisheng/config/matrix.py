"""The account matrix (政务新媒体矩阵): its file format, validation and CSV import.

A district keeps its matrix as ``matrix.toml`` in a folder (``load_matrix``
accepts the folder or the file)::

    [district]                      # the district itself (区), exactly one
    code = "spb"
    name = "沙坪坝区"
    admins = ["xinwen@example.org"]

    [[unit]]                        # a department (部门), street/town (街镇) or community/village (社区/村)
    code = "street-ciqikou"
    name = "磁器口街道"
    level = "street"                # department | street | community
    parent = "spb"                  # departments and streets: the district (default); communities: a street
    aliases = ["磁器口古镇"]         # place names for routing messages (landmarks, old names, schools)
    admins = ["ciqikou@example.org"]

    [[account]]
    platform = "PLATFORM"           # an installed adapter (huisheng adapters list)
    uid = "1234567890"              # the account's id, as the adapter checks it
    name = "磁器口街道"
    unit = "street-ciqikou"         # the owner unit (主办单位)
    poll_interval = 1800            # optional override, seconds
    admins = []                     # optional, in addition to the unit's admins
    enabled = true
    monitoring_start = 2026-11-01   # optional: comments before it are history (default: the
                                    # first successful poll minus [flags] history_grace_days)
    cookie_env = "HUISHENG_COOKIE_CIQIKOU"  # optional: the variable holding this account's own
                                    # logged-in cookie, to read its mention inbox (never the cookie)

Errors name the file, the key path (``account[17].unit``: the 17th
``[[account]]`` table, counting from 1) and the line.
:func:`import_csv` turns the spreadsheet districts already keep into a
:class:`~huisheng.config.settings.Matrix`; :func:`dump_matrix` writes one as
``matrix.toml`` text.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

from huisheng.schema import EnvKey, Key, KeyLines, Many, Table, Validator, parse_toml, show_path
from huisheng.config.settings import AccountSpec, Matrix, UnitSpec
from huisheng.errors import ConfigError, ConfigErrors
from huisheng.vocabulary import UnitLevel

MATRIX_FILE = "matrix.toml"
#: the level a unit's parent must have
PARENT_LEVEL = {"department": "district", "street": "district", "community": "street"}

_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def _check_code(code: str) -> str | None:
    if not _CODE_RE.fullmatch(code):
        return f"单位编码 \"{code}\" 无效（应为字母、数字、. _ -，以字母或数字开头，最长 64 个字符）"
    return None


def _check_emails(emails: tuple[str, ...]) -> str | None:
    bad = [e for e in emails if not _EMAIL_RE.fullmatch(e)]
    if bad:
        return "邮箱地址格式不正确：" + "、".join(f"\"{e}\"" for e in bad)
    return None


def _check_name(name: str) -> str | None:
    return None if name.strip() else "名称不能为空"


_START_RE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
START_HINT = "应为日期，如 2026-11-01 或 2026/11/1，可带时刻如 2026-11-01 08:00"


def parse_monitoring_start(text: str) -> date | datetime:
    """A matrix's ``monitoring_start``: a date (local midnight) or a date and
    time (local, or with its UTC offset).  Raises ValueError."""
    text = text.strip()
    try:
        return date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)
    except ValueError:
        pass
    m = _START_RE.fullmatch(text)
    if not m:
        raise ValueError(text)
    year, month, day, hour, minute, second = (int(g) if g else None for g in m.groups())
    if hour is None:
        return date(year, month, day)
    return datetime(year, month, day, hour, minute, second or 0)


def _check_start(text: str) -> str | None:
    try:
        parse_monitoring_start(text)
    except ValueError:
        return f"监测起始时间 \"{text}\" 无效（{START_HINT}）"
    return None


_UNIT_ITEMS = {
    "code": Key("str", required=True, check=_check_code, doc="stable unit code"),
    "name": Key("str", required=True, check=_check_name),
    "aliases": Key("str_list", default=(), doc="place names for routing"),
    "admins": Key("str_list", default=(), check=_check_emails),
}

SCHEMA = Table({
    "district": Table(dict(_UNIT_ITEMS), doc="区本身：code、name、admins；每个矩阵恰好一个"),
    "unit": Many(Table({
        **_UNIT_ITEMS,
        "level": Key("str", required=True, choices=UnitLevel.values()[1:]),
        "parent": Key("str", doc="parent unit code (default: the district)"),
    })),
    "account": Many(Table({
        "platform": Key("str", required=True),
        "uid": Key("str", required=True),
        "name": Key("str", required=True, check=_check_name),
        "unit": Key("str", required=True, doc="owner unit code"),
        "poll_interval": Key("int", low=1, high=30 * 86400),
        "admins": Key("str_list", default=(), check=_check_emails),
        "enabled": Key("bool", default=True),
        # a TOML date or date-time (or the same as a string)
        "monitoring_start": Key("str", check=_check_start, doc="comments before it are history"),
        # the variable's name only: the matrix is shared, a cookie is a password
        "cookie_env": EnvKey("cookie", doc="variable holding this account's own logged-in cookie "
                                           "(its mention inbox)"),
    })),
})


def matrix_file(path: Path) -> Path:
    """The matrix file for a folder or file path."""
    path = Path(path)
    return path / MATRIX_FILE if path.is_dir() else path


def load_matrix(path: Path) -> Matrix:
    """Read and validate a matrix (a folder holding ``matrix.toml``, or the
    file).  Raises :class:`ConfigErrors` listing every problem."""
    file = matrix_file(path)
    if not file.is_file():
        raise ConfigError(f"矩阵文件不存在（应为含 {MATRIX_FILE} 的文件夹或该文件本身；"
                          f"可用 huisheng matrix import 从台账 CSV 生成）", file=str(file))
    data, lines = parse_toml(file, what="矩阵文件")
    return _build(data, file, lines)


def parse_matrix_text(text: str, file: Path) -> Matrix:
    """Validate matrix TOML given as text (``file`` names it in errors)."""
    import tomllib

    return _build(tomllib.loads(text), file, KeyLines(text))


def _build(data: Mapping[str, Any], file: Path, lines: KeyLines) -> Matrix:
    from huisheng import adapters

    v = Validator(file, lines, environ={})
    values = v.table(_dates_as_text(data), SCHEMA)
    units: list[UnitSpec] = []
    unit_paths: list[tuple] = []
    district = values.get("district", {})
    if "district" in data and district.get("code") and district.get("name"):
        units.append(UnitSpec(code=district["code"], name=district["name"].strip(), level="district",
                              aliases=district["aliases"], admins=district["admins"]))
        unit_paths.append(("district",))
    district_code = units[0].code if units else None
    for i, u in enumerate(values.get("unit", []), start=1):
        if not all(u.get(k) for k in ("code", "name", "level")):
            continue  # already reported
        parent = u["parent"] if u["parent"] is not None else (
            district_code if u["level"] in ("department", "street") else None)
        if u["level"] == "community" and u["parent"] is None:
            v.error(("unit", i), "社区/村（community）必须写明 parent（所属街镇的单位编码）")
        units.append(UnitSpec(code=u["code"], name=u["name"].strip(), level=u["level"], parent=parent,
                              aliases=u["aliases"], admins=u["admins"]))
        unit_paths.append(("unit", i))

    by_code: dict[str, UnitSpec] = {}
    for unit, path in zip(units, unit_paths):
        if unit.code in by_code:
            v.error(path + ("code",), f"单位编码 \"{unit.code}\" 重复（每个单位的编码必须唯一）")
        else:
            by_code[unit.code] = unit
    for unit, path in zip(units, unit_paths):
        if unit.level == "district" or unit.parent is None:
            continue
        parent = by_code.get(unit.parent)
        want = PARENT_LEVEL[unit.level]
        if parent is None:
            v.error(path + ("parent",), f"上级单位 \"{unit.parent}\" 不存在（应为某个单位的 code）")
        elif parent.level != want:
            v.error(path + ("parent",),
                    f"{UnitLevel.label_of(unit.level)}（{unit.level}）的上级应为{UnitLevel.label_of(want)}（{want}），"
                    f"\"{unit.parent}\" 是{UnitLevel.label_of(parent.level)}（{parent.level}）")

    installed = adapters.available()
    accounts: list[AccountSpec] = []
    seen: dict[tuple[str, str], int] = {}
    for i, a in enumerate(values.get("account", []), start=1):
        here = ("account", i)
        if not all(a.get(k) for k in ("platform", "uid", "name", "unit")):
            continue
        platform, uid = a["platform"], a["uid"].strip()
        if platform not in installed:
            known = "、".join(sorted(installed)) or "无"
            v.error(here + ("platform",), f"未安装平台 \"{platform}\" 的适配器（已安装：{known}）")
        else:
            problem = _id_problem(platform, uid)
            if problem:
                v.error(here + ("uid",) if problem[0] else here + ("platform",), problem[1])
        if a["unit"] not in by_code:
            v.error(here + ("unit",), f"主办单位 \"{a['unit']}\" 不存在（应为某个单位的 code）")
        if (platform, uid) in seen:
            v.error(here + ("uid",), f"账号 {platform}:{uid} 重复（已见于 account[{seen[(platform, uid)]}]）")
        else:
            seen[(platform, uid)] = i
        start = a.get("monitoring_start")
        accounts.append(AccountSpec(platform=platform, uid=uid, name=a["name"].strip(), unit=a["unit"],
                                    poll_interval=a["poll_interval"], admins=a["admins"],
                                    enabled=a["enabled"],
                                    monitoring_start=parse_monitoring_start(start) if start else None,
                                    cookie_env=a["cookie_env"]))
    if v.errors:
        raise ConfigErrors(v.errors)
    return Matrix(units=tuple(units), accounts=tuple(accounts), source=file.resolve())


def _id_problem(platform: str, uid: str) -> tuple[bool, str] | None:
    """What is wrong with account id ``uid`` as its platform's adapter judges it
    (the same id on two platforms is two accounts); (whether the id is at
    fault, the error), or None."""
    from huisheng import adapters

    try:
        problem = adapters.load(platform).check_account_id(uid)
    except Exception as exc:  # a broken plugin: say which, without a traceback
        return False, f"平台 \"{platform}\" 的适配器无法加载（{type(exc).__name__}）"
    return (True, f"账号 ID \"{uid}\" 无效（应为{problem}）") if problem else None


def _dates_as_text(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """TOML dates and date-times of accounts' ``monitoring_start`` as ISO text,
    which the schema's string key checks."""
    accounts = data.get("account")
    if not isinstance(accounts, list):
        return data
    converted = [{**a, "monitoring_start": a["monitoring_start"].isoformat()}
                 if isinstance(a, dict) and isinstance(a.get("monitoring_start"), (date, datetime)) else a
                 for a in accounts]
    return {**data, "account": converted}


# --- writing -----------------------------------------------------------------


def _toml_str(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes
    return json.dumps(value, ensure_ascii=False)


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def dump_matrix(matrix: Matrix, header: str = "") -> str:
    """The matrix as ``matrix.toml`` text (what :func:`load_matrix` reads back)."""
    out = []
    if header:
        out += [f"# {line}".rstrip() for line in header.splitlines()] + [""]
    district = next(u for u in matrix.units if u.level == "district")

    def unit_body(unit: UnitSpec) -> list[str]:
        body = [f"code = {_toml_str(unit.code)}", f"name = {_toml_str(unit.name)}"]
        if unit.level != "district":
            body.append(f"level = {_toml_str(unit.level)}")
            if unit.parent != district.code or unit.level == "community":
                body.append(f"parent = {_toml_str(unit.parent or '')}")
        if unit.aliases:
            body.append(f"aliases = {_toml_list(unit.aliases)}")
        if unit.admins:
            body.append(f"admins = {_toml_list(unit.admins)}")
        return body

    out += ["[district]", *unit_body(district), ""]
    for unit in matrix.units:
        if unit.level != "district":
            out += ["[[unit]]", *unit_body(unit), ""]
    for account in matrix.accounts:
        out += ["[[account]]", f"platform = {_toml_str(account.platform)}",
                f"uid = {_toml_str(account.uid)}", f"name = {_toml_str(account.name)}",
                f"unit = {_toml_str(account.unit)}"]
        if account.poll_interval:
            out.append(f"poll_interval = {account.poll_interval}")
        if account.admins:
            out.append(f"admins = {_toml_list(account.admins)}")
        if not account.enabled:
            out.append("enabled = false")
        if account.monitoring_start is not None:
            out.append(f"monitoring_start = {account.monitoring_start.isoformat()}")
        if account.cookie_env:
            out.append(f"cookie_env = {_toml_str(account.cookie_env)}")
        out.append("")
    return "\n".join(out)


# --- CSV import ----------------------------------------------------------------

#: canonical column → accepted headers (Chinese as districts write them, English)
COLUMNS: dict[str, tuple[str, ...]] = {
    "unit_name": ("单位名称", "单位", "unit_name", "unit"),
    "unit_code": ("单位编码", "单位代码", "unit_code", "code"),
    "parent": ("上级单位", "上级", "parent", "parent_unit"),
    "level": ("单位级别", "级别", "level", "unit_level"),
    "aliases": ("别名", "地名别名", "aliases"),
    "unit_admins": ("单位管理员邮箱", "unit_admins"),
    "platform": ("平台", "platform"),
    "uid": ("账号ID", "账号id", "UID", "账号编号", "uid", "account_id"),
    "account_name": ("账号名称", "账号名", "account_name"),
    "admins": ("管理员邮箱", "账号管理员邮箱", "admins", "admin_emails"),
    "poll_interval": ("轮询间隔", "轮询间隔（秒）", "poll_interval"),
    "enabled": ("启用", "是否启用", "enabled"),
    "monitoring_start": ("监测起始", "监测起始时间", "监测开始时间", "监测起始日期", "monitoring_start"),
}
#: columns spreadsheets often carry that the matrix has no use for (phone
#: numbers are personal data and deliberately dropped)
IGNORED_COLUMNS = ("序号", "编号", "备注", "说明", "联系人", "联系电话", "电话", "no", "note", "notes",
                   "phone", "contact")
REQUIRED_COLUMNS = ("unit_name", "level", "platform", "uid", "account_name")

CSV_LEVELS = {
    "区": "district", "区级": "district", "district": "district",
    "部门": "department", "区级部门": "department", "department": "department",
    "街镇": "street", "街道": "street", "镇": "street", "乡": "street", "街道/镇": "street",
    "street": "street", "town": "street",
    "社区村": "community", "社区": "community", "村": "community", "社区/村": "community",
    "community": "community", "village": "community",
}


def csv_platforms() -> dict[str, str]:
    """What a spreadsheet's 平台 column may say (lower case) → platform name:
    each installed adapter's name and the names people call it by."""
    from huisheng import adapters

    out: dict[str, str] = {}
    for name in adapters.available():
        try:
            aliases = adapters.load(name).aliases
        except Exception:  # a broken plugin is named by its platform alone; load_matrix says what is wrong
            aliases = ()
        out.update({alias.lower(): name for alias in (name, *aliases)})
    return out


CODE_PREFIX = {"district": "district", "department": "dept", "street": "street", "community": "comm"}
_SEPARATORS = re.compile(r"[;；,，、\s]+")
_INTERVAL_RE = re.compile(r"(\d+)\s*(s|秒|m|min|分|分钟|h|小时|个小时)?", re.IGNORECASE)
_INTERVAL_UNITS = {None: 1, "s": 1, "秒": 1, "m": 60, "min": 60, "分": 60, "分钟": 60, "h": 3600,
                   "小时": 3600, "个小时": 3600}
_INTERVAL_WORDS = {"半小时": 1800, "半个小时": 1800}
#: the 启用 column: yes/no as districts write it
_ENABLED_WORDS = {"是": True, "启用": True, "true": True, "yes": True, "1": True,
                  "否": False, "停用": False, "禁用": False, "false": False, "no": False, "0": False}
#: a number Excel shows in scientific notation (1.23457E+09): its digits are gone
_SCIENTIFIC_RE = re.compile(r"\d+(?:\.\d+)?[eE]\+?\d+")
#: how many of the top rows may hold a title above the header
HEADER_SEARCH_ROWS = 5


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM) or GBK/GB18030, as spreadsheet programs save it."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


@dataclass
class _CsvUnit:
    name: str
    level: str
    code: str | None
    parent_ref: str | None
    aliases: tuple[str, ...]
    admins: tuple[str, ...]
    row: int


def read_csv(text: str) -> list[list[str]]:
    """Every row of a spreadsheet export.  A cell may be as long as the file
    itself (the csv module's default refuses one over 128 KiB)."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    return list(csv.reader(io.StringIO(text, newline="")))


class _CsvReader:
    def __init__(self, file: Path, text: str):
        self.file = file
        self.errors: list[ConfigError] = []
        rows = read_csv(text)
        self.rows = [(n, r) for n, r in enumerate(rows, start=1) if any(c.strip() for c in r)]
        self.columns: dict[str, int] = {}
        self.headers: dict[str, str] = {}

    def column_key(self, column: str | None) -> str | None:
        if column is None:
            return None
        return f"第 {_column_letter(self.columns[column])} 列「{self.headers[column]}」"

    def error(self, row: int, column: str | None, message: str) -> None:
        self.errors.append(ConfigError(message, file=str(self.file), key=self.column_key(column),
                                       line=row))

    def read_header(self) -> bool:
        if not self.rows:
            self.errors.append(ConfigError("CSV 文件为空", file=str(self.file)))
            return False
        lookup = {alias.lower(): canon for canon, aliases in COLUMNS.items() for alias in aliases}
        # Sheets often carry a title (the district, a date) above the header: the
        # header is the first top row naming at least two known columns.
        for skip, (_, row) in enumerate(self.rows[:HEADER_SEARCH_ROWS]):
            if sum(1 for cell in row if cell.strip().lower() in lookup) >= 2:
                self.rows = self.rows[skip:]
                break
        number, header = self.rows[0]
        for index, raw in enumerate(header):
            name = raw.strip()
            canon = lookup.get(name.lower())
            if canon is None:
                if name and name.lower() not in IGNORED_COLUMNS:
                    accepted = "、".join(a[0] for a in COLUMNS.values())
                    self.errors.append(ConfigError(
                        f"未知的列名「{name}」（可用的列：{accepted}）", file=str(self.file),
                        key=f"第 {_column_letter(index)} 列", line=number))
                continue
            if canon in self.columns:
                self.errors.append(ConfigError(f"列「{name}」重复", file=str(self.file),
                                               key=f"第 {_column_letter(index)} 列", line=number))
                continue
            self.columns[canon] = index
            self.headers[canon] = name
        missing = [COLUMNS[c][0] for c in REQUIRED_COLUMNS if c not in self.columns]
        if missing:
            self.errors.append(ConfigError("缺少必需的列：" + "、".join(missing), file=str(self.file),
                                           line=number))
        return not self.errors

    def cell(self, row: list[str], column: str) -> str:
        index = self.columns.get(column)
        if index is None or index >= len(row):
            return ""
        return row[index].strip()


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(p for p in _SEPARATORS.split(text) if p)


def _unit_key(units: Mapping[tuple, _CsvUnit], code: str | None, name: str) -> tuple:
    """Rows name a unit by code, else by name (matching a unit seen with a code)."""
    if code:
        return ("code", code)
    same = [k for k, u in units.items() if u.name == name]
    return same[0] if len(same) == 1 else ("name", name)


def _identity(level: str, name: str, parent_name: str | None) -> tuple:
    """What makes a unit the same unit across imports: its name (and, for a
    community, its street's name)."""
    return (level, name, parent_name if level == "community" else None)


def _generate_codes(units: dict[tuple, _CsvUnit], order: list[tuple], parents: dict[tuple, _CsvUnit | None],
                    previous: Matrix | None) -> None:
    """Codes for the units the spreadsheet gives none.  A unit already in
    ``previous`` (the matrix this import replaces) keeps its code, so a re-import
    changes nothing in the database.  Others get a code a person can read and
    type: ``district``, ``dept-03``, ``street-07``, a community its street's code
    and a number (``street-07-02``); numbers are taken in spreadsheet order and
    never repeat a code ``previous`` used (a removed unit's code is not given to
    another unit)."""
    used = {u.code for u in units.values() if u.code}
    blocked = set(used)
    kept: dict[tuple, str] = {}
    if previous is not None:
        by_code = {u.code: u for u in previous.units}
        blocked |= set(by_code)
        for u in previous.units:
            parent = by_code.get(u.parent) if u.parent else None
            kept.setdefault(_identity(u.level, u.name, parent.name if parent else None), u.code)

    def new_code(prefix: str) -> str:
        if prefix == "district" and prefix not in blocked:
            return prefix
        n = 1
        while f"{prefix}-{n:02d}" in blocked:
            n += 1
        return f"{prefix}-{n:02d}"

    # communities last: their codes start with their street's
    for key in sorted((k for k in order if units[k].code is None), key=lambda k: units[k].level == "community"):
        unit, parent = units[key], parents[key]
        code = kept.get(_identity(unit.level, unit.name, parent.name if parent else None))
        if code is None or code in used:
            prefix = CODE_PREFIX[unit.level]
            if unit.level == "community" and parent is not None and parent.code and len(parent.code) <= 60:
                prefix = parent.code
            code = new_code(prefix)
        unit.code = code
        used.add(code)
        blocked.add(code)


def import_csv(path: Path, previous: Matrix | None = None) -> Matrix:
    """The spreadsheet at ``path`` as a validated :class:`Matrix`.

    One row per account, with its owner unit's columns; a row with no account
    columns declares a unit alone.  ``管理员邮箱`` on an account row lists that
    account's admins, on a unit-only row the unit's admins (also settable with
    ``单位管理员邮箱`` on any row).  ``上级单位`` is a unit's name or code; it may be
    left empty for departments and streets (the district).  Units without a
    code keep the one they have in ``previous`` (the matrix file being
    replaced), else get a readable one (see :func:`_generate_codes`).  Errors
    name the CSV row and column.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("CSV 文件不存在", file=str(path)) from None
    # a workbook given as it is: say how to save it as CSV rather than decode zip bytes as GBK
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
        raise ConfigError("这是 Excel 工作簿，不是 CSV：请在 Excel 中「另存为」「CSV UTF-8（逗号分隔）」后再导入"
                          "（账号ID 列请先设为「文本」格式）", file=str(path))
    try:
        text = decode_csv(data)
    except UnicodeDecodeError:
        raise ConfigError("CSV 文件编码无法识别（应为 UTF-8 或 GBK）", file=str(path)) from None
    reader = _CsvReader(path, text)
    if not reader.read_header():
        raise ConfigErrors(reader.errors)

    units: dict[tuple, _CsvUnit] = {}
    order: list[tuple] = []
    raw_accounts: list[tuple[int, tuple, dict[str, Any]]] = []
    platforms = csv_platforms()
    for number, row in reader.rows[1:]:
        name = reader.cell(row, "unit_name")
        if not name:
            reader.error(number, "unit_name", "单位名称不能为空")
            continue
        level_text = reader.cell(row, "level")
        level = CSV_LEVELS.get(level_text.lower()) if level_text else None
        if level_text and level is None:
            reader.error(number, "level", f"未知的单位级别「{level_text}」（应为 {'、'.join(UnitLevel.labels().values())} 之一，"
                                          f"或 {'、'.join(UnitLevel.values())}）")
            continue
        code = reader.cell(row, "unit_code") or None
        parent_ref = reader.cell(row, "parent") or None
        aliases = _split_list(reader.cell(row, "aliases"))
        unit_admins = _split_list(reader.cell(row, "unit_admins"))
        account_cells = {c: reader.cell(row, c) for c in ("platform", "uid", "account_name")}
        is_account = any(account_cells.values())
        row_admins = _split_list(reader.cell(row, "admins"))
        admins_column = "unit_admins" if unit_admins else "admins"
        if not is_account and not unit_admins:
            unit_admins = row_admins
        key = _unit_key(units, code, name)
        known = units.get(key)
        if known is None:
            if level is None:
                reader.error(number, "level", "单位级别不能为空（该单位首次出现）")
                continue
            known = units[key] = _CsvUnit(name, level, code, parent_ref, aliases, unit_admins, number)
            order.append(key)
        else:
            # later rows of a unit may leave its cells empty, not contradict them
            for column, attr, value in (("unit_name", "name", name), ("level", "level", level),
                                        ("parent", "parent_ref", parent_ref),
                                        ("aliases", "aliases", aliases),
                                        (admins_column, "admins", unit_admins)):
                have = getattr(known, attr)
                if value and have and value != have:
                    hint = "；若是不同单位，请填写单位编码区分" if column == "parent" else ""
                    reader.error(number, column, f"与第 {known.row} 行对同一单位「{known.name}」的填写不一致{hint}")
                elif value and not have:
                    setattr(known, attr, value)
        if not is_account:
            continue
        missing = [c for c, v in account_cells.items() if not v]
        if missing:
            for column in missing:
                reader.error(number, column, "账号信息不完整：平台、账号ID、账号名称须同时填写")
            continue
        platform_text = account_cells["platform"]
        platform = platforms.get(platform_text.lower(), platform_text.lower())
        interval = None
        interval_text = reader.cell(row, "poll_interval")
        if interval_text in _INTERVAL_WORDS:
            interval = _INTERVAL_WORDS[interval_text]
        elif interval_text:
            m = _INTERVAL_RE.fullmatch(interval_text)
            if not m or int(m.group(1)) <= 0:
                reader.error(number, "poll_interval",
                             f"轮询间隔「{interval_text}」无效（应为正整数秒数，如 900，或 15分钟、半小时、1小时）")
                continue
            unit_word = m.group(2).lower() if m.group(2) else None
            interval = int(m.group(1)) * _INTERVAL_UNITS[unit_word]
        enabled_text = reader.cell(row, "enabled").lower()
        if enabled_text and enabled_text not in _ENABLED_WORDS:
            reader.error(number, "enabled", f"「{enabled_text}」无效（应为 是/否 或 启用/停用）")
            continue
        enabled = _ENABLED_WORDS.get(enabled_text, True)
        start_text = reader.cell(row, "monitoring_start")
        try:
            start = parse_monitoring_start(start_text) if start_text else None
        except ValueError:
            reader.error(number, "monitoring_start", f"监测起始时间「{start_text}」无效（{START_HINT}）")
            continue
        uid = account_cells["uid"]
        if re.fullmatch(r"\d+\.0", uid):  # a spreadsheet that stored the id as a number
            uid = uid[:-2]
        if _SCIENTIFIC_RE.fullmatch(uid):
            reader.error(number, "uid", f"账号ID「{uid}」是科学计数法，原来的数字已丢失（Excel 把长数字当作数值）："
                                        f"请在 Excel 中把该列的单元格格式设为「文本」，重新填入完整的账号ID后再导出")
            continue
        raw_accounts.append((number, key, dict(platform=platform, uid=uid,
                                               name=account_cells["account_name"],
                                               poll_interval=interval, admins=row_admins,
                                               enabled=enabled, monitoring_start=start)))

    # rows with errors were skipped; check the rest too, to report everything at once
    matrix, unit_rows = _resolve_csv(reader, units, order, raw_accounts, previous)
    if not matrix.units:
        raise ConfigErrors(reader.errors)
    # the same checks as a hand-written file, reported against the CSV
    try:
        checked = parse_matrix_text(dump_matrix(matrix), path)
    except ConfigErrors as exc:
        account_rows = [number for number, _, _ in raw_accounts]
        for error in exc.errors:
            _csv_error(reader, error, unit_rows, account_rows)
    if reader.errors:
        raise ConfigErrors(reader.errors)
    return checked


#: a matrix key → the CSV column it came from
_KEY_COLUMNS = {
    "unit": {"code": "unit_code", "name": "unit_name", "level": "level", "parent": "parent",
             "aliases": "aliases", "admins": "unit_admins"},
    "account": {"platform": "platform", "uid": "uid", "name": "account_name", "unit": "unit_name",
                "poll_interval": "poll_interval", "admins": "admins", "enabled": "enabled",
                "monitoring_start": "monitoring_start"},
}


def _csv_error(reader: _CsvReader, error: ConfigError, unit_rows: list[int],
               account_rows: list[int]) -> None:
    m = re.fullmatch(r"(district|unit|account)(?:\[(\d+)\])?(?:\.(\w+))?", error.key or "")
    if not m:
        reader.errors.append(ConfigError(error.message, file=str(reader.file)))
        return
    table, index, field_name = m.group(1), int(m.group(2) or 0), m.group(3)
    row = account_rows[index - 1] if table == "account" else unit_rows[index if table == "unit" else 0]
    column = _KEY_COLUMNS["account" if table == "account" else "unit"].get(field_name or "")
    if column == "unit_admins" and column not in reader.columns:
        column = "admins"
    column = column if column in reader.columns else None
    if any(e.line == row and e.key == reader.column_key(column) for e in reader.errors):
        return  # a consequence of what is already reported in that cell
    message = re.sub(r"account\[(\d+)\]", lambda m: f"第 {account_rows[int(m.group(1)) - 1]} 行",
                     error.message)
    reader.error(row, column, message)


def _resolve_csv(reader: _CsvReader, units: dict[tuple, _CsvUnit], order: list[tuple],
                 raw_accounts: list[tuple[int, tuple, dict[str, Any]]],
                 previous: Matrix | None) -> tuple[Matrix, list[int]]:
    """Parents and codes resolved; also the CSV row of each unit, in matrix order."""
    districts = [k for k in order if units[k].level == "district"]
    if len(districts) != 1:
        rows = "、".join(str(units[k].row) for k in districts) or "无"
        reader.errors.append(ConfigError(
            f"应恰好有一个单位级别为「区」的单位，实际 {len(districts)} 个（行：{rows}）",
            file=str(reader.file)))
        return Matrix(units=(), accounts=()), []
    by_name = Counter(u.name for u in units.values())

    def find(ref: str) -> _CsvUnit | None:
        for u in units.values():
            if u.code == ref:
                return u
        matches = [u for u in units.values() if u.name == ref]
        return matches[0] if len(matches) == 1 else None

    district = units[districts[0]]
    parents: dict[tuple, _CsvUnit | None] = {}
    for key in order:
        unit = units[key]
        if unit.level == "district":
            parents[key] = None
            continue
        if unit.parent_ref is None:
            parents[key] = district if unit.level != "community" else None
            if unit.level == "community":
                reader.error(unit.row, "parent" if "parent" in reader.columns else "level",
                             "社区/村必须填写上级单位（所属街镇）")
            continue
        parent = find(unit.parent_ref)
        if parent is None:
            reason = "重名，请改填单位编码" if by_name[unit.parent_ref] > 1 else "不存在"
            reader.error(unit.row, "parent", f"上级单位「{unit.parent_ref}」{reason}")
        parents[key] = parent
    _generate_codes(units, order, parents, previous)
    keys = [districts[0]] + [k for k in order if k != districts[0]]
    specs = [UnitSpec(code=units[k].code or "", name=units[k].name, level=units[k].level,
                      parent=parents[k].code if parents[k] else None, aliases=units[k].aliases,
                      admins=units[k].admins)
             for k in keys]
    accounts = [AccountSpec(unit=units[key].code or "", **fields) for _, key, fields in raw_accounts]
    return Matrix(units=tuple(specs), accounts=tuple(accounts)), [units[k].row for k in keys]


def level_counts(matrix: Matrix) -> dict[str, int]:
    counts = Counter(u.level for u in matrix.units)
    return {level: counts.get(level, 0) for level in UnitLevel.values()}


def platform_counts(matrix: Matrix) -> dict[str, int]:
    return dict(sorted(Counter(a.platform for a in matrix.accounts).items()))


__all__ = ["load_matrix", "parse_matrix_text", "dump_matrix", "import_csv", "decode_csv",
           "matrix_file", "level_counts", "platform_counts", "show_path"]
