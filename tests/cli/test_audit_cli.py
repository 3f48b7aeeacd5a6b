"""``strongroom audit keys|checkpoint|export|verify`` end to end against a real dev server.

The server is stopped before any bundle is verified: `verify` is an offline check that
needs the bundle and, ideally, the keys and a checkpoint saved earlier, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from serverproc import Launcher, ServerProcess, bearer, run_cli

from strongroom.crypto import note

pytestmark = pytest.mark.slow

DEV_TOKEN = "dev-fixed-root-token-for-audit-cli-tests"
EM_DASH = "\u2014"


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    no_traceback(result)
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """Assert `verify` said no: non-zero exit, a short ``Error: NOT VERIFIED`` message."""
    no_traceback(result)
    assert result.returncode != 0, f"expected failure\n{result.stdout}\n{result.stderr}"
    err = " ".join(result.stderr.split())  # Rich may wrap a long message
    assert err.startswith("Error: NOT VERIFIED: "), result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr
    return err


def verify(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``strongroom audit verify``: no address, no token, the server is not running."""
    return run_cli("audit", "verify", str(bundle), *args)


def verify_json(bundle: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = verify(bundle, *args, "--json")
    no_traceback(result)
    return result.returncode, dict(json.loads(result.stdout))


def checkpoint_size(signed: str) -> int:
    return int(signed.split("\n")[1])


def signer_id(signed: str) -> str:
    """The hex key id in a one-signature note's signature line."""
    return base64.b64decode(signed.rstrip("\n").rsplit(" ", 1)[1])[:4].hex()


# -- one server, then offline ---------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    """What an auditor holds once the server is gone."""

    keys: Path  # `audit keys`, taken at the start
    cp1: Path  # `audit checkpoint --out`, taken mid-way
    cp1_size: int
    full: Path  # `audit export`
    since: Path  # `audit export --since cp1_size`
    origin: str


def _generate(server: ServerProcess, count: int, reader: str) -> None:
    """Successful reads, an unauthenticated request and a missing scope: all audited."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(count):
            assert client.get("/v1/sys/keys", headers=bearer(DEV_TOKEN)).status_code == 200
        assert client.get("/v1/sys/keys").status_code == 401
        assert client.get("/v1/sys/keys", headers=bearer(reader)).status_code == 403


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    work = tmp_path_factory.mktemp("audit-cli")
    with Launcher(work) as launcher:
        server = launcher.start(
            "dev",
            "--data-dir",
            str(work / "data"),
            env={"STRONGROOM_DEV_ROOT_TOKEN": DEV_TOKEN},
        )
        addr = server.addr
        minted = ok(
            run_cli(
                "token", "create", "--subject", "auditor", "--scope", "audit:read",
                "--ttl", "120", "--json", addr=addr, token=DEV_TOKEN,
            )
        )  # fmt: skip
        reader = json.loads(minted.stdout)["access_token"]

        # The keys, once, "out of band": public, no token needed.
        keys = work / "keys.txt"
        listed = ok(run_cli("audit", "keys", addr=addr)).stdout
        keys.write_text(listed, encoding="utf-8")
        published = httpx.get(server.url + "/v1/audit/keys").json()
        assert listed.split() == published["keys"] and len(published["keys"]) == 1
        origin = published["origin"]
        assert published["keys"][0].startswith(origin + "+")

        _generate(server, 12, reader)
        # Sign the head now (sys:write); `audit checkpoint` then prints the newest one.
        posted = httpx.post(server.url + "/v1/audit/checkpoint", headers=bearer(DEV_TOKEN))
        assert posted.status_code == 200, posted.text
        assert posted.headers["content-type"].startswith("text/plain")
        cp1 = work / "cp1.txt"
        shown = ok(run_cli("audit", "checkpoint", "--out", str(cp1), addr=addr)).stdout
        assert cp1.read_text(encoding="utf-8") == shown
        cp1_size = checkpoint_size(shown)
        assert cp1_size >= checkpoint_size(posted.text) >= 14

        _generate(server, 15, reader)
        full = work / "b.bundle"
        ok(run_cli("audit", "export", "--out", str(full), addr=addr, token=reader))
        since = work / "since.bundle"
        wrote = ok(
            run_cli(
                "audit", "export", "--out", str(since), "--since", str(cp1_size), "--json",
                addr=addr, token=reader,
            )
        )  # fmt: skip
        assert json.loads(wrote.stdout)["bytes"] == since.stat().st_size
        assert not list(work.glob("*.partial"))

        # The export itself is audited.
        events = httpx.get(
            server.url + "/v1/audit/events",
            params={"action": "audit.export"},
            headers=bearer(DEV_TOKEN),
        ).json()["events"]
        assert [e["detail"]["since"] for e in events] == [0, cp1_size]
        assert server.stop() == 0
        text = full.read_text(encoding="utf-8")
        assert DEV_TOKEN not in text and reader not in text
        # The token's subject is recorded as an HMAC, never by name.
        assert '"auditor"' not in text and '"actor":"hmac-sha256:' in text
        yield Exported(keys, cp1, cp1_size, full, since, origin)


def _header(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return dict(json.loads(handle.readline()))


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_bundle_format_is_a_header_then_one_line_per_event(exported: Exported) -> None:
    head = _header(exported.full)
    lines = _lines(exported.full)
    assert head["format"] == "strongroom-audit-bundle/1"
    assert head["origin"] == exported.origin
    assert head["start"] == 0 and head["size"] == len(lines) - 1
    assert head["keys"] == exported.keys.read_text(encoding="utf-8").split()
    assert exported.cp1.read_text(encoding="utf-8") in head["checkpoints"]
    assert head["size"] in [checkpoint_size(c) for c in head["checkpoints"]]
    for expected, line in enumerate(lines[1:]):
        index, leaf, entry = line.rstrip(b"\n").split(b" ", 2)
        assert int(index) == expected
        assert hashlib.sha256(b"\x00" + entry).hexdigest() == leaf.decode()
        event = json.loads(entry)
        assert set(event) == {
            "time", "request_id", "actor", "action", "resource", "outcome", "detail"
        }  # fmt: skip
    outcomes = {json.loads(line.split(b" ", 2)[2])["outcome"] for line in lines[1:]}
    assert outcomes == {"success", "denied"}

    since = _header(exported.since)
    assert since["start"] == exported.cp1_size and "start_frontier" in since
    assert _lines(exported.since)[1].startswith(b"%d " % exported.cp1_size)


def test_checkpoint_is_a_c2sp_signed_note_under_the_published_key(exported: Exported) -> None:
    """Checked here from the C2SP specs alone, not with Strongroom's own note code."""
    name, hex_id, blob = exported.keys.read_text(encoding="utf-8").strip().split("+", 2)
    raw_key = base64.b64decode(blob)
    assert name == exported.origin and raw_key[0] == 0x01 and len(raw_key) == 33
    assert hashlib.sha256(name.encode() + b"\n" + raw_key).digest()[:4].hex() == hex_id

    signed = exported.cp1.read_text(encoding="utf-8")
    body, _, signatures = signed.partition("\n\n")
    origin, size, root = body.split("\n")
    assert origin == exported.origin and int(size) == exported.cp1_size
    assert len(base64.b64decode(root)) == 32
    (line,) = signatures.rstrip("\n").split("\n")
    dash, signer, sig_blob = line.split(" ")
    assert dash == EM_DASH and signer == name
    sig = base64.b64decode(sig_blob)
    assert sig[:4].hex() == hex_id and len(sig) == 4 + 64
    Ed25519PublicKey.from_public_bytes(raw_key[1:]).verify(sig[4:], (body + "\n").encode())


def test_export_verifies_offline_against_keys_and_an_earlier_checkpoint(
    exported: Exported,
) -> None:
    trusted = ("--trusted-key", str(exported.keys))
    previous = ("--previous-checkpoint", str(exported.cp1))
    code, report = verify_json(exported.full, *trusted, *previous)
    head = _header(exported.full)
    assert code == 0, report
    assert report["verified"] is True
    assert report["origin"] == exported.origin
    assert (report["start"], report["size"]) == (0, head["size"])
    assert report["previous_checkpoint"] == exported.cp1_size
    assert report["trusted_keys"] == "given"
    assert exported.cp1_size in report["checkpoints"] and head["size"] in report["checkpoints"]

    text = ok(verify(exported.full, *trusted, *previous))
    assert "Verified" in text.stdout
    assert f"previous checkpoint at size {exported.cp1_size}" in " ".join(text.stdout.split())
    assert "Warning" not in text.stderr

    code, report = verify_json(exported.since, *trusted, *previous)
    assert code == 0 and report["verified"] is True, report
    assert report["start"] == exported.cp1_size


def test_verify_without_a_trusted_key_warns(exported: Exported) -> None:
    result = ok(verify(exported.full))
    assert "Verified" in result.stdout
    assert "Warning" in result.stderr and "--trusted-key" in result.stderr
    code, report = verify_json(exported.full)
    assert code == 0 and report["trusted_keys"] == "from the bundle itself"


def _flip(line: bytes) -> bytes:
    """One byte of the event's JSON changed (inside the action name)."""
    at = line.index(b'"action":"') + len(b'"action":"') + 1
    return line[:at] + bytes([line[at] ^ 0x01]) + line[at + 1 :]


def _rehash(line: bytes) -> bytes:
    """A forgery that also fixes the line's leaf hash."""
    index, _, entry = line.rstrip(b"\n").split(b" ", 2)
    forged = _flip(entry)
    return b"%s %s %s\n" % (index, hashlib.sha256(b"\x00" + forged).hexdigest().encode(), forged)


Mutation = Callable[[list[bytes], int], list[bytes]]


def _flip_at(lines: list[bytes], k: int) -> list[bytes]:
    return [*lines[: k + 1], _flip(lines[k + 1]), *lines[k + 2 :]]


def _delete_at(lines: list[bytes], k: int) -> list[bytes]:
    return [*lines[: k + 1], *lines[k + 2 :]]


def _swap_at(lines: list[bytes], k: int) -> list[bytes]:
    return [*lines[: k + 1], lines[k + 2], lines[k + 1], *lines[k + 3 :]]


def _duplicate_at(lines: list[bytes], k: int) -> list[bytes]:
    return [*lines[: k + 2], lines[k + 1], *lines[k + 2 :]]


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize(
    ("mutation", "says", "offset"),
    [
        (_flip_at, "was changed", 0),
        (_delete_at, "is missing", 0),
        (_swap_at, "is missing", 0),  # event k+1 stands where event k should be
        (_duplicate_at, "appears again", 1),  # found where event k+1 should be
    ],
)
def test_a_changed_bundle_is_not_verified_and_the_event_is_named(
    exported: Exported, tmp_path: Path, mutation: Mutation, says: str, offset: int, where: str
) -> None:
    lines = _lines(exported.full)
    events = len(lines) - 1
    k = {"first": 0, "middle": events // 2, "last": events - 2}[where]
    if mutation is _flip_at and where == "last":
        k = events - 1
    bad = tmp_path / "bad.bundle"
    bad.write_bytes(b"".join(mutation(lines, k)))
    trusted = ("--trusted-key", str(exported.keys))

    err = refused(verify(bad, *trusted))
    assert says in err and f"event {k} " in err, err
    code, report = verify_json(bad, *trusted)
    assert code != 0 and report["verified"] is False
    assert report["index"] == k + offset and says in report["error"]


def test_a_rehashed_forgery_is_caught_at_the_next_checkpoint(
    exported: Exported, tmp_path: Path
) -> None:
    lines = _lines(exported.full)
    k = exported.cp1_size + 3  # after cp1, before the end of the bundle
    bad = tmp_path / "forged.bundle"
    bad.write_bytes(b"".join([*lines[: k + 1], _rehash(lines[k + 1]), *lines[k + 2 :]]))
    err = refused(verify(bad, "--trusted-key", str(exported.keys)))
    assert "do not match the checkpoint" in err
    code, report = verify_json(bad, "--trusted-key", str(exported.keys))
    # Located to the stretch between two checkpoints, not to the line itself.
    assert code != 0 and exported.cp1_size <= report["index"] <= k


@pytest.mark.parametrize("cut", ["mid-line", "whole lines"])
def test_a_truncated_bundle_is_not_verified(exported: Exported, tmp_path: Path, cut: str) -> None:
    data = exported.full.read_bytes()
    lines = _lines(exported.full)
    short = data[:-40] if cut == "mid-line" else b"".join(lines[:-3])
    bad = tmp_path / "short.bundle"
    bad.write_bytes(short)
    err = refused(verify(bad, "--trusted-key", str(exported.keys)))
    assert "cut off" in err or "truncated" in err
    empty = tmp_path / "empty.bundle"
    empty.write_bytes(b"")
    assert "empty" in refused(verify(empty))
    garbage = tmp_path / "garbage.bundle"
    garbage.write_bytes(b"not a bundle\n")
    assert "header" in refused(verify(garbage))


def test_a_strangers_key_is_not_trusted(exported: Exported, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger.txt"
    key = note.verifier_for("x/y", Ed25519PrivateKey.generate()).encode()
    stranger.write_text(key + "\n", encoding="utf-8")
    err = refused(verify(exported.full, "--trusted-key", str(stranger)))
    assert "not signed by any trusted key" in err
    code, report = verify_json(exported.full, "--trusted-key", str(stranger))
    assert code != 0 and report["verified"] is False


def test_a_checkpoint_newer_than_the_bundle_means_a_rollback(
    exported: Exported, tmp_path: Path
) -> None:
    newest = _header(exported.full)["checkpoints"][-1]
    saved = tmp_path / "newest.txt"
    saved.write_text(newest, encoding="utf-8")
    # A bundle cut back to cp1: its header and lines say size cp1, the saved head is newer.
    lines = _lines(exported.full)[: exported.cp1_size + 1]
    first = json.loads(lines[0])
    first["size"] = exported.cp1_size
    first["checkpoints"] = [c for c in first["checkpoints"] if checkpoint_size(c) <= first["size"]]
    old = tmp_path / "old.bundle"
    old.write_bytes(json.dumps(first).encode() + b"\n" + b"".join(lines[1:]))
    ok(verify(old, "--trusted-key", str(exported.keys)))
    err = refused(
        verify(old, "--trusted-key", str(exported.keys), "--previous-checkpoint", str(saved))
    )
    assert "rolled back" in err


def test_verify_reports_unreadable_files_in_one_line(exported: Exported, tmp_path: Path) -> None:
    for args in (
        [str(tmp_path / "missing.bundle")],
        [str(exported.full), "--trusted-key", str(tmp_path / "missing-keys.txt")],
        [str(exported.full), "--previous-checkpoint", str(tmp_path / "missing-cp.txt")],
    ):
        result = run_cli("audit", "verify", *args)
        no_traceback(result)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: cannot read"), result.stderr


# -- rotation -------------------------------------------------------------------------------


def test_after_rotating_the_signing_key_both_keys_stay_published(
    launcher: Launcher, tmp_path: Path
) -> None:
    server = launcher.start(
        "dev",
        "--data-dir",
        str(tmp_path / "data"),
        env={"STRONGROOM_DEV_ROOT_TOKEN": DEV_TOKEN},
    )
    addr = server.addr
    old_keys = tmp_path / "old-keys.txt"
    old_keys.write_text(ok(run_cli("audit", "keys", addr=addr)).stdout, encoding="utf-8")
    before = httpx.post(server.url + "/v1/audit/checkpoint", headers=bearer(DEV_TOKEN)).text
    rotated = json.loads(
        ok(
            run_cli("operator", "rotate", "audit-signing", "--json", addr=addr, token=DEV_TOKEN)
        ).stdout
    )
    assert rotated["purpose"] == "audit-signing" and rotated["version"] == 2
    all_keys = tmp_path / "all-keys.txt"
    listed = ok(run_cli("audit", "keys", addr=addr)).stdout
    all_keys.write_text(listed, encoding="utf-8")
    old = old_keys.read_text(encoding="utf-8").split()
    assert len(listed.split()) == 2 and listed.split()[1:] == old  # newest first
    after = httpx.post(server.url + "/v1/audit/checkpoint", headers=bearer(DEV_TOKEN)).text
    # Each checkpoint's signature line carries the id of the key version that signed it.
    new_id, old_id = (key.split("+")[1] for key in listed.split())
    assert signer_id(before) == old_id != new_id == signer_id(after)
    out = tmp_path / "rotated.bundle"
    ok(run_cli("audit", "export", "--out", str(out), addr=addr, token=DEV_TOKEN))
    assert server.stop() == 0

    saved = tmp_path / "before.txt"
    saved.write_text(before, encoding="utf-8")
    code, report = verify_json(
        out, "--trusted-key", str(all_keys), "--previous-checkpoint", str(saved)
    )
    assert code == 0 and report["verified"] is True, report
    # The old key alone cannot vouch for checkpoints signed after the rotation.
    assert "not signed by any trusted key" in refused(verify(out, "--trusted-key", str(old_keys)))
