"""Installing exactly as the README says: ``config check`` on a fresh copy of the
example config, the systemd recipe, and one line naming the path (never a
traceback) for a file or a database that cannot be opened, whatever the command.

Permission problems are real: when the suite runs as root (for whom every file
is writable) those commands run as ``nobody`` through ``setpriv``."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from huisheng.cli import main
from huisheng.flags.rules import DEFAULT_RULES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "huisheng.example.toml"
DISTRICT = ROOT / "config" / "example-district"
HUISHENG = Path(sys.executable).with_name("huisheng")


def check(config: Path):
    return CliRunner().invoke(main, ["config", "check", "--config", str(config)])


def lines_of(output: str, tmp: Path) -> list[str]:
    return output.replace(str(tmp), "<tmp>").splitlines()


# --- config check on the copied example -----------------------------------------


def test_a_copy_of_the_example_needs_only_its_matrix_and_uses_the_packaged_rules(tmp_path):
    config = tmp_path / "huisheng.toml"
    shutil.copy(EXAMPLE, config)
    result = check(config)
    assert result.exit_code == 1
    # the example's matrix is a folder beside the example, not beside the copy; nothing else is wrong:
    # no rules key, so no rules file to miss
    assert lines_of(result.output, tmp_path) == [
        "警告：未配置邮件（[mail] 的 host）：不会发送任何每日摘要和紧急留言提醒；请按示例配置填写 [mail]",
        "Error: <tmp>/example-district: 矩阵文件不存在（应为含 matrix.toml 的文件夹或该文件本身；"
        "可用 huisheng matrix import 从台账 CSV 生成）",
    ]

    config.write_text(config.read_text(encoding="utf-8").replace(
        'matrix = "example-district"', f'matrix = "{DISTRICT}"'), encoding="utf-8")
    result = check(config)
    assert result.exit_code == 0, result.output
    assert f"规则：{DEFAULT_RULES}" in result.output and "配置检查通过。" in result.output
    assert "警告：未配置邮件" in result.output  # a warning does not fail the check

    with config.open("a", encoding="utf-8") as f:
        f.write('\n[mail]\nhost = "smtp.example.gov.cn"\nfrom_address = "huisheng@example.gov.cn"\n')
    result = check(config)
    assert result.exit_code == 0 and "警告" not in result.output


def test_every_problem_is_reported_at_once(tmp_path):
    config = tmp_path / "huisheng.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "\ninterval = 900 " in text and '# rules = "rules.yaml"' in text
    config.write_text(text.replace("\ninterval = 900 ", "\nintervall = 900 ", 1)
                      .replace('# rules = "rules.yaml"', 'rules = "our-rules.yaml"'), encoding="utf-8")
    typo_line = text[:text.index("\ninterval = 900 ")].count("\n") + 2
    lines = lines_of(check(config).output, tmp_path)
    assert [line.removeprefix("Error: ").split(": ")[0] for line in lines] == [
        "<tmp>/example-district", f"<tmp>/huisheng.toml:{typo_line}", "<tmp>/our-rules.yaml"]
    assert "polling.intervall: 未知的键" in lines[1] and lines[2].endswith("规则文件不存在")

    # a valid config: the matrix, the rules and the database's place, all in one run
    config.write_text(text.replace('# rules = "rules.yaml"', 'rules = "our-rules.yaml"'), encoding="utf-8")
    (tmp_path / "huisheng.sqlite").mkdir()
    result = check(config)
    assert result.exit_code == 1
    assert lines_of(result.output, tmp_path)[1:] == [
        "Error: <tmp>/example-district: 矩阵文件不存在（应为含 matrix.toml 的文件夹或该文件本身；"
        "可用 huisheng matrix import 从台账 CSV 生成）",
        "<tmp>/huisheng.toml: database.url: 数据库 <tmp>/huisheng.sqlite：这是一个文件夹，不是数据库文件",
        "<tmp>/our-rules.yaml: 规则文件不存在",
    ]


# --- as another user ----------------------------------------------------------


@pytest.fixture
def shared_tmp():
    """A folder another user can reach (pytest's own tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="hs-install-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def as_other_user(*args: str) -> subprocess.CompletedProcess:
    """Run ``huisheng ARGS`` as a user who owns none of the files made here."""
    command = [str(HUISHENG), *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: no other user to run as")
        nobody = pwd.getpwnam("nobody")
        command = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd="/")


def other_user() -> str:
    return "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line


def test_no_permission_for_the_database_is_one_line_naming_it(shared_tmp):
    state = shared_tmp / "state"
    state.mkdir(mode=0o755)
    if os.geteuid() != 0:
        state.chmod(0o555)
    config = shared_tmp / "huisheng.toml"
    config.write_text(f'matrix = "{DISTRICT}"\n[database]\nurl = "sqlite:///{state}/db/huisheng.sqlite"\n',
                      encoding="utf-8")
    config.chmod(0o644)
    user = other_user()
    # a state folder the service user cannot create: what the README's `install -d -o huisheng` is for
    expected = (f"Error: {state}/db/huisheng.sqlite: 文件夹 {state}/db 不存在，当前用户（{user}）也无权创建它"
                f"（可由 root 创建并交给该用户：install -d -o {user} {state}/db）")
    assert one_error_line(as_other_user("db", "upgrade", "--config", str(config))) == expected
    assert one_error_line(as_other_user("status", "--config", str(config))) == expected
    checked = as_other_user("config", "check", "--config", str(config))
    assert checked.returncode == 1
    assert f"database.url: 数据库 {state}/db/huisheng.sqlite：文件夹 {state}/db 不存在" in checked.stderr

    # a database file this user may read but not write (made by root, say)
    state.chmod(0o755)
    (state / "db").mkdir()
    assert CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)]).exit_code == 0
    if os.geteuid() != 0:
        (state / "db").chmod(0o555)
    for command in (["flags", "list"], ["matrix", "sync"], ["db", "upgrade"], ["flags", "ack", "1", "--by", "x"]):
        line = one_error_line(as_other_user(*command, "--config", str(config)))
        assert line.startswith(f"Error: {state}/db/huisheng.sqlite: "), (command, line)
    checked = as_other_user("config", "check", "--config", str(config))
    assert checked.returncode == 1
    assert f"数据库 {state}/db/huisheng.sqlite：当前用户（{user}）没有读写这个文件的权限" in checked.stderr


