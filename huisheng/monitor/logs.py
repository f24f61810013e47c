"""Logging to stderr, one line per event (journald-friendly).

Under systemd (``JOURNAL_STREAM`` set) journald stamps each line itself, so the
timestamp is left out there.
"""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(levelname)s %(name)s %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger("huisheng")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # APScheduler logs every job run at INFO; keep only its warnings.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
