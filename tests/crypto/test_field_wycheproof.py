"""Wycheproof AES-GCM, ChaCha20-Poly1305, PBKDF2 and HKDF against the sealed-field layer.

The AEAD layer under `FieldCipher` accepts exactly what a sealed field can hold (a
32-byte key, a 12-byte nonce, a 16-byte tag); every other group is refused rather than
run. The KDF primitives take the published parameters directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from strongroom.crypto import field_kdf as k
from strongroom.crypto import fields as f
from strongroom.errors import DecryptionError, FieldError

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"

WYCHEPROOF = VECTORS / "wycheproof"


def _cases(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    data = json.loads((WYCHEPROOF / name).read_text(encoding="utf-8"))
    return [(group, test) for group in data["testGroups"] for test in group["tests"]]


def _aead_params(name: str) -> list[Any]:
    return [
        pytest.param(g, t, id=f"{t['tcId']}-{g['keySize']}-{g['ivSize']}") for g, t in _cases(name)
    ]


@pytest.mark.parametrize(
    ("alg", "file"),
    [
        (f.Algorithm.AES_256_GCM, "aes_gcm_test.json"),
        (f.Algorithm.CHACHA20_POLY1305, "chacha20_poly1305_test.json"),
    ],
)
def test_aead_layer_against_every_wycheproof_vector(alg: f.Algorithm, file: str) -> None:
    ran = refused = 0
    for group, test in _cases(file):
        key, iv = bytes.fromhex(test["key"]), bytes.fromhex(test["iv"])
        aad, msg = bytes.fromhex(test["aad"]), bytes.fromhex(test["msg"])
        body = bytes.fromhex(test["ct"] + test["tag"])
        fits = group["keySize"] == 256 and group["ivSize"] == 96 and group["tagSize"] == 128
        if not fits:
            # A field can never carry this key, nonce or tag size: refused, never opened.
            with pytest.raises(DecryptionError):
                f._aead_open(alg, key, iv, body, aad)
            refused += 1
            continue
        ran += 1
        if test["result"] == "invalid":
            with pytest.raises(DecryptionError):
                f._aead_open(alg, key, iv, body, aad)
            continue
        assert f._aead_open(alg, key, iv, body, aad) == msg, test["tcId"]
        assert f._aead_seal(alg, key, iv, msg, aad) == body, test["tcId"]
    assert ran > 50 and (refused > 0 or alg is f.Algorithm.CHACHA20_POLY1305)


@pytest.mark.parametrize(
    ("group", "test"),
    [pytest.param(g, t, id=str(t["tcId"])) for g, t in _cases("pbkdf2_hmacsha256_test.json")],
)
def test_pbkdf2_against_wycheproof(group: dict[str, Any], test: dict[str, Any]) -> None:
    args = (
        bytes.fromhex(test["password"]),
        bytes.fromhex(test["salt"]),
        test["iterationCount"],
        test["dkLen"],
    )
    if test["result"] == "invalid":
        with pytest.raises(FieldError):
            k.pbkdf2_hmac_sha256(*args)
        return
    assert k.pbkdf2_hmac_sha256(*args).hex() == test["dk"]


@pytest.mark.parametrize(
    ("group", "test"),
    [pytest.param(g, t, id=str(t["tcId"])) for g, t in _cases("hkdf_sha256_test.json")],
)
def test_hkdf_against_wycheproof(group: dict[str, Any], test: dict[str, Any]) -> None:
    args = (
        bytes.fromhex(test["ikm"]),
        bytes.fromhex(test["salt"]),
        bytes.fromhex(test["info"]),
        test["size"],
    )
    if test["result"] == "invalid":
        with pytest.raises(FieldError):
            k.hkdf_sha256(*args)
        return
    assert k.hkdf_sha256(*args).hex() == test["okm"]