def test_no_permission_for_a_file_is_one_line_naming_it(shared_tmp):
    sheet = shared_tmp / "台账.csv"
    shutil.copy(DISTRICT / "matrix.csv", sheet)
    sheet.chmod(0o600)  # the operator's own file
    out = shared_tmp / "out"
    out.mkdir(mode=0o755)
    if os.geteuid() != 0:
        out.chmod(0o555)
        sheet.chmod(0o000)
    user = other_user()
    line = one_error_line(as_other_user("matrix", "import", str(sheet)))
    assert line == f"Error: {sheet}: 没有权限（当前用户 {user}；Permission denied）"
    sheet.chmod(0o644)
    line = one_error_line(as_other_user("matrix", "import", str(sheet), "--out", str(out / "matrix")))
    assert line == f"Error: {out}/matrix: 没有权限（当前用户 {user}；Permission denied）"


def test_a_path_through_a_file_is_one_line_naming_it(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["matrix", "import", str(DISTRICT / "matrix.csv"), "--out", str(blocker / "m")])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.strip() == f"Error: {blocker}/m: 路径中有一段不是文件夹（Not a directory）"
    labelled = ROOT / "tests" / "data" / "labelled-comments.csv"
    result = runner.invoke(main, ["rules", "eval", str(labelled), "--predictions", str(blocker / "p.csv"),
                                  "--config", str(EXAMPLE)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"Error: {blocker}/p.csv: 路径中有一段不是文件夹（Not a directory）"


# --- every command, a database that cannot be opened ---------------------------

#: commands that open the database, with the arguments they need
DATABASE_COMMANDS = {
    "backfill": ["--days", "1"], "db current": [], "db downgrade": ["base"], "db upgrade": [],
    "digest preview": ["--admin", "xinwen@example.org"], "digest send": [],
    "flags ack": ["1", "--by", "x"], "flags close": ["1", "--by", "x"], "flags dismiss": ["1", "--by", "x", "--note", "n"],
    "flags list": [], "flags promise": ["1", "--date", "2026-12-20", "--by", "x"],
    "flags reassign": ["1", "--to", "交通局", "--by", "x"], "flags reply": ["1", "--by", "x", "--note", "n"],
    "flags resolve": ["1", "--by", "x"], "flags show": ["1"], "matrix sync": [],
    "outbox list": [], "outbox retry": ["1"], "outbox send": [], "poll": ["1"],
    "report compliance": [], "report coverage": [], "report overdue": [], "report ranking": [],
    "routing train": ["--from-flags", "--out", "model.json"], "run": [], "status": [],
    "users add": ["a@example.org"], "users disable": ["a@example.org"], "users enable": ["a@example.org"],
    "users list": [], "users password": ["a@example.org"], "users role": ["a@example.org", "auditor"],
    "web": [],
}
#: commands that never open it (``worker`` refuses a config without [scale] engine =
#: "procrastinate" before; ``db copy`` opens the URLs it is given: tests/test_scale.py)
NO_DATABASE = {"adapters list", "config check", "matrix import", "parse", "routing eval", "routing info",
               "rules eval", "rules test", "simulate", "worker", "db copy"}


def leaf_commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from leaf_commands(command, path + (name,))
        else:
            yield " ".join(path + (name,))


def test_the_list_covers_every_command():
    assert set(leaf_commands(main)) == set(DATABASE_COMMANDS) | NO_DATABASE


@pytest.mark.parametrize("kind", ["folder in its place", "a file in its path", "server not answering"])
def test_every_command_says_in_one_line_that_the_database_cannot_be_opened(tmp_path, kind):
    if kind == "folder in its place":
        (tmp_path / "huisheng.sqlite").mkdir()
        url, shown = f"sqlite:///{tmp_path}/huisheng.sqlite", f"{tmp_path}/huisheng.sqlite: 这是一个文件夹，不是数据库文件"
    elif kind == "a file in its path":
        (tmp_path / "state").write_text("", encoding="utf-8")
        url, shown = f"sqlite:///{tmp_path}/state/huisheng.sqlite", f"路径中的 {tmp_path}/state 不是文件夹"
    else:
        url, shown = "postgresql://huisheng@127.0.0.1:1/huisheng", "127.0.0.1:1/huisheng: 无法连接数据库（"
    config = tmp_path / "huisheng.toml"
    config.write_text(f'matrix = "{DISTRICT}"\nlog_level = "ERROR"\n[database]\nurl = "{url}"\n', encoding="utf-8")
    for name, args in DATABASE_COMMANDS.items():
        result = CliRunner().invoke(main, ["--config", str(config), *name.split(), *args], input="pw\npw\n")
        assert result.exit_code == 1, (name, result.output)
        assert not result.exception or isinstance(result.exception, SystemExit), (name, result.exception)
        (line,) = result.output.strip().splitlines()[-1:]
        assert line.startswith("Error: ") and shown in line, (name, result.output)
        assert not any(word in result.output for word in ("Traceback", "sqlalche.me", "OperationalError")), name


def test_a_read_only_database_is_one_line_naming_it(tmp_path):
    path = tmp_path / "huisheng.sqlite"
    path.write_bytes(b"")
    config = tmp_path / "huisheng.toml"
    config.write_text(f'[database]\nurl = "sqlite:///file:{path}?mode=ro&uri=true"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)])
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: {path}: 数据库只读，无法写入（检查文件及其文件夹的权限，"
                                     f"或磁盘是否以只读方式挂载）")


# --- the systemd recipe --------------------------------------------------------


def readme_block(heading: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(heading):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_service_owns_its_state_folder():
    unit = (ROOT / "config" / "huisheng.service").read_text(encoding="utf-8")
    values = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    assert values["User"] == "huisheng" and values["StateDirectory"] == "huisheng"
    assert values["WorkingDirectory"] == "/var/lib/huisheng" and stat.S_IMODE(int(values["StateDirectoryMode"], 8)) == 0o750


def test_the_readme_recipe_creates_the_state_folder_and_installs_the_wheel_it_builds():
    steps = readme_block("### Installing on a district server (systemd)")
    first_as_service = next(i for i, s in enumerate(steps) if s.startswith("sudo -u huisheng"))
    state = [i for i, s in enumerate(steps)
             if re.match(r"install -d -o huisheng -g huisheng -m 0750 /var/lib/huisheng(\s|$)", s)]
    assert state and state[0] < first_as_service
    (install,) = [s for s in steps if "/opt/huisheng/venv/bin/pip install" in s]
    wheel = re.search(r"pip install (dist/huisheng-[\w.]+-py3-none-any\.whl)", install).group(1)
    build = readme_block("## Installing and configuring")
    assert not any(re.match(r"(sudo )?pip3? install", s) for s in build)  # never into the system's Python
    (make_wheel,) = [s for s in readme_block("The wheel (for a machine") if "pip wheel" in s]
    assert "python3 -m venv" in make_wheel and "--wheel-dir dist ." in make_wheel
    from huisheng import __version__
    assert wheel == f"dist/huisheng-{__version__}-py3-none-any.whl"
