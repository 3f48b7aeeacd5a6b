"""JSON log lines: what they hold, and what they never hold."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

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


class Flushes(io.StringIO):
    """A stream that records what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def _handler() -> tuple[logging.Logger, Flushes]:
    stream = Flushes()
    handler = logs.IterationHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(f"strongroom.test.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_info_lines_on_a_loop_leave_together_once_the_iteration_is_over() -> None:
    logger, stream = _handler()

    async def main() -> None:
        logger.info("one")
        logger.info("two")
        assert stream.flushed == []  # written to the buffer, not yet flushed
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert stream.flushed == ["one\ntwo\n"]
        logger.info("three")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert stream.flushed == ["one\ntwo\n", "one\ntwo\nthree\n"]


def test_warnings_and_lines_off_a_loop_leave_at_once_after_what_waits() -> None:
    logger, stream = _handler()
    logger.info("off a loop")
    assert stream.flushed == ["off a loop\n"]

    async def main() -> None:
        logger.info("waiting")
        logger.warning("now")
        assert stream.flushed[-1] == "off a loop\nwaiting\nnow\n"

    asyncio.run(main())


def test_a_loop_that_stops_before_its_flush_leaves_later_lines_unbatched_not_lost() -> None:
    logger, stream = _handler()
    stranded = asyncio.new_event_loop()
    asyncio.events._set_running_loop(stranded)  # as if logging from inside its iteration
    try:
        logger.info("stranded")
    finally:
        asyncio.events._set_running_loop(None)
    stranded.close()  # its flush never runs
    assert stream.flushed == []

    async def on_another_loop() -> None:
        logger.info("later")
        # The stranded loop still holds the flush: this line is written at once.
        assert stream.flushed[-1] == "stranded\nlater\n"

    asyncio.run(on_another_loop())


def _stderr_of(code: str) -> str:
    """What a Python process running ``code`` wrote to stderr (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stderr


def test_a_server_process_writes_its_lines_to_stderr_by_exit() -> None:
    code = (
        "import asyncio, logging; from strongroom import logs; logs.configure('info');"
        "log = logging.getLogger('strongroom.http')\n"
        "async def main():\n    log.info('on the loop', extra={'n': 1})\n"
        "asyncio.run(main()); log.info('off the loop')"
    )
    lines = [json.loads(line) for line in _stderr_of(code).splitlines()]
    assert [(line["msg"], line.get("n")) for line in lines] == [
        ("on the loop", 1),
        ("off the loop", None),
    ]


ACCESS_FIELDS = [
    ("abc123", "GET", "/v1/apps/{app}/secrets/{name}/value", 200, 1.25, "token:ab"),
    ("r", "POST", "unmatched", 503, 0.0, None),
    ("r", "GET", "/x", 401, 12.0, 'quo"te\\ back\nline \u00e9\u2028 \x00'),
    ("r", "OTHER", "/x", 500, 3.5, 42),
]


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Flushes]:
    """`configure`'s arrangement on a stream of the test's: the one JSON handler a request
    line reaches. (Held on ``strongroom.http`` itself, which stops there: pytest adds its
    own capture handlers to the root for each test's run, which would take the line
    through `logging` instead.)"""
    stream = Flushes()
    handler = logs.IterationHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    http = logging.getLogger("strongroom.http")
    monkeypatch.setattr(http, "handlers", [handler])
    monkeypatch.setattr(http, "propagate", False)
    monkeypatch.setattr(logs, "_installed", [handler])
    level = root.level
    root.setLevel(logging.INFO)  # setLevel, not setattr: it clears the loggers' caches
    try:
        yield stream
    finally:
        root.setLevel(level)


def _only_ours() -> None:
    """Take back the line's way from the capture handlers pytest adds when a test starts
    running (after its fixtures), so that it reaches the installed handler alone."""
    logging.getLogger("strongroom.http").handlers[:] = logs._installed[:]
    assert logs._direct() is logs._installed[0]  # written directly, not through logging


def _without_time(line: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in line.items() if k != "time"}


@pytest.mark.parametrize("fields", ACCESS_FIELDS)
def test_an_access_line_written_directly_is_the_line_logging_writes(
    installed: Flushes, fields: tuple[str, str, str, int, float, object]
) -> None:
    request_id, method, route, status, duration, actor = fields
    _only_ours()
    logs.access(request_id, method, route, status, duration, actor)
    direct = installed.getvalue()
    record = logging.makeLogRecord(
        {"name": "strongroom.http", "levelno": logging.INFO, "levelname": "INFO", "msg": "request"}
    )
    record.__dict__.update(
        {
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration,
            "actor": actor,
        }
    )
    through_logging = logs.JsonFormatter().format(record)
    assert direct.endswith("\n") and direct.count("\n") == 1
    # Byte for byte, after the timestamp: same keys, same order, same escapes.
    assert direct.split(",", 1)[1] == through_logging.split(",", 1)[1] + "\n"
    parsed = json.loads(direct)
    assert _without_time(parsed) == _without_time(json.loads(through_logging))
    assert parsed["time"].endswith("Z") and parsed["actor"] == actor


def test_an_access_line_goes_through_logging_when_another_handler_listens(
    installed: Flushes,
) -> None:
    heard: list[logging.LogRecord] = []
    listener = logging.Handler()
    listener.emit = heard.append  # type: ignore[method-assign]
    _only_ours()
    http = logging.getLogger("strongroom.http")
    http.addHandler(listener)
    try:
        assert logs._direct() is None
        logs.access("rid-1", "GET", "/x", 200, 1.0, None)
    finally:
        http.removeHandler(listener)
    [record] = heard
    assert (record.getMessage(), record.__dict__["request_id"]) == ("request", "rid-1")
    assert json.loads(installed.getvalue())["request_id"] == "rid-1"  # and still written


def test_no_access_line_below_the_configured_level(installed: Flushes) -> None:
    _only_ours()
    logging.getLogger().setLevel(logging.WARNING)
    logs.access("rid-2", "GET", "/x", 200, 1.0, None)
    assert installed.getvalue() == ""


def test_an_access_line_on_a_loop_leaves_with_the_iteration(installed: Flushes) -> None:
    _only_ours()

    async def main() -> None:
        logs.access("rid-3", "GET", "/x", 200, 1.0, None)
        assert installed.flushed == []
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(installed.flushed) == 1

    asyncio.run(main())


@pytest.mark.parametrize(
    "value",
    [0, -7, 10**20, True, None, 0.0, -0.0, 1.25, 1e-05, 1e16, 123456.789, float("nan"),
     float("inf"), "", "é\u2028\x00\"", ["x"], {"a": 1}],
)  # fmt: skip
def test_access_values_are_encoded_as_the_json_encoder_encodes_them(value: object) -> None:
    assert logs._json(value) == logs._ENCODER.encode(value)


def test_configure_writes_what_the_handler_it_replaces_still_buffers() -> None:
    code = (
        "import asyncio, logging, os; from strongroom import logs\n"
        "logs.configure('info')\n"
        "async def main():\n"
        "    logging.getLogger('strongroom.x').info('waiting for its iteration')\n"
        "    logs.configure('info')  # before that iteration ends\n"
        "    os._exit(0)  # no exit handlers: only what was written is there\n"
        "asyncio.run(main())\n"
    )
    assert "waiting for its iteration" in _stderr_of(code)


def test_a_failing_stream_does_not_fail_the_request_that_logs(
    installed: Flushes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_: str) -> int:
        raise OSError("EPIPE")

    monkeypatch.setattr(installed, "write", broken)
    monkeypatch.setattr(logging, "raiseExceptions", False)
    _only_ours()
    logs.access("rid-4", "GET", "/x", 200, 1.0, None)  # reported by logging, not raised
