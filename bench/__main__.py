"""``python -m bench [names…]``: run every benchmark module of this package that
defines ``main()`` (modules starting with ``_`` are helpers), or the named ones."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from pathlib import Path


def available() -> list[str]:
    names = []
    for info in pkgutil.iter_modules([str(Path(__file__).resolve().parent)]):
        if info.name.startswith("_"):
            continue
        if callable(getattr(importlib.import_module(f"bench.{info.name}"), "main", None)):
            names.append(info.name)
    return sorted(names)


def run(argv: list[str]) -> int:
    known = available()
    wanted = argv or known
    unknown = [name for name in wanted if name not in known]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(known)}",
              file=sys.stderr)
        return 2
    failed = 0
    for name in wanted:
        try:
            importlib.import_module(f"bench.{name}").main()
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
