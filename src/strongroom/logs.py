"""Structured JSON logs, one object per line on stderr.

Log records carry identifiers (request id, route, status, actor) and never a request
body, a query string, a header value or an exception message from a driver.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
    "taskName",
}


# Built once: `json.dumps` with any option builds a new encoder on every call.
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    """Render a record and its ``extra`` fields as one JSON object.

    Every request logs a line, so this is on the hot path: the timestamp's seconds are
    formatted once per second, and the ``extra`` fields are found by one set difference.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._prefix = ""

    def _time(self, created: float) -> str:
        """RFC 3339 UTC with microseconds, as `strongroom.clock.rfc3339` writes it."""
        micros = int(created * 1_000_000)
        second, fraction = divmod(micros, 1_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{fraction:06d}Z"

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = vars(record)
        for key in sorted(fields.keys() - _STANDARD):
            if not key.startswith("_"):
                data[key] = fields[key]
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: messages of third-party errors may quote data.
            data["exception"] = record.exc_info[0].__name__
        return _ENCODER.encode(data)


def configure(level: str = "info") -> None:
    """Send every log record to stderr as JSON at ``level`` and above."""
    # The logging HOWTO's optimisations: records skip what the JSON never shows (the
    # caller's frame, thread and process names), which costs more than the line itself.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
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
