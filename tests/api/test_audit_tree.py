"""Audit tree routes: signed checkpoints, keys, proofs that a second verifier accepts."""

from __future__ import annotations

import base64

from rfc9162 import independent_verify_consistency, independent_verify_inclusion
from support import Ready

from strongroom.audit import bundle
from strongroom.crypto import note


def _b(value: str) -> bytes:
    return base64.b64decode(value)


def _grow(ready: Ready, n: int) -> None:
    for _ in range(n):
        assert ready.client.get("/v1/sys/keys", headers=ready.auth()).status_code == 200


def test_checkpoint_is_signed_by_the_published_key(ready: Ready) -> None:
    _grow(ready, 5)
    keys = ready.client.get("/v1/audit/keys").json()
    signed = ready.client.get("/v1/audit/checkpoint")
    assert signed.status_code == 200 and signed.headers["content-type"].startswith("text/plain")
    trusted = [note.parse_verifier(k) for k in keys["keys"]]
    cp = note.Checkpoint.parse(note.open_note(signed.text, trusted))
    assert cp.origin == keys["origin"] and cp.size > 0
    made = ready.client.post("/v1/audit/checkpoint", headers=ready.auth())
    assert made.status_code == 200
    newer = note.Checkpoint.parse(note.open_note(made.text, trusted))
    assert newer.size >= cp.size
    assert ready.client.post("/v1/audit/checkpoint").status_code == 401


def test_proofs_verify_independently(ready: Ready) -> None:
    _grow(ready, 30)
    trusted = [note.parse_verifier(k) for k in ready.client.get("/v1/audit/keys").json()["keys"]]
    cp = note.Checkpoint.parse(
        note.open_note(
            ready.client.post("/v1/audit/checkpoint", headers=ready.auth()).text, trusted
        )
    )
    for index in (0, 1, cp.size // 2, cp.size - 1):
        got = ready.client.get(
            "/v1/audit/proof/inclusion",
            params={"index": index, "size": cp.size},
            headers=ready.auth(),
        ).json()
        assert _b(got["root_hash"]) == cp.root_hash
        assert independent_verify_inclusion(
            _b(got["leaf_hash"]), index, cp.size, [_b(p) for p in got["proof"]], cp.root_hash
        )
    for old in (1, 7, cp.size):
        got = ready.client.get(
            "/v1/audit/proof/consistency", params={"from": old, "to": cp.size}, headers=ready.auth()
        ).json()
        assert _b(got["root2"]) == cp.root_hash
        assert independent_verify_consistency(
            old, cp.size, _b(got["root1"]), cp.root_hash, [_b(p) for p in got["proof"]]
        )


def test_proof_requests_beyond_the_tree_are_refused(ready: Ready) -> None:
    c, auth = ready.client, ready.auth()
    size = c.get("/v1/audit/events", headers=auth, params={"order": "desc", "limit": 1}).json()
    top = size["events"][0]["index"] + 1
    for params in ({"index": top + 5, "size": top + 10}, {"index": 3, "size": 3}):
        resp = c.get("/v1/audit/proof/inclusion", params=params, headers=auth)
        assert (
            resp.status_code == 400 and resp.headers["content-type"] == "application/problem+json"
        )
    resp = c.get("/v1/audit/proof/consistency", params={"from": 5, "to": 4}, headers=auth)
    assert resp.status_code == 400
    resp = c.get("/v1/audit/proof/inclusion", params={"index": -1, "size": 2}, headers=auth)
    assert resp.status_code == 422
    assert c.get("/v1/audit/proof/inclusion", params={"index": 0, "size": 1}).status_code == 401


def test_export_over_http_verifies(ready: Ready) -> None:
    _grow(ready, 12)
    resp = ready.client.get("/v1/audit/export", headers=ready.auth())
    assert resp.status_code == 200
    keys = ready.client.get("/v1/audit/keys").json()["keys"]
    report = bundle.verify(resp.content.splitlines(keepends=True), keys)
    assert report.size >= 12
    assert (
        ready.client.get(
            "/v1/audit/export", params={"since": 10**9}, headers=ready.auth()
        ).status_code
        == 400
    )
    assert ready.client.get("/v1/audit/export").status_code == 401
