"""The main config: the example loads, and every promised error names the
file, the key path and the line, and says what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from huisheng import adapters
from huisheng.errors import ConfigError
from huisheng.config import (TOP_KEYS, ConfigErrors, Key, KeyLines, SecretStr, Table,
                                     load_settings, register_table)
from huisheng.config.settings import PollingSettings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "huisheng.example.toml"


def write(tmp_path: Path, text: str, name: str = "huisheng.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path, environ: dict | None = None) -> list[str]:
    """Every error line, with the temporary folder shown as ``<tmp>``."""
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=environ or {})
    return str(info.value).replace(str(path.parent), "<tmp>").splitlines()


def test_example_config_loads_with_paths_resolved_against_its_folder():
    settings = load_settings(EXAMPLE, environ={})
    folder = EXAMPLE.parent
    assert settings.database_url == f"sqlite:///{folder / 'huisheng.sqlite'}"
    assert settings.matrix_path == folder / "example-district"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.polling == PollingSettings()  # the example documents the defaults
    weibo = settings.platforms["weibo"]
    assert (weibo.pace.min_interval, weibo.pace.concurrency) == (3.0, 1)
    assert weibo.options == {"base_url": "https://m.weibo.cn", "ajax_base_url": "https://weibo.com",
                             "mode": "auto", "mentions_interval": 1800, "search_min_interval": 5.0}
    assert weibo.secret_env == {"cookie": "HUISHENG_WEIBO_COOKIE"}


def test_secret_comes_from_the_named_variable_and_never_shows_in_repr():
    settings = load_settings(EXAMPLE, environ={"HUISHENG_WEIBO_COOKIE": "SUB=s3cr3t"})
    cookie = settings.platforms["weibo"].options["cookie"]
    assert cookie == "SUB=s3cr3t" and isinstance(cookie, SecretStr)
    assert "s3cr3t" not in repr(settings)


def test_defaults_when_tables_are_absent(tmp_path):
    settings = load_settings(write(tmp_path, ""), environ={})
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'huisheng.sqlite'}"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.matrix_path is None
    assert settings.platforms == {}
    assert settings.polling == PollingSettings()


def test_values_are_read(tmp_path):
    path = write(tmp_path, """
timezone = "Asia/Urumqi"
matrix = "district/matrix.toml"
[database]
url = "postgresql://huisheng@db.example.org/huisheng"
[polling]
interval = 600
backoff_base = 30
[platforms.weibo]
min_interval = 2
concurrency = 2
interval = 1200
base_url = "http://127.0.0.1:8999"
""")
    settings = load_settings(path, environ={})
    assert settings.timezone == "Asia/Urumqi"
    assert settings.matrix_path == tmp_path.resolve() / "district" / "matrix.toml"
    assert settings.database_url == "postgresql://huisheng@db.example.org/huisheng"
    assert settings.polling.interval == 600
    assert settings.polling.backoff_base == 30.0 and isinstance(settings.polling.backoff_base, float)
    weibo = settings.platforms["weibo"]
    assert (weibo.pace.min_interval, weibo.pace.concurrency, weibo.interval) == (2.0, 2, 1200)
    assert weibo.options["base_url"] == "http://127.0.0.1:8999"
    assert weibo.options["mode"] == "auto"
    assert settings.interval_for("weibo", None) == 1200
    assert settings.interval_for("weibo", 300) == 300


def test_missing_file_names_the_path_and_how_to_create_it(tmp_path):
    path = tmp_path / "etc" / "huisheng.toml"
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert message.startswith(f"{path}: 配置文件不存在")
    assert f"cp config/huisheng.example.toml {path}" in message


def test_unknown_key_names_file_key_line_and_what_is_allowed(tmp_path):
    path = write(tmp_path, """timezone = "Asia/Shanghai"

[polling]
interval = 600
intervall = 900
""")
    assert errors_of(path) == [
        "<tmp>/huisheng.toml:5: polling.intervall: 未知的键 \"intervall\"（此处允许的键：interval, "
        "recent_window_days, window_refresh_interval, max_timeline_pages, max_comment_pages, "
        "thread_retry_base, thread_retry_cap, tick, workers, lease_seconds, backoff_base, backoff_cap, "
        "backoff_jitter, request_timeout, stop_grace）"]


def test_wrong_types_each_reported_with_line(tmp_path):
    path = write(tmp_path, """matrix = 5
