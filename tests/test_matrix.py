"""The matrix file: the example district, validation errors, CSV import and the
commands around them.  Inputs under tests/data/matrix have their expected
outputs beside them."""

from __future__ import annotations

import re
import random
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from huisheng import adapters
from huisheng.errors import ConfigError
from huisheng.cli import main
from huisheng.config.matrix import dump_matrix, import_csv, level_counts, load_matrix, parse_matrix_text
from huisheng.config.settings import AccountSpec, Matrix, UnitSpec

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "matrix"
DISTRICT = ROOT / "config" / "example-district"

STANDARD_DEPARTMENTS = {
    "区政府办公室", "发展和改革委员会", "教育委员会", "科学技术局", "公安分局", "民政局", "司法局", "财政局",
    "人力资源和社会保障局", "规划和自然资源局", "生态环境局", "住房和城乡建设委员会", "城市管理局", "交通局",
    "水利局", "农业农村委员会", "商务委员会", "文化和旅游发展委员会", "卫生健康委员会", "退役军人事务局",
    "应急管理局", "审计局", "市场监督管理局", "统计局", "医疗保障局", "信访办", "体育局", "林业局",
    "消防救援支队", "税务局",
}


def errors_text(exc: ConfigError) -> str:
    return str(exc).replace(f"{ROOT}/", "") + "\n"


@pytest.fixture(scope="module")
def district() -> Matrix:
    return load_matrix(DISTRICT)


def test_example_district_structure(district):
    # 176 Weibo accounts, and a few of the other platforms the district writes on
    weibo = [a for a in district.accounts if a.platform == "weibo"]
    assert len(weibo) == 176 and len(district.accounts) - len(weibo) < 20
    assert all(a.enabled for a in district.accounts)
    counts = level_counts(district)
    assert counts["district"] == 1
    assert 28 <= counts["department"] <= 32
    assert 20 <= counts["street"] <= 26
    assert counts["community"] > 100
    units = {u.code: u for u in district.units}
    top = district.units[0]
    assert top.level == "district" and top.parent is None
    assert any(a.unit == top.code and a.name.endswith("发布") for a in district.accounts)
    departments = {u.name for u in district.units if u.level == "department"}
    assert STANDARD_DEPARTMENTS <= departments
    for unit in district.units[1:]:
        parent = units[unit.parent]
        assert parent.level == {"department": "district", "street": "district",
                                "community": "street"}[unit.level]
    per_unit = Counter(a.unit for a in district.accounts)
    police = next(u for u in district.units if u.name == "公安分局")
    assert per_unit[police.code] == 2
    assert all(per_unit[u.code] >= 1 for u in district.units)
    assert all(a.uid.isdigit() and len(a.uid) == 10 for a in weibo)
    # place names for routing on every street and community
    assert all(u.aliases for u in district.units if u.level in ("street", "community"))
    admins = [e for u in district.units for e in u.admins] + [e for a in district.accounts for e in a.admins]
    assert all(u.admins for u in district.units)
    assert all(e.endswith("@example.org") for e in admins)
    overrides = [a for a in district.accounts if a.poll_interval]
    assert 3 <= len(overrides) <= 20


def test_example_config_and_matrix_check_passes():
    result = CliRunner().invoke(main, ["config", "check", "--config",
                                       str(ROOT / "config" / "huisheng.example.toml")])
    assert result.exit_code == 0, result.output
    assert "单位：区级（district）1，部门（department）30，街镇（street）25，社区/村（community）113" in result.output
    total = len(load_matrix(DISTRICT).accounts)
    assert re.search(rf"账号：.*weibo 176.*（共 {total}，启用 {total}）", result.output), result.output
    assert "配置检查通过" in result.output


