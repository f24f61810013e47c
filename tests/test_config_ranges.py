"""Config values that make no sense are refused: NaN and infinity, absurd
numbers (a lease of 1e14 s, port 99999), and a mail login that would send the
password in clear.  Each error names the file, the key and the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from huisheng.cli import main
from huisheng.errors import ConfigError
from huisheng.config import matrix as matrix_module
from huisheng.config import TOP_KEYS, Key, Many, Table, load_settings
from huisheng.config.loader import _platform_table, _register_features

ABSURD = [float("nan"), float("inf"), float("-inf"), 1e14, -1e14, 10**30, -(10**30), 10**400]


def _numeric_keys(table: Table, path: str = ""):
    if table.children is not None:
        yield from _numeric_keys(_platform_table("weibo"), f"{path}.weibo")
        return
    for name, spec in table.items.items():
        here = f"{path}.{name}" if path else name
        if isinstance(spec, Key) and spec.kind in ("int", "float"):
            yield here, spec
        elif isinstance(spec, Table):
            yield from _numeric_keys(spec, here)
        elif isinstance(spec, Many):
            yield from _numeric_keys(spec.table, here)


def _all_numeric_keys():
    _register_features()
    yield from _numeric_keys(Table(TOP_KEYS))
    yield from _numeric_keys(matrix_module.SCHEMA, "matrix")


def test_every_number_of_every_table_has_a_sane_range():
    keys = list(_all_numeric_keys())
    assert len(keys) > 30  # polling, pace, mail, digest, sla, compliance, matrix …
    let_through = []
    for path, key in keys:
        if key.default is not None:
            assert key.validate(key.default)[1] is None, (path, key.default)
        for value in ABSURD:
            if key.validate(value)[1] is None:
                let_through.append((path, value))
    assert let_through == []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "huisheng.toml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    return str(info.value).replace(str(path.parent), "<tmp>").splitlines()


def test_nan_infinity_and_absurd_values_are_refused_with_file_key_and_line(tmp_path):
    path = write(tmp_path, """\
[polling]
lease_seconds = 100000000000000
request_timeout = inf
workers = 100000

[platforms.weibo]
min_interval = nan
concurrency = 1

[mail]
host = "smtp.example.org"
port = 99999
from_address = "huisheng@example.org"
""")
    problems = errors_of(path)
    assert len(problems) == 5, problems
    assert problems[0] == ("<tmp>/huisheng.toml:2: polling.lease_seconds: 应为介于 1 到 604800 之间的整数（integer），"
                           "实际为 1e+14")
    assert problems[1].startswith("<tmp>/huisheng.toml:3: polling.request_timeout: 应为介于") and "inf" in problems[1]
    assert problems[2].startswith("<tmp>/huisheng.toml:4: polling.workers: 应为介于 1 到 64 之间的整数")
    assert problems[3].startswith("<tmp>/huisheng.toml:7: platforms.weibo.min_interval: 应为介于")
    assert problems[3].endswith("实际为 nan")
    assert problems[4] == ("<tmp>/huisheng.toml:12: mail.port: 应为介于 1 到 65535 之间的整数（integer），实际为 99999")


def test_a_backoff_cap_below_its_base_is_refused(tmp_path):
    path = write(tmp_path, "[polling]\nbackoff_base = 600.0\nbackoff_cap = 60.0\n")
    assert errors_of(path) == ["<tmp>/huisheng.toml:3: polling.backoff_cap: backoff_cap（60）不得小于 "
                               "backoff_base（600）"]


MAIL = """\
[mail]
host = "smtp.example.org"
security = "none"
from_address = "huisheng@example.org"
"""


def test_a_mail_login_over_no_encryption_is_refused_unless_allowed(tmp_path):
    path = write(tmp_path, MAIL + 'user = "huisheng"\n')
    (problem,) = errors_of(path)
    assert problem.startswith("<tmp>/huisheng.toml:3: mail.security: security = \"none\" 时登录会以明文传送密码")
    assert "allow_plaintext_login = true" in problem

    allowed = write(tmp_path, MAIL + 'user = "huisheng"\nallow_plaintext_login = true\n')
    assert load_settings(allowed, environ={}).extra["mail"]["security"] == "none"
    without_login = write(tmp_path, MAIL)  # a relay that needs no login sends no password
    assert load_settings(without_login, environ={}).extra["mail"]["user"] is None


def test_config_check_prints_every_range_error_and_fails(tmp_path):
    path = write(tmp_path, "[polling]\ninterval = nan\nlease_seconds = 100000000000000\n")
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code != 0
    assert "polling.interval" in result.output and "polling.lease_seconds" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("line", ['[database]\nurl = "sqlite:///a\\u0000b"', 'matrix = "a\\u0000b"',
                                  'rules = "a\\u0000b"'], ids=["database.url", "matrix", "rules"])
def test_a_nul_character_in_a_setting_is_refused(tmp_path, line):
    path = write(tmp_path, line + "\n")
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # not a ValueError from deep in the OS
    key = line.split("\n")[-1].split(" =")[0]
    assert f": {key if key != 'url' else 'database.url'}: 不得包含 NUL 字符" in result.output
