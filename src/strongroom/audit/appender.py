"""The audit appender: a child process that commits the SQLite audit trail's batches.

The group committer's writer thread (`strongroom.audit.committer`) gathers the events of
reads, refusals and token exchanges into batches. On SQLite, writing a batch (the insert,
the Merkle tiles, the commit and its fsync) costs about as much CPU as a quarter of the
requests it records, and in the server's own process that work could only run while the
event loop waited: the writer needs the interpreter lock between its statements, and a
busy loop hands it over only every few milliseconds. So, by default
(``audit_appender = "process"``), the writer hands each batch of events to this small
process instead, which appends it on a core of its own while the loop serves requests.

One request at a time on the child's stdin, one answer on its stdout, each a frame (a
4-byte little-endian length, then `marshal` data): the request is a list of events, each
``(time_us, request_id, actor, action, resource, outcome, detail, entry)``; the answer is
``(first_index, count)`` once the batch is committed (``synchronous=FULL``: on disk), or
``("error", message)`` once it has been rolled back. The child computes the leaf hashes
and runs the same SQL as the store (`strongroom.store.audit_append`).

A batch the child refused left nothing behind, so its events can be retried one by one.
If the child dies, stops answering or garbles an answer, whether the batch was committed
is unknown: `AppenderLostError` fails every event of it (never retried, which could record
them twice), the child is stopped, and the next batch starts a new one.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from strongroom.crypto.merkle import leaf_hash
from strongroom.errors import AuditError
from strongroom.store import audit_append

log = logging.getLogger("strongroom.audit")

_FRAME = struct.Struct("<I")
#: The largest frame either side accepts (a batch of 256 events of the largest detail).
MAX_FRAME_BYTES = 64 * 1024 * 1024
#: How long a batch may take: the child waits up to 30 s for SQLite's write lock.
ANSWER_TIMEOUT_SECONDS = 60.0
_WATCH_SECONDS = 1.0
#: How long a new child may take to say it opened the database.
START_TIMEOUT_SECONDS = 10.0
#: How long the writer thread writes the trail itself after an appender failed to start.
RETRY_SECONDS = 30.0
#: What the child sends once it has opened the database.
READY = ("ready",)
_BUSY_TIMEOUT_MS = 30_000
_STOP_SECONDS = 5.0

#: One event as it crosses: the columns of `audit_append.COLUMNS` but the leaf hash.
Event = tuple[int, str, str, str, str, str, str, bytes]


class AppenderLostError(AuditError):
    """The appender failed mid-batch: whether the batch was committed is unknown."""


class AppenderUnavailableError(AuditError):
    """No appender could be started (nothing was sent): write the batch another way."""


class AppenderProcess:
    """The parent's handle on the appender child of one SQLite file; started on first
    use, restarted after a failure. Used by one writer thread (a lock keeps it safe)."""

    def __init__(self, path: Path, *, timeout_seconds: float = ANSWER_TIMEOUT_SECONDS) -> None:
        self._path = path
        self._timeout = timeout_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        # When the batch in flight, or a new child's word that it is ready, is overdue
        # (None: nothing is awaited); the watchdog reads it.
        self._due: float | None = None
        # After a child that could not start, none is tried again before this time.
        self._retry_at = 0.0
        self._watchdog: threading.Thread | None = None
        self._closed = threading.Event()
        #: Children started so far (a restart after a failure adds one).
        self.started = 0

    @property
    def pid(self) -> int | None:
        """The running child's process id, if one is running."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def append(self, events: list[Event]) -> list[int]:
        """Commit ``events`` in one transaction; their indexes.

        `AuditError` if the child refused the batch (nothing was written);
        `AppenderLostError` if it failed on the way (the batch may have been written);
        `AppenderUnavailableError` if no child could be started (nothing was sent).
        """
        payload = marshal.dumps(events)
        if len(payload) > MAX_FRAME_BYTES:
            raise AuditError("the audit batch is too large")
        with self._lock:
            process = self._process if self._process is not None else self._start()
            # A blocking read, not a poll and a read: each call that releases the
            # interpreter lock must wait to take it back from a busy event loop. The
            # watchdog kills a child that keeps a batch past the timeout, ending the read.
            self._due = time.monotonic() + self._timeout
            try:
                _write_all(_fd(process.stdin), _FRAME.pack(len(payload)) + payload)
                answer = _read_frame(_fd(process.stdout))
                # Our own child's answer over a private pipe; checked below.
                reply = marshal.loads(answer)  # noqa: S302
            except (OSError, EOFError, ValueError, TypeError) as exc:
                self._stop_locked(kill=True)
                log.error("the audit appender failed mid-batch (%s); restarting it", _name(exc))
                raise AppenderLostError() from None
            finally:
                self._due = None
        if _is_indexes(reply, len(events)):
            first, count = reply
            return list(range(first, first + count))
        if isinstance(reply, tuple) and len(reply) == 2 and reply[0] == "error":
            log.warning("the audit appender refused a batch: %s", str(reply[1])[:200])
            raise AuditError()
        with self._lock:
            self._stop_locked(kill=True)
        log.error("the audit appender answered out of turn; restarting it")
        raise AppenderLostError()

    def close(self) -> None:
        """Stop the child (it finishes the batch it holds, if any, and exits)."""
        self._closed.set()
        with self._lock:
            self._stop_locked(kill=False)

    def _watch(self) -> None:
        """Kill a child whose answer is overdue (the read waiting for it then ends)."""
        while not self._closed.wait(_WATCH_SECONDS):
            due, process = self._due, self._process
            if due is not None and time.monotonic() > due and process is not None:
                log.error("the audit appender did not answer in time; stopping it")
                with contextlib.suppress(OSError):
                    process.kill()

    def _start(self) -> subprocess.Popen[bytes]:
        """A new child, once it has said it opened the database; else
        `AppenderUnavailableError`, and no new child is tried for a while."""
        if time.monotonic() < self._retry_at:
            raise AppenderUnavailableError()
        try:
            process = self._spawn()
        except (OSError, EOFError, ValueError, TypeError):
            self._stop_locked(kill=True)
            self._retry_at = time.monotonic() + RETRY_SECONDS
            log.error(
                "the audit appender could not start; the writer thread writes the trail "
                "for the next %.0f s",
                RETRY_SECONDS,
            )
            raise AppenderUnavailableError() from None
        return process

    def _spawn(self) -> subprocess.Popen[bytes]:
        root = str(Path(__file__).resolve().parents[2])  # the directory holding `strongroom`
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [root, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        )
        argv = [sys.executable, "-m", "strongroom.audit.appender", str(self._path)]
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True
        )
        self._process = process
        self.started += 1
        if self._watchdog is None:
            self._watchdog = threading.Thread(
                target=self._watch, name="strongroom-audit-watchdog", daemon=True
            )
            self._watchdog.start()
        # The child says it is ready once it has opened the database (the watchdog ends
        # a wait that lasts too long).
        self._due = time.monotonic() + min(START_TIMEOUT_SECONDS, self._timeout)
        try:
            ready = marshal.loads(_read_frame(_fd(process.stdout)))  # noqa: S302 - our child
        finally:
            self._due = None
        if ready != READY:
            raise ValueError("the appender did not say it was ready")
        return process

    def _stop_locked(self, *, kill: bool) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        if kill:
            with contextlib.suppress(OSError):
                process.kill()
        try:
            process.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(OSError):
            if process.stdout is not None:
                process.stdout.close()


