"""``strongroom clients`` and ``strongroom token revoke|kill-user|kill-app`` against a real
dev server process, with token exchange and DPoP over real HTTP."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from serverproc import Launcher, ServerProcess, bearer, run_cli

from strongroom.crypto import jwk, jws

pytestmark = pytest.mark.slow

DEV_TOKEN = "dev-fixed-root-token-for-token-cli"
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
AT = "urn:ietf:params:oauth:token-type:access_token"


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


def mint(server: ServerProcess, subject: str) -> str:
    resp = httpx.post(
        server.url + "/v1/auth/tokens",
        json={"subject": subject, "scopes": ["sys:read"], "ttl": 300},
        headers=bearer(DEV_TOKEN),
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def exchange(server: ServerProcess, subject_token: str, client: str, secret: str) -> str:
    resp = httpx.post(
        server.url + "/v1/oauth/token",
        data={"grant_type": GRANT, "subject_token": subject_token, "subject_token_type": AT},
        auth=(client, secret),
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def works(server: ServerProcess, token: str) -> bool:
    status = httpx.get(server.url + "/v1/sys/keys", headers=bearer(token)).status_code
    assert status in (200, 401)
    return status == 200


def test_clients_and_revocation_commands(launcher: Launcher, tmp_path: Path) -> None:
    server = launcher.start(
        "dev",
        "--data-dir",
        str(tmp_path / "data"),
        env={
            "STRONGROOM_DEV_ROOT_TOKEN": DEV_TOKEN,
            "STRONGROOM_OAUTH_DEFAULT_APP_SCOPES": '["sys:read"]',
        },
    )
    addr = server.addr
    created = ok_json(run_cli("clients", "create", "crm", "--json", addr=addr, token=DEV_TOKEN))
    secret = created["client_secret"]
    assert created["client_id"] == "crm" and secret.startswith("srcs_")
    listed = ok_json(run_cli("clients", "list", "--json", addr=addr, token=DEV_TOKEN))
    assert [c["client_id"] for c in listed] == ["crm"]
    assert secret not in json.dumps(listed)

    # Revoke a parent read from stdin: the exchanged child dies with it.
    parent = mint(server, "alice")
    child = exchange(server, parent, "crm", secret)
    assert works(server, child)
    result = run_cli("token", "revoke", "--token-stdin", addr=addr, token=DEV_TOKEN, stdin=parent)
    assert result.returncode == 0, result.stderr
    assert not works(server, child)

    # Revoke by jti.
    other = exchange(server, mint(server, "alice"), "crm", secret)
    jti = json.loads(
        httpx.post(
            server.url + "/v1/oauth/introspect", data={"token": other}, headers=bearer(DEV_TOKEN)
        ).text
    )["jti"]
    ok_json(run_cli("token", "revoke", "--jti", jti, "--json", addr=addr, token=DEV_TOKEN))
    assert not works(server, other)

    # DPoP over real HTTP: the proof names the server's own URL; a replay is refused.
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    public = {"kty": "OKP", "crv": "Ed25519", "x": jwk.b64u_encode(raw)}

    def proof(htm: str, htu: str, token: str | None = None) -> str:
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(8),
            "htm": htm,
            "htu": htu,
            "iat": int(time.time()),
        }
        if token is not None:
            claims["ath"] = jws.sha256_b64u(token.encode())
        return jws.sign(
            {"typ": "dpop+jwt", "jwk": public}, json.dumps(claims).encode(), key, "EdDSA"
        )

    resp = httpx.post(
        server.url + "/v1/oauth/token",
        data={
            "grant_type": GRANT,
            "subject_token": mint(server, "frank"),
            "subject_token_type": AT,
        },
        auth=("crm", secret),
        headers={"DPoP": proof("POST", server.url + "/v1/oauth/token")},
    )
    assert resp.status_code == 200 and resp.json()["token_type"] == "DPoP", resp.text
    bound = resp.json()["access_token"]
    keys_url = server.url + "/v1/sys/keys"
    assert not works(server, bound)  # as a Bearer token: refused
    fresh = proof("GET", keys_url, bound)
    headers = {"Authorization": f"DPoP {bound}", "DPoP": fresh}
    assert httpx.get(keys_url, headers=headers).status_code == 200
    replay = httpx.get(keys_url, headers=headers)
    assert replay.status_code == 401
    assert replay.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')

    # Kill switches.
    bob = exchange(server, mint(server, "bob"), "crm", secret)
    killed = ok_json(run_cli("token", "kill-user", "bob", "--json", addr=addr, token=DEV_TOKEN))
    assert killed["kind"] == "user" and killed["epoch"] > 0
    assert not works(server, bob)
    carol = exchange(server, mint(server, "carol"), "crm", secret)
    result = run_cli("token", "kill-app", "crm", addr=addr, token=DEV_TOKEN)
    assert result.returncode == 0 and "is dead" in result.stdout
    assert not works(server, carol)

    # Errors are short; nothing secret is echoed.
    bad = run_cli("clients", "create", "Bad Name", addr=addr, token=DEV_TOKEN)
    assert bad.returncode != 0 and bad.stderr.startswith("Error:")
    assert "Traceback" not in bad.stderr
    neither = run_cli("token", "revoke", addr=addr, token=DEV_TOKEN)
    assert neither.returncode != 0 and "Traceback" not in neither.stderr
    weak = mint(server, "dave")
    denied = run_cli("token", "kill-user", "eve", addr=addr, token=weak)
    assert denied.returncode != 0 and "tokens:revoke" in denied.stderr

    deleted = ok_json(run_cli("clients", "delete", "crm", "--json", addr=addr, token=DEV_TOKEN))
    assert deleted == {"deleted": "crm"}
    resp = httpx.post(
        server.url + "/v1/oauth/token",
        data={
            "grant_type": GRANT,
            "subject_token": mint(server, "alice"),
            "subject_token_type": AT,
        },
        auth=("crm", secret),
    )
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    for output in (server.stdout(), server.stderr()):
        assert secret not in output and parent not in output