[polling]
interval = "15m"
workers = true
tick = -1
[platforms.weibo]
mode = "desktop"
concurrency = 1.5
""")
    assert errors_of(path) == [
        "<tmp>/huisheng.toml:1: matrix: 应为字符串（string），实际为整数",
        "<tmp>/huisheng.toml:3: polling.interval: 应为介于 1 到 2592000 之间的整数（integer），实际为字符串",
        "<tmp>/huisheng.toml:4: polling.workers: 应为介于 1 到 64 之间的整数（integer），实际为布尔值",
        "<tmp>/huisheng.toml:5: polling.tick: 应为介于 0.01 到 3600 之间的数字（number），实际为 -1",
        "<tmp>/huisheng.toml:7: platforms.weibo.mode: 应为字符串（string），取值为 \"auto\"、\"mobile\"、"
        "\"ajax\" 之一，实际为 \"desktop\"",
        "<tmp>/huisheng.toml:8: platforms.weibo.concurrency: 应为介于 1 到 64 之间的整数（integer），实际为小数",
    ]


def test_inline_secret_is_rejected_without_echoing_it(tmp_path):
    path = write(tmp_path, """[platforms.weibo]
min_interval = 3
concurrency = 1
cookie = "SUB=_2A25secretvalue"
[database]
url = "postgresql://huisheng:hunter2@db/huisheng"
""")
    errors = errors_of(path)
    assert errors == [
        "<tmp>/huisheng.toml:4: platforms.weibo.cookie: 密钥不得直接写在配置文件中：请改用 "
        "cookie_env = \"ENV_VAR_NAME\"，并在环境变量（如 /etc/huisheng/secrets.env）中设置其值",
        "<tmp>/huisheng.toml:6: database.url: 数据库密码不得直接写在配置文件中：请改用 "
        "url_env = \"ENV_VAR_NAME\"，或使用 PGPASSWORD / ~/.pgpass",
    ]
    assert not any("secretvalue" in e or "hunter2" in e for e in errors)


@pytest.mark.parametrize("key", ["password", "smtp_password", "api_token", "secret", "Cookies"])
def test_secret_like_key_names_are_all_caught(tmp_path, key):
    path = write(tmp_path, f"[platforms.weibo]\nmin_interval = 3\nconcurrency = 1\n{key} = \"x\"\n")
    (error,) = errors_of(path)
    assert error.startswith(f"<tmp>/huisheng.toml:4: platforms.weibo.{key}: 密钥不得直接写在配置文件中")
    assert f"{key}_env = \"ENV_VAR_NAME\"" in error


def test_unset_variable_that_is_needed_is_named_and_its_value_never_shown(tmp_path):
    path = write(tmp_path, """[platforms.weibo]
min_interval = 3
concurrency = 1
mode = "ajax"
cookie_env = "HUISHENG_WEIBO_COOKIE"
""")
    assert errors_of(path, environ={"OTHER": "x"}) == [
        "<tmp>/huisheng.toml:5: platforms.weibo.cookie_env: 环境变量 HUISHENG_WEIBO_COOKIE 未设置或为空"
        "（cookie_env 指向它，此处需要 cookie）"]
    # ajax mode without any cookie_env at all
    path = write(tmp_path, "[platforms.weibo]\nmin_interval = 3\nconcurrency = 1\nmode = \"ajax\"\n")
    (error,) = errors_of(path)
    assert "platforms.weibo.cookie_env" in error and "缺少 cookie_env" in error


def test_unset_optional_variable_is_not_an_error(tmp_path):
    path = write(tmp_path, "[platforms.weibo]\nmin_interval = 3\nconcurrency = 1\ncookie_env = \"NOT_SET\"\n")
    weibo = load_settings(path, environ={}).platforms["weibo"]
    assert "cookie" not in weibo.options and weibo.secret_env == {"cookie": "NOT_SET"}


def test_database_url_from_environment(tmp_path):
    path = write(tmp_path, "[database]\nurl_env = \"HUISHENG_DATABASE_URL\"\n")
    url = "postgresql://huisheng:pw@db/huisheng"
    settings = load_settings(path, environ={"HUISHENG_DATABASE_URL": url})
    assert settings.database_url == url
    assert "pw" not in repr(settings.database_url)
    assert errors_of(path) == [
        "<tmp>/huisheng.toml:2: database.url_env: 环境变量 HUISHENG_DATABASE_URL 未设置或为空"
        "（url_env 指向它，此处需要 url）"]
    (error,) = errors_of(path, environ={"HUISHENG_DATABASE_URL": "mysql://root:pw@db/x"})
    assert error.startswith("<tmp>/huisheng.toml:2: database.url_env: 环境变量 HUISHENG_DATABASE_URL 中的")
    assert "pw" not in error


def test_syntax_error_carries_line(tmp_path):
    path = write(tmp_path, "[polling]\ninterval = 900\nworkers = \n")
    (error,) = errors_of(path)
    assert error.startswith("<tmp>/huisheng.toml:3: TOML 语法错误，第 11 列：Invalid value")


def test_unknown_timezone_platform_and_table(tmp_path):
    path = write(tmp_path, """timezone = "Asia/Beijing"