def _fd(stream: Any) -> int:
    if stream is None:  # pragma: no cover - both pipes are always requested
        raise OSError("the appender's pipe is closed")
    return int(stream.fileno())


def _name(exc: BaseException) -> str:
    return "it stopped" if isinstance(exc, EOFError) else type(exc).__name__


def _is_indexes(reply: object, count: int) -> bool:
    return (
        isinstance(reply, tuple)
        and len(reply) == 2
        and all(type(v) is int for v in reply)
        and reply[0] >= 0
        and reply[1] == count
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_frame(fd: int) -> bytes:
    """One frame's data from ``fd`` (blocking); `EOFError` if it ends first."""
    buffer = b""
    while True:
        if len(buffer) >= _FRAME.size:
            (size,) = _FRAME.unpack_from(buffer)
            if size > MAX_FRAME_BYTES:
                raise ValueError("frame too large")
            if len(buffer) >= _FRAME.size + size:
                if len(buffer) > _FRAME.size + size:
                    raise ValueError("data after the frame")  # one request, one answer
                return buffer[_FRAME.size :]
            wanted = _FRAME.size + size - len(buffer)
        else:
            wanted = _FRAME.size - len(buffer)
        chunk = os.read(fd, max(wanted, 1 << 16) if len(buffer) < _FRAME.size else wanted)
        if not chunk:
            raise EOFError()
        buffer += chunk


# -- the child -----------------------------------------------------------------------------


def _connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
    connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    # The store made the file WAL already; a trail on a file in another mode is refused.
    mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError("the database is not in WAL mode")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def _commit(connection: sqlite3.Connection, events: list[Event]) -> tuple[Any, ...]:
    """Append ``events`` in one transaction; the answer to send."""
    rows = [(*event, leaf_hash(event[-1])) for event in events]  # the entry is last
    cursor = connection.cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        indexes = audit_append.append(cursor, "qmark", "sqlite", rows)
        connection.commit()
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            connection.rollback()
        return ("error", str(exc))
    finally:
        cursor.close()
    return (indexes[0], len(indexes)) if indexes else (0, 0)


def _valid(events: object) -> bool:
    shape = (int, str, str, str, str, str, str, bytes)
    return isinstance(events, list) and all(
        isinstance(e, tuple)
        and len(e) == len(shape)
        and all(type(v) is t for v, t in zip(e, shape, strict=True))
        for e in events
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the parent's batches until its end of the pipe closes."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m strongroom.audit.appender DATABASE", file=sys.stderr)
        return 2
    # The parent stops the child by closing the pipe, after its last batch (and the pipe
    # closes if the parent dies). A signal meant for the server must not cut a batch
    # short while the server drains: Ctrl-C reaches the whole process group, a service
    # manager's stop the whole control group.
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    requests, answers = sys.stdin.buffer.fileno(), os.dup(sys.stdout.buffer.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nothing stray reaches the parent
    try:
        connection = _connect(args[0])
    except sqlite3.Error as exc:
        print(f"strongroom audit appender: cannot open the database: {exc}", file=sys.stderr)
        return 1
    ready = marshal.dumps(READY)
    _write_all(answers, _FRAME.pack(len(ready)) + ready)
    while True:
        try:
            request = _read_frame(requests)
        except EOFError:
            return 0
        try:
            # The parent's request over a private pipe (`_valid` checks its shape);
            # loading marshal data builds values, it never runs code.
            events = marshal.loads(request)  # noqa: S302
        except (EOFError, ValueError, TypeError):
            events = None
        answer = _commit(connection, events) if _valid(events) else ("error", "bad request")
        payload = marshal.dumps(answer)
        _write_all(answers, _FRAME.pack(len(payload)) + payload)


if __name__ == "__main__":
    sys.exit(main())
