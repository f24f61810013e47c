"""``huisheng db upgrade | downgrade | current`` against a real database."""

from __future__ import annotations

from click.testing import CliRunner

from huisheng import migrations
from huisheng.cli import main


def _config(tmp_path, url: str):
    path = tmp_path / "huisheng.toml"
    path.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    return str(path)


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_upgrade_current_downgrade(db_url, tmp_path):
    config = _config(tmp_path, db_url)
    head = migrations.head()

    result = _run("db", "current", "--config", config)
    assert result.exit_code == 0 and result.output.startswith("none")

    result = _run("db", "upgrade", "--config", config)
    assert result.exit_code == 0, result.output
    assert f"{head}（最新）" in result.output
    assert migrations.current(db_url) == head
    assert _run("db", "current", "--config", config).output.strip() == f"{head}（最新）"

    result = _run("db", "downgrade", "base", "--config", config)
    assert result.exit_code == 0 and migrations.current(db_url) is None

    result = _run("db", "upgrade", "--revision", head, "--config", config)
    assert result.exit_code == 0 and migrations.current(db_url) == head


def test_unknown_revision_is_one_clear_error(db_url, tmp_path):
    config = _config(tmp_path, db_url)
    result = _run("db", "upgrade", "--revision", "nosuchrev", "--config", config)
    assert result.exit_code == 1
    assert "数据库迁移失败" in result.output and "nosuchrev" in result.output
    assert "Traceback" not in result.output


def test_upgrade_creates_the_sqlite_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "var" / "lib" / "huisheng.sqlite"
    config = _config(tmp_path, f"sqlite:///{db}")
    assert _run("db", "upgrade", "--config", config).exit_code == 0
    assert db.is_file() and migrations.current(f"sqlite:///{db}") == migrations.head()


def test_missing_config_fails_cleanly(tmp_path):
    result = _run("db", "current", "--config", str(tmp_path / "absent.toml"))
    assert result.exit_code == 1 and "Traceback" not in result.output
