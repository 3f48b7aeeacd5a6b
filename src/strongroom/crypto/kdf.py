"""Key derivation recipes (HKDF-SHA256)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def hkdf_sha256(key: bytes, *, info: bytes, salt: bytes | None = None, length: int = 32) -> bytes:
    """Derive ``length`` bytes from ``key`` for the purpose named by ``info`` (RFC 5869)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)
