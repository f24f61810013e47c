"""docs/writing-an-adapter.md holds a whole adapter package: built from the
page, installed with pip, found through its entry point, and passing the
contract tests run from the package itself."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

from huisheng.adapters.base import Adapter

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "writing-an-adapter.md"
BLOCK = re.compile(r"^```\w+\n# file: (?P<path>\S+)\n(?P<body>.*?)^```$", re.M | re.S)


def test_the_minimal_package_of_the_guide_installs_and_keeps_the_contract(tmp_path):
    package, site = tmp_path / "huisheng-example-adapter", tmp_path / "site"
    files = {m["path"]: m["body"] for m in BLOCK.finditer(PAGE.read_text(encoding="utf-8"))}
    assert set(files) == {"pyproject.toml", "huisheng_example/__init__.py", "tests/test_contract.py"}
    for path, body in files.items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(body, encoding="utf-8")

    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                                "--no-build-isolation", "--target", str(site), str(package)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr

    # found as any plugin is: a distribution whose entry points name it in the group
    [found] = [ep for dist in importlib.metadata.distributions(path=[str(site)])
               for ep in dist.entry_points if ep.group == "huisheng.adapters"]
    assert (found.name, found.value) == ("example", "huisheng_example:ExampleAdapter")
    sys.path.insert(0, str(site))
    try:
        cls = found.load()
    finally:
        sys.path.remove(str(site))
    assert issubclass(cls, Adapter) and cls.name == "example"

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    listed = subprocess.run([str(Path(sys.executable).parent / "huisheng"), "adapters", "list"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert listed.returncode == 0 and "example" in listed.stdout and "weibo" in listed.stdout, listed.stderr

    contract = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               str(package / "tests" / "test_contract.py")],
                              capture_output=True, text=True, env=env, cwd=package, timeout=300)
    assert contract.returncode == 0, contract.stdout[-3000:]
    assert re.search(r"\b1[4-9] passed\b", contract.stdout), contract.stdout[-500:]
