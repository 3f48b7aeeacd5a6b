"""Governance end to end: a real server, the CLI, a denied app, a review, offline verify."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverproc import Backend, Launcher, all_events, bearer, init_and_unseal, run_cli

pytestmark = pytest.mark.slow

MANIFESTS = runpy.run_path(
    str(Path(__file__).resolve().parent.parent / "governance" / "manifests.py")
)
GOOD: str = MANIFESTS["GOOD"]
PLAIN_EMAIL: str = MANIFESTS["PLAIN_EMAIL"]
PLAIN_EMAIL_LINE: int = MANIFESTS["PLAIN_EMAIL_LINE"]
# What the secret scanner reports for a hard-coded key (its Finding.to_dict() shape).
HARD_CODED_KEY = {
    "scanner": "secrets",
    "rule_id": "aws-access-key-id",
    "file": "app.py",
    "line": 3,
    "column": 14,
    "severity": "high",
    "confidence": "high",
    "fingerprint": "4b1f0c",
    "message": "AWS access key id",
    "blocking": True,
}


def _mint(url: str, root: str, subject: str, scopes: list[str]) -> str:
    resp = httpx.post(
        f"{url}/v1/auth/tokens",
        json={"subject": subject, "scopes": scopes, "ttl": 300},
        headers=bearer(root),
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def _app(tmp_path: Path, manifest: str, findings: list[dict[str, Any]]) -> tuple[Path, Path]:
    folder = tmp_path / "crm-helper"
    folder.mkdir(exist_ok=True)
    (folder / "strongroom.yaml").write_text(manifest, encoding="utf-8")
    found = tmp_path / "findings.json"
    found.write_text(json.dumps({"findings": findings}), encoding="utf-8")
    return folder, found


def test_denied_then_reviewed_signed_and_verified(
    launcher: Launcher, backend: Backend, tmp_path: Path
) -> None:
    server = launcher.start(env=backend.env)
    _, root = init_and_unseal(server.url)
    owner = _mint(
        server.url, root, "alice@example.com", ["apps:submit", "apps:read", "reviews:approve"]
    )
    reviewer = _mint(server.url, root, "rita@example.com", ["reviews:approve", "apps:read"])
    addr = server.url

    # 1. A hard-coded key and an e-mail field stored in plain: rejected, with places.
    folder, findings = _app(tmp_path, PLAIN_EMAIL, [HARD_CODED_KEY])
    denied = run_cli(
        "app", "submit", str(folder), "--findings", str(findings), "--json", addr=addr, token=owner
    )
    assert denied.returncode == 1, denied.stderr
    body = json.loads(denied.stdout)
    assert body["status"] == "rejected"
    deny = {m["msg"]: m for m in body["decision"]["deny"]}
    assert deny["secrets finding aws-access-key-id at app.py:3: AWS access key id"]["line"] is None
    [field] = [m for m in deny.values() if m["field"] == "fields[0].protection"]
    assert field["line"] == PLAIN_EMAIL_LINE
    human = run_cli(
        "app", "submit", str(folder), "--findings", str(findings), addr=addr, token=owner
    )
    assert human.returncode == 1 and f"strongroom.yaml:{PLAIN_EMAIL_LINE}" in human.stdout

    # 1b. Without --findings the real scanners run over the folder and find the key.
    fake_key = "AKIA" + "Q3ZLMNB7TXRW5PHV"  # made up; split so this file holds no key
    (folder / "app.py").write_text(
        f'import boto3\n\nKEY_ID = "{fake_key}"\nclient = boto3.client("s3")\n',
        encoding="utf-8",
    )
    scanned = run_cli("app", "submit", str(folder), "--json", addr=addr, token=owner)
    assert scanned.returncode == 1, scanned.stderr
    body = json.loads(scanned.stdout)
    assert body["status"] == "rejected"
    messages = [m["msg"] for m in body["decision"]["deny"]]
    assert any("aws-access-key-id at app.py:3" in m for m in messages), messages
    assert fake_key not in scanned.stdout + scanned.stderr
    (folder / "app.py").unlink()

    # 2. The fixed app passes the policy and waits for a reviewer.
    folder, findings = _app(tmp_path, GOOD, [])
    checked = run_cli("app", "check", str(folder), "--findings", str(findings), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    pending = run_cli(
        "app", "submit", str(folder), "--findings", str(findings), "--json", addr=addr, token=owner
    )
    assert pending.returncode == 0, pending.stderr
    ident = json.loads(pending.stdout)["id"]
    assert json.loads(pending.stdout)["status"] == "pending"
    status = run_cli("app", "status", "crm-helper", "--json", addr=addr, token=owner)
    assert json.loads(status.stdout)["approved_scopes"] == []

    # 3. The owner may not approve their own app, even holding the reviewer scope.
    own = run_cli("review", "approve", ident, "--reason", "mine", addr=addr, token=owner)
    assert own.returncode == 1 and "their own app" in own.stderr

    # 4. A reviewer approves; the app's approved scopes are exactly the manifest's.
    listed = run_cli("review", "list", "--json", addr=addr, token=reviewer)
    assert [s["id"] for s in json.loads(listed.stdout)] == [ident]
    ok = run_cli(
        "review", "approve", ident, "--reason", "encrypted client-side", addr=addr, token=reviewer
    )
    assert ok.returncode == 0, ok.stderr
    status = run_cli("app", "status", "crm-helper", "--json", addr=addr, token=owner)
    assert json.loads(status.stdout)["approved_scopes"] == [
        "data:read:pii.email",
        "secrets:read:crm-helper/hubspot",
    ]

    # 5. The signed manifest verifies offline with the published key; a forgery does not.
    signed, key = tmp_path / "signed.json", tmp_path / "key.pem"
    assert (
        run_cli(
            "app", "manifest", "crm-helper", "-o", str(signed), addr=addr, token=owner
        ).returncode
        == 0
    )
    assert run_cli("app", "keys", "-o", str(key), addr=addr).returncode == 0
    verified = run_cli("app", "verify", str(signed), "--key", str(key), "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    summary = json.loads(verified.stdout)
    assert summary["verified"] and summary["app"] == "crm-helper"
    assert summary["submission"] == ident
    assert summary["scopes"] == ["data:read:pii.email", "secrets:read:crm-helper/hubspot"]
    envelope = json.loads(signed.read_text())
    envelope["payloadType"] = "application/json"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(envelope))
    refused = run_cli("app", "verify", str(forged), "--key", str(key))
    assert refused.returncode == 1 and "NOT VERIFIED" in refused.stdout

    # 6. Every step is in the audit trail, the refusal included, with no token in it.
    events = all_events(server.url, root)
    seen = [
        (e["action"], e["outcome"]) for e in events if e["action"].startswith(("apps.", "reviews."))
    ]
    assert seen.count(("apps.submit", "success")) == 4
    assert ("reviews.approve", "denied") in seen and ("reviews.approve", "success") in seen
    dump = json.dumps(events)
    assert owner not in dump and reviewer not in dump and root not in dump
