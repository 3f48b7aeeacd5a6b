"""Key escrow with an RSA-OAEP-3072 app: publication, deposits, recovery, refusals.

The app ``hr`` is set to RSA-OAEP-3072; ``crm`` keeps the default X25519. Recovery of an
RSA deposit is tried to both an X25519 and an RSA one-time key.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import func, select
from support import Ready

from strongroom.call import Call
from strongroom.config import Settings, load_settings
from strongroom.crypto import keywrap, rsa_keywrap
from strongroom.sdk import EscrowClient, EscrowError, FieldKey
from strongroom.store.models import EscrowDeposit, EscrowRsaKey

RSA_APP = "hr"
CANARY = "canary-rsa-escrow-value@example.com"
CTX = {"app": RSA_APP, "record": "7", "field": "salary"}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        addr="127.0.0.1:8210",
        escrow_algorithms_per_app={RSA_APP: "rsa-oaep-3072", "legal": "rsa-oaep-3072"},
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _client(ready: Ready, subject: str, *scopes: str) -> EscrowClient:
    return EscrowClient(token=ready.mint(*scopes, subject=subject), client=ready.client)


def _events(ready: Ready) -> list[dict[str, Any]]:
    resp = ready.client.get("/v1/audit/events?limit=1000", headers=ready.auth())
    assert resp.status_code == 200, resp.text
    return list(resp.json()["events"])


def _count(ready: Ready, model: type[Any]) -> int:
    with ready.node.db.transaction(read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_the_rsa_public_key_is_published_in_three_forms(ready: Ready) -> None:
    auth = {"Authorization": f"Bearer {ready.mint('escrow:deposit')}"}
    first = ready.client.get(f"/v1/escrow/public-key?app={RSA_APP}", headers=auth).json()
    assert first["algorithm"] == "rsa-oaep-3072" and first["version"] == 1
    spki = _unb64(first["public_key"])
    key = rsa_keywrap.load_public(spki)  # 3072 bits, e = 65537, or it raises
    pem_key = load_pem_public_key(first["public_key_pem"].encode())
    assert pem_key.public_numbers() == key.public_numbers()  # type: ignore[union-attr]
    jwk = first["jwk"]
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RSA-OAEP-256" and jwk["kid"] == "hr:1"
    assert int.from_bytes(_unb64(jwk["n"]), "big") == key.public_numbers().n
    assert jwk["e"] == "AQAB"
    # Generated once, then the same key; another RSA app has its own; crm stays X25519.
    again = ready.client.get(f"/v1/escrow/public-key?app={RSA_APP}", headers=auth).json()
    assert again == first
    crm = ready.client.get("/v1/escrow/public-key?app=crm", headers=auth).json()
    assert (
        crm["algorithm"] == "x25519" and crm["jwk"] is None and len(_unb64(crm["public_key"])) == 32
    )
    assert _count(ready, EscrowRsaKey) == 1
    with ready.node.db.transaction(read_only=True) as session:
        row = session.execute(select(EscrowRsaKey)).scalar_one()
        assert row.public_spki == spki
        assert b"PRIVATE" not in row.sealed_private and len(row.sealed_private) > 1200


@pytest.mark.parametrize("recipient", ["x25519", "rsa-oaep-3072"])
def test_rsa_recovery_needs_two_approvers(
    ready: Ready, recipient: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = _client(ready, "alice", "escrow:deposit", "escrow:request")
    bob = _client(ready, "bob", "escrow:approve")
    carol = _client(ready, "carol", "escrow:approve")
    data_key = os.urandom(32)
    sealed = FieldKey.from_app_key(data_key, key_id="app:hr", key_version=1).seal(CANARY, CTX)
    deposit = alice.deposit(app=RSA_APP, key_id="app:hr", key_version=1, data_key=data_key)
    with ready.node.db.transaction(read_only=True) as session:
        stored = session.get(EscrowDeposit, deposit)
        assert stored is not None and stored.wrapped[0] == rsa_keywrap.VERSION

    recovery = alice.request_recovery(deposit, algorithm=recipient)
    assert "_private" not in repr(recovery)
    bob.approve(recovery.id)
    with pytest.raises(EscrowError) as one:
        alice.release(recovery)
    assert one.value.status == 403 and "1 of the 2" in str(one.value)
    carol.approve(recovery.id)
    recovered = alice.release(recovery)
    assert recovered == data_key
    key = FieldKey.from_app_key(recovered, key_id="app:hr", key_version=1)
    assert key.open(sealed, CTX) == CANARY

    events = _events(ready)
    text = json.dumps(events)
    assert data_key.hex() not in text and _b64(data_key) not in text and CANARY not in text
    logs = caplog.text
    assert data_key.hex() not in logs and _b64(data_key) not in logs and CANARY not in logs
    reads = [e for e in events if e["action"] == "escrow.public_key.read"]
    assert reads and all(e["outcome"] == "success" for e in reads)
    requests = [e for e in events if e["action"] == "escrow.request"]
    assert requests[-1]["outcome"] == "success"


def test_tampered_moved_and_wrong_algorithm_deposits_are_refused(ready: Ready) -> None:
    auth = {"Authorization": f"Bearer {ready.mint('escrow:deposit')}"}
    hr = ready.client.get(f"/v1/escrow/public-key?app={RSA_APP}", headers=auth).json()
    ready.client.get("/v1/escrow/public-key?app=payroll", headers=auth)  # payroll: X25519
    spki, version = _unb64(hr["public_key"]), hr["version"]
    data_key = os.urandom(32)
    good = rsa_keywrap.wrap(spki, data_key, keywrap.escrow_context(RSA_APP, "k", 1), version=1)

    def deposit(wrapped: bytes, **over: Any) -> Any:
        body = {"app": RSA_APP, "key_id": "k", "key_version": 1, "escrow_version": version,
                "wrapped": _b64(wrapped)} | over  # fmt: skip
        return ready.client.post("/v1/escrow/deposits", json=body, headers=auth)

    flipped = good[:-1] + bytes([good[-1] ^ 1])
    other_version = good[:1] + (9).to_bytes(4, "big") + good[5:]
    x25519 = keywrap.wrap(os.urandom(32), data_key, keywrap.escrow_context(RSA_APP, "k", 1))
    refusals = [
        deposit(flipped),
        deposit(other_version),
        deposit(good, app="hr2"),  # moved to another app (an X25519 one: wrong format too)
        deposit(good, key_id="other"),
        deposit(good, key_version=2),
        deposit(good, escrow_version=2),
        deposit(x25519),  # hr takes RSA deposits only
        deposit(b"\x07" + good[1:]),
        deposit(good, app="payroll"),
    ]
    for resp in refusals:
        assert resp.status_code == 400, resp.text
        assert _b64(data_key) not in resp.text
    assert _count(ready, EscrowDeposit) == 0
    assert deposit(good).status_code == 200
    assert _count(ready, EscrowDeposit) == 1


def test_a_deposit_moved_in_the_database_does_not_release(ready: Ready) -> None:
    alice = _client(ready, "alice", "escrow:deposit", "escrow:request")
    bob = _client(ready, "bob", "escrow:approve")
    carol = _client(ready, "carol", "escrow:approve")
    data_key = os.urandom(32)
    deposit = alice.deposit(app=RSA_APP, key_id="k", key_version=1, data_key=data_key)
    alice.deposit(app="legal", key_id="k", key_version=1, data_key=os.urandom(32))
    with ready.node.db.transaction() as session:
        row = session.get(EscrowDeposit, deposit)
        assert row is not None
        row.app = "legal"  # someone with the database files it under another RSA app
    recovery = alice.request_recovery(deposit)
    bob.approve(recovery.id)
    carol.approve(recovery.id)
    with pytest.raises(EscrowError) as refused:
        alice.release(recovery)
    # The stored deposit no longer opens: a server-side integrity failure, one opaque error.
    assert refused.value.status == 500
    assert str(refused.value) == "Decryption failed: Decryption failed."
    assert _b64(data_key) not in str(refused.value)
    with ready.node.db.transaction() as session:
        row = session.get(EscrowDeposit, deposit)
        assert row is not None
        row.app = RSA_APP  # put back: a new request now releases
    recovery = alice.request_recovery(deposit)
    bob.approve(recovery.id)
    carol.approve(recovery.id)
    assert alice.release(recovery) == data_key


def test_a_swapped_rsa_key_row_is_refused(ready: Ready) -> None:
    auth = {"Authorization": f"Bearer {ready.mint('escrow:deposit')}"}
    ready.client.get(f"/v1/escrow/public-key?app={RSA_APP}", headers=auth)
    ready.client.get("/v1/escrow/public-key?app=hr2", headers=auth)  # X25519: no row
    other = rsa_keywrap.public_key(rsa_keywrap.generate_private())
    with ready.node.db.transaction() as session:
        row = session.get(EscrowRsaKey, (RSA_APP, 1))
        assert row is not None
        row.public_spki = other  # an attacker's key published in place of the app's
    resp = ready.client.get(f"/v1/escrow/public-key?app={RSA_APP}", headers=auth)
    assert resp.status_code == 404 and _b64(other) not in resp.text


def test_rotation_gives_a_new_rsa_key_and_old_deposits_still_recover(ready: Ready) -> None:
    alice = _client(ready, "alice", "escrow:deposit", "escrow:request")
    approvers = [_client(ready, s, "escrow:approve") for s in ("bob", "carol")]
    auth = {"Authorization": f"Bearer {ready.mint('escrow:deposit')}"}
    before = ready.client.get(f"/v1/escrow/public-key?app={RSA_APP}", headers=auth).json()
    old_key = os.urandom(32)
    deposit = alice.deposit(app=RSA_APP, key_id="k", key_version=1, data_key=old_key)
    ready.node.rotate_key(Call("test-rotate"), "escrow")
    after = ready.client.get(f"/v1/escrow/public-key?app={RSA_APP}", headers=auth).json()
    assert after["version"] == before["version"] + 1 and after["public_key"] != before["public_key"]
    recovery = alice.request_recovery(deposit, algorithm="rsa-oaep-3072")
    for approver in approvers:
        approver.approve(recovery.id)
    assert alice.release(recovery) == old_key


def test_bad_recipient_keys_are_refused(ready: Ready) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    alice = _client(ready, "alice", "escrow:deposit", "escrow:request")
    deposit = alice.deposit(app=RSA_APP, key_id="k", key_version=1, data_key=os.urandom(32))
    small = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    auth = {"Authorization": f"Bearer {ready.mint('escrow:request', subject='alice')}"}
    for public in (
        small.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo),
        os.urandom(33),
        bytes(32),
    ):
        resp = ready.client.post(
            "/v1/escrow/requests",
            json={"deposit_id": deposit, "recipient_public_key": _b64(public)},
            headers=auth,
        )
        assert resp.status_code == 400, resp.text


def test_concurrent_first_reads_agree_on_one_key_pair(ready: Ready) -> None:
    """Several first reads at once (on PostgreSQL truly in parallel): one pair is stored,
    the others' inserts lose on the primary key and every caller gets the stored key."""
    barrier = threading.Barrier(3)
    results: list[bytes] = []
    errors: list[BaseException] = []

    def read(n: int) -> None:
        barrier.wait()
        try:
            key = ready.node.escrow.public_key(Call(f"test-concurrent-{n}"), "legal")
            results.append(key.public)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == 3 and len(set(results)) == 1
    assert _count(ready, EscrowRsaKey) == 1
