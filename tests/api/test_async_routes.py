"""Routes that wait for their audit event on the event loop: each request is recorded
once, durably, before it is answered; a trail that cannot record fails them with 503."""

from __future__ import annotations

import hashlib
import threading

from rfc9162 import ind_mth
from sqlalchemy import select
from support import Ready, break_audit_trail

from strongroom.errors import AuditError
from strongroom.store.models import AuditEvent
from strongroom.store.repositories import audit as repo


def _broken(*args: object, **kwargs: object) -> list[int]:
    raise AuditError("the audit store is down")


def _events(ready: Ready) -> list[AuditEvent]:
    with ready.node.db.transaction(read_only=True) as s:
        return list(s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def test_concurrent_reads_are_each_recorded_once_before_the_answer(ready: Ready) -> None:
    reader = ready.mint("sys:read", "audit:read")
    seen_before_answer: list[bool] = []
    failures: list[int] = []

    def client(n: int) -> None:
        for i in range(6):
            request_id = f"k{n}-{i}"
            path = "/v1/sys/keys" if i % 2 else "/v1/audit/events"
            resp = ready.client.get(
                path, headers={**ready.auth(reader), "X-Request-Id": request_id}
            )
            if resp.status_code != 200:
                failures.append(resp.status_code)
                continue
            # Answered only once durable: another connection sees the event already.
            with ready.node.db.transaction(read_only=True) as s:
                stmt = select(AuditEvent.seq).where(AuditEvent.request_id == request_id)
                seen_before_answer.append(len(s.execute(stmt).all()) == 1)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert seen_before_answer == [True] * 48
    events = _events(ready)
    mine = [e for e in events if e.request_id.startswith("k")]
    assert sorted(e.request_id for e in mine) == sorted(
        f"k{n}-{i}" for n in range(8) for i in range(6)
    )
    assert {(e.action, e.outcome) for e in mine} == {
        ("sys.keys.list", "success"),
        ("audit.events.read", "success"),
    }
    # The tree over everything recorded is the one the head keeps.
    leaves = [hashlib.sha256(b"\x00" + e.entry).digest() for e in events]
    assert [e.seq for e in events] == list(range(len(events)))
    with ready.node.db.transaction(read_only=True) as s:
        size, frontier = repo.head(s)
    assert size == len(events) and frontier.root() == ind_mth(leaves)


def test_async_reads_fail_closed_when_the_trail_cannot_record(ready: Ready, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    break_audit_trail(monkeypatch)
    keys = ready.client.get("/v1/sys/keys", headers={**ready.auth(), "X-Request-Id": "b-1"})
    events = ready.client.get("/v1/audit/events", headers={**ready.auth(), "X-Request-Id": "b-2"})
    for resp in (keys, events):
        assert resp.status_code == 503
        assert resp.json()["type"] == "urn:strongroom:problem:audit-unavailable"
        assert "keys" not in resp.json() and "events" not in resp.json()
    health = ready.client.get("/v1/sys/health")
    assert health.status_code == 503 and health.json()["audit"] == "degraded"
    monkeypatch.undo()
    assert ready.client.get("/v1/sys/keys", headers=ready.auth()).status_code == 200
    assert not [e for e in _events(ready) if e.request_id in ("b-1", "b-2")]
