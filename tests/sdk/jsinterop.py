"""One interop round between the Python SDK and the JavaScript SDK (Node or Chromium).

`build_round` seals values in Python and asks JavaScript to open them, to seal values for
Python to open, to open and upgrade legacy records made in Python, and to write legacy
records with the source document's raw recipe; `check_round` checks every answer with the
Python SDK. The JavaScript side is `sdk/js/testing/interop.js`, run by either runtime.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from strongroom.sdk import FieldKey, open_legacy

REPO_ROOT = Path(__file__).resolve().parents[2]
JS_DIR = REPO_ROOT / "sdk" / "js"
PASSPHRASE = "pâss wörd 🔑 canary-31aa"
VALUES = ["", "alice@example.com", "Zoë Ångström — 東京都 🗝️", "\u0000\u00ff\U0010ffff", "x" * 5000]
CONTEXTS = [
    {"app": "crm", "record": "42", "field": "email"},
    {"app": "приложение", "record": "記録-7", "field": "név"},
]


def legacy_record(plaintext: str, passphrase: str, iterations: int = 100_000) -> dict[str, str]:
    """A record exactly as the source document's Web Crypto snippet makes one."""
    salt, iv = os.urandom(16), os.urandom(12)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(passphrase.encode())
    ct = AESGCM(key).encrypt(iv, plaintext.encode(), None)
    return {k: base64.b64encode(v).decode() for k, v in (("ct", ct), ("iv", iv), ("salt", salt))}


@dataclass
class Round:
    request: dict[str, Any]
    keys: dict[str, FieldKey]
    expected_open: list[str | None] = field(default_factory=list)
    expected_legacy: list[str | None] = field(default_factory=list)


def build_round() -> Round:
    raw = os.urandom(32)
    specs = {
        "passphrase": {
            "type": "passphrase",
            "passphrase": PASSPHRASE,
            "keyId": "user:42",
            "iterations": 100_000,
        },
        "raw": {"type": "raw", "keyHex": raw.hex(), "keyId": "ks:1", "keyVersion": 2},
        "app": {"type": "app", "keyHex": raw.hex(), "keyId": "app:crm", "keyVersion": 7},
    }
    keys = {
        "passphrase": FieldKey.from_passphrase(PASSPHRASE, key_id="user:42", iterations=100_000),
        "raw": FieldKey.from_raw_key(raw, key_id="ks:1", key_version=2),
        "app": FieldKey.from_app_key(raw, key_id="app:crm", key_version=7),
    }
    rnd = Round({"keys": specs, "open": [], "seal": [], "legacy": [], "upgrade": []}, keys)
    for name, key in keys.items():
        for value in VALUES:
            for ctx in CONTEXTS:
                for form in ("compact", "json"):
                    sealed: Any = (
                        key.seal(value, ctx) if form == "compact" else key.seal_json(value, ctx)
                    )
                    rnd.request["open"].append({"key": name, "sealed": sealed, "context": ctx})
                    rnd.expected_open.append(value)
                    rnd.request["seal"].append(
                        {"key": name, "value": value, "context": ctx, "form": form}
                    )
        # Negative cases: the other context, and the other handle's key.
        moved = key.seal("canary-moved", CONTEXTS[0])
        rnd.request["open"].append({"key": name, "sealed": moved, "context": CONTEXTS[1]})
        rnd.expected_open.append(None)
    rnd.request["open"].append(
        {"key": "raw", "sealed": keys["app"].seal("x", CONTEXTS[0]), "context": CONTEXTS[0]}
    )
    rnd.expected_open.append(None)
    for value in VALUES[:3]:
        rnd.request["legacy"].append(
            {"record": legacy_record(value, PASSPHRASE), "passphrase": PASSPHRASE}
        )
        rnd.expected_legacy.append(value)
    rnd.request["legacy"].append(
        {"record": legacy_record("v", PASSPHRASE, 20_000), "passphrase": PASSPHRASE,
         "iterations": 20_000}
    )  # fmt: skip
    rnd.expected_legacy.append("v")
    rnd.request["legacy"].append(
        {"record": legacy_record("v", PASSPHRASE), "passphrase": "wrong passphrase"}
    )
    rnd.expected_legacy.append(None)
    rnd.request["upgrade"].append(
        {
            "record": legacy_record(VALUES[2], PASSPHRASE),
            "passphrase": PASSPHRASE,
            "key": "app",
            "context": CONTEXTS[1],
        }
    )
    rnd.request["makeLegacy"] = [{"value": v, "passphrase": PASSPHRASE} for v in VALUES]
    return rnd


def check_round(rnd: Round, answer: dict[str, Any]) -> None:
    """Every answer checked with the Python SDK; raises AssertionError naming the first miss."""
    for i, (expected, got) in enumerate(zip(rnd.expected_open, answer["opened"], strict=True)):
        if expected is None:
            assert got.get("error") == "DecryptionError", (i, got)
            assert got.get("message") == "Decryption failed."
        else:
            assert got == {"ok": expected}, (i, rnd.request["open"][i]["sealed"])
    for item, got in zip(rnd.request["seal"], answer["sealed"], strict=True):
        assert "ok" in got, got
        if item["form"] == "compact":
            assert isinstance(got["ok"], str) and got["ok"].startswith("srf1.")
        else:
            assert isinstance(got["ok"], dict) and got["ok"]["v"] == 1
        key = rnd.keys[item["key"]]
        assert key.open(got["ok"], item["context"]) == item["value"]
    for expected, got in zip(rnd.expected_legacy, answer["legacy"], strict=True):
        assert got == ({"ok": expected} if expected is not None else got), got
        if expected is None:
            assert got["error"] == "DecryptionError"
    (upgraded,) = answer["upgraded"]
    assert rnd.keys["app"].open(upgraded["ok"], CONTEXTS[1]) == VALUES[2]
    for value, record in zip(VALUES, answer["legacyRecords"], strict=True):
        assert set(record) == {"ct", "iv", "salt"}
        assert open_legacy(record, PASSPHRASE) == value
