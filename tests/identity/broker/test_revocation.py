"""Revocation (RFC 7009) by lineage, kill switches, introspection (RFC 7662), and the
bounded staleness of revocation state across two nodes sharing one database."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from identity.broker.brokerkit import Kit
from identity.broker.test_exchange import claims_of, refused
from strongroom.identity.subjects import ID_TOKEN_TYPE


def exchanged(kit: Kit, subject: str, client: str = "crm", **params: Any) -> str:
    resp = kit.exchange(subject, client, post=client == "hr", scope="sys:read", **params)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def works(kit: Kit, token: str) -> bool:
    status = kit.client.get("/v1/sys/keys", headers=kit.auth(token)).status_code
    assert status in (200, 401)
    return status == 200


def revoke(kit: Kit, token: str, headers: dict[str, str] | None = None) -> Any:
    return kit.client.post("/v1/oauth/revoke", data={"token": token}, headers=headers or kit.auth())


def test_revoking_a_parent_kills_every_descendant_at_once(kit: Kit) -> None:
    parent = kit.mint("sys:read")
    child = exchanged(kit, parent)
    grandchild = exchanged(kit, child)
    sibling = exchanged(kit, kit.mint("sys:read"))
    assert works(kit, child) and works(kit, grandchild)
    resp = revoke(kit, parent)
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    assert not works(kit, parent)
    assert not works(kit, child)
    assert not works(kit, grandchild)
    assert works(kit, sibling)
    # A dead token cannot be exchanged either.
    refused(kit.exchange(child, scope="sys:read"), "invalid_request")
    event = kit.events("oauth.token.revoke")[-1]
    assert event["outcome"] == "success" and event["detail"]["known"] is True
    assert parent not in kit.trail_text()


def test_revoking_a_sign_in_kills_the_tokens_derived_from_it(kit: Kit) -> None:
    id_token = kit.idp.id_token("alice", groups=["sg-admins"])
    resp = kit.exchange(id_token, subject_token_type=ID_TOKEN_TYPE, scope="sys:read")
    derived = resp.json()["access_token"]
    deeper = exchanged(kit, derived)
    assert works(kit, derived) and works(kit, deeper)
    assert revoke(kit, id_token).status_code == 200
    assert not works(kit, derived) and not works(kit, deeper)
    refused(kit.exchange(id_token, subject_token_type=ID_TOKEN_TYPE), "invalid_request")


def test_the_sign_in_layer_revokes_by_session(kit: Kit) -> None:
    id_token = kit.idp.id_token("alice", sid="sess-42")
    derived = kit.exchange(id_token, subject_token_type=ID_TOKEN_TYPE, scope="sys:read")
    token = derived.json()["access_token"]
    from strongroom.node import Call

    kit.node.broker.revoke_sign_in(Call("logout"), kit.idp.issuer, "sess-42")
    assert not works(kit, token)


def test_a_client_revokes_only_its_own_tokens(kit: Kit) -> None:
    own = exchanged(kit, kit.mint("sys:read"))
    others = exchanged(kit, kit.mint("sys:read"), "hr")
    refused(revoke(kit, others, kit.basic("crm")), "unauthorized_client")
    assert works(kit, others)
    assert revoke(kit, own, kit.basic("crm")).status_code == 200
    assert not works(kit, own)
    # Unknown and invalid tokens are not an error (RFC 7009 §2.2), but need a caller.
    assert revoke(kit, "not-a-token", kit.basic("crm")).status_code == 200
    assert kit.events("oauth.token.revoke")[-1]["detail"]["known"] is False
    refused(kit.client.post("/v1/oauth/revoke", data={"token": own}), "invalid_client", 401)
    refused(revoke(kit, own, kit.basic("crm", "srcs_wrong")), "invalid_client", 401)
    missing = kit.client.post("/v1/oauth/revoke", data={}, headers=kit.basic("crm"))
    refused(missing, "invalid_request")


def test_a_token_without_tokens_revoke_cannot_revoke(kit: Kit) -> None:
    weak = kit.mint("sys:read")
    target = exchanged(kit, kit.mint("sys:read"))
    refused(revoke(kit, target, kit.auth(weak)), "invalid_client", 401)
    assert works(kit, target)


def test_revoke_by_jti_for_administrators(kit: Kit) -> None:
    parent = kit.mint("sys:read")
    child = exchanged(kit, parent)
    resp = kit.client.post(
        "/v1/auth/revocations",
        json={"token_ids": [claims_of(parent)["jti"]]},
        headers=kit.auth(),
    )
    assert resp.status_code == 204
    assert not works(kit, child)
    weak = kit.mint("sys:read")
    denied = kit.client.post(
        "/v1/auth/revocations", json={"token_ids": ["x"]}, headers=kit.auth(weak)
    )
    assert denied.status_code == 403


@pytest.mark.parametrize("kind", ["user", "app"])
def test_kill_switches(kit: Kit, kind: str) -> None:
    alice_crm = exchanged(kit, kit.mint("sys:read", subject="alice"))
    alice_hr = exchanged(kit, kit.mint("sys:read", subject="alice"), "hr")
    bob_crm = exchanged(kit, kit.mint("sys:read", subject="bob"))
    name = "alice" if kind == "user" else "crm"
    resp = kit.client.post(
        "/v1/auth/kill-switches", json={"kind": kind, "name": name}, headers=kit.auth()
    )
    assert resp.status_code == 200, resp.text
    assert not works(kit, alice_crm)
    if kind == "user":
        assert not works(kit, alice_hr) and works(kit, bob_crm)
        assert "alice" not in str(kit.events("auth.kill_switch.user")[-1])
    else:
        assert works(kit, alice_hr) and not works(kit, bob_crm)
    # Tokens issued after the epoch (the next second on) work again.
    time.sleep(1.05)
    assert works(kit, exchanged(kit, kit.mint("sys:read", subject="alice")))


def test_kill_switch_input_is_checked(kit: Kit) -> None:
    for body in ({"kind": "group", "name": "x"}, {"kind": "user", "name": ""}, {"kind": "user"}):
        resp = kit.client.post("/v1/auth/kill-switches", json=body, headers=kit.auth())
        assert resp.status_code == 422, resp.text


def introspect(kit: Kit, token: str, headers: dict[str, str] | None = None) -> Any:
    return kit.client.post(
        "/v1/oauth/introspect", data={"token": token}, headers=headers or kit.auth()
    )


def test_introspection(kit: Kit) -> None:
    token = exchanged(kit, kit.mint("sys:read"))
    resp = introspect(kit, token)
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["active"] is True
    assert body["client_id"] == "crm" and body["sub"] == "alice" and body["scope"] == "sys:read"
    assert body["token_type"] == "Bearer"
    assert introspect(kit, "not-a-token").json() == {"active": False}
    # A client sees its own tokens, not other clients'.
    assert introspect(kit, token, kit.basic("crm")).json()["active"] is True
    assert introspect(kit, token, kit.basic("crm", "srcs_bad")).status_code == 401
    other = exchanged(kit, kit.mint("sys:read"), "hr")
    assert introspect(kit, other, kit.basic("crm")).json() == {"active": False}
    # Revoked: inactive.
    revoke(kit, token)
    assert introspect(kit, token).json() == {"active": False}
    # The caller must be authorised.
    refused(kit.client.post("/v1/oauth/introspect", data={"token": token}), "invalid_client", 401)
    weak = kit.mint("sys:read")
    refused(introspect(kit, other, kit.auth(weak)), "invalid_client", 401)
    assert token not in kit.trail_text()


def test_revocation_reaches_another_node_within_the_bound(make_kit: Callable[..., Kit]) -> None:
    a = make_kit()
    b = make_kit()
    token = exchanged(a, a.mint("sys:read"))
    assert works(b, token)
    b.node.broker.revocations.reload()
    started = time.monotonic()
    assert revoke(a, token).status_code == 200
    assert not works(a, token)  # at once on the node that revoked
    bound = b.node.settings.revocation_refresh_seconds
    while works(b, token):
        assert time.monotonic() - started < bound + 1.0, "still alive past the bound"
        time.sleep(0.05)
    assert time.monotonic() - started <= bound + 1.0
    # Kill switches travel the same way.
    other = exchanged(a, a.mint("sys:read", subject="bob"))
    assert works(b, other)
    started = time.monotonic()
    a.client.post("/v1/auth/kill-switches", json={"kind": "user", "name": "bob"}, headers=a.auth())
    while works(b, other):
        assert time.monotonic() - started < bound + 1.0
        time.sleep(0.05)


def test_a_client_deleted_cannot_exchange(kit: Kit) -> None:
    parent = kit.mint("sys:read")
    resp = kit.client.delete("/v1/oauth/clients/crm", headers=kit.auth())
    assert resp.status_code == 204
    refused(kit.exchange(parent, scope="sys:read"), "invalid_client", 401)
    assert kit.client.delete("/v1/oauth/clients/crm", headers=kit.auth()).status_code == 404
    listed = kit.client.get("/v1/oauth/clients", headers=kit.auth()).json()
    assert [c["client_id"] for c in listed] == ["hr"]
    assert all("client_secret" not in c and "srcs_" not in str(c) for c in listed)


@pytest.mark.parametrize(
    "body",
    [
        {"client_id": "Bad Name", "auth_method": "client_secret_basic"},
        {"client_id": "x", "auth_method": "none"},
        {"client_id": "x", "auth_method": "private_key_jwt"},
        {
            "client_id": "x",
            "auth_method": "private_key_jwt",
            "jwks": {"keys": [{"kty": "oct", "k": "AAAA"}]},
        },
        {"client_id": "x", "auth_method": "client_secret_basic", "jwks": {"keys": []}},
    ],
)
def test_bad_client_registrations_are_refused(kit: Kit, body: dict[str, Any]) -> None:
    resp = kit.client.post("/v1/oauth/clients", json=body, headers=kit.auth())
    assert resp.status_code == 400, resp.text
    assert kit.events("oauth.clients.create")[-1]["outcome"] == "error"


def test_duplicate_client_is_a_conflict(kit: Kit) -> None:
    body = {"client_id": "crm", "auth_method": "client_secret_basic"}
    assert kit.client.post("/v1/oauth/clients", json=body, headers=kit.auth()).status_code == 409


def test_client_secrets_are_stored_only_as_hmacs(kit: Kit) -> None:
    import sqlalchemy as sa

    from strongroom.store.models import OAuthClient

    with kit.node.db.transaction(read_only=True) as session:
        rows = session.execute(sa.select(OAuthClient)).scalars().all()
        stored = b"".join((r.secret_hash or b"") + (r.jwks or "").encode() for r in rows)
    for secret in kit.secrets.values():
        assert secret.encode() not in stored
        assert secret.removeprefix("srcs_").encode() not in stored


def test_an_unreadable_store_fails_closed_after_three_periods(kit: Kit) -> None:
    import sqlalchemy as sa

    from strongroom.clock import SystemClock
    from strongroom.errors import StoreError
    from strongroom.identity.revocation import RevocationState

    state = RevocationState(kit.node.db, SystemClock(), refresh_seconds=0.2)
    state.reload()
    assert not state.is_dead("j", (), "alice", "crm", 0)
    with kit.node.db.transaction() as session:
        session.execute(sa.text("DROP TABLE token_revocations"))
    time.sleep(0.25)
    assert not state.is_dead("j", (), "alice", "crm", 0)  # stale, but within the bound
    time.sleep(0.45)
    with pytest.raises(StoreError):
        state.is_dead("j", (), "alice", "crm", 0)
