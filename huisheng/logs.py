"""Logging to stderr, one line per event (journald-friendly).

Under systemd (``JOURNAL_STREAM`` set) journald stamps each line itself, so the
timestamp is left out there.  Elsewhere each line starts with its time in the
district's time zone, with the UTC offset (``2026-12-03T09:15:02.123+08:00``):
a log copied to another machine or read beside a server in UTC stays unambiguous.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime
from zoneinfo import ZoneInfo


class _Formatter(logging.Formatter):
    def __init__(self, fmt: str, tz: ZoneInfo | None):
        super().__init__(fmt)
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # the record's own creation time, never the clock: nothing here reads "now"
        return datetime.fromtimestamp(record.created, self.tz).astimezone(self.tz).isoformat(
            timespec="milliseconds")


def setup_logging(level: str = "INFO", timezone: str | None = None) -> None:
    """``timezone``: an IANA name (the config's); None: the machine's local time."""
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(levelname)s %(name)s %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    handler.setFormatter(_Formatter(fmt, ZoneInfo(timezone) if timezone else None))
    root = logging.getLogger("huisheng")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # APScheduler logs every job run at INFO; keep only its warnings.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
