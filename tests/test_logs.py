"""Log lines carry their time with the UTC offset, in the district's time zone."""

from __future__ import annotations

import logging
import re

import pytest

from huisheng.logs import setup_logging


@pytest.fixture
def huisheng_logger(monkeypatch):
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    logger = logging.getLogger("huisheng")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


@pytest.mark.parametrize("zone, offset", [("Asia/Shanghai", r"\+08:00"), ("Asia/Kolkata", r"\+05:30"),
                                          ("UTC", r"\+00:00")])
def test_each_line_starts_with_its_time_and_utc_offset(huisheng_logger, capsys, zone, offset):
    setup_logging("INFO", zone)
    logging.getLogger("huisheng.poll").info("account=沙坪坝发布 outcome=ok")
    line = capsys.readouterr().err.strip()
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}{offset} INFO huisheng\.poll "
                        rf"account=沙坪坝发布 outcome=ok", line), line


def test_without_a_zone_the_machine_time_still_has_its_offset(huisheng_logger, capsys):
    setup_logging("INFO")
    logging.getLogger("huisheng.poll").warning("x")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d WARNING ", capsys.readouterr().err)


def test_under_journald_the_journal_stamps_the_line(huisheng_logger, capsys, monkeypatch):
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    setup_logging("INFO", "Asia/Shanghai")
    logging.getLogger("huisheng.poll").info("x")
    assert capsys.readouterr().err == "INFO huisheng.poll x\n"
