"""The ``huisheng`` command.  Each command group lives in its own module and
registers itself on :data:`main`."""

from __future__ import annotations

import errno

import click

from huisheng import __version__
from huisheng.cli._common import CONFIG_META, os_error_line
from huisheng.errors import HuishengError


class _Main(click.Group):
    """Whatever command runs, a file or folder it cannot open or write (and any
    of huisheng's own errors) is one line on stderr naming the path, exit 1,
    never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HuishengError as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # output piped into `head`: click ends quietly
                raise
            raise click.ClickException(os_error_line(exc)) from exc


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="huisheng")
@click.option("--config", "config", metavar="PATH", default=None,
              help="Main config file for every subcommand (default: $HUISHENG_CONFIG, then ./huisheng.toml).")
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """回声 huisheng: watch a district's government account matrix so every
    citizen who writes to it gets an answer."""
    if config:
        ctx.meta[CONFIG_META] = config


def _register() -> None:
    from huisheng.cli import (adapters_cmd, config_cmd, daemon_cmd, db_cmd, digest_cmd, flags_cmd,
                                      outbox_cmd, parse_cmd, report_cmd, routing_cmd, rules_cmd, simulate_cmd,
                                      users_cmd, web_cmd, worker_cmd)

    for module in (config_cmd, db_cmd, adapters_cmd, parse_cmd, simulate_cmd, daemon_cmd, worker_cmd, rules_cmd,
                   routing_cmd, flags_cmd, report_cmd, digest_cmd, outbox_cmd, users_cmd, web_cmd):
        module.register(main)


_register()
