"""Signed approvals: an approved manifest as a DSSE envelope under the keyring's
``manifest-signing`` Ed25519 key, and its offline verification.

The signed payload (``application/vnd.strongroom.manifest+json``) is the RFC 8785 JSON of
an approval statement::

    {"type": "strongroom.approved-manifest/v1", "app": ..., "submission": ...,
     "digest": "sha256:<hex of the canonical manifest>", "scopes": [...sorted],
     "approved_by": <audit actor>, "approved_at": <RFC 3339>, "manifest": {...}}

Verification checks the signature, the payload type, and that the statement agrees with
itself (digest and scopes match the manifest it carries); it raises `EnvelopeError`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from strongroom.crypto import dsse
from strongroom.crypto.canonical import canonical_json
from strongroom.errors import EnvelopeError

if TYPE_CHECKING:  # the keyring (and the store under it) only for annotations
    from strongroom.kms.keyring import Keyring

PURPOSE = "manifest-signing"
STATEMENT_TYPE = "strongroom.approved-manifest/v1"


def keyid(version: int) -> str:
    return f"{PURPOSE}/v{version}"


def digest(manifest: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(dict(manifest))).hexdigest()


def statement(
    *, app: str, submission: str, manifest: Mapping[str, Any], approved_by: str, approved_at: str
) -> dict[str, Any]:
    """The approval statement that gets signed."""
    return {
        "type": STATEMENT_TYPE,
        "app": app,
        "submission": submission,
        "digest": digest(manifest),
        "scopes": sorted({str(s) for s in manifest.get("scopes", [])}),
        "approved_by": approved_by,
        "approved_at": approved_at,
        "manifest": dict(manifest),
    }


def sign(keyring: Keyring, signed: Mapping[str, Any]) -> dsse.Envelope:
    """Sign a statement with the current ``manifest-signing`` key version."""
    current = keyring.current(PURPOSE)
    key = Ed25519PrivateKey.from_private_bytes(current.material)
    return dsse.sign(
        dsse.MANIFEST_PAYLOAD_TYPE, canonical_json(dict(signed)), key, keyid(current.version)
    )


def trusted_keys(keyring: Keyring) -> dict[str, Ed25519PublicKey]:
    """Every version's public key by key id: old approvals stay verifiable after rotation."""
    return {
        keyid(v.version): Ed25519PrivateKey.from_private_bytes(v.material).public_key()
        for v in keyring.versions(PURPOSE)
    }


def public_keys(keyring: Keyring) -> list[dict[str, str]]:
    """The published verification keys, newest first (raw base64 and PEM)."""
    out = []
    for name, key in reversed(list(trusted_keys(keyring).items())):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        pem = key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
        out.append(
            {
                "keyid": name,
                "algorithm": "ed25519",
                "public_key": base64.b64encode(raw).decode(),
                "pem": pem,
            }
        )
    return out


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; `EnvelopeError` if it is anything else."""
    try:
        key = load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise EnvelopeError("the key file is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise EnvelopeError("the key is not an Ed25519 public key")
    return key


def verify(envelope: dsse.Envelope, trusted: Mapping[str, Ed25519PublicKey]) -> dict[str, Any]:
    """The verified approval statement; `EnvelopeError` for any flaw."""
    body = dsse.verify(envelope, trusted, payload_types=[dsse.MANIFEST_PAYLOAD_TYPE])
    try:
        signed = json.loads(body)
    except ValueError:
        raise EnvelopeError("the signed payload is not JSON") from None
    if not isinstance(signed, dict) or signed.get("type") != STATEMENT_TYPE:
        raise EnvelopeError("the signed payload is not an approved-manifest statement")
    manifest = signed.get("manifest")
    if not isinstance(manifest, dict):
        raise EnvelopeError("the statement carries no manifest")
    if signed.get("digest") != digest(manifest):
        raise EnvelopeError("the statement's digest does not match its manifest")
    if signed.get("scopes") != sorted({str(s) for s in manifest.get("scopes", [])}):
        raise EnvelopeError("the statement's scopes do not match its manifest")
    if signed.get("app") != manifest.get("name"):
        raise EnvelopeError("the statement names another app than its manifest")
    return signed
