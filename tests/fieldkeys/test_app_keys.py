"""App keys fetched with an access token: scoped per app, versioned, audited."""

from __future__ import annotations

import json

import pytest
from support import Ready

from strongroom.sdk import DecryptionError, EscrowError, fetch_app_key

CTX = {"app": "crm", "record": "42", "field": "email"}
CANARY = "canary-app-key-value"


def test_fetch_seal_rotate_and_open_old_values(ready: Ready) -> None:
    token = ready.mint("fields:app-key:crm", subject="crm-backend")
    key = fetch_app_key("crm", token=token, client=ready.client)
    assert key.key_id == "app:crm" and key.key_version == 1
    sealed = key.seal(CANARY, CTX)
    again = fetch_app_key("crm", token=token, client=ready.client)
    assert again.open(sealed, CTX) == CANARY  # the same app key, another salt

    rotated = ready.client.post("/v1/sys/keys/field-app-keys/rotate", headers=ready.auth())
    assert rotated.status_code == 200, rotated.text
    new = fetch_app_key("crm", token=token, client=ready.client)
    assert new.key_version == 2
    with pytest.raises(DecryptionError):  # another version of the app key
        new.open(sealed, CTX)
    old = fetch_app_key("crm", token=token, version=1, client=ready.client)
    assert old.open(sealed, CTX) == CANARY

    raw = ready.client.get("/v1/fields/apps/crm/key", headers=ready.auth(token))
    assert raw.headers["cache-control"] == "no-store"
    events = ready.client.get("/v1/audit/events?limit=1000", headers=ready.auth()).json()["events"]
    reads = [e for e in events if e["action"] == "fields.app_key.read"]
    assert len(reads) >= 5 and all(e["outcome"] == "success" for e in reads)
    assert raw.json()["key"] not in json.dumps(events)


def test_a_token_for_one_app_cannot_fetch_another(ready: Ready) -> None:
    token = ready.mint("fields:app-key:crm")
    with pytest.raises(EscrowError) as other:
        fetch_app_key("hr", token=token, client=ready.client)
    assert other.value.status == 403
    with pytest.raises(EscrowError) as none:
        fetch_app_key("crm", token="not-a-token", client=ready.client)
    assert none.value.status == 401
    with pytest.raises(EscrowError) as missing:
        fetch_app_key("crm", token=token, version=99, client=ready.client)
    assert missing.value.status == 404
    bad = ready.client.get("/v1/fields/apps/a%20b/key", headers=ready.auth())
    assert bad.status_code in (400, 422)
    events = ready.client.get("/v1/audit/events?limit=1000", headers=ready.auth()).json()["events"]
    denied = [
        e for e in events if e["action"] == "fields.app_key.read" and e["outcome"] == "denied"
    ]
    assert len(denied) >= 2


def test_apps_get_different_keys(ready: Ready) -> None:
    crm = ready.client.get("/v1/fields/apps/crm/key", headers=ready.auth()).json()
    hr = ready.client.get("/v1/fields/apps/hr/key", headers=ready.auth()).json()
    assert crm["key"] != hr["key"] and crm["version"] == hr["version"] == 1
