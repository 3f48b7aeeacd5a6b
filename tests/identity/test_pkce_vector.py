"""RFC 7636 Appendix B: the S256 challenge the sign-in flow sends, against the RFC's figures."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from strongroom.identity.oidc import client

VECTOR = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "pkce" / "rfc7636.json").read_text()
)


def test_the_rfc_verifier_encodes_its_octets() -> None:
    raw = bytes(VECTOR["verifier_octets"])
    assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == VECTOR["code_verifier"]


def test_the_flow_computes_the_rfc_challenge() -> None:
    assert client.create_s256_code_challenge(VECTOR["code_verifier"]) == VECTOR["code_challenge"]


def test_derived_verifiers_have_the_rfc_shape_and_differ_per_binding() -> None:
    first, second = client.pkce_verifier("binding-1"), client.pkce_verifier("binding-2")
    for verifier in (first, second):
        assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
    assert first != second
    assert client.pkce_verifier("binding-1") == first
