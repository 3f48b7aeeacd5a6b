"""DSSE: the specification's own example, the Ed25519 vector set, and misuse."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from strongroom.crypto import dsse
from strongroom.errors import EnvelopeError

HERE = Path(__file__).resolve().parent.parent / "vectors" / "dsse"
SET = json.loads((HERE / "vectors.json").read_text(encoding="utf-8"))
EXAMPLE = json.loads((HERE / "protocol_example.json").read_text(encoding="utf-8"))
RFC8032_PUBLIC = {
    "A": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "B": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
}


def _private(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SET["keys"][name]["seed"]))


def _public(name: str) -> Ed25519PublicKey:
    return _private(name).public_key()


def test_protocol_example_pae_and_signature() -> None:
    body = EXAMPLE["body"].encode()
    message = dsse.pae(EXAMPLE["payload_type"], body)
    assert message == EXAMPLE["pae"].encode()
    envelope = dsse.Envelope.from_json(EXAMPLE["envelope"])
    assert envelope.payload == body
    assert envelope.payload_type == EXAMPLE["payload_type"]
    key = EXAMPLE["key"]
    public = ec.EllipticCurvePublicNumbers(
        int(key["x"]), int(key["y"]), ec.SECP256R1()
    ).public_key()
    raw = envelope.signatures[0].sig
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, message, ec.ECDSA(hashes.SHA256()))  # raises if our PAE were wrong
    # The private scalar is the one whose public point the example names.
    private = ec.derive_private_key(int(key["d"]), ec.SECP256R1())
    assert private.public_key().public_numbers() == public.public_numbers()


def test_vector_keys_are_rfc8032() -> None:
    for name, public in RFC8032_PUBLIC.items():
        raw = _public(name).public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert raw.hex() == public == SET["keys"][name]["public"]


@pytest.mark.parametrize("vector", SET["vectors"], ids=lambda v: v["id"])
def test_vector(vector: dict[str, Any]) -> None:
    envelope = dsse.Envelope.from_json(vector["envelope"])
    # "pae" is what the signatures cover; a swapped payload type makes ours differ.
    covered = dsse.pae(envelope.payload_type, envelope.payload).hex() == vector["pae"]
    assert covered == (vector["id"] != "payload-type-swapped")
    trusted = {name: _public(name) for name in vector["trustedKeys"]}
    if vector["expect"] == "accept":
        body = dsse.verify(
            envelope,
            trusted,
            payload_types=vector["supportedPayloadTypes"],
            threshold=vector["threshold"],
        )
        assert body == envelope.payload
    else:
        with pytest.raises(EnvelopeError):
            dsse.verify(
                envelope,
                trusted,
                payload_types=vector["supportedPayloadTypes"],
                threshold=vector["threshold"],
            )


@pytest.mark.parametrize(
    "vector", [v for v in SET["vectors"] if v["expect"] == "accept"], ids=lambda v: v["id"]
)
def test_signing_reproduces_vector_signatures(vector: dict[str, Any]) -> None:
    envelope = dsse.Envelope.from_json(vector["envelope"])
    names = vector["trustedKeys"]
    for position, signature in enumerate(envelope.signatures):
        name = signature.keyid or names[position]
        again = dsse.sign(envelope.payload_type, envelope.payload, _private(name), name)
        assert again.signatures[0].sig == signature.sig


def test_round_trip_and_tamper() -> None:
    key = Ed25519PrivateKey.generate()
    body = b'{"app":"crm"}'
    envelope = dsse.sign(dsse.MANIFEST_PAYLOAD_TYPE, body, key, "k1")
    parsed = dsse.Envelope.from_bytes(envelope.to_bytes())
    types = [dsse.MANIFEST_PAYLOAD_TYPE]
    assert dsse.verify(parsed, {"k1": key.public_key()}, payload_types=types) == body
    tampered = dsse.Envelope(parsed.payload_type, body + b" ", parsed.signatures)
    with pytest.raises(EnvelopeError):
        dsse.verify(tampered, {"k1": key.public_key()}, payload_types=types)
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(EnvelopeError):
        dsse.verify(parsed, {"k1": other}, payload_types=types)
    with pytest.raises(EnvelopeError):
        dsse.verify(parsed, {"k1": key.public_key()}, payload_types=types, threshold=2)


def test_keyid_is_only_a_hint() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = dsse.sign("t", b"x", key, "someone-else")
    assert dsse.verify(envelope, {"real": key.public_key()}, payload_types=["t"]) == b"x"


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        b"[]",
        b'{"payload": 1, "payloadType": "t", "signatures": [{"sig": "AA=="}]}',
        b'{"payload": "AA==", "payloadType": "t", "signatures": []}',
        b'{"payload": "A!A=", "payloadType": "t", "signatures": [{"sig": "AA=="}]}',
        b'{"payload": "AA==", "payloadType": "t", "signatures": [{"sig": "AA==", "keyid": 3}]}',
        b'{"payload": "AA==", "payloadType": "t", "signatures": [{}]}',
        b"x" * (dsse.MAX_ENVELOPE_BYTES + 1),
    ],
)
def test_malformed_envelopes_are_refused(bad: bytes) -> None:
    with pytest.raises(EnvelopeError):
        dsse.Envelope.from_bytes(bad)


def test_standard_base64_out() -> None:
    envelope = dsse.Envelope("t", b"\xfb\xff\xbf", (dsse.Signature(b"\xff" * 4),))
    assert envelope.to_json()["payload"] == base64.b64encode(b"\xfb\xff\xbf").decode()
