"""``huisheng adapters list``: the platform adapters installed (entry points)."""

from __future__ import annotations

from pathlib import Path

import click

from huisheng import adapters
from huisheng.adapters.base import Adapter
from huisheng.cli._common import config_option, fail_cleanly


def adapter_rows() -> list[tuple[str, str, str, str]]:
    """(name, hosts, default pace, source) for each installed adapter."""
    rows = []
    for name, ep in sorted(adapters.available().items()):
        dist = getattr(ep, "dist", None)
        source = f"{ep.value}"
        if dist is not None:
            source += f" ({dist.metadata['Name']} {dist.version})"
        try:
            cls = adapters.load(name)
        except Exception as exc:  # a broken plugin must not hide the others
            rows.append((name, "-", "-", f"{source}: cannot load: {type(exc).__name__}: {exc}"))
            continue
        rows.append((name, ", ".join(cls.hosts) or "-", _pace(cls), source))
    return rows


def _pace(cls: type[Adapter]) -> str:
    pace = cls.default_pace
    return f"1 request / {pace.min_interval:g}s, {pace.concurrency} at once"


def register(main: click.Group) -> None:
    @main.group("adapters")
    def adapters_group() -> None:
        """Platform adapters (plugins of the entry-point group huisheng.adapters)."""

    @adapters_group.command("list")
    @config_option
    @fail_cleanly
    def list_command(config: Path) -> None:
        """Show the installed adapters: name, hosts, default pace, where each comes from."""
        header = ("NAME", "HOSTS", "DEFAULT PACE", "SOURCE")
        rows = [header, *adapter_rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:3])]
            click.echo("  ".join([*cells, row[3]]).rstrip())
        if len(rows) == 1:
            click.echo("(no adapters installed)")
