"""Graceful shutdown: SIGTERM drains in-flight requests, then the server exits 0."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from serverproc import HOST, Launcher, ServerProcess, bearer, init_and_unseal, mint

pytestmark = pytest.mark.slow

CLIENTS = 50
GRACE_SECONDS = 10
RUN_BEFORE_SIGTERM = 0.4


@dataclass(frozen=True)
class Answer:
    """A response that arrived (headers at least): when, and whether it was whole."""

    at: float  # wall clock, to compare with the server's log
    status: int
    complete: bool
    problem: str = ""


def _client(
    url: str, token: str, start: threading.Barrier, answers: list[Answer], deadline: float
) -> None:
    with httpx.Client(base_url=url, headers=bearer(token), timeout=30) as client:
        start.wait()
        while time.monotonic() < deadline:
            try:
                with client.stream("GET", "/v1/audit/events", params={"limit": 500}) as resp:
                    at = time.time()
                    try:
                        body = resp.read()
                    except httpx.HTTPError as exc:  # headers came, the body did not
                        answers.append(Answer(at, resp.status_code, False, repr(exc)))
                        return
            except httpx.TransportError:
                return  # no response at all: refused, or closed before answering
            answers.append(Answer(at, resp.status_code, *_whole(resp, body)))


def _whole(resp: httpx.Response, body: bytes) -> tuple[bool, str]:
    declared = resp.headers.get("content-length")
    if declared is None or int(declared) != len(body):
        return False, f"content-length {declared} but {len(body)} bytes"
    try:
        events = json.loads(body)["events"]
    except (ValueError, KeyError) as exc:
        return False, f"not a page of events: {exc!r}"
    return isinstance(events, list), ""


def _shutdown_started(server: ServerProcess) -> float:
    """When uvicorn logged that it began shutting down (wall clock)."""
    for line in server.stderr().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("msg") == "Shutting down":
                return datetime.fromisoformat(record["time"]).timestamp()
    raise AssertionError(f"no shutdown in the log:\n{server.describe()}")


def test_sigterm_drains_in_flight_requests_and_exits_0(launcher: Launcher, tmp_path: Path) -> None:
    server = launcher.start(
        env={
            "STRONGROOM_DATA_DIR": str(tmp_path / "data"),
            "STRONGROOM_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        }
    )
    _, root = init_and_unseal(server.url)
    token = mint(server.url, root, ["audit:read"])["access_token"]

    answers: list[Answer] = []
    start = threading.Barrier(CLIENTS + 1)
    deadline = time.monotonic() + 60
    threads = [
        threading.Thread(
            target=_client, args=(server.url, token, start, answers, deadline), daemon=True
        )
        for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    start.wait(timeout=30)
    # Every client has its connection and a first answer before the shutdown (on a loaded
    # machine connecting alone can take longer than RUN_BEFORE_SIGTERM): the requests
    # then in flight are the ones that must drain.
    warm_until = time.monotonic() + 30
    while len(answers) < CLIENTS and time.monotonic() < warm_until:
        time.sleep(0.05)
    time.sleep(RUN_BEFORE_SIGTERM)

    server.send(signal.SIGTERM)
    sent = time.monotonic()
    code = server.wait(timeout=GRACE_SECONDS + 10)
    took = time.monotonic() - sent
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads)

    assert code == 0, server.describe()
    assert took < GRACE_SECONDS, f"exit took {took:.1f}s"
    broken = [a for a in answers if a.status != 200 or not a.complete]
    assert not broken, broken[:5]
    assert len(answers) >= CLIENTS
    # Requests still running when the shutdown began were finished, not dropped.
    began = _shutdown_started(server)
    assert any(a.at > began for a in answers), "no in-flight request was drained"

    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/v1/sys/health", timeout=5)
    with pytest.raises(ConnectionRefusedError), socket.create_connection((HOST, server.port), 5):
        pass
