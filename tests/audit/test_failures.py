"""No unaudited access: when the audit trail cannot record, the request fails and changes
nothing; a refused request is never recorded later as done; one odd event fails no other."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select
from support import Ready, break_audit_trail

from strongroom.audit.committer import GroupCommitter
from strongroom.audit.events import AuditRecord
from strongroom.errors import AuditError
from strongroom.node import Call, Node
from strongroom.store.models import AuditEvent, KeyringKey


def _broken(*args: object, **kwargs: object) -> list[int]:
    raise AuditError("the audit store is down")


def _events(node: Node, request_id: str) -> list[AuditEvent]:
    with node.db.transaction(read_only=True) as s:
        stmt = select(AuditEvent).where(AuditEvent.request_id == request_id)
        return list(s.execute(stmt).scalars())


def test_rotation_fails_and_leaves_no_phantom_key(ready: Ready, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    node = ready.node
    before = [(k.purpose, k.version) for k in node.keyring().describe()]
    break_audit_trail(monkeypatch)
    resp = ready.client.post(
        "/v1/sys/keys/barrier/rotate", headers={**ready.auth(), "X-Request-Id": "rot-1"}
    )
    assert resp.status_code == 503
    assert resp.json()["type"] == "urn:strongroom:problem:audit-unavailable"
    monkeypatch.undo()
    assert [(k.purpose, k.version) for k in node.keyring().describe()] == before
    with node.db.transaction(read_only=True) as s:
        stored = s.execute(
            select(func.max(KeyringKey.version)).where(KeyringKey.purpose == "barrier")
        ).scalar_one()
    assert stored == 1
    # A value sealed now uses a version the store has, so it opens after a restart.
    blob = node.barrier().seal("after/failed-rotation", b"v")
    node.refresh_keyring()
    assert node.barrier().open("after/failed-rotation", blob) == b"v"
    assert _events(node, "rot-1") == []


def test_unseal_that_cannot_be_recorded_does_not_happen(node: Node, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    done = node.initialize(Call("init"), shares=1, threshold=1)
    break_audit_trail(monkeypatch)
    with pytest.raises(AuditError):
        node.unseal(Call("unseal-1"), done.result.shares[0])
    assert node.seal_manager.sealed
    monkeypatch.undo()
    status = node.unseal(Call("unseal-2"), done.result.shares[0])
    assert not status.sealed
    assert [e.outcome for e in _events(node, "unseal-2")] == ["success"]


def test_seal_happens_even_if_it_cannot_be_recorded(ready: Ready, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    break_audit_trail(monkeypatch)
    resp = ready.client.post("/v1/sys/seal", headers=ready.auth())
    assert resp.status_code == 503
    assert ready.node.seal_manager.sealed


def test_a_withdrawn_event_is_never_written_later(node: Node) -> None:
    committer = GroupCommitter(node.db, timeout_seconds=0.3)
    lock = node.db._write_lock
    assert lock is not None or node.db.backend != "sqlite"
    if lock is None:
        pytest.skip("the write lock that stalls the writer is SQLite's")
    results: dict[str, object] = {}
    lock.acquire()
    try:
        first = threading.Thread(
            target=lambda: results.setdefault("first", _try(committer, "stalled-1")), daemon=True
        )
        first.start()
        time.sleep(0.1)  # the writer has taken the first event and waits on the lock
        with pytest.raises(AuditError):
            committer.append(_record("withdrawn-2"))
    finally:
        lock.release()
    first.join(timeout=10)
    committer.close()
    assert results["first"] == "ok"
    assert len(_events(node, "stalled-1")) == 1
    assert _events(node, "withdrawn-2") == []


def _record(request_id: str) -> AuditRecord:
    return AuditRecord(1, request_id, "t", "test.action", "r", "success")


def _try(committer: GroupCommitter, request_id: str) -> str:
    try:
        committer.append(_record(request_id))
        return "ok"
    except AuditError:
        return "failed"


def test_odd_requests_are_bounded_and_poison_no_batch(ready: Ready) -> None:
    node = ready.node
    huge = "p" * 5000
    stop = threading.Event()
    failures: list[int] = []

    def legit() -> None:
        while not stop.is_set():
            r = ready.client.get("/v1/sys/keys", headers=ready.auth())
            if r.status_code != 200:
                failures.append(r.status_code)

    workers = [threading.Thread(target=legit) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        for path in (f"/v1/sys/keys/{huge}/rotate", "/v1/sys/keys/a%00b/rotate"):
            for _ in range(5):
                resp = ready.client.post(path, headers={"X-Request-Id": "odd"})
                assert resp.status_code == 401
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert failures == []
    odd = _events(node, "odd")
    assert len(odd) == 10
    assert all(len(e.resource) <= 512 and "\x00" not in e.resource for e in odd)


def test_health_reports_a_failing_audit_trail(ready: Ready, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert ready.client.get("/v1/sys/health").json()["audit"] == "ok"
    break_audit_trail(monkeypatch)
    assert ready.client.get("/v1/sys/keys", headers=ready.auth()).status_code == 503
    health = ready.client.get("/v1/sys/health")
    assert health.status_code == 503 and health.json()["audit"] == "degraded"
    monkeypatch.undo()
    assert ready.client.get("/v1/sys/keys", headers=ready.auth()).status_code == 200
    health = ready.client.get("/v1/sys/health")
    assert health.status_code == 200 and health.json()["audit"] == "ok"
