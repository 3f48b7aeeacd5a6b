"""DSSE (Dead Simple Signing Envelope) v1: PAE, Ed25519 signing and threshold verification.

A signature covers ``PAE(UTF8(payloadType), body)`` =
``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``, so the payload type is
authenticated together with the body. Envelopes travel as the JSON form of the
specification: ``{"payload": b64, "payloadType": str, "signatures": [{"keyid", "sig"}]}``;
either base64 alphabet is accepted on input, the standard one is produced.

Verification raises `EnvelopeError` (one error for every way it can fail); it never
returns a boolean. The key id is a hint only: it narrows which trusted key is tried first
and never decides anything by itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from strongroom.errors import EnvelopeError

MANIFEST_PAYLOAD_TYPE = "application/vnd.strongroom.manifest+json"
MAX_ENVELOPE_BYTES = 1024 * 1024
MAX_SIGNATURES = 16
_PREFIX = b"DSSEv1"


def pae(payload_type: str, body: bytes) -> bytes:
    """The pre-authentication encoding a DSSE signature covers."""
    kind = payload_type.encode("utf-8")
    return b" ".join([_PREFIX, str(len(kind)).encode(), kind, str(len(body)).encode(), body])


@dataclass(frozen=True)
class Signature:
    sig: bytes
    keyid: str | None = None


@dataclass(frozen=True)
class Envelope:
    """A signed payload: the body, its type and one or more signatures."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json(self) -> dict[str, Any]:
        """The specification's JSON form, standard base64."""
        sigs: list[dict[str, str]] = []
        for s in self.signatures:
            entry = {"sig": base64.b64encode(s.sig).decode()}
            if s.keyid is not None:
                entry["keyid"] = s.keyid
            sigs.append(entry)
        return {
            "payload": base64.b64encode(self.payload).decode(),
            "payloadType": self.payload_type,
            "signatures": sigs,
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, value: Any) -> Envelope:
        """Parse the JSON form (a decoded object); `EnvelopeError` if malformed."""
        if not isinstance(value, dict):
            raise EnvelopeError("a DSSE envelope is a JSON object")
        payload, kind, sigs = (
            value.get("payload"),
            value.get("payloadType"),
            value.get("signatures"),
        )
        if not isinstance(payload, str) or not isinstance(kind, str):
            raise EnvelopeError("payload and payloadType must be strings")
        if not isinstance(sigs, list) or not 1 <= len(sigs) <= MAX_SIGNATURES:
            raise EnvelopeError(f"signatures must be a list of 1 to {MAX_SIGNATURES} entries")
        parsed = []
        for entry in sigs:
            if not isinstance(entry, dict) or not isinstance(entry.get("sig"), str):
                raise EnvelopeError("each signature needs a base64 'sig'")
            keyid = entry.get("keyid")
            if keyid is not None and not isinstance(keyid, str):
                raise EnvelopeError("a keyid must be a string")
            parsed.append(Signature(_b64(entry["sig"]), keyid or None))
        return cls(kind, _b64(payload), tuple(parsed))

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        if len(data) > MAX_ENVELOPE_BYTES:
            raise EnvelopeError(f"an envelope may not exceed {MAX_ENVELOPE_BYTES} bytes")
        try:
            value = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise EnvelopeError("the envelope is not valid JSON") from None
        return cls.from_json(value)


def _b64(text: str) -> bytes:
    # Either alphabet, padded or not (the protocol says verifiers MUST accept both).
    normal = text.replace("-", "+").replace("_", "/")
    normal += "=" * (-len(normal) % 4)
    try:
        return base64.b64decode(normal, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError("a field is not valid base64") from None


def sign(
    payload_type: str, body: bytes, key: Ed25519PrivateKey, keyid: str | None = None
) -> Envelope:
    """Sign ``body`` as ``payload_type`` with one Ed25519 key."""
    return Envelope(payload_type, body, (Signature(key.sign(pae(payload_type, body)), keyid),))


def verify(
    envelope: Envelope,
    trusted: Mapping[str, Ed25519PublicKey],
    *,
    payload_types: Collection[str],
    threshold: int = 1,
) -> bytes:
    """Return the body if at least ``threshold`` distinct trusted keys signed it.

    ``trusted`` maps a name to a key; a signature's keyid, when it names one of them,
    picks the key to try, otherwise every trusted key is tried. Raises `EnvelopeError`
    if too few distinct keys verify, or if the payload type is not one of
    ``payload_types``.
    """
    if threshold < 1:
        raise EnvelopeError("the threshold must be at least 1")
    message = pae(envelope.payload_type, envelope.payload)
    accepted: set[str] = set()
    for signature in envelope.signatures:
        names = [signature.keyid] if signature.keyid in trusted else list(trusted)
        for name in names:
            if name is None or name in accepted:
                continue
            try:
                trusted[name].verify(signature.sig, message)
            except InvalidSignature:
                continue
            accepted.add(name)
            break
    if len(accepted) < threshold:
        raise EnvelopeError("the envelope is not signed by enough trusted keys")
    if envelope.payload_type not in payload_types:
        raise EnvelopeError("the envelope's payload type is not accepted here")
    return envelope.payload
