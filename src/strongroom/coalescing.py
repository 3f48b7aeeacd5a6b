"""A transport whose writes of one event-loop iteration leave in one send.

Each ``send`` on a socket is a system call, and on loopback a trip through the whole
network stack for both ends. Code that writes several small pieces in one step (an HTTP
response's head and body; the answers a supervisor gives a worker in one iteration)
writes them here: they are buffered and sent, in the order they were made, by a callback
that runs once the iteration is over, and before the transport closes.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescingTransport:
    """``transport``, with the writes of one loop iteration sent as one."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Send what was written (a no-op when nothing was, or once closing)."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending = []
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        # Everything else (reading, flow control, extra info) is the transport's own.
        return getattr(self._transport, name)