def test_config_check_hides_the_database_password_and_fails_on_a_bad_matrix(tmp_path):
    (tmp_path / "m").mkdir()
    shutil.copy(DATA / "invalid" / "matrix.toml", tmp_path / "m" / "matrix.toml")
    config = tmp_path / "huisheng.toml"
    config.write_text('matrix = "m"\n[database]\nurl_env = "TEST_HS_DB"\n', encoding="utf-8")
    env = {"TEST_HS_DB": "postgresql://hs:t0psecret@db.example.org/hs"}
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config)], env=env)
    assert result.exit_code == 1
    assert "t0psecret" not in result.output
    warning, *lines = result.output.replace(str(tmp_path) + "/", "").splitlines()
    assert warning.startswith("警告：未配置邮件")
    assert lines[0] == "Error: m/matrix.toml:13: unit[2].code: 单位编码 \"dept-a\" 重复（每个单位的编码必须唯一）"
    assert len(lines) == 16

    shutil.copytree(DISTRICT, tmp_path / "m", dirs_exist_ok=True)
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    assert "数据库：postgresql://hs:***@db.example.org/hs" in result.output
    assert "t0psecret" not in result.output


def test_config_check_without_matrix_or_config(tmp_path):
    config = tmp_path / "huisheng.toml"
    config.write_text("", encoding="utf-8")
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config)])
    assert result.exit_code == 1 and "未配置矩阵" in result.output
    result = CliRunner().invoke(main, ["config", "check"], env={"HUISHENG_CONFIG": str(tmp_path / "x.toml")})
    assert result.exit_code == 1
    assert f"{tmp_path / 'x.toml'}: 配置文件不存在" in result.output


def test_invalid_matrix_reports_every_error_with_key_path_and_line():
    with pytest.raises(ConfigError) as info:
        load_matrix(DATA / "invalid")
    # the message lists the adapters installed, whichever they are
    expected = (DATA / "invalid" / "expected.txt").read_text(encoding="utf-8").replace(
        "（已安装：weibo）", f"（已安装：{'、'.join(sorted(adapters.available()))}）")
    assert errors_text(info.value) == expected


def test_matrix_needs_a_district_and_a_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        parse_matrix_text('[[unit]]\ncode = "a"\nname = "交通局"\nlevel = "department"\n', tmp_path / "m.toml")
    assert str(info.value).startswith(f"{tmp_path / 'm.toml'}: 缺少 [district] 表")
    with pytest.raises(ConfigError) as info:
        load_matrix(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'matrix.toml'}: 矩阵文件不存在")


def test_dump_and_load_round_trip(district, tmp_path):
    path = tmp_path / "matrix.toml"
    path.write_text(dump_matrix(district), encoding="utf-8")
    again = load_matrix(path)
    assert (again.units, again.accounts) == (district.units, district.accounts)


def test_awkward_strings_survive_the_writer(tmp_path):
    matrix = Matrix(units=(UnitSpec("d", '引号"与\\反斜杠', "district", aliases=("tab\there",)),),
                    accounts=(AccountSpec("weibo", "1234567890", "名\n字", "d", enabled=False),))
    again = parse_matrix_text(dump_matrix(matrix), tmp_path / "m.toml")
    assert (again.units, again.accounts) == (matrix.units, matrix.accounts)


# --- CSV import ----------------------------------------------------------------


