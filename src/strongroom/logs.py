"""Structured JSON logs, one object per line on stderr.

Log records carry identifiers (request id, route, status, actor) and never a request
body, a query string, a header value or an exception message from a driver.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from strongroom.clock import SystemClock, rfc3339

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_clock = SystemClock()


class JsonFormatter(logging.Formatter):
    """Render a record and its ``extra`` fields as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": rfc3339(int(record.created * 1_000_000)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "color_message" and not key.startswith("_"):
                data[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: messages of third-party errors may quote data.
            data["exception"] = record.exc_info[0].__name__
        return json.dumps(data, default=str, separators=(",", ":"))


def configure(level: str = "info") -> None:
    """Send every log record to stderr as JSON at ``level`` and above."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
