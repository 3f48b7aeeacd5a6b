"""SCIM 2.0 provisioning: CRUD, filters, paging, PATCH, immutables, and deprovisioning."""

from __future__ import annotations

from typing import Any

import pytest
from support import Ready

from identity.test_bff import bff_sign_in
from strongroom.identity.scim.schemas import PATCH, USER

SCIM = "application/scim+json"


def scim(sr: Ready) -> dict[str, str]:
    return {**sr.auth(sr.mint("scim:provision")), "Content-Type": SCIM}


def user(sr: Ready, h: dict[str, str], user_name: str, **extra: Any) -> dict[str, Any]:
    resp = sr.client.post(
        "/scim/v2/Users", json={"schemas": [USER], "userName": user_name, **extra}, headers=h
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["content-type"].startswith(SCIM)
    return dict(resp.json())


def patch(sr: Ready, h: dict[str, str], path: str, *ops: dict[str, Any]) -> Any:
    return sr.client.patch(path, json={"schemas": [PATCH], "Operations": list(ops)}, headers=h)


def test_needs_a_provisioning_token(sr: Ready) -> None:
    assert sr.client.get("/scim/v2/Users").status_code == 401
    other = sr.client.get("/scim/v2/Users", headers=sr.auth(sr.mint("sys:read")))
    assert other.status_code == 403
    assert other.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_user_lifecycle(sr: Ready) -> None:
    h = scim(sr)
    created = user(sr, h, "dana@example.test", name={"givenName": "Dana"}, externalId="x1")
    uid = created["id"]
    assert created["active"] is True
    assert created["meta"]["location"].endswith(f"/scim/v2/Users/{uid}")
    got = sr.client.get(f"/scim/v2/Users/{uid}", headers=h).json()
    assert got["name"] == {"givenName": "Dana"} and got["externalId"] == "x1"
    dup = sr.client.post(
        "/scim/v2/Users", json={"schemas": [USER], "userName": "DANA@example.test"}, headers=h
    )
    assert dup.status_code == 409 and dup.json()["scimType"] == "uniqueness"
    resp = patch(
        sr,
        h,
        f"/scim/v2/Users/{uid}",
        {"op": "replace", "path": "name.familyName", "value": "Doe"},
        {"op": "add", "path": "emails", "value": [{"value": "d@x.test", "type": "work"}]},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == {"givenName": "Dana", "familyName": "Doe"}
    resp = patch(sr, h, f"/scim/v2/Users/{uid}", {"op": "remove", "path": 'emails[type eq "work"]'})
    assert resp.json().get("emails") == []
    put = sr.client.put(
        f"/scim/v2/Users/{uid}",
        json={"schemas": [USER], "userName": "dana2@example.test"},
        headers=h,
    )
    assert put.status_code == 200 and put.json()["userName"] == "dana2@example.test"
    assert "name" not in put.json()
    assert put.json()["active"] is False  # PUT without active deactivates (fails closed)
    assert sr.client.delete(f"/scim/v2/Users/{uid}", headers=h).status_code == 204
    gone = sr.client.get(f"/scim/v2/Users/{uid}", headers=h)
    assert gone.status_code == 404 and gone.json()["status"] == "404"


def test_filter_and_paging(sr: Ready) -> None:
    h = scim(sr)
    for i in range(5):
        user(sr, h, f"u{i}@example.test")
    found = sr.client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "U3@example.test"'}, headers=h
    ).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["userName"] == "u3@example.test"
    page = sr.client.get("/scim/v2/Users", params={"startIndex": 2, "count": 2}, headers=h).json()
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [r["userName"] for r in page["Resources"]] == ["u1@example.test", "u2@example.test"]
    bad = sr.client.get("/scim/v2/Users", params={"filter": 'userName co "u"'}, headers=h)
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"


def test_groups_with_members(sr: Ready) -> None:
    h = scim(sr)
    a, b = user(sr, h, "a@example.test"), user(sr, h, "b@example.test")
    resp = sr.client.post(
        "/scim/v2/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "reviewers",
            "members": [{"value": a["id"]}],
        },
        headers=h,
    )
    assert resp.status_code == 201, resp.text
    gid = resp.json()["id"]
    resp = patch(
        sr,
        h,
        f"/scim/v2/Groups/{gid}",
        {"op": "add", "path": "members", "value": [{"value": b["id"]}]},
    )
    assert {m["value"] for m in resp.json()["members"]} == {a["id"], b["id"]}
    resp = patch(
        sr, h, f"/scim/v2/Groups/{gid}", {"op": "remove", "path": f'members[value eq "{a["id"]}"]'}
    )
    assert [m["value"] for m in resp.json()["members"]] == [b["id"]]
    listed = sr.client.get(
        "/scim/v2/Groups", params={"filter": 'displayName eq "reviewers"'}, headers=h
    ).json()
    assert listed["totalResults"] == 1
    assert (
        sr.client.get(f"/scim/v2/Users/{b['id']}", headers=h).json()["groups"][0]["display"]
        == "reviewers"
    )
    bad = patch(
        sr,
        h,
        f"/scim/v2/Groups/{gid}",
        {"op": "add", "path": "members", "value": [{"value": "nope"}]},
    )
    assert bad.status_code == 400
    assert sr.client.delete(f"/scim/v2/Groups/{gid}", headers=h).status_code == 204


