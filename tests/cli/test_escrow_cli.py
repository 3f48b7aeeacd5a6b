"""``strongroom escrow``: recovery end to end against a real dev server process."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from pathlib import Path

import httpx
from serverproc import Launcher, run_cli

from strongroom.sdk import EscrowClient

DEV_TOKEN = "dev-fixed-root-token-for-escrow-cli-tests"


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _mint(addr: str, subject: str, *scopes: str) -> str:
    args = [a for s in scopes for a in ("--scope", s)]
    out = _ok(run_cli("token", "create", "--subject", subject, *args, "--json",
                      addr=addr, token=DEV_TOKEN))  # fmt: skip
    return str(json.loads(out)["access_token"])


def test_request_approve_status_release_with_two_approvers(
    launcher: Launcher, tmp_path: Path
) -> None:
    server = launcher.start(
        "dev", "--data-dir", str(tmp_path / "data"), env={"STRONGROOM_DEV_ROOT_TOKEN": DEV_TOKEN}
    )
    addr = server.addr
    owner = _mint(addr, "alice", "escrow:deposit", "escrow:request")
    bob = _mint(addr, "bob", "escrow:approve")
    carol = _mint(addr, "carol", "escrow:approve")
    data_key = os.urandom(32)
    with httpx.Client(base_url=server.url) as http:
        deposit = EscrowClient(token=owner, client=http).deposit(
            app="crm", key_id="app:crm", key_version=2, data_key=data_key
        )

    private = tmp_path / "recovery.key"
    out = _ok(run_cli("escrow", "request", "--deposit", deposit, "--private-key-out",
                      str(private), "--json", addr=addr, token=owner))  # fmt: skip
    request_id = json.loads(out)["id"]
    assert stat.S_IMODE(private.stat().st_mode) == 0o600

    _ok(run_cli("escrow", "approve", request_id, addr=addr, token=bob))
    key_file = tmp_path / "data.key"
    refused = run_cli("escrow", "release", request_id, "--private-key-file", str(private),
                      "--out", str(key_file), addr=addr, token=owner)  # fmt: skip
    assert refused.returncode == 1 and "1 of the 2 approvals" in refused.stderr
    assert not key_file.exists()
    own = run_cli("escrow", "approve", request_id, addr=addr, token=owner)
    assert own.returncode == 1  # alice lacks escrow:approve, and may never approve her own

    status = json.loads(_ok(run_cli("escrow", "status", request_id, "--json", addr=addr,
                                    token=owner)))  # fmt: skip
    assert status["approvals"] == 1 and status["threshold"] == 2
    assert "1 of 2 approvals" in _ok(
        run_cli("escrow", "status", request_id, addr=addr, token=owner)
    )

    _ok(run_cli("escrow", "approve", request_id, addr=addr, token=carol))
    shown = _ok(run_cli("escrow", "release", request_id, "--private-key-file", str(private),
                        "--out", str(key_file), addr=addr, token=owner))  # fmt: skip
    assert "released" in shown and data_key.hex() not in shown
    written = key_file.read_text().strip()
    assert base64.urlsafe_b64decode(written + "=") == data_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    again = run_cli("escrow", "release", request_id, "--private-key-file", str(private),
                    "--out", str(tmp_path / "again.key"), addr=addr, token=owner)  # fmt: skip
    assert again.returncode == 1 and "released" in again.stderr


def test_deny_stops_a_request(launcher: Launcher, tmp_path: Path) -> None:
    server = launcher.start(
        "dev", "--data-dir", str(tmp_path / "data"), env={"STRONGROOM_DEV_ROOT_TOKEN": DEV_TOKEN}
    )
    addr = server.addr
    owner = _mint(addr, "alice", "escrow:deposit", "escrow:request")
    bob = _mint(addr, "bob", "escrow:approve")
    with httpx.Client(base_url=server.url) as http:
        deposit = EscrowClient(token=owner, client=http).deposit(
            app="crm", key_id="k", key_version=1, data_key=os.urandom(32)
        )
    private = tmp_path / "r.key"
    request_id = json.loads(_ok(run_cli("escrow", "request", "--deposit", deposit,
                                        "--private-key-out", str(private), "--json",
                                        addr=addr, token=owner)))["id"]  # fmt: skip
    assert "denied" in _ok(run_cli("escrow", "deny", request_id, addr=addr, token=bob))
    bad = run_cli("escrow", "request", "--deposit", "0" * 32, "--private-key-out",
                  str(tmp_path / "x.key"), addr=addr, token=owner)  # fmt: skip
    assert bad.returncode == 1 and not (tmp_path / "x.key").exists()


def test_rsa_app_recovery_against_a_running_server(launcher: Launcher, tmp_path: Path) -> None:
    """An RSA-OAEP-3072 app: the SDK deposits, the CLI recovers to a one-time RSA key with
    two approvers (refused with one); the data key (the canary) is in no output, server log
    or audit event."""
    server = launcher.start(
        "dev", "--data-dir", str(tmp_path / "data"),
        env={"STRONGROOM_DEV_ROOT_TOKEN": DEV_TOKEN,
             "STRONGROOM_ESCROW_ALGORITHMS_PER_APP": '{"hr": "rsa-oaep-3072"}'},
    )  # fmt: skip
    addr = server.addr
    owner = _mint(addr, "alice", "escrow:deposit", "escrow:request")
    bob = _mint(addr, "bob", "escrow:approve")
    carol = _mint(addr, "carol", "escrow:approve")
    data_key = os.urandom(32)
    with httpx.Client(base_url=server.url) as http:
        published = http.get(
            "/v1/escrow/public-key?app=hr", headers={"Authorization": f"Bearer {owner}"}
        ).json()
        assert published["algorithm"] == "rsa-oaep-3072"
        assert published["jwk"]["alg"] == "RSA-OAEP-256"
        deposit = EscrowClient(token=owner, client=http).deposit(
            app="hr", key_id="app:hr", key_version=1, data_key=data_key
        )

    outputs: list[str] = []

    def cli(*args: str, token: str) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, addr=addr, token=token)
        outputs.append(result.stdout + result.stderr)
        return result

    private = tmp_path / "recovery.key"
    request_id = json.loads(_ok(cli("escrow", "request", "--deposit", deposit,
                                    "--private-key-out", str(private), "--algorithm",
                                    "rsa-oaep-3072", "--json", token=owner)))["id"]  # fmt: skip
    assert len(base64.urlsafe_b64decode(private.read_text().strip() + "==")) > 1000
    _ok(cli("escrow", "approve", request_id, token=bob))
    key_file = tmp_path / "data.key"
    refused = cli("escrow", "release", request_id, "--private-key-file", str(private),
                  "--out", str(key_file), token=owner)  # fmt: skip
    assert refused.returncode == 1 and "1 of the 2 approvals" in refused.stderr
    assert not key_file.exists()
    _ok(cli("escrow", "approve", request_id, token=carol))
    _ok(cli("escrow", "release", request_id, "--private-key-file", str(private),
            "--out", str(key_file), token=owner))  # fmt: skip
    assert base64.urlsafe_b64decode(key_file.read_text().strip() + "=") == data_key
    bad = cli("escrow", "request", "--deposit", deposit, "--private-key-out",
              str(tmp_path / "x.key"), "--algorithm", "rsa-1024", token=owner)  # fmt: skip
    assert bad.returncode == 1 and not (tmp_path / "x.key").exists()

    audit = json.loads(_ok(run_cli("audit", "tail", "-n", "1000", "--json", addr=addr,
                                   token=DEV_TOKEN)))  # fmt: skip
    seen = json.dumps(audit) + "".join(outputs) + server.stdout() + server.stderr()
    assert "escrow.release" in seen
    for secret in (data_key.hex(), base64.urlsafe_b64encode(data_key).decode().rstrip("=")):
        assert secret not in seen
