"""Pieces every command shares: the ``--config`` option and error reporting."""

from __future__ import annotations

import errno
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


#: what an operating-system error means, for district staff
_ERRNO_WORDS = {
    errno.ENOENT: "文件或文件夹不存在", errno.EACCES: "没有权限", errno.EPERM: "没有权限",
    errno.EROFS: "文件系统只读", errno.ENOSPC: "磁盘已满", errno.EDQUOT: "超出磁盘配额",
    errno.EISDIR: "这是文件夹，不是文件", errno.ENOTDIR: "路径中有一段不是文件夹", errno.EEXIST: "已存在",
    errno.ENAMETOOLONG: "路径太长", errno.EIO: "磁盘读写出错",
}


def os_error_line(exc: OSError) -> str:
    """An operating-system error as one line naming the path: ``/var/lib/huisheng:
    没有权限（当前用户 huisheng；Permission denied）``."""
    from huisheng.storage.db import current_user

    words = _ERRNO_WORDS.get(exc.errno, "系统错误")
    detail = exc.strerror or type(exc).__name__
    if exc.errno in (errno.EACCES, errno.EPERM):
        detail = f"当前用户 {current_user()}；{detail}"
    where = " → ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    return f"{where or '系统'}: {words}（{detail}）"


#: the largest row id either database can hold (a signed 64-bit integer)
MAX_ROW_ID = 2**63 - 1


class RowId(click.ParamType):
    """The number of a row (a flag, a message): a positive integer a database
    can hold, else one line (never an overflow deep in the driver)."""

    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip()
        if isinstance(value, int) or (text.isascii() and text.isdigit()):
            number = int(value) if isinstance(value, int) else int(text)
            if 1 <= number <= MAX_ROW_ID:
                return number
        self.fail(f"「{value}」不是有效的编号（应为正整数，如 12）", param, ctx)


ROW_ID = RowId()
#: the most rows a listing shows at once
MAX_LIMIT = 1_000_000
LIMIT = click.IntRange(0, MAX_LIMIT)


def require_schema(url: str) -> None:
    """Commands that use the database refuse to run on an old schema."""
    from huisheng import migrations

    if migrations.current(url) != migrations.head():
        raise HuishengError("the database schema is not up to date: run `huisheng db upgrade` first")


def exit_stopped() -> None:
    """End a daemon whose stop is complete (every unit committed, the database
    closed) at once.  Finalising the interpreter's modules only frees memory,
    yet on a loaded machine it took 1-2 s, past a short ``stop_grace``, at a
    point where the give-up timer can no longer fire."""
    import logging
    import sys

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe has nothing more to take
            pass
    os._exit(0)