@pytest.mark.parametrize(
    "op",
    [
        {"op": "replace", "path": "id", "value": "other"},
        {"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"},
        {"op": "remove", "path": "meta"},
        {"op": "add", "path": "groups", "value": [{"value": "g"}]},
        {"op": "replace", "value": {"id": "other"}},
    ],
)
def test_immutable_attributes_are_refused(sr: Ready, op: dict[str, Any]) -> None:
    h = scim(sr)
    created = user(sr, h, "imm@example.test")
    resp = patch(sr, h, f"/scim/v2/Users/{created['id']}", op)
    assert resp.status_code == 400
    assert resp.json()["scimType"] == "mutability"
    after = sr.client.get(f"/scim/v2/Users/{created['id']}", headers=h).json()
    assert after == created
    put = sr.client.put(
        f"/scim/v2/Users/{created['id']}",
        json={"schemas": [USER], "id": "other", "userName": "x"},
        headers=h,
    )
    assert put.status_code == 400 and put.json()["scimType"] == "mutability"
    events = sr.client.get("/v1/audit/events", headers=sr.auth(), params={"limit": 1000}).json()[
        "events"
    ]
    assert any(e["action"] == "scim.users.patch" and e["outcome"] == "error" for e in events)


def test_discovery_documents(sr: Ready) -> None:
    h = scim(sr)
    spc = sr.client.get("/scim/v2/ServiceProviderConfig", headers=h).json()
    assert spc["patch"]["supported"] is True and spc["filter"]["supported"] is True
    types = sr.client.get("/scim/v2/ResourceTypes", headers=h).json()
    assert {r["name"] for r in types["Resources"]} == {"User", "Group"}
    schemas = sr.client.get("/scim/v2/Schemas", headers=h).json()
    assert {s["id"] for s in schemas["Resources"]} >= {USER}


def test_only_provisioned_active_users_sign_in(sr_scim: Ready) -> None:
    sr = sr_scim
    h = scim(sr)
    resp = sr.client.get("/bff/notes/login", follow_redirects=False)
    from identity.conftest import BASE
    from identity.oidcop import Browser

    browser = Browser(BASE)
    callback = browser.sign_in(resp.headers["location"], "carol")
    browser.close()
    refused = sr.client.get(callback.removeprefix(BASE), follow_redirects=False)
    assert refused.status_code == 401
    assert "not provisioned" in refused.json()["detail"]
    carol = user(sr, h, "carol@example.test")
    sr.client.post(
        "/scim/v2/Groups",
        json={"displayName": "reviewers", "members": [{"value": carol["id"]}]},
        headers=h,
    )
    bff_sign_in(sr, "carol")
    assert sr.client.get("/bff/notes/session").json()["roles"] == ["reviewer"]


@pytest.mark.parametrize("how", ["deactivate", "delete"])
def test_deprovisioning_kills_a_live_bff_session(sr_scim: Ready, how: str) -> None:
    sr = sr_scim
    h = scim(sr)
    alice = user(sr, h, "alice@example.test")
    called: list[str] = []
    sr.node.identity.on_user_deprovisioned(called.append)
    bff_sign_in(sr, "alice")
    assert sr.client.get("/bff/notes/api/v1/sys/keys").status_code == 200
    if how == "deactivate":
        resp = patch(
            sr,
            h,
            f"/scim/v2/Users/{alice['id']}",
            {"op": "replace", "path": "active", "value": "False"},
        )
        assert resp.status_code == 200 and resp.json()["active"] is False
    else:
        assert sr.client.delete(f"/scim/v2/Users/{alice['id']}", headers=h).status_code == 204
    assert called == ["alice@example.test"]
    assert sr.client.get("/bff/notes/session").status_code == 401
    assert sr.client.get("/bff/notes/api/v1/sys/keys").status_code == 401
    resp = sr.client.get("/bff/notes/login", follow_redirects=False)
    from identity.conftest import BASE
    from identity.oidcop import Browser

    browser = Browser(BASE)
    callback = browser.sign_in(resp.headers["location"], "alice")
    browser.close()
    assert sr.client.get(callback.removeprefix(BASE), follow_redirects=False).status_code == 401


def test_deprovisioning_without_scim_enforcement_still_ends_sessions(sr: Ready) -> None:
    h = scim(sr)
    bff_sign_in(sr, "alice")
    created = user(sr, h, "ALICE@example.test")
    assert sr.client.get("/bff/notes/session").status_code == 200
    resp = patch(
        sr, h, f"/scim/v2/Users/{created['id']}", {"op": "replace", "value": {"active": False}}
    )
    assert resp.status_code == 200
    assert sr.client.get("/bff/notes/session").status_code == 401
