"""``huisheng simulate``: the local simulator (``huisheng.simulator``) over HTTP."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import click

from huisheng.cli._common import config_option, fail_cleanly
from huisheng.errors import ConfigError
from huisheng.clock import Clock


def _parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        start = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"--start: expected an ISO 8601 time such as 2026-11-02T09:00+08:00, got {value!r}") from exc
    if not 2010 <= start.year <= 2098:  # a world with the platform's ids and a working-day calendar
        raise ConfigError(f"--start: expected a time between 2010 and 2098, got {value!r}")
    return start if start.tzinfo else start.replace(tzinfo=timezone.utc)


def register(main: click.Group) -> None:
    @main.command("simulate")
    @config_option
    @click.option("--matrix", "matrix_path", type=click.Path(path_type=Path), default=None,
                  help="Matrix file or directory (default: the matrix named in the config).")
    @click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
                  help="Port on 127.0.0.1 (0: any free port).")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same world.")
    @click.option("--faults", "faults_path", type=click.Path(path_type=Path), default=None,
                  help="Fault rules (TOML [[faults]] tables or a JSON list).")
    @click.option("--start", default=None, help="Simulated start time, ISO 8601 (default: now).")
    @click.option("--speed", type=float, default=None,
                  help="Run an accelerated simulated clock, X simulated seconds per real second.")
    @fail_cleanly
    def simulate(config: Path, matrix_path: Path | None, port: int, host: str, seed: int,
                 faults_path: Path | None, start: str | None, speed: float | None) -> None:
        """Serve the simulated platform for the whole matrix (every path its adapter reads).

        Prints the base URL, then serves until SIGINT or SIGTERM.  Ground truth,
        request counts and the minimal request count are under /_sim/.
        """
        from huisheng.config.matrix import load_matrix
        from huisheng.simulator import SimServer, World, load_faults
        from huisheng.simulator.clock import AcceleratedClock

        if matrix_path is None:
            from huisheng.config import load_settings

            settings = load_settings(config)
            if settings.matrix_path is None:
                raise ConfigError("no matrix: pass --matrix DIR or name one in the config", file=str(config))
            matrix_path = settings.matrix_path
        matrix = load_matrix(matrix_path)
        rules = load_faults(faults_path) if faults_path else []
        begin = _parse_start(start) or Clock().now()
        clock: Clock = AcceleratedClock(begin, speed) if speed else Clock()
        world = World(matrix, seed=seed, start=begin)
        server = SimServer(world, clock, faults=rules, host=host, port=port)
        try:
            base = server.start()
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror})") from exc
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(base)
        sys.stdout.flush()
        click.echo(f"simulating {len(world.accounts)} accounts from {begin.isoformat()} (seed {seed}"
                   + (f", speed x{speed:g}" if speed else "") + f", {len(rules)} fault rules)", err=True)
        try:
            while not stop.wait(0.5):
                pass
        finally:
            server.stop()
            click.echo("simulator stopped", err=True)
