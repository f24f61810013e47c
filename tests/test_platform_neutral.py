"""Nothing outside an adapter's own package (huisheng/adapters/<platform>/)
and the simulator of the built-in platform names a platform: everything
platform-specific is declared on the adapter and asked of it."""

from __future__ import annotations

import re
from pathlib import Path

from huisheng import adapters

PACKAGE = Path(__file__).resolve().parent.parent / "huisheng"


def test_no_platform_is_named_outside_its_adapter_and_the_simulator():
    names = set(adapters.available())
    for name in list(names):
        cls = adapters.load(name)
        names |= {alias for alias in cls.aliases if alias.isascii()} | set(cls.label or ())
    names |= {"微博"}  # the built-in platform's Chinese name, in case its adapter leaves it out of its label
    found = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)), re.I)
    allowed = [PACKAGE / "simulator"] + [PACKAGE / "adapters" / name for name in adapters.available()]
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if any(path.is_relative_to(folder) for folder in allowed):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if found.search(line):
                offending.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert offending == []
