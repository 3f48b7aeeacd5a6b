"""A worker's event channel, against a scripted supervisor on a real socket pair."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from strongroom.audit.events import AuditRecord
from strongroom.errors import AuditError
from strongroom.pool import wire
from strongroom.pool.events import EventChannel


def _records(count: int, prefix: str = "r", size: int = 0) -> list[AuditRecord]:
    return [
        AuditRecord(1, f"{prefix}{i}", "a", "t.event", "x" * max(size, 1), "success")
        for i in range(count)
    ]


async def _frames(reader: asyncio.StreamReader) -> dict[str, Any]:
    header = await reader.readexactly(4)
    return wire.parse(await reader.readexactly(wire.length(header)))


async def _supervisor(sock: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(sock=sock)


async def _done(channel: EventChannel, writer: asyncio.StreamWriter) -> None:
    channel.close()
    writer.close()
    await writer.wait_closed()


def test_batches_are_answered_by_id_in_any_order() -> None:
    ours, theirs = socket.socketpair()
    channel = EventChannel(ours)

    async def main() -> tuple[list[object], list[object]]:
        reader, writer = await _supervisor(theirs)
        first = channel.append_async(_records(2, "a"))
        second = channel.append_async(_records(3, "b"))
        got = [await _frames(reader), await _frames(reader)]
        assert [len(m["events"]) for m in got] == [2, 3]
        assert got[0]["events"][0][1] == "a0"  # request id travels with each event
        # The second batch is answered first; one of its events was refused.
        refused = wire.error_of(AuditError("no room"))
        writer.write(wire.frame({"re": got[1]["id"], "ok": [7, refused, 9]}))
        writer.write(wire.frame({"re": got[0]["id"], "ok": [5, 6]}))
        await writer.drain()
        answers = list(await second), list(await first)
        await _done(channel, writer)
        return answers

    second, first = asyncio.run(main())
    assert first == [5, 6]
    assert second[0] == 7 and second[2] == 9
    assert isinstance(second[1], AuditError) and second[1].detail == "no room"
    theirs.close()


def test_a_batch_larger_than_the_socket_buffer_still_goes_out_whole() -> None:
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    channel = EventChannel(ours)

    async def main() -> list[object]:
        reader, writer = await _supervisor(theirs)
        waiting = channel.append_async(_records(200, size=2000))  # ~400 KB in one frame
        message = await _frames(reader)
        assert len(message["events"]) == 200
        writer.write(wire.frame({"re": message["id"], "ok": list(range(200))}))
        await writer.drain()
        answer = list(await waiting)
        await _done(channel, writer)
        return answer

    assert asyncio.run(main()) == list(range(200))
    theirs.close()


def test_a_gone_supervisor_fails_what_waits_and_everything_after() -> None:
    ours, theirs = socket.socketpair()
    channel = EventChannel(ours)

    async def main() -> None:
        reader, writer = await _supervisor(theirs)
        waiting = channel.append_async(_records(1))
        await _frames(reader)
        writer.close()  # the supervisor dies before answering
        with pytest.raises(AuditError):
            await waiting
        with pytest.raises(AuditError):
            channel.append_async(_records(1))
        await _done(channel, writer)

    asyncio.run(main())


@pytest.mark.parametrize(
    "answer",
    [
        b"\x00\x00\x00\x03{x}",  # not JSON
        b"\xff\xff\xff\xff",  # a frame over the limit
    ],
)
def test_an_unreadable_answer_fails_closed(answer: bytes) -> None:
    ours, theirs = socket.socketpair()
    channel = EventChannel(ours)

    async def main() -> None:
        reader, writer = await _supervisor(theirs)
        waiting = channel.append_async(_records(1))
        await _frames(reader)
        writer.write(answer)
        await writer.drain()
        with pytest.raises(AuditError):
            await waiting
        with pytest.raises(AuditError):
            channel.append_async(_records(1))  # the channel is closed for good
        await _done(channel, writer)

    asyncio.run(main())
    theirs.close()


def test_an_error_answer_or_a_short_list_is_an_audit_error_for_the_batch() -> None:
    ours, theirs = socket.socketpair()
    channel = EventChannel(ours)

    async def main() -> list[object]:
        reader, writer = await _supervisor(theirs)
        failed = channel.append_async(_records(2))
        message = await _frames(reader)
        writer.write(wire.frame({"re": message["id"], "error": wire.error_of(AuditError())}))
        await writer.drain()
        with pytest.raises(AuditError):
            await failed
        # An answer for an id nobody waits for is ignored; the channel keeps working.
        writer.write(wire.frame({"re": 999, "ok": [1]}))
        later = channel.append_async(_records(1))
        message = await _frames(reader)
        writer.write(wire.frame({"re": message["id"], "ok": [3]}))
        await writer.drain()
        answer = list(await later)
        await _done(channel, writer)
        return answer

    assert asyncio.run(main()) == [3]
    theirs.close()
