"""The supervisor's end of a worker's event channel: framing, and answers sent together."""

from __future__ import annotations

import asyncio
from typing import Any

from strongroom.pool import wire
from strongroom.pool.supervisor import _EventChannel
from strongroom.pool.wire import WireError


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def _channel() -> tuple[_EventChannel, list[dict[str, Any]], list[WireError], _Transport]:
    """A channel connected on the running loop (as the loop connects it)."""
    batches: list[dict[str, Any]] = []
    broken: list[WireError] = []
    channel = _EventChannel(batches.append, broken.append)
    transport = _Transport()
    channel.connection_made(transport)  # type: ignore[arg-type]
    return channel, batches, broken, transport


def test_frames_are_taken_whole_however_the_bytes_arrive() -> None:
    async def main() -> None:
        channel, batches, broken, _ = _channel()
        data = b"".join(wire.frame({"id": i, "events": []}) for i in range(3))
        for cut in (1, 5, 9, len(data) - 2):  # pieces that split headers and bodies
            channel.data_received(data[:cut])
            channel.data_received(data[cut:])
        assert [b["id"] for b in batches] == [0, 1, 2] * 4
        assert broken == []

    asyncio.run(main())


def test_an_unreadable_frame_breaks_the_channel() -> None:
    async def main() -> None:
        for bad in (b"\x00\x00\x00\x02[]", b"\x00\x00\x00\x01{", b"\xff\xff\xff\xff"):
            channel, batches, broken, _ = _channel()
            channel.data_received(bad + wire.frame({"id": 1, "events": []}))
            assert batches == [] and len(broken) == 1

    asyncio.run(main())


def test_answers_of_one_loop_iteration_leave_in_one_write() -> None:
    transport = _Transport()

    async def main() -> None:
        nonlocal transport
        channel, _, _, transport = _channel()
        channel.answer({"re": 1, "ok": [0]})
        channel.answer({"re": 2, "ok": [1, 2]})
        assert transport.writes == []  # not yet: at the end of this iteration
        await asyncio.sleep(0)
        channel.answer({"re": 3, "ok": [3]})
        await asyncio.sleep(0)

    asyncio.run(main())
    assert transport.writes == [
        wire.frame({"re": 1, "ok": [0]}) + wire.frame({"re": 2, "ok": [1, 2]}),
        wire.frame({"re": 3, "ok": [3]}),
    ]
