"""JSON log lines: what they hold, and what they never hold."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from strongroom import logs
from strongroom.clock import rfc3339


@pytest.mark.parametrize(
    "created", [0.0, 1.5, 1795999664.445756, 1795999664.999999, 1796000000.000001]
)
def test_the_timestamp_is_rfc3339_utc_with_microseconds(created: float) -> None:
    formatter = logs.JsonFormatter()
    record = logging.LogRecord("strongroom.x", logging.INFO, "", 0, "hello", None, None)
    record.created = created
    line = json.loads(formatter.format(record))
    assert line["time"] == rfc3339(int(created * 1_000_000))


def test_a_line_holds_the_extra_fields_in_name_order_and_no_standard_ones() -> None:
    formatter = logs.JsonFormatter()
    record = logging.makeLogRecord(
        {"name": "strongroom.http", "levelno": logging.INFO, "levelname": "INFO", "msg": "request"}
    )
    record.__dict__.update({"status": 200, "actor": "token:ab", "_private": 1, "route": "/x"})
    line = json.loads(formatter.format(record))
    assert list(line) == ["time", "level", "logger", "msg", "actor", "route", "status"]
    assert (line["level"], line["logger"], line["msg"]) == ("info", "strongroom.http", "request")


def test_an_exception_is_named_never_quoted() -> None:
    formatter = logs.JsonFormatter()
    try:
        raise ValueError("CANARY-log-secret")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "", 0, "failed", None, sys.exc_info())
    text = formatter.format(record)
    assert json.loads(text)["exception"] == "ValueError"
    assert "CANARY" not in text
