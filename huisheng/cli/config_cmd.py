"""``huisheng config check``, ``huisheng matrix import`` and ``huisheng matrix sync``."""

from __future__ import annotations

import os
from pathlib import Path

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from huisheng.errors import ConfigError, HuishengError
from huisheng.cli._common import config_option, fail_cleanly
from huisheng.config import ConfigErrors, load_settings, parse_toml
from huisheng.config.matrix import dump_matrix, import_csv, level_counts, load_matrix, platform_counts
from huisheng.config.settings import Matrix, Settings
from huisheng.textsafe import terminal
from huisheng.vocabulary import UnitLevel


def hidden_password_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _no_matrix(config: Path) -> ConfigError:
    return ConfigError("未配置矩阵：请在配置文件顶部写 matrix = \"矩阵文件夹或 matrix.toml 的路径\"",
                       file=str(config), key="matrix")


def _load_matrix_for(settings: Settings) -> Matrix:
    if settings.matrix_path is None:
        raise _no_matrix(settings.path)
    return load_matrix(settings.matrix_path)


def _named_paths(config: Path) -> tuple[Path | None, Path | None]:
    """The matrix and the rules a config names, read without validating the rest
    of it, so that ``config check`` reports their problems beside the file's own."""
    data, _ = parse_toml(config)
    base = config.resolve().parent

    def named(key: str) -> Path | None:
        value = data.get(key)
        # a value with NUL is reported by the validation and names no file
        usable = isinstance(value, str) and value and "\x00" not in value
        return Path(os.path.abspath(base / value)) if usable else None

    return named("matrix"), named("rules")


def _check_database_place(settings: Settings) -> None:
    """A SQLite file this user can create or open and write (``ExecStartPre``
    runs the check as the service's user)."""
    from huisheng.storage.db import sqlite_place_problem

    url = make_url(settings.database_url)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return
    problem = sqlite_place_problem(Path(database))
    if problem:
        raise ConfigError(f"数据库 {database}：{problem}", file=str(settings.path), key="database.url")


def _warnings(settings: Settings) -> list[str]:
    """What works but is probably not meant: said, without failing the check."""
    from huisheng.notify.mail import mail_from_settings

    if not mail_from_settings(settings).enabled:
        return ["未配置邮件（[mail] 的 host）：不会发送任何每日摘要和紧急留言提醒；"
                "请按示例配置填写 [mail]"]
    return []


def _check_adapters_load(matrix: Matrix) -> None:
    """Every platform the matrix uses has an adapter that imports."""
    from huisheng import adapters

    for platform in platform_counts(matrix):
        try:
            adapters.load(platform)
        except HuishengError:
            raise
        except Exception as exc:  # a broken plugin: name it, no traceback
            raise ConfigError(f"平台 \"{platform}\" 的适配器无法加载（{type(exc).__name__}: {exc}）",
                              file=str(matrix.source)) from exc


def summary_lines(settings: Settings, matrix: Matrix) -> list[str]:
    lines = [
        f"配置文件：{settings.path}",
        f"数据库：{hidden_password_url(settings.database_url)}",
        f"时区：{settings.timezone}",
        f"轮询：默认每 {settings.polling.interval} 秒，{settings.polling.workers} 个并发账号",
    ]
    for name, platform in sorted(settings.platforms.items()):
        pace = platform.pace
        secrets = "，".join(f"{k} 取自环境变量 {v}" + ("" if platform.options.get(k) else "（未设置）")
                           for k, v in platform.secret_env.items())
        lines.append(f"平台 {name}：请求间隔 ≥ {pace.min_interval:g} 秒，并发 {pace.concurrency}"
                     + (f"；{secrets}" if secrets else ""))
    lines.append(f"矩阵：{matrix.source}")
    lines.append("单位：" + "，".join(f"{UnitLevel.label_of(level)}（{level}）{n}"
                                    for level, n in level_counts(matrix).items()))
    enabled = sum(1 for a in matrix.accounts if a.enabled)
    lines.append("账号：" + "，".join(f"{p} {n}" for p, n in platform_counts(matrix).items())
                 + f"（共 {len(matrix.accounts)}，启用 {enabled}）")
    return lines


def _check_routing_model(settings) -> None:
    """The ``[routing]`` model, if configured: a file that is not a model of
    this version is an error; a missing one only a note (retraining makes one)."""
    from huisheng.flags.relearn import routing_from_settings

    path = routing_from_settings(settings).model
    if path is None:
        return
    if not path.exists():
        click.echo(f"路由模型：{path} 尚不存在，先按规则分派（可用 huisheng routing train 训练；"
                   f"守护进程在有足够已办结的需回复后也会训练）")
        return
    from huisheng.flags.learn import read_header

    meta = read_header(path)
    click.echo(f"路由模型：{path}（训练于 {meta.get('trained_at')}，{sum(meta.get('examples', {}).values())} 条样本）")


