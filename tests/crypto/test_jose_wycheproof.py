"""Wycheproof JWS and JWK vectors against Strongroom's strict JOSE validator.

Every vector marked ``invalid`` must be refused. Vectors marked ``valid`` are accepted
unless they need what Strongroom refuses on purpose: symmetric (HS*) keys, a key whose
pinned ``alg`` differs from the token's, or a non-standard algorithm name (``ES521``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from strongroom.crypto import jwk, jws
from strongroom.errors import JwkError, JwsError

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
WYCHEPROOF = REPO_ROOT.parent / "shared" / "vectors" / "wycheproof"
LOCAL = Path(__file__).resolve().parent.parent / "vectors" / "jose"


def _cases(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    data = json.loads((WYCHEPROOF / name).read_text())
    return [(group, test) for group in data["testGroups"] for test in group["tests"]]


def _check(group: dict[str, Any], token: str) -> bool:
    key = group.get("public") or group.get("private")
    try:
        keys = jwk.import_set(key) if "keys" in key else jwk.KeySet((jwk.import_public(key),))
        jws.verify(token, keys)
    except (JwkError, JwsError):
        return False
    return True


def _deliberately_refused(group: dict[str, Any], token: str) -> bool:
    if "public" not in group:
        return True  # a symmetric (HS*) key: never imported
    header = jws.json_object(jwk.b64u_decode(token.split(".", maxsplit=1)[0]))
    key = group.get("public") or {}
    return (
        str(header.get("alg", "")).startswith("HS")
        or key.get("alg") not in (None, header.get("alg"))
        or header.get("alg") == "ES521"
    )


SIGNATURES = _cases("json_web_signature_test.json")
KEYS = _cases("json_web_key_test.json")


@pytest.mark.parametrize(("group", "test"), SIGNATURES + KEYS, ids=lambda v: str(v.get("tcId", "")))
def test_wycheproof_vector(group: dict[str, Any], test: dict[str, Any]) -> None:
    accepted = _check(group, test["jws"])
    if test.get("result") == "invalid":
        assert not accepted, test["comment"]
    elif not accepted:
        assert _deliberately_refused(group, test["jws"]), test["comment"]


def test_the_vectors_are_there_and_most_valid_ones_pass() -> None:
    assert len(SIGNATURES) == 401 and len(KEYS) == 26
    valid = [(g, t) for g, t in SIGNATURES if t.get("result") == "valid"]
    accepted = sum(_check(g, t["jws"]) for g, t in valid)
    assert accepted >= 30


def test_roca_check_does_not_flag_fresh_keys() -> None:
    for _ in range(3):
        numbers = rsa.generate_private_key(65537, 2048).public_key().public_numbers()
        assert not jwk._roca_vulnerable(numbers.n)


def test_rfc7638_thumbprint_vector() -> None:
    vector = json.loads((LOCAL / "rfc7638.json").read_text())
    assert jwk.thumbprint(vector["jwk"]) == vector["thumbprint_sha256"]
    # The optional members (alg, kid) take no part in the thumbprint.
    bare = {k: vector["jwk"][k] for k in ("kty", "n", "e")}
    assert jwk.thumbprint(bare) == vector["thumbprint_sha256"]
    assert jwk.import_public(vector["jwk"]).jkt == vector["thumbprint_sha256"]