[platforms.douyin]
min_interval = 3
[[mailer]]
to = "a@example.org"
""")
    errors = errors_of(path)
    assert errors[:2] == [
        "<tmp>/huisheng.toml:1: timezone: 未知的时区 \"Asia/Beijing\"（应为 IANA 时区名，如 \"Asia/Shanghai\"）",
        "<tmp>/huisheng.toml:2: platforms.douyin: 未安装平台 \"douyin\" 的适配器"
        f"（已安装：{'、'.join(sorted(adapters.available()))}）",
    ]
    # The allowed keys: the core ones, then every table a feature registered.
    assert errors[2].startswith("<tmp>/huisheng.toml:4: mailer: 未知的键 \"mailer\"（此处允许的键：timezone, "
                                "log_level, matrix, rules, database, polling, platforms, ")
    for table in ("calendar", "sla", "digest", "mail"):
        assert f" {table}," in errors[2] or f" {table}）" in errors[2]
    assert len(errors) == 3


def test_dotted_and_inline_keys_are_located(tmp_path):
    path = write(tmp_path, """log_level = "INFO"
polling.workers = 0
platforms = { weibo = { min_interval = 3, concurrency = 1, colour = "red" } }
""")
    assert errors_of(path) == [
        "<tmp>/huisheng.toml:2: polling.workers: 应为介于 1 到 64 之间的整数（integer），实际为 0",
        "<tmp>/huisheng.toml:3: platforms.weibo.colour: 未知的键 \"colour\"（此处允许的键：min_interval, "
        "concurrency, interval, base_url, ajax_base_url, mode, cookie_env, mentions_interval, "
        "search_min_interval）",
    ]


def test_keys_after_multiline_values_keep_their_lines(tmp_path):
    register_table("test_digest", Table({
        "recipients": Key("str_list", default=()),
        "note": Key("str", default=""),
        "hour": Key("int", default=8),
    }))
    try:
        path = write(tmp_path, '''[test_digest]
recipients = [
  "a@example.org",
  "hour = 3",
]
note = """
size = 3
"""
hour = "eight"
''')
        assert errors_of(path) == ["<tmp>/huisheng.toml:9: test_digest.hour: 应为整数（integer），实际为字符串"]
    finally:
        del TOP_KEYS["test_digest"]


def test_registered_table_lands_in_extra_with_defaults(tmp_path):
    register_table("test_sla", Table({"complaint_days": Key("int", default=7, positive=True),
                                      "help_days": Key("int", default=5, positive=True)}))
    try:
        settings = load_settings(write(tmp_path, "[test_sla]\ncomplaint_days = 10\n"), environ={})
        assert settings.extra["test_sla"] == {"complaint_days": 10, "help_days": 5}
        with pytest.raises(ValueError):
            register_table("test_sla", Table())
    finally:
        del TOP_KEYS["test_sla"]


def test_errors_are_collected_not_stopped_at_first(tmp_path):
    path = write(tmp_path, "a = 1\nb = 2\n[polling]\nc = 3\n")
    with pytest.raises(ConfigErrors) as info:
        load_settings(path, environ={})
    assert [(e.key, e.line) for e in info.value.errors] == [("a", 1), ("b", 2), ("polling.c", 4)]


def test_pace_defaults_come_from_the_adapter(tmp_path):
    from huisheng import adapters

    path = write(tmp_path, '[platforms.weibo]\nbase_url = "http://127.0.0.1:8123"\n')
    weibo = load_settings(path, environ={}).platforms["weibo"]
    assert weibo.pace == adapters.load("weibo").default_pace
    assert weibo.options["base_url"] == "http://127.0.0.1:8123"


def test_key_lines_follow_nested_arrays_of_tables():
    lines = KeyLines("x = 1\n[[a]]\nn = 1\n[[a.b]]\nm = 2\n[[a.b]]\nm = 3\n[[a]]\nn = 2\n[a.c]\nq = 1\n")
    assert [lines.line(p) for p in [("x",), ("a", 1, "n"), ("a", 1, "b", 2, "m"), ("a", 2, "n"),
                                     ("a", 2, "c", "q"), ("a", 2, "c", "unknown"), ("zzz",)]] == \
        [1, 3, 7, 9, 11, 10, None]