def register(main: click.Group) -> None:
    @main.group("config")
    def config_group() -> None:
        """Main configuration (配置)."""

    @config_group.command("check")
    @config_option
    @fail_cleanly
    def check(config: Path) -> None:
        """Validate the main config, the matrix, the decision rules and the
        database's place; print a summary.  Every problem is reported at once;
        a warning (no [mail]: no digest is sent) does not fail the check."""
        from huisheng.flags.rules import DEFAULT_RULES, load_rules

        problems: list[ConfigError] = []

        def collect(step):
            try:
                return step()
            except ConfigError as exc:
                problems.extend(exc.errors if isinstance(exc, ConfigErrors) else (exc,))
            return None

        settings = collect(lambda: load_settings(config))
        if settings is not None:
            matrix_path, rules_path = settings.matrix_path, settings.rules_path
        else:
            try:
                matrix_path, rules_path = _named_paths(config)
            except ConfigError:  # the file cannot be read or parsed: nothing more to check
                raise ConfigErrors(problems) from None
        matrix = None
        if matrix_path is None:
            problems.append(_no_matrix(config.resolve()))
        else:
            matrix = collect(lambda: load_matrix(matrix_path))
        if matrix is not None:
            collect(lambda: _check_adapters_load(matrix))
        collect(lambda: load_rules(rules_path))
        if settings is not None:
            collect(lambda: _check_database_place(settings))
            for warning in _warnings(settings):
                click.echo(f"警告：{warning}", err=True)
        if problems:
            raise ConfigErrors(problems)
        for line in summary_lines(settings, matrix):
            click.echo(line)
        click.echo(f"规则：{settings.rules_path or DEFAULT_RULES}")
        _check_routing_model(settings)
        click.echo("配置检查通过。")

    @main.group("matrix")
    def matrix_group() -> None:
        """The account matrix (政务新媒体矩阵)."""

    @matrix_group.command("import")
    # readable=False: an unreadable file gets the one-line OS error naming it, in Chinese
    @click.argument("csv_file", metavar="FILE.csv", type=click.Path(dir_okay=False, readable=False, path_type=Path))
    @click.option("--out", "out", metavar="PATH", type=click.Path(path_type=Path), default=None,
                  help="Write here: a folder (gets matrix.toml) or a .toml file; default: standard output.")
    @click.option("--force", is_flag=True, help="Overwrite an existing matrix file.")
    @config_option
    @fail_cleanly
    def import_(csv_file: Path, out: Path | None, force: bool, config: Path) -> None:
        """Convert a district's spreadsheet (CSV: UTF-8 or GBK) into a matrix file.

        Units the spreadsheet gives no code keep the code they have in the
        matrix file being replaced (so a re-import changes nothing in the
        database), else get a readable one (dept-03, street-07-02)."""
        # a folder (existing or not) unless it names a .toml file
        target = None if out is None else out if out.suffix == ".toml" and not out.is_dir() else out / "matrix.toml"
        previous = None
        if target is not None and target.exists():
            if not force:
                raise ConfigError("文件已存在；确认覆盖请加 --force", file=str(target))
            try:
                previous = load_matrix(target)
            except ConfigError as exc:
                click.echo(f"注意：无法读取现有的矩阵文件，未沿用其中的单位编码（{str(exc).splitlines()[0]}）",
                           err=True)
        matrix = import_csv(csv_file, previous=previous)
        text = dump_matrix(matrix, header=f"政务新媒体矩阵 — imported from {csv_file.name}")
        if target is None:
            click.echo(text, nl=False)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        click.echo(f"已写入 {target}：{len(matrix.units)} 个单位，{len(matrix.accounts)} 个账号。", err=True)

    @matrix_group.command("sync")
    @config_option
    @fail_cleanly
    def sync(config: Path) -> None:
        """Load the matrix into the database (idempotent; removed accounts are disabled)."""
        from huisheng import migrations
        from huisheng.flags.history import remark
        from huisheng.flags.sla import calendar_from_settings, history_from_settings
        from huisheng.clock import Clock
        from huisheng.storage.db import make_engine, session_factory
        from huisheng.storage.matrix_sync import sync_matrix
        from huisheng.users import sync_matrix_users

        settings = load_settings(config)
        matrix = _load_matrix_for(settings)
        migrations.upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            with session_factory(engine)() as session, session.begin():
                history = history_from_settings(settings)
                report = sync_matrix(session, matrix, Clock().now(), timezone=settings.timezone,
                                     history_start=history.start_for(calendar_from_settings(settings)))
                # flags already raised follow a monitoring start the matrix set, moved or removed
                remarked = remark(session, history, Clock().now())
                user_changes = sync_matrix_users(session, Clock().now())
        except DBAPIError as exc:
            raise HuishengError(f"数据库错误（{hidden_password_url(settings.database_url)}）："
                                f"{type(exc.orig).__name__}") from exc
        finally:
            engine.dispose()
        for line in report.lines() + user_changes:
            click.echo(terminal(line))
        if remarked:
            now_history = sum(remarked.values())
            click.echo(f"监测起始变更，已更新 {len(remarked)} 条需回复：{now_history} 条记为历史（不计时），"
                       f"{len(remarked) - now_history} 条恢复计时")


__all__ = ["register", "summary_lines", "ConfigErrors"]
