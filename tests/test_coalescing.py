"""`CoalescingTransport`: the writes of one loop iteration leave as one, in order.

Driven over a recording transport on a real event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from strongroom.coalescing import CoalescingTransport


class Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1234)}.get(name, default)


async def _next_iteration() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def test_writes_of_one_iteration_leave_as_one_in_order() -> None:
    async def main() -> Recording:
        raw = Recording()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(memoryview(b"body"))
        transport.write(b"")
        assert raw.writes == []  # nothing before the iteration ends
        await _next_iteration()
        transport.write(b"next")
        await _next_iteration()
        return raw

    raw = asyncio.run(main())
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"next"]


def test_close_sends_what_is_pending_first_and_abort_drops_it() -> None:
    async def main() -> tuple[Recording, Recording]:
        loop = asyncio.get_running_loop()
        closed, aborted = Recording(), Recording()
        first, second = CoalescingTransport(closed, loop), CoalescingTransport(aborted, loop)
        first.write(b"last words")
        first.close()
        second.write(b"never")
        second.abort()
        await _next_iteration()
        return closed, aborted

    closed, aborted = asyncio.run(main())
    assert closed.writes == [b"last words"] and closed.closed
    assert aborted.writes == [] and aborted.aborted


def test_nothing_is_written_to_a_closing_transport_and_the_rest_is_the_transports() -> None:
    async def main() -> Recording:
        raw = Recording()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())
        transport.write(b"late")
        raw.closed = True  # the peer went away meanwhile
        await _next_iteration()
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1234)
        assert transport.is_closing()
        return raw

    assert asyncio.run(main()).writes == []
