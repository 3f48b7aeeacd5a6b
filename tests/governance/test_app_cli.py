"""``strongroom app`` commands that need no server: init, check, verify."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from manifests import GOOD, PLAIN_EMAIL, PLAIN_EMAIL_LINE
from typer.testing import CliRunner

from strongroom.cli.main import app
from strongroom.crypto import dsse
from strongroom.governance import manifest, signing

runner = CliRunner()


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "strongroom.yaml").write_text(text, encoding="utf-8")
    (folder / "findings.json").write_text("[]", encoding="utf-8")
    return folder


def test_init_writes_a_manifest_that_passes_the_default_policy(tmp_path: Path) -> None:
    folder = tmp_path / "Team_Tool"
    result = runner.invoke(app, ["app", "init", str(folder), "--owner", "dana@example.com"])
    assert result.exit_code == 0, result.output
    parsed = manifest.parse((folder / "strongroom.yaml").read_text())
    assert parsed.name == "team-tool" and parsed.owner == "dana@example.com"
    (folder / "f.json").write_text("[]")
    checked = runner.invoke(
        app, ["app", "check", str(folder), "--findings", str(folder / "f.json")]
    )
    assert checked.exit_code == 0, checked.output
    again = runner.invoke(app, ["app", "init", str(folder)])
    assert again.exit_code == 1


def test_check_denies_with_located_messages(tmp_path: Path) -> None:
    folder = _write(tmp_path / "app", PLAIN_EMAIL)
    args = ["app", "check", str(folder), "--findings", str(folder / "findings.json"), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["allowed"] is False
    assert out["deny"][0]["line"] == PLAIN_EMAIL_LINE
    good = _write(tmp_path / "good", GOOD)
    ok = runner.invoke(app, ["app", "check", str(good), "--findings", str(good / "findings.json")])
    assert ok.exit_code == 0 and "needs review" in ok.output


def test_check_reports_schema_errors_by_line(tmp_path: Path) -> None:
    folder = _write(tmp_path / "app", GOOD.replace("region: eu", "region: eu\ncolour: red"))
    args = ["app", "check", str(folder), "--findings", str(folder / "findings.json")]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "strongroom.yaml:7:1: colour: unknown field" in result.output


def test_verify_offline(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    data = manifest.parse(GOOD).data
    signed = signing.statement(
        app="crm-helper", submission="sub_1", manifest=data, approved_by="r", approved_at="t"
    )
    body = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
    envelope = dsse.sign(dsse.MANIFEST_PAYLOAD_TYPE, body, key, "k")
    env_file, pem = tmp_path / "signed.json", tmp_path / "key.pem"
    env_file.write_bytes(envelope.to_bytes())
    pem.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    good = runner.invoke(app, ["app", "verify", str(env_file), "--key", str(pem), "--json"])
    assert good.exit_code == 0, good.output
    assert json.loads(good.output)["scopes"] == sorted(data["scopes"])

    other = tmp_path / "other.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    bad = runner.invoke(app, ["app", "verify", str(env_file), "--key", str(other)])
    assert bad.exit_code == 1 and "NOT VERIFIED" in bad.output

    # A validly signed statement whose scopes were widened after its digest was taken.
    widened = dict(signed, scopes=[*signed["scopes"], "admin"])
    body = json.dumps(widened).encode()
    env_file.write_bytes(dsse.sign(dsse.MANIFEST_PAYLOAD_TYPE, body, key).to_bytes())
    bad = runner.invoke(app, ["app", "verify", str(env_file), "--key", str(pem)])
    assert bad.exit_code == 1 and "scopes do not match" in bad.output
