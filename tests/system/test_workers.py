"""One server, several worker processes: one unseal progress, one audit writer, restarts."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from serverproc import (
    Backend,
    Launcher,
    all_events,
    assert_contiguous,
    bearer,
    initialize,
    mint,
)

pytestmark = pytest.mark.slow

T = TypeVar("T")
WORKERS = 2
FRESH = 12  # new connections per check: the kernel hands each to any worker


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def _wait_for(check: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _fresh_codes(url: str, path: str = "/v1/sys/health", token: str | None = None) -> list[int]:
    """Status codes of ``FRESH`` requests, each on a new connection."""
    headers = bearer(token) if token else {}
    codes = []
    for _ in range(FRESH):
        with httpx.Client(base_url=url, timeout=10) as client:
            codes.append(client.get(path, headers=headers).status_code)
    return codes


def _workers_ready(server_pid: int) -> set[int]:
    """The worker pids, once there are ``WORKERS`` of them."""

    def ready() -> set[int]:
        pids = {p for p in _children(server_pid) if _alive(p)}
        return pids if len(pids) == WORKERS else set()

    return _wait_for(ready, what=f"{WORKERS} workers")


def _read_many(url: str, token: str, count: int, failures: list[str]) -> None:
    with httpx.Client(base_url=url, headers=bearer(token), timeout=30) as client:
        for _ in range(count):
            resp = client.get("/v1/apps/crm/secrets/api-key/value")
            if resp.status_code != 200 or resp.json()["value"] != "v-1":
                failures.append(f"{resp.status_code} {resp.text[:200]}")


def test_workers_share_one_seal_and_one_audit_trail(backend: Backend, launcher: Launcher) -> None:
    # Snapshots reload only once a minute: only the workers' own sharing explains a
    # revocation seen everywhere at once.
    env = {
        **backend.env,
        "STRONGROOM_REVOCATION_REFRESH_SECONDS": "60",
        "STRONGROOM_METRICS_UNAUTHENTICATED": "true",
    }
    server = launcher.start("server", "--workers", str(WORKERS), env=env)
    assert server.proc is not None
    server_pid = server.proc.pid
    pids = _workers_ready(server_pid)
    assert set(_fresh_codes(server.url)) == {501}

    shares, root = initialize(server.url, shares=3, threshold=2)
    assert set(_fresh_codes(server.url)) == {503}
    # Every worker's metrics show the server's state, though none is opened yet.
    for _ in range(FRESH):
        scraped = httpx.get(server.url + "/v1/sys/metrics").text
        assert "strongroom_initialized 1.0" in scraped and "strongroom_sealed 1.0" in scraped

    # One unseal progress for the whole server, whichever worker took the share.
    first = httpx.post(server.url + "/v1/sys/unseal", json={"share": shares[0]})
    assert first.status_code == 200 and first.json()["progress"] == 1
    for _ in range(FRESH):
        status = httpx.get(server.url + "/v1/sys/seal-status").json()
        assert (status["sealed"], status["progress"]) == (True, 1)
    again = httpx.post(server.url + "/v1/sys/unseal", json={"share": shares[0]})
    assert again.status_code == 400  # the same share twice, whichever worker saw it first
    done = httpx.post(server.url + "/v1/sys/unseal", json={"share": shares[1]})
    assert done.status_code == 200 and done.json()["sealed"] is False
    # Every worker was opened before that answer.
    assert set(_fresh_codes(server.url)) == {200}

    put = httpx.put(
        server.url + "/v1/apps/crm/secrets/api-key", json={"value": "v-1"}, headers=bearer(root)
    )
    assert put.status_code == 200, put.text
    reader = mint(server.url, root, ["secrets:read:crm/api-key"])["access_token"]
    failures: list[str] = []
    threads = [
        threading.Thread(target=_read_many, args=(server.url, reader, 25, failures))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures[:5]

    # One trail: contiguous, each share's unseal recorded once (not once per worker),
    # and every read recorded.
    events = all_events(server.url, root, page=200)
    assert_contiguous(events)
    unseals = [e["outcome"] for e in events if e["action"] == "sys.unseal"]
    assert unseals == ["success", "error", "success"]
    reads = [e for e in events if e["action"] == "secrets.read" and e["outcome"] == "success"]
    assert len(reads) >= 6 * 25

    # A worker that dies is replaced, and the new one is opened before it serves.
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)

    def replaced_set() -> set[int]:
        now = {p for p in _children(server_pid) if _alive(p)}
        return now if len(now) == WORKERS and victim not in now else set()

    replaced = _wait_for(replaced_set, what="a replacement worker")
    assert victim not in replaced
    assert set(_fresh_codes(server.url)) == {200}
    assert set(_fresh_codes(server.url, "/v1/apps/crm/secrets/api-key/value", reader)) == {200}

    # A revocation through any worker holds on every worker when its answer comes, long
    # before their snapshots would be reloaded from the store.
    doomed = mint(server.url, root, ["sys:read"])
    assert set(_fresh_codes(server.url, "/v1/sys/keys", doomed["access_token"])) == {200}
    revoked = httpx.post(
        server.url + "/v1/auth/revocations",
        json={"token_ids": [doomed["jti"]]},
        headers=bearer(root),
    )
    assert revoked.status_code == 204, revoked.text
    assert set(_fresh_codes(server.url, "/v1/sys/keys", doomed["access_token"])) == {401}
    minted = httpx.post(
        server.url + "/v1/auth/tokens",
        json={"subject": "temp", "scopes": ["sys:read"], "ttl": 120},
        headers=bearer(root),
    )
    temp = minted.json()["access_token"]
    assert set(_fresh_codes(server.url, "/v1/sys/keys", temp)) == {200}
    killed = httpx.post(
        server.url + "/v1/auth/kill-switches",
        json={"kind": "user", "name": "temp"},
        headers=bearer(root),
    )
    assert killed.status_code == 200, killed.text
    assert set(_fresh_codes(server.url, "/v1/sys/keys", temp)) == {401}

    # Sealing through any worker seals them all before the answer.
    sealed = httpx.post(server.url + "/v1/sys/seal", headers=bearer(root))
    assert sealed.status_code == 200 and sealed.json()["sealed"] is True
    assert set(_fresh_codes(server.url)) == {503}
    assert set(_fresh_codes(server.url, "/v1/apps/crm/secrets/api-key/value", reader)) == {503}

    assert server.stop() == 0
    assert not any(_alive(pid) for pid in replaced)


def test_workers_stop_when_the_supervisor_dies(launcher: Launcher, tmp_path: Path) -> None:
    server = launcher.start(
        "server", "--workers", str(WORKERS), env={"STRONGROOM_DATA_DIR": str(tmp_path / "d")}
    )
    assert server.proc is not None
    pids = _workers_ready(server.proc.pid)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    _wait_for(lambda: not any(_alive(p) for p in pids), what="the workers to stop")


def test_workers_refuse_a_per_process_replay_cache(launcher: Launcher, tmp_path: Path) -> None:
    env = {
        "STRONGROOM_DATA_DIR": str(tmp_path / "d"),
        "STRONGROOM_PROOF_REPLAY_STORE": "memory",
    }
    server = launcher.start("server", "--workers", "2", env=env, ready=False)
    assert server.wait() != 0
    assert "proof_replay_store" in server.stderr() + server.stdout()
