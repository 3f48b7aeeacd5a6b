"""The ``strongroom`` command line against real server processes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverproc import Launcher, ServerProcess, bearer, free_port, run_cli

pytestmark = pytest.mark.slow

DEV_TOKEN = "dev-fixed-root-token-for-tests"


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result).stdout)


def short_error(result: subprocess.CompletedProcess[str]) -> str:
    """Assert a clean failure: non-zero exit, one or two lines on stderr, no traceback."""
    assert result.returncode != 0, f"expected failure\n{result.stdout}\n{result.stderr}"
    err = result.stderr.strip()
    assert "Traceback" not in err and "Traceback" not in result.stdout
    lines = err.splitlines()
    assert 1 <= len(lines) <= 2, err
    assert lines[0].startswith("Error:"), err
    return err


def status(addr: str) -> dict[str, Any]:
    """``strongroom status --json``."""
    return dict(ok_json(run_cli("status", "--json", addr=addr)))


def seal_status(server: ServerProcess) -> dict[str, Any]:
    """The seal status over HTTP (cheaper than a CLI process where the CLI is not tested)."""
    resp = httpx.get(server.url + "/v1/sys/seal-status")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def key_versions(server: ServerProcess, token: str) -> dict[str, list[int]]:
    resp = httpx.get(server.url + "/v1/sys/keys", headers=bearer(token))
    assert resp.status_code == 200, resp.text
    versions: dict[str, list[int]] = {}
    for key in resp.json()["keys"]:
        versions.setdefault(key["purpose"], []).append(key["version"])
    return versions


def http_status(server: ServerProcess, path: str, token: str) -> int:
    return httpx.get(server.url + path, headers=bearer(token)).status_code


def dev_root_token(server: ServerProcess) -> str:
    match = re.search(r"^Root token: (\S+)$", server.stdout(), re.MULTILINE)
    assert match, server.describe()
    return match.group(1)


# -- dev mode ----------------------------------------------------------------------------


def test_dev_prints_its_url_token_and_warning_and_survives_restarts(
    launcher: Launcher, tmp_path: Path
) -> None:
    data = tmp_path / "dev-data"
    first = launcher.start(
        "dev", "--data-dir", str(data), env={"STRONGROOM_DEV_ROOT_TOKEN": DEV_TOKEN}
    )
    out = first.stdout()
    assert re.search(r"^WARNING.*DEV MODE", out, re.MULTILINE), out
    assert re.search(rf"^URL:\s+{re.escape(first.url)}$", out, re.MULTILINE), out
    assert dev_root_token(first) == DEV_TOKEN
    state = status(first.addr)
    assert state["initialized"] is True and state["sealed"] is False
    rotated = ok_json(
        run_cli("operator", "rotate", "barrier", "--json", addr=first.addr, token=DEV_TOKEN)
    )
    assert rotated["version"] == 2
    assert first.stop() == 0

    # Restart without a fixed token: a random one replaces the fixed one.
    second = launcher.start("dev", "--data-dir", str(data))
    random_token = dev_root_token(second)
    assert random_token not in (DEV_TOKEN, "")
    assert seal_status(second)["sealed"] is False
    assert key_versions(second, random_token)["barrier"] == [1, 2]
    assert http_status(second, "/v1/sys/keys", DEV_TOKEN) == 401
    resp = httpx.post(
        second.url + "/v1/sys/keys/token-signing/rotate", headers=bearer(random_token)
    )
    assert resp.status_code == 200, resp.text
    assert second.stop() == 0

    # And again: the previous random token is dead, the new one works, keys are kept.
    third = launcher.start("dev", "--data-dir", str(data))
    new_token = dev_root_token(third)
    assert new_token != random_token
    assert status(third.addr)["sealed"] is False
    versions = key_versions(third, new_token)
    assert versions["barrier"] == [1, 2]
    assert versions["token-signing"] == [1, 2]
    refused = run_cli("operator", "keys", addr=third.addr, token=random_token)
    assert "A valid token is required" in short_error(refused)
    assert third.stop() == 0


# -- the operator ceremony ---------------------------------------------------------------


def test_operator_ceremony_against_a_real_server(launcher: Launcher, tmp_path: Path) -> None:
    server = launcher.start(env={"STRONGROOM_DATA_DIR": str(tmp_path / "data")})
    addr = server.addr
    assert httpx.get(server.url + "/v1/sys/health").status_code == 501
    # Nothing listens here: started now, checked at the end, to overlap with the rest.
    nobody = f"127.0.0.1:{free_port()}"
    unreachable = launcher.cli_async("operator", "keys", "--addr", nobody, "--token", "x")

    init = ok_json(
        run_cli("operator", "init", "--shares", "5", "--threshold", "3", "--json", "--addr", addr)
    )
    assert set(init) == {"shares", "threshold", "root_token"}
    shares, root = init["shares"], init["root_token"]
    assert len(shares) == 5 == len(set(shares)) and init["threshold"] == 3
    state = status(addr)
    assert state["initialized"] is True and state["sealed"] is True and state["progress"] == 0
    assert httpx.get(server.url + "/v1/sys/health").status_code == 503

    def give(share: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "operator", "unseal", "--share-stdin", "--json", addr=addr, stdin=share + "\n"
        )

    # A malformed share (a typo: the checksum fails): a clean error, nothing counted.
    typo = shares[0][:-3] + ("aaa" if not shares[0].endswith("aaa") else "bbb")
    err = short_error(give(typo))
    assert "key share" in err and typo not in err
    assert seal_status(server)["progress"] == 0
    garbage = httpx.post(server.url + "/v1/sys/unseal", json={"share": "srs1-" + "a" * 70})
    assert garbage.status_code == 400
    assert seal_status(server)["progress"] == 0

    first = ok_json(give(shares[0]))
    assert first["sealed"] is True and first["progress"] == 1
    err = short_error(give(shares[0]))
    assert "already given" in err and shares[0] not in err
    assert seal_status(server)["progress"] == 1
    assert ok_json(give(shares[3]))["progress"] == 2
    done = ok_json(give(shares[4]))
    assert done["sealed"] is False
    assert httpx.get(server.url + "/v1/sys/health").status_code == 200

    rotated = ok_json(
        run_cli("operator", "rotate", "token-signing", "--json", "--addr", addr, "--token", root)
    )
    assert rotated["purpose"] == "token-signing" and rotated["version"] == 2
    assert rotated["current"] is True

    def create(token: str, *scopes: str) -> subprocess.CompletedProcess[str]:
        flags = [arg for scope in scopes for arg in ("--scope", scope)]
        return run_cli(
            "token", "create", "--subject", "alice", *flags, "--ttl", "60", "--json",
            addr=addr, token=token,
        )  # fmt: skip

    minted = ok_json(create(root, "sys:read", "audit:read"))
    assert set(minted) == {"access_token", "expires_in"}
    assert minted["expires_in"] == 60
    reader = minted["access_token"]
    assert key_versions(server, reader)["token-signing"] == [1, 2]

    err = short_error(create(reader, "sys:read"))
    assert "tokens:create" in err
    assert "Hint:" in err

    events = ok_json(run_cli("audit", "tail", "-n", "1000", "--json", addr=addr, token=reader))
    raw = json.dumps(events)
    actions = {e["action"] for e in events}
    assert {"sys.init", "sys.unseal", "sys.keys.rotate", "auth.tokens.create"} <= actions
    unseals = [e for e in events if e["action"] == "sys.unseal"]
    assert {e["outcome"] for e in unseals} == {"success", "error"}
    assert [e["index"] for e in events] == list(range(len(events)))
    for secret in [*shares, root, reader]:
        assert secret not in raw
        assert secret not in server.stderr()

    ok(run_cli("operator", "seal", addr=addr, token=root))
    state = status(addr)
    assert state["sealed"] is True and state["progress"] == 0
    err = short_error(run_cli("operator", "keys", addr=addr, token=root))
    assert "sealed" in err
    assert server.stop() == 0

    err = short_error(unreachable.result())
    assert "cannot reach Strongroom" in err and nobody in err


# -- configuration -----------------------------------------------------------------------


def test_server_refuses_dev_only_options(tmp_path: Path) -> None:
    secret = "dev-token-value-that-must-not-echo"
    env = {"STRONGROOM_DEV_ROOT_TOKEN": secret, "STRONGROOM_DATA_DIR": str(tmp_path / "d")}
    result = run_cli("server", "--addr", f"127.0.0.1:{free_port()}", env=env, cwd=tmp_path)
    err = short_error(result)
    assert "dev_root_token" in err
    assert secret not in result.stdout + result.stderr


def test_server_honours_a_toml_config_file(launcher: Launcher, tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "from-config"
    config = tmp_path / "strongroom.toml"
    config.write_text(
        f'addr = "127.0.0.1:{port}"\ndata_dir = \'{data.as_posix()}\'\nlog_level = "warning"\n',
        encoding="utf-8",
    )
    server = launcher.start("server", "--config", str(config), port=port, addr_flag=False)
    assert httpx.get(server.url + "/v1/sys/health").status_code == 501
    assert (data / "strongroom.db").is_file()
    assert '"level":"info"' not in server.stderr()  # log_level from the file, too
    assert server.stop() == 0


def test_server_refuses_an_unknown_config_key(tmp_path: Path) -> None:
    config = tmp_path / "strongroom.toml"
    config.write_text(
        f"addr = \"127.0.0.1:{free_port()}\"\ndata_dir = 'd'\nbogus_setting = 1\n",
        encoding="utf-8",
    )
    result = run_cli("server", "--config", str(config), cwd=tmp_path)
    assert "bogus_setting" in short_error(result)
    assert not (tmp_path / "d").exists()
    missing = run_cli("server", "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert "config file not found" in short_error(missing)
