"""SCIM POST /.search (RFC 7644 §3.4.3) and versions as ETags (§3.14)."""

from __future__ import annotations

from typing import Any

from support import Ready

from identity.test_scim import patch, scim, user
from strongroom.identity.scim.schemas import ERROR, GROUP, USER

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def search(sr: Ready, h: dict[str, str], endpoint: str, **body: Any) -> Any:
    return sr.client.post(
        f"/scim/v2/{endpoint}/.search", json={"schemas": [SEARCH], **body}, headers=h
    )


def scim_error(resp: Any, status: int, scim_type: str | None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/scim+json")
    body = dict(resp.json())
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body


def test_search_users_answers_like_get(sr: Ready) -> None:
    h = scim(sr)
    for name in ("ann@example.test", "ben@example.test", "cy@example.test"):
        user(sr, h, name, displayName=name.split("@")[0])
    found = search(sr, h, "Users", filter='userName eq "ben@example.test"')
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["totalResults"] == 1
    assert body["Resources"][0]["userName"] == "ben@example.test"
    got = sr.client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "ben@example.test"'}, headers=h
    ).json()
    assert got["Resources"] == body["Resources"]
    paged = search(sr, h, "Users", startIndex=2, count=1).json()
    assert paged["startIndex"] == 2 and paged["itemsPerPage"] == 1
    assert paged["totalResults"] == 3
    only = search(sr, h, "Users", attributes=["userName"]).json()["Resources"][0]
    assert set(only) == {"schemas", "id", "meta", "userName"}
    without = search(sr, h, "Users", excludedAttributes=["displayName"]).json()["Resources"]
    assert all("displayName" not in r for r in without)


def test_search_groups(sr: Ready) -> None:
    h = scim(sr)
    made = sr.client.post(
        "/scim/v2/Groups", json={"schemas": [GROUP], "displayName": "eng"}, headers=h
    )
    assert made.status_code == 201
    found = search(sr, h, "Groups", filter='displayName eq "eng"').json()
    assert [g["displayName"] for g in found["Resources"]] == ["eng"]


def test_bad_search_requests_are_scim_errors(sr: Ready) -> None:
    h = scim(sr)
    scim_error(
        sr.client.post("/scim/v2/Users/.search", json={"filter": "x"}, headers=h),
        400,
        "invalidSyntax",
    )
    scim_error(search(sr, h, "Users", filter='name.givenName sw "A"'), 400, "invalidFilter")
    scim_error(search(sr, h, "Users", sortBy="userName"), 400, "invalidValue")
    scim_error(search(sr, h, "Users", count="10"), 400, "invalidSyntax")
    scim_error(search(sr, h, "Users", attributes="userName"), 400, "invalidSyntax")
    scim_error(sr.client.post("/scim/v2/.search", json={"schemas": [SEARCH]}, headers=h), 501, None)
    assert sr.client.post("/scim/v2/Users/.search", json={"schemas": [SEARCH]}).status_code == 401


def test_versions_are_etags(sr: Ready) -> None:
    h = scim(sr)
    created = sr.client.post(
        "/scim/v2/Users", json={"schemas": [USER], "userName": "eve@example.test"}, headers=h
    )
    version = created.json()["meta"]["version"]
    assert created.headers["etag"] == version and version.startswith('W/"')
    path = created.headers["location"].split("/scim/v2", 1)[1]
    got = sr.client.get(f"/scim/v2{path}", headers=h)
    assert got.headers["etag"] == version
    unchanged = sr.client.get(f"/scim/v2{path}", headers={**h, "If-None-Match": version})
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == version

    changed = patch(
        sr,
        h,
        f"/scim/v2{path}",
        {"op": "replace", "path": "displayName", "value": "Eve"},
    )
    assert changed.status_code == 200
    newer = changed.json()["meta"]["version"]
    assert newer != version and changed.headers["etag"] == newer
    assert (
        sr.client.get(f"/scim/v2{path}", headers={**h, "If-None-Match": version}).status_code == 200
    )


def test_if_match_guards_put_patch_and_delete(sr: Ready) -> None:
    h = scim(sr)
    made = user(sr, h, "fay@example.test")
    path = f"/scim/v2/Users/{made['id']}"
    stale = made["meta"]["version"]
    op = {"op": "replace", "path": "displayName", "value": "Fay"}
    ok = sr.client.patch(
        path,
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]},
        headers={**h, "If-Match": stale},
    )
    assert ok.status_code == 200, ok.text
    current = ok.json()["meta"]["version"]
    # The old version no longer matches: nothing changes.
    body = {"schemas": [USER], "userName": "fay@example.test", "displayName": "Other"}
    refused = sr.client.put(path, json=body, headers={**h, "If-Match": stale})
    scim_error(refused, 412, None)
    assert sr.client.get(path, headers=h).json()["displayName"] == "Fay"
    refused = sr.client.patch(
        path,
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]},
        headers={**h, "If-Match": stale},
    )
    scim_error(refused, 412, None)
    scim_error(sr.client.delete(path, headers={**h, "If-Match": stale}), 412, None)
    scim_error(sr.client.delete(path, headers={**h, "If-Match": "garbage"}), 412, None)
    assert sr.client.get(path, headers=h).status_code == 200
    # Strong or weak, the current version matches; so does "*".
    strong = current.removeprefix("W/")
    put = sr.client.put(path, json=body, headers={**h, "If-Match": strong})
    assert put.status_code == 200, put.text
    assert sr.client.delete(path, headers={**h, "If-Match": "*"}).status_code == 204


def test_if_match_on_groups(sr: Ready) -> None:
    h = scim(sr)
    made = sr.client.post(
        "/scim/v2/Groups", json={"schemas": [GROUP], "displayName": "ops"}, headers=h
    ).json()
    path = f"/scim/v2/Groups/{made['id']}"
    body = {"schemas": [GROUP], "displayName": "ops2"}
    scim_error(sr.client.put(path, json=body, headers={**h, "If-Match": 'W/"999"'}), 412, None)
    fine = sr.client.put(path, json=body, headers={**h, "If-Match": made["meta"]["version"]})
    assert fine.status_code == 200 and fine.json()["displayName"] == "ops2"
    events = sr.client.get("/v1/audit/events", headers=sr.auth(), params={"limit": 1000}).json()
    assert any(
        e["action"] == "scim.groups.replace" and e["outcome"] != "success" for e in events["events"]
    )


def test_service_provider_config_advertises_etag_and_bulk(sr: Ready) -> None:
    spc = sr.client.get("/scim/v2/ServiceProviderConfig", headers=scim(sr)).json()
    assert spc["etag"] == {"supported": True}
    assert spc["bulk"]["supported"] is True
    assert spc["bulk"]["maxOperations"] > 0 and spc["bulk"]["maxPayloadSize"] > 0
