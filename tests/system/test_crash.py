"""Crash safety: SIGKILL a server mid-stream of writes; nothing it acknowledged is lost."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from typing import Any

import httpx
import pytest
from serverproc import (
    Backend,
    Launcher,
    all_events,
    assert_contiguous,
    bearer,
    init_and_unseal,
    unseal,
)

pytestmark = pytest.mark.slow

WRITERS_PER_KIND = 3
RUN_BEFORE_KILL = 0.8


class Acks:
    """What the server acknowledged (200 with a whole body), and anything unexpected."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rotations: list[int] = []
        self.jtis: list[str] = []
        self.unexpected: list[str] = []


def _writer(url: str, token: str, kind: str, acks: Acks, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, headers=bearer(token), timeout=30) as client:
        while not stop.is_set():
            try:
                if kind == "rotate":
                    resp = client.post("/v1/sys/keys/barrier/rotate")
                else:
                    body = {"subject": "crash", "scopes": ["sys:read"], "ttl": 60}
                    resp = client.post("/v1/auth/tokens", json=body)
                data: Any = resp.json() if resp.status_code == 200 else None
            except httpx.TransportError:
                return  # the server is gone: this request was never acknowledged
            with acks.lock:
                if data is None:
                    # A concurrent rotation may lose the race for a version (409).
                    if not (kind == "rotate" and resp.status_code == 409):
                        acks.unexpected.append(f"{kind}: {resp.status_code} {resp.text[:200]}")
                elif kind == "rotate":
                    acks.rotations.append(int(data["version"]))
                else:
                    acks.jtis.append(str(data["jti"]))


def test_acknowledged_writes_survive_sigkill(backend: Backend, launcher: Launcher) -> None:
    server = launcher.start(env=backend.env)
    shares, root = init_and_unseal(server.url)

    acks, stop = Acks(), threading.Event()
    threads = [
        threading.Thread(target=_writer, args=(server.url, root, kind, acks, stop), daemon=True)
        for kind in ("rotate", "mint")
        for _ in range(WRITERS_PER_KIND)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(RUN_BEFORE_KILL)
        server.kill()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert not acks.unexpected, acks.unexpected[:5]
    assert acks.rotations and acks.jtis, "no write was acknowledged before the kill"
    assert len(set(acks.rotations)) == len(acks.rotations)

    restarted = launcher.start(env=backend.env)
    unseal(restarted.url, shares)

    resp = httpx.get(restarted.url + "/v1/sys/keys", headers=bearer(root))
    assert resp.status_code == 200, resp.text
    barrier = [k["version"] for k in resp.json()["keys"] if k["purpose"] == "barrier"]
    assert barrier == list(range(1, len(barrier) + 1))
    assert set(acks.rotations) <= set(barrier)

    events = all_events(restarted.url, root)
    assert_contiguous(events)
    minted = {
        e["detail"]["jti"]
        for e in events
        if e["action"] == "auth.tokens.create" and e["outcome"] == "success"
    }
    assert set(acks.jtis) <= minted
    rotated = {
        e["detail"]["version"]
        for e in events
        if e["action"] == "sys.keys.rotate" and e["outcome"] == "success"
    }
    # Every version in the keyring was written together with its audit event.
    assert rotated == set(barrier) - {1}

    assert restarted.stop() == 0
    if backend.sqlite_file is not None:
        with contextlib.closing(sqlite3.connect(backend.sqlite_file)) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
