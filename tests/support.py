"""Test support shared by many test modules (imported as ``support``; not a conftest)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from strongroom.api.serving import uvicorn_config
from strongroom.audit import log
from strongroom.audit.appender import AppenderProcess
from strongroom.config import Settings
from strongroom.errors import AuditError
from strongroom.node import Node


@dataclass
class Ready:
    """An initialised, unsealed node with its shares, root token and an API client."""

    node: Node
    client: TestClient
    shares: list[str]
    root_token: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.root_token}"}

    def mint(self, *scopes: str, subject: str = "alice", ttl: int = 60) -> str:
        resp = self.client.post(
            "/v1/auth/tokens",
            json={"subject": subject, "scopes": list(scopes), "ttl": ttl},
            headers=self.auth(),
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])


@contextlib.contextmanager
def uvicorn_on_loopback(app: Any, settings: Settings) -> Iterator[int]:
    """``app`` served by uvicorn as Strongroom's servers run it (`uvicorn_config`), in a
    thread, on a free loopback port (yielded); stopped at exit."""
    listener = socket.create_server(("127.0.0.1", 0))
    config = uvicorn_config(app, settings)
    config.lifespan = "off"
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(server.serve(sockets=[listener])), daemon=True
    )
    thread.start()
    try:
        while not server.started:
            thread.join(0.02)
        yield listener.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        loop.close()
        listener.close()


def _trail_down(*args: object, **kwargs: object) -> list[int]:
    raise AuditError("the audit store is down")


def break_audit_trail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every audit write fail, in this process and in the appender process's path
    (`monkeypatch.undo` mends it)."""
    monkeypatch.setattr(log, "append_many", _trail_down)
    monkeypatch.setattr(AppenderProcess, "append", _trail_down)
