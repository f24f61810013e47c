"""The built wheel works outside the checkout: templates and migrations ship in it."""

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
