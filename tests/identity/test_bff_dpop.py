"""The BFF with scopes policy binds to DPoP: its tokens are bound to its own key and each
forwarded call carries a fresh proof; the token alone, or with a replayed proof, is dead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, Request
from support import Ready

from identity.conftest import make_ready
from identity.oidcop import OpenIdProvider
from identity.test_bff import add_echo, bff_sign_in, events
from strongroom.api.deps import require
from strongroom.crypto import jws
from strongroom.identity.dpop_key import DpopKey


def add_recorder(sr: Ready) -> list[dict[str, str]]:
    """A route on the API that needs ``sys:read`` (so DPoP, by the policy here), and
    records the headers of what the BFF forwarded to it."""
    seen: list[dict[str, str]] = []

    async def record(request: Request) -> dict[str, bool]:
        seen.append(dict(request.headers))
        return {"ok": True}

    sr.client.app.add_api_route(  # type: ignore[attr-defined]
        "/v1/test/record", record, methods=["GET"], dependencies=[Depends(require("sys:read"))]
    )
    return seen


@pytest.fixture(params=[False, True], ids=["no-nonce", "nonce"])
def sr_dpop(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, idp: OpenIdProvider
) -> Iterator[Ready]:
    """``sr`` whose policy requires DPoP for ``sys:read`` (one of the app's scopes)."""
    ready = make_ready(
        database_url,
        tmp_path,
        idp,
        dpop_required_scopes=["sys:read"],
        dpop_require_nonce=request.param,
    )
    yield ready
    ready.client.__exit__(None, None, None)
    ready.node.close()


def test_forwarded_calls_carry_a_bound_token_and_a_fresh_proof(sr_dpop: Ready) -> None:
    sr = sr_dpop
    seen = add_recorder(sr)
    bff_sign_in(sr, "alice")
    # sys:read needs DPoP by policy: the BFF's call gets through all the same.
    assert sr.client.get("/bff/notes/api/v1/sys/keys").status_code == 200
    assert sr.client.get("/bff/notes/api/v1/test/record").status_code == 200
    assert sr.client.get("/bff/notes/api/v1/test/record").status_code == 200
    first, second = seen[-2], seen[-1]
    for forwarded in (first, second):
        assert forwarded["authorization"].startswith("DPoP ")
        assert "cookie" not in forwarded
    assert first["dpop"] != second["dpop"]
    token = first["authorization"].split(" ", 1)[1]
    claims = sr.node.tokens.verify_claims(token)
    assert claims["cnf"]["jkt"] == sr.node.identity.bff.key.jkt
    proof = jws.json_object(jws.b64u_decode(first["dpop"].split(".")[1]))
    assert proof["htm"] == "GET"
    assert proof["htu"] == sr.node.broker.url_for("/v1/test/record")
    assert proof["ath"] == jws.sha256_b64u(token.encode())
    assert ("nonce" in proof) is sr.node.settings.dpop_require_nonce
    exchanged = [e for e in events(sr) if e["action"] == "oauth.token.exchange"]
    assert exchanged and all(e["detail"]["dpop"] is True for e in exchanged[-3:])

    # Lifted out of the BFF, the token is dead: as a bearer token, without a proof, with
    # a forwarded call's proof replayed, or with a proof made for another path.
    record = "/v1/test/record"
    assert sr.client.get(record, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert sr.client.get(record, headers={"Authorization": f"DPoP {token}"}).status_code == 401
    replayed = {"Authorization": f"DPoP {token}", "DPoP": second["dpop"]}
    assert sr.client.get(record, headers=replayed).status_code == 401
    # A proof never used, made by the BFF's key for ``record``: refused on another path,
    # then accepted on its own (so the path was the only fault, and a replay the other's).
    unused = sr.node.identity.bff.key.proof("GET", sr.node.broker.url_for(record), token)
    fresh = {"Authorization": f"DPoP {token}", "DPoP": unused}
    assert sr.client.get("/v1/sys/keys", headers=fresh).status_code == 401
    assert len(seen) == 2
    assert sr.client.get(record, headers=fresh).status_code == 200
    assert len(seen) == 3


def test_another_key_cannot_use_the_token(sr_dpop: Ready) -> None:
    sr = sr_dpop
    seen = add_recorder(sr)
    bff_sign_in(sr, "alice")
    assert sr.client.get("/bff/notes/api/v1/test/record").status_code == 200
    token = seen[-1]["authorization"].split(" ", 1)[1]
    nonce = sr.node.broker.nonces.issue if sr.node.settings.dpop_require_nonce else lambda: None
    thief = DpopKey(sr.node.clock, nonce)
    proof = thief.proof("GET", sr.node.broker.url_for("/v1/sys/keys"), token)
    resp = sr.client.get("/v1/sys/keys", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert resp.status_code == 401


def test_apps_without_such_scopes_keep_bearer_tokens(sr: Ready) -> None:
    seen = add_echo(sr)
    bff_sign_in(sr, "alice")
    assert sr.client.get("/bff/notes/api/v1/test/echo").status_code == 200
    forwarded: dict[str, Any] = seen[-1]["headers"]
    assert forwarded["authorization"].startswith("Bearer ")
    assert "dpop" not in forwarded


def test_the_keys_proofs_pass_the_verifiers_checks(sr_dpop: Ready) -> None:
    broker = sr_dpop.node.broker
    key = sr_dpop.node.identity.bff.key
    url = broker.url_for("/v1/sys/keys")
    checked = broker.dpop.verify(key.proof("GET", url, "tok"), htm="GET", htu=url,
                                 access_token="tok")  # fmt: skip
    assert checked.jkt == key.jkt
    assert key.jkt in repr(key)
    assert "d" not in key.jwk
    # Two keys, two thumbprints: each process's BFF binds to its own.
    assert DpopKey(sr_dpop.node.clock).jkt != key.jkt
