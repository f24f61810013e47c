"""``huisheng parse``: run an adapter's own parser on a saved response.

Operators use it when a platform changes a shape: it prints one JSON object per
normalized item, or exits 2 naming the endpoint and the field it could not read.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from huisheng import adapters
from huisheng.cli._common import config_option, fail_cleanly
from huisheng.errors import ParseError
from huisheng.records import Comment, Page, Post, record_to_json

#: a ``--now`` without an offset is read as local time of the districts served
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


def parse_saved(platform: str, endpoint: str, body: str | bytes, **context: Any) -> list[dict[str, Any]]:
    """The JSON objects ``huisheng parse`` prints for one saved body: the
    items of a page, a record, or any other result the adapter's parser gives
    (a dataclass, its fields)."""
    cls = adapters.load(platform)
    if endpoint not in cls.parsers:
        known = ", ".join(sorted(cls.parsers)) or "none"
        raise click.UsageError(f"platform {platform!r} has no endpoint {endpoint!r} (known: {known})")
    decoded = cls.decode_bytes(endpoint, body) if isinstance(body, bytes) else cls.decode_body(endpoint, body)
    result = cls.parsers[endpoint](decoded, **context)
    if isinstance(result, Page):
        return [record_to_json(item) for item in result.items]
    if isinstance(result, (Post, Comment)):
        return [record_to_json(result)]
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return [{k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(result).items()}]
    raise ParseError(endpoint, "<result>", f"parser returned {type(result).__name__}")


def _platform_for(endpoint: str) -> str:
    """The platform a missing ``--platform`` means: the only installed adapter
    that knows ``endpoint`` (an endpoint several know needs naming)."""
    knowing = sorted(name for name in adapters.available() if endpoint in adapters.load(name).parsers)
    if len(knowing) == 1:
        return knowing[0]
    if not knowing:
        raise click.UsageError(f"no installed adapter has an endpoint {endpoint!r} "
                               "(huisheng adapters list shows each one's endpoints)")
    raise click.UsageError(f"several adapters have an endpoint {endpoint!r} ({', '.join(knowing)}): "
                           "name one with --platform")


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(timezone.utc)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint="--now") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=DEFAULT_ZONE)
    if not 2000 <= when.year <= 2999:  # relative times are resolved by subtracting from it
        raise click.BadParameter(f"应在 2000 年至 2999 年之间，实际为 {value!r}", param_hint="--now")
    return when.astimezone(timezone.utc)


def register(main: click.Group) -> None:
    @main.command("parse")
    @click.option("--platform", default=None, show_default="the only adapter that has the endpoint",
                  help="Installed adapter name (huisheng adapters list).")
    @click.option("--endpoint", required=True,
                  help="Response shape: one of the endpoints the adapter names (huisheng adapters list).")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--account-uid", default="", help="Monitored account's uid (marks its own comments).")
    @click.option("--now", "now_text", default=None, metavar="ISO",
                  help="Fetch time relative times resolve against (default: now; no offset = Asia/Shanghai).")
    @click.option("--post-id", default="", help="Post the comments belong to.")
    @click.option("--page", type=int, default=1, show_default=True, help="Page number the response was for.")
    @config_option
    @fail_cleanly
    def parse_command(platform: str, endpoint: str, file: Path, account_uid: str, now_text: str | None,
                      post_id: str, page: int, config: Path) -> None:
        """Parse a saved response FILE and print one JSON object per normalized item."""
        if platform is None:
            platform = _platform_for(endpoint)
        body = file.read_bytes()
        try:
            rows = parse_saved(platform, endpoint, body, account_uid=account_uid,
                               now=_parse_now(now_text), post_id=post_id, page=page)
        except ParseError as exc:
            click.echo(f"error: unrecognised shape: {exc}", err=True)
            raise SystemExit(2) from exc
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True))
