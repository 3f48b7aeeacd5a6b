"""The HTTP protocol Strongroom's servers run: a response's writes leave together, in order.

Unit tests drive `CoalescingTransport` over a recording transport on a real event loop;
the end-to-end ones run uvicorn with `uvicorn_config` on loopback and read its bytes off
a socket: one answer arrives whole, a streamed one part by part, and keep-alive answers
in order.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from strongroom.api.http_protocol import CoalescingTransport, HttpProtocol
from strongroom.api.serving import uvicorn_config
from strongroom.config import load_settings


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


# -- end to end, through uvicorn --------------------------------------------------------


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one", b"two"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    body = scope["path"].encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    settings = load_settings(database_url="sqlite://", data_dir=tmp_path, addr="127.0.0.1:8210")
    listener = socket.create_server(("127.0.0.1", 0))
    config = uvicorn_config(_app, settings)
    assert config.http is HttpProtocol
    config.lifespan = "off"
    served = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(served.serve(sockets=[listener])), daemon=True
    )
    thread.start()
    while not served.started:
        thread.join(0.02)
    yield listener.getsockname()[1]
    served.should_exit = True
    thread.join(10)
    loop.close()
    listener.close()


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


def test_a_whole_answer_arrives_in_one_segment_and_keep_alive_answers_in_order(
    server: int,
) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        sock.sendall(b"GET /first HTTP/1.1\r\nhost: x\r\n\r\n")
        first = sock.recv(65536)  # one send: status line, headers and body together
        assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"\r\n\r\n/first")
        sock.sendall(b"GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n")
        both = _read_until(sock, b"\r\n\r\n/b")
        assert both.index(b"/a") < both.index(b"/b")


def test_a_streamed_body_leaves_part_by_part(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        early = _read_until(sock, b"one")
        # The first part arrived while the app was still waiting to write the second.
        assert b"two" not in early
        assert b"two" in _read_until(sock, b"0\r\n\r\n")
