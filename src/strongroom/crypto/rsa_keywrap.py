"""Wrapping a data key to an RSA-OAEP-3072 public key (for escrow), and its unwrapping.

Layout of a wrapped key::

    0x02 | key version (4, big-endian) | RSA-OAEP-3072(SHA-256, MGF1-SHA-256) ciphertext (384)

``0x02`` names the algorithm (``0x01`` is X25519, `strongroom.crypto.keywrap`); the key
version names which of the recipient's keys it was wrapped to. The OAEP label is
``strongroom.keywrap.rsa.v1`` 0x00, the 5-byte header, then the caller's context (for
escrow: the app, the key id and version), so a wrapped key cannot be filed under another
app, key or key version. Only 3072-bit keys with public exponent 65537 are accepted.

Unwrapping raises `DecryptionError` for every failure (length, header, padding, label),
the same opaque error whatever went wrong, so it is no padding oracle.
"""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_private_key,
    load_der_public_key,
)

from strongroom.errors import DecryptionError, FieldError

VERSION = 0x02
ALGORITHM = "rsa-oaep-3072"
JWK_ALG = "RSA-OAEP-256"
KEY_BITS = 3072
EXPONENT = 65537
CIPHERTEXT_BYTES = KEY_BITS // 8
MAX_KEY_BYTES = 64
LABEL = b"strongroom.keywrap.rsa.v1\x00"
_HEADER = struct.Struct(">BI")
WRAPPED_BYTES = _HEADER.size + CIPHERTEXT_BYTES


def _oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)


def generate_private() -> bytes:
    """A fresh RSA-3072 private key (e = 65537), PKCS#8 DER."""
    key = rsa.generate_private_key(public_exponent=EXPONENT, key_size=KEY_BITS)
    return key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())


def load_private(der: bytes) -> rsa.RSAPrivateKey:
    """An RSA-3072 private key from PKCS#8 DER; `FieldError` for anything else."""
    try:
        key = load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise FieldError("not an RSA-OAEP-3072 private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != KEY_BITS:
        raise FieldError("not an RSA-OAEP-3072 private key")
    return key


def load_public(spki: bytes) -> rsa.RSAPublicKey:
    """An RSA-3072 public key (e = 65537) from SubjectPublicKeyInfo DER; `FieldError` else."""
    try:
        key = load_der_public_key(spki)
    except (ValueError, TypeError):
        raise FieldError("not an RSA-OAEP-3072 public key") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != KEY_BITS:
        raise FieldError("not an RSA-OAEP-3072 public key")
    if key.public_numbers().e != EXPONENT:
        raise FieldError("an RSA-OAEP-3072 public key has exponent 65537")
    return key


def public_key(private: bytes) -> bytes:
    """The SubjectPublicKeyInfo DER of a PKCS#8 DER private key."""
    return (
        load_private(private)
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )


def public_pem(spki: bytes) -> str:
    """The PEM text of a SubjectPublicKeyInfo DER public key."""
    return load_public(spki).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def public_jwk_numbers(spki: bytes) -> tuple[bytes, bytes]:
    """The modulus and exponent of a public key as unsigned big-endian bytes (for a JWK)."""
    numbers = load_public(spki).public_numbers()
    return (
        numbers.n.to_bytes(CIPHERTEXT_BYTES, "big"),
        numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"),
    )


def oaep_open(private: rsa.RSAPrivateKey, ciphertext: bytes, label: bytes) -> bytes:
    """RSA-OAEP (SHA-256, MGF1-SHA-256) decryption; `DecryptionError` for every failure."""
    if len(ciphertext) != CIPHERTEXT_BYTES:
        raise DecryptionError()
    try:
        return private.decrypt(ciphertext, _oaep(label))
    except ValueError:
        raise DecryptionError() from None


def key_version(wrapped: bytes) -> int:
    """The recipient key version a wrapped key names; `DecryptionError` if it is not one."""
    if len(wrapped) != WRAPPED_BYTES or wrapped[0] != VERSION:
        raise DecryptionError()
    return int(_HEADER.unpack_from(wrapped)[1])


def wrap(recipient_public: bytes, data_key: bytes, context: bytes, *, version: int) -> bytes:
    """``data_key`` wrapped to the SPKI DER ``recipient_public`` (key ``version``), bound to
    ``context``. `FieldError` for a key that is not RSA-3072/65537 or a bad data key size."""
    if not 16 <= len(data_key) <= MAX_KEY_BYTES:
        raise FieldError(f"a wrapped key is 16..{MAX_KEY_BYTES} bytes")
    if not 0 <= version < 2**32:
        raise FieldError("key version out of range")
    header = _HEADER.pack(VERSION, version)
    body = load_public(recipient_public).encrypt(data_key, _oaep(LABEL + header + context))
    return header + body


def unwrap(recipient_private: bytes, wrapped: bytes, context: bytes) -> bytes:
    """The data key in ``wrapped`` (PKCS#8 DER private key); `DecryptionError` for every
    failure, including a private key that is not RSA-3072."""
    key_version(wrapped)
    try:
        private = load_private(recipient_private)
    except FieldError:
        raise DecryptionError() from None
    header = wrapped[: _HEADER.size]
    data_key = oaep_open(private, wrapped[_HEADER.size :], LABEL + header + context)
    if not 16 <= len(data_key) <= MAX_KEY_BYTES:
        raise DecryptionError()
    return data_key
