"""``huisheng worker``: one procrastinate worker of several machines."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import replace
from pathlib import Path

import click

from huisheng.cli._common import config_option, exit_stopped, fail_cleanly, require_schema


@click.command()
@click.option("--name", default=None, help="This worker's name (default: [scale] name, else the host name).")
@click.option("--egress", default=None, help="The egress label its requests leave by (default: [scale] egress).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Polls at once (default: [scale] concurrency, else polling.workers).")
@config_option
@fail_cleanly
def worker(config: Path, name: str | None, egress: str | None, concurrency: int | None) -> None:
    """Run a worker of a cluster sharing one PostgreSQL ([scale] engine = "procrastinate")
    until SIGTERM/SIGINT."""
    from huisheng.config import load_settings
    from huisheng.logs import setup_logging
    from huisheng.scale.settings import require_distributed
    from huisheng.scale.worker import Worker, check_queue

    settings = load_settings(config)
    scale = require_distributed(settings)
    scale = replace(scale, name=name or scale.name, egress=egress or scale.egress,
                    concurrency=concurrency or scale.concurrency)
    setup_logging(settings.log_level, settings.timezone)
    require_schema(settings.database_url)
    check_queue(settings)
    runner = Worker(settings, scale)
    grace = settings.polling.stop_grace

    def _give_up() -> None:
        # As `huisheng run`: every unit is committed whole and the jobs of a
        # worker that vanished are retried, so exiting now is as safe as a kill -9.
        click.echo(f"huisheng: still stopping after {grace:g}s (polling.stop_grace): exiting now", err=True)
        os._exit(1)

    def _on_signal(signum: int) -> None:
        click.echo(f"huisheng: {signal.Signals(signum).name} received, finishing polls in flight", err=True)
        if not runner.stopping.is_set():
            deadline = threading.Timer(grace, _give_up)
            deadline.daemon = True
            deadline.start()

    runner.install_signal_handlers(_on_signal)
    runner.run()
    exit_stopped()


def register(main: click.Group) -> None:
    main.add_command(worker)
