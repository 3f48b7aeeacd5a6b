"""The secrets API: write-only for people, values only to runtime identities, all audited."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from support import Ready

from strongroom.logs import JsonFormatter

BASE = "/v1/apps/crm/secrets"
CANARY = "CANARY-secret-value-9a7e41"
CANARY2 = "CANARY-rotated-value-55c0d2"


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[_Capture]:
    handler = _Capture()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


def _events(ready: Ready) -> list[tuple[str, str, str, str]]:
    with ready.node.db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, resource, outcome, detail FROM audit_events ORDER BY seq")
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _audit_dump(ready: Ready) -> str:
    with ready.node.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_events")).all()
    return "\n".join(" ".join(str(v) for v in row) for row in rows)


def _put(ready: Ready, name: str, value: str, **extra: object) -> dict:  # type: ignore[type-arg]
    resp = ready.client.put(f"{BASE}/{name}", json={"value": value, **extra}, headers=ready.auth())
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def test_write_only_for_people_readable_by_runtime(ready: Ready) -> None:
    out = _put(ready, "api-key", CANARY, owner="team-crm", tags={"env": "prod"})
    assert out["current_version"] == 1 and out["ref"] == "sr://secrets/crm/api-key"
    assert CANARY not in json.dumps(out)
    # The root token is a person's credential: it cannot read a value back.
    assert ready.client.get(f"{BASE}/api-key/value", headers=ready.auth()).status_code == 403
    writer = ready.mint("secrets:write:crm")
    assert ready.client.get(f"{BASE}/api-key/value", headers=ready.auth(writer)).status_code == 403
    runtime = ready.mint("secrets:read:crm/api-key", subject="crm-runtime")
    got = ready.client.get(f"{BASE}/api-key/value", headers=ready.auth(runtime))
    assert got.status_code == 200
    assert got.json() == {"id": "crm/api-key", "version": 1, "value": CANARY}
    assert got.headers["cache-control"] == "no-store"
    wildcard = ready.mint("secrets:read:crm/*", subject="crm-runtime")
    assert (
        ready.client.get(f"{BASE}/api-key/value", headers=ready.auth(wildcard)).json()["value"]
        == CANARY
    )
    # Neither form reaches another app or another name.
    _put(ready, "other", "other-value")
    assert ready.client.get(f"{BASE}/other/value", headers=ready.auth(runtime)).status_code == 403
    other_app = ready.client.get("/v1/apps/hr/secrets/api-key/value", headers=ready.auth(wildcard))
    assert other_app.status_code == 403


def test_listing_shows_only_what_the_caller_may_see(ready: Ready) -> None:
    _put(ready, "a", "value-a")
    _put(ready, "b", "value-b")
    everyone = ready.client.get(BASE, headers=ready.auth()).json()["secrets"]
    assert [s["name"] for s in everyone] == ["a", "b"]
    reader = ready.mint("secrets:read:crm/b")
    mine = ready.client.get(BASE, headers=ready.auth(reader)).json()["secrets"]
    assert [s["name"] for s in mine] == ["b"]
    stranger = ready.mint("secrets:read:hr/x")
    assert ready.client.get(BASE, headers=ready.auth(stranger)).status_code == 403
    lister = ready.mint("secrets:list:crm")
    assert ready.client.get(f"{BASE}/a", headers=ready.auth(lister)).json()["name"] == "a"
    assert (
        ready.client.put(f"{BASE}/a", json={"value": "x"}, headers=ready.auth(lister)).status_code
        == 403
    )


def test_bad_input_gets_clear_errors_and_changes_nothing(ready: Ready) -> None:
    _put(ready, "db", "first-value", cas=0)
    before = len(_events(ready))
    cases = [
        ("put", f"{BASE}/db", {"value": "x", "cas": 0}, 409),
        ("put", f"{BASE}/db", {"value": "x", "cas": 7}, 409),
        ("put", f"{BASE}/db", {"value": "x" * 65_537}, 413),
        ("put", f"{BASE}/bad%20name", {"value": "x"}, 400),
        ("put", "/v1/apps/CRM/secrets/db", {"value": "x"}, 400),
        ("put", f"{BASE}/db", {"value": "x", "data_class": "nope"}, 400),
        ("put", f"{BASE}/db", {"value": ""}, 422),
        ("put", f"{BASE}/db", {"value": "x", "unknown": 1}, 422),
        ("post", f"{BASE}/db/rotate", {"generate": {"kind": "key", "length": 5}}, 400),
        ("post", f"{BASE}/db/rotate", {}, 400),
        ("post", f"{BASE}/db/destroy", {"version": 9}, 404),
        ("post", f"{BASE}/missing/revoke", None, 404),
    ]
    for method, path, body, status in cases:
        resp = ready.client.request(method.upper(), path, json=body, headers=ready.auth())
        assert resp.status_code == status, (path, body, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
    runtime = ready.mint("secrets:read:crm/db")
    assert ready.client.get(f"{BASE}/db/value", headers=ready.auth(runtime)).json()["version"] == 1
    assert ready.client.get(f"{BASE}/db", headers=ready.auth()).json()["current_version"] == 1
    # Every refused call was audited as an error, none as a success.
    outcomes = [e[2] for e in _events(ready)[before:] if e[0].startswith("secrets.")]
    assert "error" in outcomes
    assert outcomes.count("success") == 2  # the two reads above


def test_destroy_revoke_and_disable_all(ready: Ready) -> None:
    _put(ready, "k", "value-one")
    _put(ready, "k", "value-two")
    _put(ready, "j", "value-j")
    runtime = ready.mint("secrets:read:crm/*")
    admin = ready.mint("secrets:admin:crm")
    writer = ready.mint("secrets:write:crm")
    assert (
        ready.client.post(
            f"{BASE}/k/destroy", json={"version": 1}, headers=ready.auth(writer)
        ).status_code
        == 403
    )
    assert (
        ready.client.post(
            f"{BASE}/k/destroy", json={"version": 1}, headers=ready.auth(admin)
        ).status_code
        == 200
    )
    gone = ready.client.get(f"{BASE}/k/value?version=1", headers=ready.auth(runtime))
    assert gone.status_code == 410
    assert ready.client.post(f"{BASE}/k/revoke", headers=ready.auth(admin)).status_code == 200
    assert ready.client.get(f"{BASE}/k/value", headers=ready.auth(runtime)).status_code == 423
    assert ready.client.get(f"{BASE}/j/value", headers=ready.auth(runtime)).status_code == 200
    resp = ready.client.post("/v1/apps/crm/disable-all", headers=ready.auth(admin))
    assert resp.json() == {"app": "crm", "disabled": 1}
    assert ready.client.get(f"{BASE}/j/value", headers=ready.auth(runtime)).status_code == 423
    rotated = ready.client.post(
        f"{BASE}/j/rotate",
        json={"generate": {"kind": "password", "length": 20}},
        headers=ready.auth(writer),
    )
    assert rotated.json()["current_version"] == 2 and not rotated.json()["disabled"]
    value = ready.client.get(f"{BASE}/j/value", headers=ready.auth(runtime)).json()["value"]
    assert len(value) == 20
    assert ready.client.delete(f"{BASE}/j", headers=ready.auth(writer)).status_code == 200
    assert ready.client.get(f"{BASE}/j/value", headers=ready.auth(runtime)).status_code == 404
    assert ready.client.post(f"{BASE}/j/undelete", headers=ready.auth(writer)).status_code == 200
    assert ready.client.get(f"{BASE}/j/value", headers=ready.auth(runtime)).status_code == 200


def test_due_lists_secrets_past_their_period(ready: Ready) -> None:
    _put(ready, "monthly", "value-m", rotation_period_s=30 * 86_400)
    _put(ready, "expiring", "value-e", expires="2020-01-01T00:00:00Z")
    _put(ready, "never", "value-n")
    due_token = ready.mint("secrets:due")
    now = ready.client.get("/v1/secrets/due", headers=ready.auth(due_token)).json()
    assert [s["name"] for s in now["secrets"]] == ["expiring"]
    later = ready.client.get("/v1/secrets/due?within=3000000", headers=ready.auth(due_token)).json()
    assert [s["name"] for s in later["secrets"]] == ["expiring", "monthly"]
    no_scope = ready.mint("secrets:list:crm")
    assert ready.client.get("/v1/secrets/due", headers=ready.auth(no_scope)).status_code == 403


def test_reads_and_writes_audited_by_id_and_version_never_value(
    ready: Ready, captured: _Capture
) -> None:
    seen: list[str] = []

    def keep(resp) -> None:  # type: ignore[no-untyped-def]
        seen.append(resp.text + " ".join(f"{k}:{v}" for k, v in resp.headers.items()))

    keep(ready.client.put(f"{BASE}/token", json={"value": CANARY}, headers=ready.auth()))
    keep(ready.client.post(f"{BASE}/token/rotate", json={"value": CANARY2}, headers=ready.auth()))
    runtime = ready.mint("secrets:read:crm/token", subject="crm-runtime")
    read = ready.client.get(f"{BASE}/token/value", headers=ready.auth(runtime))
    assert read.json()["value"] == CANARY2
    keep(ready.client.get(f"{BASE}/token/value", headers=ready.auth()))  # root: refused
    keep(ready.client.get(f"{BASE}/token", headers=ready.auth()))
    keep(ready.client.get(BASE, headers=ready.auth()))
    keep(ready.client.put(f"{BASE}/token", json={"value": CANARY, "cas": 0}, headers=ready.auth()))
    keep(ready.client.put(f"{BASE}/big", json={"value": CANARY * 5000}, headers=ready.auth()))
    keep(
        ready.client.put(f"{BASE}/x", json={"value": CANARY, "nope": CANARY}, headers=ready.auth())
    )
    keep(ready.client.post(f"{BASE}/token/revoke", headers=ready.auth()))
    keep(ready.client.get(f"{BASE}/token/value", headers=ready.auth(runtime)))
    events = _events(ready)
    secret_events = [(a, r, o, json.loads(d)) for a, r, o, d in events if a.startswith("secrets")]
    writes = [e for e in secret_events if e[0] in ("secrets.write", "secrets.rotate")]
    assert [(e[3].get("secret"), e[3].get("version")) for e in writes if e[2] == "success"] == [
        ("crm/token", 1),
        ("crm/token", 2),
    ]
    reads = [e for e in secret_events if e[0] == "secrets.read"]
    assert [(e[2], e[3].get("version")) for e in reads] == [
        ("success", 2),
        ("denied", None),
        ("error", None),
    ]
    dump = _audit_dump(ready) + "\n".join(captured.lines) + "\n".join(seen)
    for canary in (CANARY, CANARY2):
        assert canary not in dump
        assert canary[:16] not in dump
