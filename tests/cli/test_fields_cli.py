"""``strongroom fields seal|open``: the real command, passphrase from the environment."""

from __future__ import annotations

import base64
import json
import os
import subprocess

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from serverproc import run_cli

from strongroom.sdk import FieldKey, open_with_passphrase

PASSPHRASE = "canary-cli-passphrase-77e1 ü"
CANARY = "canary-cli-value Zoë 🗝️"
ENV = {"FIELD_PASS": PASSPHRASE}
CTX_ARGS = ["--context", "app=crm", "--context", "record=42", "--context", "field=email"]
CTX = {"app": "crm", "record": "42", "field": "email"}


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")
    assert PASSPHRASE not in result.stderr + result.stdout
    assert CANARY not in result.stderr + result.stdout
    return result.stderr


def _seal(*extra: str, value: str = CANARY + "\n") -> subprocess.CompletedProcess[str]:
    return run_cli(
        "fields", "seal", "--passphrase-env", "FIELD_PASS", "--iterations", "100000",
        *CTX_ARGS, *extra, stdin=value, env=ENV,
    )  # fmt: skip


def _open(stdin: str, *extra: str, ctx: list[str] = CTX_ARGS) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "fields", "open", "--passphrase-env", "FIELD_PASS", *ctx, *extra, stdin=stdin, env=ENV
    )


def _legacy(plaintext: str, iterations: int = 100_000) -> dict[str, str]:
    salt, iv = os.urandom(16), os.urandom(12)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(PASSPHRASE.encode())
    ct = AESGCM(key).encrypt(iv, plaintext.encode(), None)
    return {k: base64.b64encode(v).decode() for k, v in (("ct", ct), ("iv", iv), ("salt", salt))}


def test_seal_then_open_round_trips_and_the_sdk_agrees() -> None:
    sealed = _ok(_seal()).strip()
    assert sealed.startswith("srf1.") and CANARY not in sealed
    assert open_with_passphrase(sealed, PASSPHRASE, CTX) == CANARY
    assert _ok(_open(sealed + "\n")) == CANARY + "\n"
    assert json.loads(_ok(_open(sealed, "--json"))) == {"plaintext": CANARY}


def test_json_form_and_argon2id_and_chacha() -> None:
    out = _ok(_seal("--json-form", "--kdf", "Argon2id", "--algorithm", "ChaCha20-Poly1305"))
    sealed = json.loads(out)
    assert sealed["kdf"]["name"] == "Argon2id" and sealed["alg"] == "ChaCha20-Poly1305"
    assert _ok(_open(out)) == CANARY + "\n"
    wrapped = json.loads(_ok(_seal("--json")))
    assert open_with_passphrase(wrapped["sealed"], PASSPHRASE, CTX) == CANARY


def test_open_a_value_sealed_by_the_sdk_and_an_empty_value() -> None:
    key = FieldKey.from_passphrase(PASSPHRASE, key_id="user:9", key_version=4, iterations=100_000)
    assert _ok(_open(key.seal("", CTX))) == "\n"
    assert _ok(_open(json.dumps(key.seal_json(CANARY, CTX)))) == CANARY + "\n"


def test_legacy_records_open_with_default_or_given_iterations() -> None:
    assert _ok(_open(json.dumps(_legacy(CANARY)), ctx=[])) == CANARY + "\n"
    record = json.dumps(_legacy(CANARY, 10_000))
    assert _ok(_open(record, "--iterations", "10000", ctx=[])) == CANARY + "\n"
    assert "Decryption failed." in _error(_open(record, ctx=[]))
    assert "Decryption failed." in _error(_open(record, "--iterations", "0", ctx=[]))


def test_failures_are_short_and_never_echo_secrets() -> None:
    sealed = _ok(_seal()).strip()
    wrong_ctx = ["--context", "app=crm", "--context", "record=43", "--context", "field=email"]
    assert "Decryption failed." in _error(_open(sealed, ctx=wrong_ctx))
    assert "Decryption failed." in _error(_open(sealed[:-3]))
    assert "Decryption failed." in _error(_open("srf1." + "A" * 50))
    assert "Decryption failed." in _error(_open('{"ct": 1}'))
    assert "neither" in _error(_open("{not json"))
    assert "lacks record, field" in _error(_open(sealed, ctx=["--context", "app=crm"]))
    assert "bad --context" in _error(_open(sealed, ctx=["--context", "colour=red"]))
    assert "twice" in _error(_open(sealed, ctx=[*CTX_ARGS, "--context", "app=x"]))
    other = run_cli("fields", "open", "--passphrase-env", "FIELD_PASS", *CTX_ARGS, stdin=sealed,
                    env={"FIELD_PASS": "a different passphrase"})  # fmt: skip
    assert "Decryption failed." in _error(other)
    unset = run_cli("fields", "seal", "--passphrase-env", "NOT_SET_ANYWHERE", *CTX_ARGS, stdin="x")
    assert "NOT_SET_ANYWHERE is not set" in _error(unset)
    assert "100000 iterations" in _error(_seal("--iterations", "5"))
    assert "key id" in _error(_seal("--key-id", "has space"))
    assert "context record" in _error(
        run_cli("fields", "seal", "--passphrase-env", "FIELD_PASS", "--context", "app=a",
                "--context", "record=", "--context", "field=f", stdin="x", env=ENV)
    )  # fmt: skip


def test_the_passphrase_option_takes_a_variable_name_not_a_value() -> None:
    result = run_cli("fields", "seal", "--passphrase-env", PASSPHRASE, *CTX_ARGS, stdin="x")
    assert "takes the name of an environment variable" in _error(result)
