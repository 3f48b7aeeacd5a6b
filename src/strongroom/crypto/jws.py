"""Compact JWS (RFC 7515), parsed and verified strictly. Pure functions, no I/O.

Refused with one `JwsError` whatever the reason (so the error is no oracle): anything but
three base64url parts in canonical form; a header that is not a JSON object, repeats a
member, or is larger than `MAX_HEADER_BYTES`; ``alg: none`` or any algorithm other than the
one the chosen key is pinned to; a ``crit`` member (Strongroom understands no extension, so
RFC 7515 §4.1.11 requires refusal); ``b64: false``; a signature that does not verify.
Header members that point at keys (``jwk``, ``jku``, ``x5u``, ``x5c``) never select the key:
the caller's key set does. (DPoP reads ``jwk`` itself, through `parse`, and pins it.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from strongroom.crypto.jwk import EC_CURVES, KeySet, PublicKey, b64u_decode, b64u_encode
from strongroom.errors import JwkError, JwsError

MAX_TOKEN_CHARS = 16_384
MAX_HEADER_BYTES = 4096


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise JwsError()
        result[name] = value
    return result


def json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object with unique member names; `JwsError` otherwise."""
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise JwsError() from None
    if not isinstance(value, dict):
        raise JwsError()
    return value


@dataclass(frozen=True)
class Compact:
    """A parsed, not yet verified, compact JWS."""

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes


def parse(token: str) -> Compact:
    """Split and decode a compact JWS and check its header; the signature is NOT checked."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise JwsError()
    head, body, sig = token.split(".")
    try:
        header_raw = b64u_decode(head)
        payload = b64u_decode(body)
        signature = b64u_decode(sig)
    except JwkError:
        raise JwsError() from None
    if len(header_raw) > MAX_HEADER_BYTES or not signature:
        raise JwsError()
    header = json_object(header_raw)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or "crit" in header:
        raise JwsError()
    if header.get("b64", True) is not True:
        raise JwsError()
    return Compact(header, payload, f"{head}.{body}".encode("ascii"), signature)


def verify(token: str, keys: KeySet) -> Compact:
    """Parse ``token`` and check its signature under a key of ``keys`` pinned to its alg."""
    compact = parse(token)
    kid = compact.header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise JwsError()
    if not verify_with(compact, keys.candidates(kid)):
        raise JwsError()
    return compact


def verify_with(compact: Compact, keys: list[PublicKey]) -> bool:
    """Whether one of ``keys`` pinned to the header's alg verifies the signature."""
    alg = compact.header.get("alg")
    return any(k.alg == alg and k.verify(compact.signing_input, compact.signature) for k in keys)


def sign(header: Mapping[str, Any], payload: bytes, key: Any, alg: str) -> str:
    """Sign a compact JWS with an Ed25519 or EC private key (used by clients and tests)."""
    full = {**header, "alg": alg}
    head = b64u_encode(json.dumps(full, separators=(",", ":")).encode("utf-8"))
    signing_input = f"{head}.{b64u_encode(payload)}".encode("ascii")
    if alg == "EdDSA" and isinstance(key, Ed25519PrivateKey):
        signature = key.sign(signing_input)
    elif alg in EC_CURVES and isinstance(key, ec.EllipticCurvePrivateKey):
        size, digest = EC_CURVES[alg][2], EC_CURVES[alg][3]
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    else:
        raise JwsError("unsupported signing key")
    return f"{signing_input.decode('ascii')}.{b64u_encode(signature)}"


def sha256_b64u(data: bytes) -> str:
    """base64url(SHA-256(data)): the form of ``ath`` and ``at_hash``-like claims."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return b64u_encode(digest.finalize())
