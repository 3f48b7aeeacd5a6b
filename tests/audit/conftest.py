"""Fixtures of the alert tests: a webhook receiver on a real local HTTP server, and a
private key prefix on the real Redis."""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from alert_support import REDIS_URL, Hook, Received

from strongroom.audit.alert_windows import RedisWindows


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[Received] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Hook]:
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Receiver.received
    server.shutdown()
    server.server_close()


def _redis_up() -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the real Redis, emptied afterwards.

    Skips when there is no Redis, unless ``STRONGROOM_REQUIRE_REDIS`` is set (CI).
    """
    if not _redis_up():
        if os.environ.get("STRONGROOM_REQUIRE_REDIS"):
            pytest.fail("STRONGROOM_REQUIRE_REDIS is set but Redis is not on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = "strongroom-test:" + secrets.token_hex(8)
    yield prefix
    RedisWindows(REDIS_URL, prefix).delete_all()
