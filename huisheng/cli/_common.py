"""Pieces every command shares: the ``--config`` option and error reporting."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable

import click

from huisheng.errors import HuishengError


#: where ``huisheng --config PATH <command>`` leaves PATH for the command
CONFIG_META = "huisheng.config"


def config_path(value: str | None) -> Path:
    """The subcommand's ``--config``, else the group's (``huisheng --config PATH
    status``), else ``$HUISHENG_CONFIG``, else ``./huisheng.toml``."""
    ctx = click.get_current_context(silent=True)
    group_value = ctx.meta.get(CONFIG_META) if ctx is not None else None
    return Path(value or group_value or os.environ.get("HUISHENG_CONFIG") or "huisheng.toml")


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--config PATH`` to a command; the command receives ``config`` (a Path)."""

    @click.option("--config", "config", metavar="PATH", default=None,
                  help="Main config file (default: $HUISHENG_CONFIG, then ./huisheng.toml).")
    @functools.wraps(func)
    def wrapper(*args: Any, config: str | None, **kwargs: Any) -> Any:
        return func(*args, config=config_path(config), **kwargs)

    return wrapper


def fail_cleanly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn huisheng's own errors into one message on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HuishengError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def require_schema(url: str) -> None:
    """Commands that use the database refuse to run on an old schema."""
    from huisheng import migrations

    if migrations.current(url) != migrations.head():
        raise HuishengError("the database schema is not up to date: run `huisheng db upgrade` first")
