"""SCIM bulk operations (RFC 7644 §3.7): bulkIds, failOnErrors, limits, versions."""

from __future__ import annotations

from typing import Any

from support import Ready

from identity.test_scim import scim, user
from identity.test_scim_search_etag import scim_error
from strongroom.identity.scim.schemas import GROUP, PATCH, USER

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


def bulk(sr: Ready, h: dict[str, str], *ops: dict[str, Any], **extra: Any) -> Any:
    body = {"schemas": [BULK], "Operations": list(ops), **extra}
    return sr.client.post("/scim/v2/Bulk", json=body, headers=h)


def post_user(bulk_id: str, name: str) -> dict[str, Any]:
    data = {"schemas": [USER], "userName": name}
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data}


def users(sr: Ready, h: dict[str, str]) -> list[str]:
    found = sr.client.get("/scim/v2/Users", headers=h).json()["Resources"]
    return sorted(u["userName"] for u in found)


def test_a_group_can_name_users_created_in_the_same_request(sr: Ready) -> None:
    h = scim(sr)
    group = {
        "method": "POST",
        "path": "/Groups",
        "bulkId": "g1",
        "data": {
            "schemas": [GROUP],
            "displayName": "writers",
            "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}],
        },
    }
    # The group comes first: it waits for the users it names.
    resp = bulk(sr, h, group, post_user("u1", "amy@example.test"), post_user("u2", "bo@x.test"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["schemas"] == [BULK_RESPONSE]
    by_id = {op["bulkId"]: op for op in body["Operations"]}
    assert {op["status"] for op in body["Operations"]} == {"201"}
    assert [op["bulkId"] for op in body["Operations"]] == ["u1", "u2", "g1"]
    g = sr.client.get("/scim/v2" + by_id["g1"]["location"].split("/scim/v2", 1)[1], headers=h)
    members = {m["value"] for m in g.json()["members"]}
    u1 = by_id["u1"]["location"].rsplit("/", 1)[1]
    u2 = by_id["u2"]["location"].rsplit("/", 1)[1]
    assert members == {u1, u2}
    assert by_id["g1"]["version"] == g.json()["meta"]["version"]
    # A later operation may also name a created resource in its path.
    again = bulk(
        sr,
        h,
        post_user("u3", "cal@example.test"),
        {"method": "DELETE", "path": "/Users/bulkId:u3"},
    ).json()["Operations"]
    assert [op["status"] for op in again] == ["201", "204"]
    assert "cal@example.test" not in users(sr, h)


def test_put_patch_delete_and_versions(sr: Ready) -> None:
    h = scim(sr)
    made = user(sr, h, "dee@example.test")
    path = f"/Users/{made['id']}"
    stale = made["meta"]["version"]
    ops = [
        {
            "method": "PATCH",
            "path": path,
            "version": stale,
            "data": {
                "schemas": [PATCH],
                "Operations": [{"op": "replace", "path": "displayName", "value": "Dee"}],
            },
        },
        {
            "method": "PUT",
            "path": path,
            "version": stale,  # stale by now: 412, and nothing changes
            "data": {"schemas": [USER], "userName": "dee@example.test", "displayName": "X"},
        },
    ]
    out = bulk(sr, h, *ops).json()["Operations"]
    assert [op["status"] for op in out] == ["200", "412"]
    assert out[1]["response"]["status"] == "412"
    got = sr.client.get(f"/scim/v2{path}", headers=h).json()
    assert got["displayName"] == "Dee" and out[0]["version"] == got["meta"]["version"]
    gone = bulk(sr, h, {"method": "DELETE", "path": path}).json()["Operations"]
    assert gone[0]["status"] == "204"
    assert sr.client.get(f"/scim/v2{path}", headers=h).status_code == 404


def test_fail_on_errors_stops_and_earlier_writes_stay(sr: Ready) -> None:
    h = scim(sr)
    user(sr, h, "taken@example.test")
    ops = [
        post_user("a", "new1@example.test"),
        post_user("b", "taken@example.test"),  # uniqueness: 409
        {"method": "DELETE", "path": "/Users/no-such-user"},  # 404
        post_user("c", "new2@example.test"),
    ]
    out = bulk(sr, h, *ops, failOnErrors=2).json()["Operations"]
    assert [op["status"] for op in out] == ["201", "409", "404"]
    assert out[1]["response"]["scimType"] == "uniqueness"
    assert users(sr, h) == ["new1@example.test", "taken@example.test"]
    # Without failOnErrors every operation runs.
    out = bulk(sr, h, post_user("d", "taken@example.test"), post_user("e", "n3@x.test"))
    assert [op["status"] for op in out.json()["Operations"]] == ["409", "201"]


def test_bad_references_are_409_invalid_value(sr: Ready) -> None:
    h = scim(sr)
    member = {"schemas": [GROUP], "displayName": "g", "members": [{"value": "bulkId:nope"}]}
    cycle_a = {
        "method": "POST",
        "path": "/Groups",
        "bulkId": "ga",
        "data": {"schemas": [GROUP], "displayName": "ga", "members": [{"value": "bulkId:gb"}]},
    }
    cycle_b = {
        "method": "POST",
        "path": "/Groups",
        "bulkId": "gb",
        "data": {"schemas": [GROUP], "displayName": "gb", "members": [{"value": "bulkId:ga"}]},
    }
    failed_user = post_user("bad", "")
    uses_failed = {
        "method": "POST",
        "path": "/Groups",
        "bulkId": "gf",
        "data": {"schemas": [GROUP], "displayName": "gf", "members": [{"value": "bulkId:bad"}]},
    }
    out = bulk(
        sr,
        h,
        {"method": "POST", "path": "/Groups", "bulkId": "g0", "data": member},
        cycle_a,
        cycle_b,
        failed_user,
        uses_failed,
    ).json()["Operations"]
    statuses = {op["bulkId"]: op for op in out}
    assert statuses["bad"]["status"] == "400"
    for name in ("g0", "ga", "gb", "gf"):
        assert statuses[name]["status"] == "409", statuses[name]
        assert statuses[name]["response"]["scimType"] == "invalidValue"
    groups = sr.client.get("/scim/v2/Groups", headers=h).json()
    assert groups["totalResults"] == 0


def test_limits_are_advertised_and_enforced(sr: Ready) -> None:
    h = scim(sr)
    spc = sr.client.get("/scim/v2/ServiceProviderConfig", headers=h).json()["bulk"]
    too_many = [post_user(f"u{i}", f"u{i}@x.test") for i in range(spc["maxOperations"] + 1)]
    body = scim_error(bulk(sr, h, *too_many), 413, None)
    assert str(spc["maxOperations"]) in body["detail"]
    padding = "x" * spc["maxPayloadSize"]
    big = post_user("big", "big@x.test")
    big["data"]["displayName"] = padding
    body = scim_error(bulk(sr, h, big), 413, None)
    assert str(spc["maxPayloadSize"]) in body["detail"]
    assert users(sr, h) == []


def test_malformed_bulk_requests_change_nothing(sr: Ready) -> None:
    h = scim(sr)
    cases: list[tuple[Any, str]] = [
        ({"Operations": [post_user("a", "a@x.test")]}, "invalidSyntax"),  # no schemas
        ({"schemas": [BULK], "Operations": []}, "invalidSyntax"),
        ({"schemas": [BULK], "Operations": [{"method": "GET", "path": "/Users"}]}, "invalidSyntax"),
        (
            {"schemas": [BULK], "Operations": [{"method": "POST", "path": "/Users", "data": {}}]},
            "invalidSyntax",
        ),
        (
            {"schemas": [BULK], "Operations": [{"method": "PUT", "path": "/Users", "data": {}}]},
            "invalidSyntax",
        ),
        (
            {"schemas": [BULK], "Operations": [post_user("a", "a@x.test")], "failOnErrors": 0},
            "invalidValue",
        ),
        (
            {
                "schemas": [BULK],
                "Operations": [post_user("a", "a@x.test"), post_user("a", "b@x.test")],
            },
            "invalidValue",
        ),
    ]
    for body, scim_type in cases:
        resp = sr.client.post("/scim/v2/Bulk", json=body, headers=h)
        scim_error(resp, 400, scim_type)
    not_json = sr.client.post("/scim/v2/Bulk", content=b"{", headers=h)
    scim_error(not_json, 400, "invalidSyntax")
    assert users(sr, h) == []
    assert sr.client.get("/scim/v2/Bulk", headers=h).status_code == 405
    assert sr.client.post("/scim/v2/Bulk", json={}).status_code == 401


def test_bulk_is_audited_per_operation_and_as_a_whole(sr: Ready) -> None:
    h = scim(sr)
    bulk(sr, h, post_user("a", "aud@x.test"), post_user("b", "aud@x.test"))
    events = sr.client.get("/v1/audit/events", headers=sr.auth(), params={"limit": 1000})
    trail = events.json()["events"]
    creates = [e for e in trail if e["action"] == "scim.users.create"]
    assert [e["outcome"] for e in creates][-2:] == ["success", "error"]
    summary = [e for e in trail if e["action"] == "scim.bulk"][-1]
    assert summary["detail"] == {"operations": 2, "ran": 2, "errors": 1}
