"""Structured JSON logs, one object per line on stderr.

Log records carry identifiers (request id, route, status, actor) and never a request
body, a query string, a header value or an exception message from a driver.

Every request logs a line. Lines logged on an event loop are written together once the
loop's iteration is over (`IterationHandler`): one write for all the requests an
iteration served, instead of one each. Warnings and errors, and lines logged off a loop,
are written at once, after anything still waiting. A process killed outright loses at
most the lines of the iteration it was in; the audit trail, not this log, is the record.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import sys
import time
from json.encoder import encode_basestring_ascii
from typing import Any, TextIO

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


class IterationHandler(logging.StreamHandler[TextIO]):
    """A `logging.StreamHandler` whose info lines logged on an event loop are flushed once
    the loop's iteration is over (the stream must buffer: see `_stderr`)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._waiting_on: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        # Called with the handler's lock held (`Handler.handle`).
        try:
            self._write(self.format(record), record.levelno)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def emit_line(self, line: str) -> None:
        """Write an info ``line`` already formatted (`access`), as `emit` writes a record's:
        a stream that fails is reported as `logging` reports it, never raised."""
        self.acquire()
        try:
            self._write(line, logging.INFO)
        except RecursionError:
            raise
        except Exception:
            self.handleError(logging.makeLogRecord({"name": _HTTP.name, "msg": "request"}))
        finally:
            self.release()

    def _write(self, line: str, levelno: int) -> None:
        self.stream.write(line + self.terminator)
        if levelno < logging.WARNING:
            loop = asyncio._get_running_loop()
            if loop is not None and self._waiting_on in (None, loop):
                if self._waiting_on is None:
                    self._waiting_on = loop
                    loop.call_soon(self._flush_waiting)
                return
        # Off a loop, a warning, or another loop's lines waiting (a loop that stopped
        # before its flush ran leaves this branch to every line after): write now.
        self.stream.flush()

    def _flush_waiting(self) -> None:
        self.acquire()
        try:
            self._waiting_on = None
            self.stream.flush()
        finally:
            self.release()


_HTTP = logging.getLogger("strongroom.http")
#: The handler `configure` installed (if it has run), which `access` may write to directly.
_installed: list[IterationHandler] = []


def _direct() -> IterationHandler | None:
    """The handler an info record of ``strongroom.http`` would reach, when it is the one
    `configure` installed, alone, with a `JsonFormatter` and no filter on the way; else
    None (tests capturing logs, a reconfigured process: the record goes through logging)."""
    handler = _installed[-1] if _installed else None
    if handler is None or _HTTP.filters or handler.filters or not _HTTP.isEnabledFor(logging.INFO):
        return None
    if handler.level > logging.INFO or type(handler.formatter) is not JsonFormatter:
        return None
    reached: list[logging.Handler] = []
    logger: logging.Logger | None = _HTTP
    while logger is not None:
        reached += logger.handlers
        if not logger.propagate:
            break
        logger = logger.parent
    return handler if len(reached) == 1 and reached[0] is handler else None


def _json(value: object) -> str:
    if isinstance(value, str) and type(value) is str:
        return encode_basestring_ascii(value)
    if type(value) is int or (
        isinstance(value, float) and type(value) is float and math.isfinite(value)
    ):
        return repr(value)  # as the encoder writes them (finite floats by their repr)
    return _ENCODER.encode(value)


def access(
    request_id: str, method: str, route: str, status: int, duration_ms: float, actor: object
) -> None:
    """Log a request's line (``strongroom.http``, info): the same line as
    ``log.info("request", extra={...})`` with these fields, which every request writes.

    When the line would reach only the handler `configure` installed, it is formatted here
    and written to that handler directly: no `logging.LogRecord` and no generic
    formatting, which together cost more than the rest of a secret read's logging.
    """
    handler = _direct()
    if handler is None:
        _HTTP.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "actor": actor,
            },
        )
        return
    formatter: JsonFormatter = handler.formatter  # type: ignore[assignment]
    # Keys in `JsonFormatter.format`'s order: its four, then the fields by name.
    handler.emit_line(
        f'{{"time":"{formatter._time(time.time())}","level":"info",'
        f'"logger":"strongroom.http","msg":"request","actor":{_json(actor)},'
        f'"duration_ms":{_json(duration_ms)},"method":{_json(method)},'
        f'"request_id":{_json(request_id)},"route":{_json(route)},"status":{_json(status)}}}'
    )


def _stderr() -> TextIO:
    """stderr without line buffering (sys.stderr writes at every newline), or sys.stderr
    itself when it is not a file descriptor."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, io.UnsupportedOperation):
        return sys.stderr
    # Lives as long as the process; `logging.shutdown` flushes it at exit.
    return open(
        fd, "w", buffering=1 << 16, encoding="utf-8", errors="backslashreplace", closefd=False
    )


def configure(level: str = "info") -> None:
    """Send every log record to stderr as JSON at ``level`` and above."""
    # The logging HOWTO's optimisations: records skip what the JSON never shows (the
    # caller's frame, thread and process names), which costs more than the line itself.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = IterationHandler(_stderr())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for replaced in root.handlers:
        replaced.flush()  # lines it still buffers are written, not lost
    root.handlers[:] = [handler]
    _installed[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
