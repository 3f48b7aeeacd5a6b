"""The text form of an unseal key share.

A share is printed once at init and typed back at unseal, so its text form carries what
lets a typo or a share from another key be caught before it counts::

    srs1-<base32( 0x01 | set id (8) | threshold (1) | x (1) | y (32) | checksum (4) )>

The set id is random per init and says which root key the share belongs to; it reveals
nothing about the key. The checksum is the first four bytes of SHA-256 over the rest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field

from strongroom.errors import ShareError

PREFIX = "srs1-"
_VERSION = 0x01
SET_ID_BYTES = 8
_CHECK_BYTES = 4


@dataclass(frozen=True)
class Share:
    """One decoded share. ``y`` is secret and kept out of the repr."""

    set_id: bytes
    threshold: int
    x: int
    y: bytes = field(repr=False)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("key shares cannot be pickled")


def encode(share: Share) -> str:
    """The printable form of ``share``."""
    body = bytes([_VERSION]) + share.set_id + bytes([share.threshold, share.x]) + share.y
    check = hashlib.sha256(body).digest()[:_CHECK_BYTES]
    return PREFIX + base64.b32encode(body + check).decode("ascii").rstrip("=").lower()


def decode(text: str) -> Share:
    """Parse a share; `ShareError` says what is wrong without echoing the share."""
    cleaned = "".join(text.split()).lower()
    if not cleaned.startswith(PREFIX):
        raise ShareError(f"a key share starts with {PREFIX!r}")
    payload = cleaned.removeprefix(PREFIX).upper()
    try:
        raw = base64.b32decode(payload + "=" * (-len(payload) % 8))
    except (binascii.Error, ValueError):
        raise ShareError("the key share is not valid base32; check for a typo") from None
    # The last character carries unused bits that b32decode ignores: only the one
    # canonical spelling is accepted, so a typo there is caught like any other.
    if base64.b32encode(raw).decode("ascii").rstrip("=") != payload:
        raise ShareError("the key share is not valid base32; check for a typo")
    if len(raw) < 1 + SET_ID_BYTES + 2 + 1 + _CHECK_BYTES:
        raise ShareError("the key share is too short; check it was copied whole")
    body, check = raw[:-_CHECK_BYTES], raw[-_CHECK_BYTES:]
    if not hmac.compare_digest(hashlib.sha256(body).digest()[:_CHECK_BYTES], check):
        raise ShareError("the key share's checksum does not match; check for a typo")
    if body[0] != _VERSION:
        raise ShareError("unknown key share version")
    set_id = body[1 : 1 + SET_ID_BYTES]
    threshold, x = body[1 + SET_ID_BYTES], body[2 + SET_ID_BYTES]
    y = body[3 + SET_ID_BYTES :]
    if threshold < 1 or x == 0:
        raise ShareError("the key share is malformed")
    return Share(set_id=set_id, threshold=threshold, x=x, y=y)
