"""Key escrow end to end: deposit, recovery with M=2 distinct approvers, audit, refusals."""

from __future__ import annotations

import json
import os

import pytest
from support import Ready

from strongroom.crypto import keywrap
from strongroom.sdk import EscrowClient, EscrowError, FieldKey

APP = "crm"
CTX = {"app": APP, "record": "42", "field": "email"}
CANARY = "canary-escrow-value@example.com"


def _client(ready: Ready, subject: str, *scopes: str) -> EscrowClient:
    return EscrowClient(token=ready.mint(*scopes, subject=subject), client=ready.client)


@pytest.fixture
def people(ready: Ready) -> dict[str, EscrowClient]:
    return {
        "alice": _client(ready, "alice", "escrow:deposit", "escrow:request", "escrow:approve"),
        "bob": _client(ready, "bob", "escrow:approve", "escrow:request"),
        "carol": _client(ready, "carol", "escrow:approve"),
        "mallory": _client(ready, "mallory", "escrow:request", "escrow:deposit"),
    }


def _events(ready: Ready) -> list[dict[str, object]]:
    resp = ready.client.get("/v1/audit/events?limit=1000", headers=ready.auth())
    assert resp.status_code == 200, resp.text
    return list(resp.json()["events"])


def test_recovery_needs_two_distinct_approvers_then_releases_once(
    ready: Ready, people: dict[str, EscrowClient]
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    data_key = os.urandom(32)
    key = FieldKey.from_app_key(data_key, key_id="app:crm", key_version=3)
    sealed = key.seal(CANARY, CTX)
    deposit = alice.deposit(app=APP, key_id="app:crm", key_version=3, data_key=data_key)

    recovery = alice.request_recovery(deposit)
    assert alice.status(recovery.id)["approvals"] == 0
    assert alice.status(recovery.id)["threshold"] == 2
    with pytest.raises(EscrowError) as refused:
        alice.release(recovery)
    assert refused.value.status == 403

    assert bob.approve(recovery.id)["approvals"] == 1
    with pytest.raises(EscrowError) as one:
        alice.release(recovery)  # one approval is not enough
    assert one.value.status == 403 and "1 of the 2" in str(one.value)
    with pytest.raises(EscrowError) as own:
        alice.approve(recovery.id)  # never the requester
    assert own.value.status == 403
    with pytest.raises(EscrowError) as twice:
        bob.approve(recovery.id)  # distinct approvers
    assert twice.value.status == 409
    assert alice.status(recovery.id)["approvals"] == 1

    assert carol.approve(recovery.id)["approvals"] == 2
    recovered = alice.release(recovery)
    assert recovered == data_key
    assert FieldKey.from_app_key(recovered, key_id="app:crm", key_version=3).open(sealed, CTX) == (
        CANARY
    )
    assert alice.status(recovery.id)["status"] == "released"
    with pytest.raises(EscrowError) as again:
        alice.release(recovery)
    assert again.value.status == 409

    events = _events(ready)
    actions = [e["action"] for e in events if str(e["action"]).startswith("escrow.")]
    for action in ("escrow.public_key.read", "escrow.deposit", "escrow.request",
                   "escrow.approve", "escrow.release", "escrow.status.read"):  # fmt: skip
        assert action in actions, action
    outcomes = {(e["action"], e["outcome"]) for e in events}
    assert ("escrow.release", "denied") in outcomes and ("escrow.release", "success") in outcomes
    text = json.dumps(events)
    assert data_key.hex() not in text and CANARY not in text


def test_only_the_owner_can_request_or_release(
    ready: Ready, people: dict[str, EscrowClient]
) -> None:
    alice, mallory, bob, carol = people["alice"], people["mallory"], people["bob"], people["carol"]
    deposit = alice.deposit(app=APP, key_id="k", key_version=1, data_key=os.urandom(32))
    with pytest.raises(EscrowError) as theirs:
        mallory.request_recovery(deposit)
    assert theirs.value.status == 404
    recovery = alice.request_recovery(deposit)
    bob.approve(recovery.id)
    carol.approve(recovery.id)
    with pytest.raises(EscrowError) as stolen:
        mallory.release(recovery)
    assert stolen.value.status == 404
    with pytest.raises(EscrowError) as no_scope:
        carol.request_recovery(deposit)
    assert no_scope.value.status == 403


def test_a_denial_stops_the_request(ready: Ready, people: dict[str, EscrowClient]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    deposit = alice.deposit(app=APP, key_id="k", key_version=1, data_key=os.urandom(32))
    recovery = alice.request_recovery(deposit)
    carol.approve(recovery.id)
    assert bob.deny(recovery.id)["status"] == "denied"
    with pytest.raises(EscrowError) as late:
        carol.approve(recovery.id)
    assert late.value.status == 409
    with pytest.raises(EscrowError) as closed:
        alice.release(recovery)
    assert closed.value.status == 409


def test_bad_deposits_and_requests_change_nothing(
    ready: Ready, people: dict[str, EscrowClient]
) -> None:
    auth = {"Authorization": f"Bearer {ready.mint('escrow:deposit', 'escrow:request')}"}
    public = ready.client.get(f"/v1/escrow/public-key?app={APP}", headers=auth).json()
    server_key = keywrap.public_key  # the public key is raw X25519, base64url
    assert len(public["public_key"]) == 43 and server_key is not None
    import base64

    pub = base64.urlsafe_b64decode(public["public_key"] + "=")
    wrong_ctx = keywrap.wrap(pub, os.urandom(32), keywrap.escrow_context(APP, "other", 1))
    body = {"app": APP, "key_id": "k", "key_version": 1, "escrow_version": public["version"],
            "wrapped": base64.urlsafe_b64encode(wrong_ctx).decode().rstrip("=")}  # fmt: skip
    resp = ready.client.post("/v1/escrow/deposits", json=body, headers=auth)
    assert resp.status_code == 400 and "does not open" in resp.json()["detail"]
    other_app = ready.client.post("/v1/escrow/deposits", json=dict(body, app="hr"), headers=auth)
    assert other_app.status_code == 400
    bad_app = ready.client.get("/v1/escrow/public-key?app=a%20b", headers=auth)
    assert bad_app.status_code == 400
    missing = ready.client.post(
        "/v1/escrow/requests",
        json={"deposit_id": "0" * 32, "recipient_public_key": public["public_key"]},
        headers=auth,
    )
    assert missing.status_code == 404
    low_order = ready.client.post(
        "/v1/escrow/requests",
        json={"deposit_id": "0" * 32, "recipient_public_key": "A" * 43},
        headers=auth,
    )
    assert low_order.status_code == 400
    with ready.node.db.transaction(read_only=True) as session:
        from sqlalchemy import func, select

        from strongroom.store.models import EscrowDeposit, EscrowRequest

        assert session.execute(select(func.count()).select_from(EscrowDeposit)).scalar() == 0
        assert session.execute(select(func.count()).select_from(EscrowRequest)).scalar() == 0
    unauthenticated = ready.client.get(f"/v1/escrow/public-key?app={APP}")
    assert unauthenticated.status_code == 401


def test_each_app_has_its_own_escrow_key(ready: Ready) -> None:
    auth = {"Authorization": f"Bearer {ready.mint('escrow:deposit')}"}
    crm = ready.client.get("/v1/escrow/public-key?app=crm", headers=auth).json()
    hr = ready.client.get("/v1/escrow/public-key?app=hr", headers=auth).json()
    again = ready.client.get("/v1/escrow/public-key?app=crm", headers=auth).json()
    assert crm["public_key"] != hr["public_key"] and crm == again


def test_threshold_is_per_app_with_a_default_of_two(tmp_path: object) -> None:
    from strongroom.config import load_settings
    from strongroom.escrow.service import EscrowService

    settings = load_settings(database_url="sqlite://", escrow_approvals_per_app={"crm": 3, "hr": 1})
    service = EscrowService(settings, None, None, None, None)  # type: ignore[arg-type]
    assert service.threshold("crm") == 3 and service.threshold("hr") == 1
    assert service.threshold("other") == 2
