"""The HTTP protocol Strongroom's servers run: a response's writes leave together, in order.

uvicorn runs with `uvicorn_config` on loopback and its bytes are read off a socket: one
answer arrives whole, a streamed one part by part, and keep-alive answers in order. The
transport itself is tested in `tests/test_coalescing.py`.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import uvicorn_on_loopback

from strongroom.api.http_protocol import HttpProtocol
from strongroom.api.serving import uvicorn_config
from strongroom.config import load_settings


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
    assert uvicorn_config(_app, settings).http is HttpProtocol
    with uvicorn_on_loopback(_app, settings) as port:
        yield port


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
