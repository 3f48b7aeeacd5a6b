"""A worker's event channel: its event loop's own socket to the supervisor's audit writer.

The link (`strongroom.pool.link`) is served by a thread of its own, which suits seal
operations and pushes but not the events of reads: every batch would wake that thread and
the writer's, and each would wait for the interpreter lock while the loop serves requests.
So each worker has a second socket pair for events alone, which its event loop reads and
writes without blocking (`loop.add_reader`): a batch is one frame, ``{"id", "events"}``,
and the supervisor answers it with ``{"re", "ok": [index or error per event]}`` once the
events are durable, or ``{"re", "error"}``. Several batches may be on their way at once.
If the supervisor is gone, every waiting batch, and every later one, gets `AuditError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections.abc import Sequence

from strongroom.audit.events import AuditRecord
from strongroom.errors import AuditError
from strongroom.pool import wire
from strongroom.pool.wire import WireError

log = logging.getLogger("strongroom.pool")

_LOST = "the audit trail could not record this request"
_READ_SIZE = 256 * 1024

Answer = list[int | AuditError]


class EventChannel:
    """The worker's end of the event socket pair (`strongroom.audit.relay.LoopSink`).

    Bound to the first event loop that sends on it; used from that loop only.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[int, asyncio.Future[Answer]] = {}
        self._ids = itertools.count(1)
        self._inbox = bytearray()
        self._outbox = bytearray()
        self._lost = False

    def append_async(self, records: Sequence[AuditRecord]) -> asyncio.Future[Answer]:
        """Send ``records`` as one batch; the future holds each one's index or error."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._attach(loop)
        elif loop is not self._loop:
            raise AuditError(_LOST)  # one loop per worker; never expected
        if self._lost:
            raise AuditError(_LOST)
        ident = next(self._ids)
        future: asyncio.Future[Answer] = loop.create_future()
        self._pending[ident] = future
        self._send(wire.frame({"id": ident, "events": wire.records_out(records)}))
        return future

    def close(self) -> None:
        """Stop reading, fail what is still waiting, close the socket."""
        self._gone()

    # -- the socket ------------------------------------------------------------------------

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._sock.setblocking(False)
        loop.add_reader(self._sock.fileno(), self._readable)

    def _send(self, data: bytes) -> None:
        if self._outbox:
            self._outbox += data  # the socket is full: sent when it drains
            return
        try:
            sent = self._sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._gone()
            return
        if sent < len(data) and self._loop is not None:
            self._outbox += data[sent:]
            self._loop.add_writer(self._sock.fileno(), self._writable)

    def _writable(self) -> None:
        try:
            sent = self._sock.send(self._outbox)
        except BlockingIOError:
            return
        except OSError:
            self._gone()
            return
        del self._outbox[:sent]
        if not self._outbox and self._loop is not None:
            self._loop.remove_writer(self._sock.fileno())

    def _readable(self) -> None:
        try:
            chunk = self._sock.recv(_READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self._gone()
            return
        if not chunk:
            self._gone()
            return
        self._inbox += chunk
        try:
            for message in wire.take(self._inbox):
                self._answered(message)
        except WireError as exc:
            log.error("the supervisor's event answers are unreadable: %s", exc.detail)
            self._gone()

    def _answered(self, message: dict[str, object]) -> None:
        ident = message.get("re")
        future = self._pending.pop(ident, None) if isinstance(ident, int) else None
        if future is None or future.done():
            return
        answer = message.get("ok")
        if not isinstance(answer, list):
            future.set_exception(AuditError(_LOST))
            return
        future.set_result(
            [
                item
                if isinstance(item, int) and not isinstance(item, bool)
                else AuditError(str(item.get("detail", "")) if isinstance(item, dict) else _LOST)
                for item in answer
            ]
        )

    def _gone(self) -> None:
        if self._lost:
            return
        self._lost = True
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(self._sock.fileno())
                self._loop.remove_writer(self._sock.fileno())
        with contextlib.suppress(OSError):
            self._sock.close()
        pending, self._pending = self._pending, {}
        for future in pending.values():
            # After the loop has closed, nobody is left waiting.
            with contextlib.suppress(RuntimeError):
                if not future.done():
                    future.set_exception(AuditError(_LOST))
