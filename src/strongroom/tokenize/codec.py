"""The opaque token format: ``tok_<region>_<base64url(ref ‖ tag)>``.

``ref`` is 16 random bytes naming the vault row; ``tag`` is the first 8 bytes of an
HMAC-SHA256 under the policy's tag key over the region and ``ref``. A token changed,
truncated, forged, or issued under another policy (another app's policies included) fails
the tag and is refused without touching the store, with one `InvalidTokenError` for all
those cases. The region is in clear so a token sent to the wrong region is refused as such.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from collections.abc import Sequence

from strongroom.crypto.prf import HmacSha256
from strongroom.errors import InvalidTokenError

REF_BYTES = 16
TAG_BYTES = 8
PREFIX = "tok_"
_TOKEN = re.compile(r"^tok_([a-z][a-z0-9-]{0,15})_([A-Za-z0-9_-]{32})$")
MAX_TOKEN_CHARS = 64
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_TOKEN_CHARS = (REF_BYTES + TAG_BYTES) * 4 // 3


def new_refs(count: int) -> list[bytes]:
    """``count`` random refs from one read of the OS random source."""
    pool = os.urandom(REF_BYTES * count)
    return [pool[i : i + REF_BYTES] for i in range(0, len(pool), REF_BYTES)]


def tag(key: HmacSha256, region: str, ref: bytes) -> bytes:
    return key.digest(region.encode() + b"\x00" + ref)[:TAG_BYTES]


def encode(key: HmacSha256, region: str, ref: bytes) -> str:
    """The token for ``ref`` (24 bytes of ref and tag make 32 base64url characters)."""
    raw = ref + key.digest(region.encode() + b"\x00" + ref)[:TAG_BYTES]
    return (
        PREFIX + region + "_" + binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).decode()
    )


def encode_many(key: HmacSha256, region: str, refs: Sequence[bytes]) -> list[str]:
    """`encode` of each ref, in order: the tags in one HMAC batch and the base64url of the
    whole batch in one pass (24 bytes of ref and tag make whole base64 groups, so the text
    cuts into tokens at every 32nd character)."""
    lead = region.encode() + b"\x00"
    tags = key.digest_many([lead + ref for ref in refs])
    raw = b"".join([ref + mac[:TAG_BYTES] for ref, mac in zip(refs, tags, strict=True)])
    text = binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).decode()
    head = PREFIX + region + "_"
    return [head + text[at : at + _TOKEN_CHARS] for at in range(0, len(text), _TOKEN_CHARS)]


def region_of(token: str) -> str:
    """The region a token names; `InvalidTokenError` if it is not an opaque token at all."""
    match = (
        _TOKEN.match(token) if isinstance(token, str) and len(token) <= MAX_TOKEN_CHARS else None
    )
    if match is None:
        raise InvalidTokenError("not a token of this policy")
    return match.group(1)


def decode(key: HmacSha256, token: str) -> bytes:
    """The ref of a token whose tag verifies under ``key``; `InvalidTokenError` otherwise."""
    region = region_of(token)
    try:
        raw = base64.urlsafe_b64decode(token[len(PREFIX) + len(region) + 1 :] + "=")
    except (binascii.Error, ValueError):
        raise InvalidTokenError("not a token of this policy") from None
    ref, mac = raw[:REF_BYTES], raw[REF_BYTES:]
    if len(raw) != REF_BYTES + TAG_BYTES or not hmac.compare_digest(mac, tag(key, region, ref)):
        raise InvalidTokenError("not a token of this policy")
    return ref