def test_import_of_the_example_spreadsheet_reproduces_the_matrix(district):
    assert (DISTRICT / "matrix.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # as Excel saves it
    imported = import_csv(DISTRICT / "matrix.csv")
    assert imported.units == district.units
    assert imported.accounts == district.accounts


def test_import_gbk_and_utf8_without_bom(district, tmp_path):
    text = (DISTRICT / "matrix.csv").read_text(encoding="utf-8-sig")
    for encoding in ("gbk", "utf-8"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        imported = import_csv(path)
        assert (imported.units, imported.accounts) == (district.units, district.accounts), encoding


def test_import_english_headers_generates_readable_codes():
    source = DATA / "csv" / "english.csv"
    expected = (DATA / "csv" / "english.expected.toml").read_text(encoding="utf-8")
    assert dump_matrix(import_csv(source)) == expected
    codes = {u.name: u.code for u in import_csv(source).units}
    # a person can read and type them: the level and a number, a community under its street's code
    assert codes == {"示例区": "district", "交通局": "dept-01", "一号街道": "street-01",
                     "一号社区": "street-01-01", "二号社区": "street-01-02"}


def test_reimport_over_the_matrix_keeps_every_code_and_never_reuses_one(tmp_path):
    source = DATA / "csv" / "english.csv"
    out = tmp_path / "matrix"
    runner = CliRunner()
    assert runner.invoke(main, ["matrix", "import", str(source), "--out", str(out)]).exit_code == 0
    first = {u.name: u.code for u in load_matrix(out).units}
    # the next year's sheet: rows reordered, 交通局 gone, two new units
    header, *rows = source.read_text(encoding="utf-8").splitlines()
    rows = [r for r in rows if not r.startswith("交通局")]
    random.Random(7).shuffle(rows)
    rows += ["民政局,department,,,mz@example.org,weibo,1100000009,示例民政,,",
             "三号社区,community,一号街道,,,weibo,1100000010,三号社区,,"]
    later = tmp_path / "later.csv"
    later.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    result = runner.invoke(main, ["matrix", "import", str(later), "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    second = {u.name: u.code for u in load_matrix(out).units}
    assert {n: c for n, c in second.items() if n in first} == {n: c for n, c in first.items() if n != "交通局"}
    # a removed unit's code is never given to another (sync would take it for a rename)
    assert second["民政局"] == "dept-02" and second["三号社区"] == "street-01-03"
    # written elsewhere (no file to keep codes from), the numbering follows the sheet
    fresh = {u.name: u.code for u in import_csv(later).units}
    assert fresh["民政局"] == "dept-01"


def _sheet(tmp_path: Path, *rows: str, title: str = "") -> Path:
    path = tmp_path / "台账.csv"
    header = "单位名称,单位级别,上级单位,平台,账号ID,账号名称,轮询间隔,启用"
    path.write_text("\n".join(([title] if title else []) + [header, *rows]) + "\n", encoding="utf-8-sig")
    return path


def test_import_skips_a_title_row_above_the_header(tmp_path):
    rows = ("示例区,区,,微博,1100000001,示例发布,,", "交通局,部门,,微博,1100000002,示例交通,,")
    for title in ("示例区政务微博矩阵台账（2026年11月）,,,,,,,", "示例区政务微博矩阵台账"):
        matrix = import_csv(_sheet(tmp_path, *rows, title=title))
        assert [a.name for a in matrix.accounts] == ["示例发布", "示例交通"]
    # two title lines, one of them blank
    path = tmp_path / "two.csv"
    path.write_text("示例区政务微博矩阵\n,,,\n填报日期：2026-11-30\n单位名称,单位级别,平台,账号ID,账号名称\n"
                    "示例区,区,微博,1100000001,示例发布\n", encoding="utf-8")
    assert [a.uid for a in import_csv(path).accounts] == ["1100000001"]


def test_import_refuses_a_uid_in_scientific_notation_with_the_fix(tmp_path):
    path = _sheet(tmp_path, "示例区,区,,微博,1.23457E+09,示例发布,,", "交通局,部门,,微博,5.70688e9,示例交通,,",
                  "城管局,部门,,微博,1100000003.0,示例城管,,")
    with pytest.raises(ConfigError) as info:
        import_csv(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert lines[0] == (f"{path}:2: 第 E 列「账号ID」: 账号ID「1.23457E+09」是科学计数法，原来的数字已丢失"
                        f"（Excel 把长数字当作数值）：请在 Excel 中把该列的单元格格式设为「文本」，"
                        f"重新填入完整的账号ID后再导出")
    assert lines[1].startswith(f"{path}:3: 第 E 列「账号ID」: 账号ID「5.70688e9」是科学计数法")


def test_import_of_an_excel_workbook_says_to_save_it_as_csv(tmp_path):
    import zipfile

    workbook = tmp_path / "台账.xlsx"
    with zipfile.ZipFile(workbook, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    old_excel = tmp_path / "台账.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    for path in (workbook, old_excel):
        with pytest.raises(ConfigError) as info:
            import_csv(path)
        assert str(info.value) == (f"{path}: 这是 Excel 工作簿，不是 CSV：请在 Excel 中「另存为」「CSV UTF-8（逗号分隔）」"
                                   f"后再导入（账号ID 列请先设为「文本」格式）")


def test_import_reads_half_an_hour_and_enabled_words(tmp_path):
    path = _sheet(tmp_path, "示例区,区,,微博,1100000001,示例发布,半小时,启用",
                  "交通局,部门,,微博,1100000002,示例交通,2个小时,停用",
                  "城管局,部门,,微博,1100000003,示例城管,半个小时,禁用",
                  "民政局,部门,,微博,1100000004,示例民政,,是")
    accounts = {a.name: a for a in import_csv(path).accounts}
    assert {n: (a.poll_interval, a.enabled) for n, a in accounts.items()} == {
        "示例发布": (1800, True), "示例交通": (7200, False), "示例城管": (1800, False), "示例民政": (None, True)}


def test_import_errors_name_row_and_column():
    source = DATA / "csv" / "errors.csv"
    assert not source.read_bytes().decode("utf-8", errors="replace").isascii()
    with pytest.raises(ConfigError) as info:
        import_csv(source)
    assert errors_text(info.value) == (DATA / "csv" / "errors.expected.txt").read_text(encoding="utf-8")


def test_import_rejects_unknown_and_missing_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("序号,单位名称,单位级别,平台,账号,备注\n1,示例区,区,微博,123,\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        import_csv(path)
    assert str(info.value).splitlines() == [
        f"{path}:1: 第 E 列: 未知的列名「账号」（可用的列：单位名称、单位编码、上级单位、单位级别、别名、"
        f"单位管理员邮箱、平台、账号ID、账号名称、管理员邮箱、轮询间隔、启用、监测起始）",
        f"{path}:1: 缺少必需的列：账号ID、账号名称",
    ]


def test_matrix_import_command_writes_a_loadable_file(tmp_path, district):
    out = tmp_path / "district"
    out.mkdir()
    runner = CliRunner()
    result = runner.invoke(main, ["matrix", "import", str(DISTRICT / "matrix.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = load_matrix(out)
    assert (written.units, written.accounts) == (district.units, district.accounts)
    again = runner.invoke(main, ["matrix", "import", str(DISTRICT / "matrix.csv"), "--out", str(out)])
    assert again.exit_code == 1 and "--force" in again.output
    forced = runner.invoke(main, ["matrix", "import", str(DISTRICT / "matrix.csv"), "--out", str(out),
                                  "--force"])
    assert forced.exit_code == 0
    new_folder = runner.invoke(main, ["matrix", "import", str(DISTRICT / "matrix.csv"), "--out",
                                      str(tmp_path / "new" / "district")])
    assert new_folder.exit_code == 0
    assert len(load_matrix(tmp_path / "new" / "district").accounts) == len(load_matrix(DISTRICT).accounts)
    as_file = runner.invoke(main, ["matrix", "import", str(DISTRICT / "matrix.csv"), "--out",
                                   str(tmp_path / "m.toml")])
    assert as_file.exit_code == 0 and (tmp_path / "m.toml").is_file()
    to_stdout = runner.invoke(main, ["matrix", "import", str(DATA / "csv" / "english.csv")])
    assert to_stdout.exit_code == 0
    assert to_stdout.output.endswith((DATA / "csv" / "english.expected.toml").read_text(encoding="utf-8"))
    failed = runner.invoke(main, ["matrix", "import", str(DATA / "csv" / "errors.csv")])
    assert failed.exit_code == 1 and "errors.csv:3: 第 B 列「单位级别」" in failed.output
