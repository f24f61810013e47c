"""The built wheel works outside the checkout: templates and migrations ship in it."""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from sqlalchemy import create_engine, inspect

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(dist), str(ROOT)], check=True, cwd=tmp_path)
    (wheel,) = dist.glob("huisheng-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("huisheng/migrations/versions/") and n.endswith(".py") for n in names)
    assert "huisheng/migrations/script.py.mako" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                    "--quiet", "--no-deps", str(wheel)], check=True)
    # The fresh venv borrows the dependencies (not huisheng itself: the editable
    # install's finder lives in a .pth file that a plain path entry does not run).
    site = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "_huisheng_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    exe = str(venv / "bin" / "huisheng")
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import huisheng; print(huisheng.__file__)"],
                           check=True, capture_output=True, text=True, cwd=work).stdout
    assert str(venv) in where and str(ROOT) not in where

    out = subprocess.run([exe, "--help"], check=True, capture_output=True, text=True, cwd=work).stdout
    assert "run" in out and "status" in out

    db = work / "huisheng.sqlite"
    (work / "huisheng.toml").write_text(f'[database]\nurl = "sqlite:///{db}"\n', encoding="utf-8")
    subprocess.run([exe, "db", "upgrade"], check=True, capture_output=True, text=True, cwd=work)
    tables = set(inspect(create_engine(f"sqlite:///{db}")).get_table_names())
    assert {"accounts", "posts", "comments", "alembic_version"} <= tables

    # The README's steps, from the installed wheel: copy the example config, check it, import
    # the spreadsheet, point the config at it, check, create the schema, load the matrix.
    site_dir = tmp_path / "district"
    site_dir.mkdir()

    def huisheng(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([exe, *args], capture_output=True, text=True, cwd=site_dir, timeout=300)

    config = site_dir / "huisheng.toml"
    shutil.copy(ROOT / "config" / "huisheng.example.toml", config)
    checked = huisheng("config", "check")
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert checked.stderr.splitlines() == [
        "警告：未配置邮件（[mail] 的 host）：不会发送任何每日摘要和紧急留言提醒；请按示例配置填写 [mail]",
        f"Error: {site_dir}/example-district: 矩阵文件不存在（应为含 matrix.toml 的文件夹或该文件本身；"
        f"可用 huisheng matrix import 从台账 CSV 生成）"]
    imported = huisheng("matrix", "import", str(ROOT / "config" / "example-district" / "matrix.csv"), "--out", "matrix/")
    assert imported.returncode == 0, imported.stderr
    config.write_text(config.read_text(encoding="utf-8").replace('matrix = "example-district"', 'matrix = "matrix"'),
                      encoding="utf-8")
    checked = huisheng("config", "check")
    assert checked.returncode == 0, checked.stderr
    # the packaged default rules, from inside the installed wheel
    assert f"规则：{Path(site)}/huisheng/flags/default_rules.yaml" in checked.stdout
    assert huisheng("db", "upgrade").returncode == 0
    synced = huisheng("matrix", "sync")
    assert synced.returncode == 0, synced.stderr
    assert "新增单位 169 个：沙坪坝区（spb）、区政府办公室（dept-gov-office）" in synced.stdout
