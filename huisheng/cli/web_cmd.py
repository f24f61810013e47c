"""``huisheng web``: serve the workbench."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from huisheng.cli._common import config_option, fail_cleanly, require_schema


@click.command("web")
@click.option("--host", default=None, help="Listen address (default: [web] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Listen port (default: [web] port, 8470).")
@config_option
@fail_cleanly
def web(host: str | None, port: int | None, config: Path) -> None:
    """Serve the web workbench (我的待办, flags, audit pages) until interrupted."""
    from huisheng.config import load_settings
    from huisheng.storage.db import make_engine, session_factory
    from huisheng.logs import setup_logging
    from huisheng.web.config import web_from_settings
    from huisheng.web.serve import build_app, make_server

    settings = load_settings(config)
    setup_logging(settings.log_level, settings.timezone)
    require_schema(settings.database_url)
    web_settings = web_from_settings(settings)
    engine = make_engine(settings.database_url)
    try:
        app = build_app(settings, session_factory(engine))
        server = make_server(app, host or web_settings.host, port or web_settings.port)
        click.echo(f"回声工作台：{server.url}（Ctrl-C 停止）", err=True)
        # Ctrl-C and systemd's SIGTERM both stop it cleanly, even when started
        # with SIGINT ignored (a parent's setting a child inherits)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _interrupt)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
    finally:
        engine.dispose()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def register(main: click.Group) -> None:
    main.add_command(web)
