"""`HmacSha256` equals the standard library's HMAC, RFC 4231 included."""

from __future__ import annotations

import hmac
import os
import pickle

import pytest

from strongroom.crypto.prf import HmacSha256

# RFC 4231, test cases 1, 2 and 6 (a key longer than the block).
RFC4231 = [
    (b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "message", "expected"), RFC4231)
def test_rfc4231(key: bytes, message: bytes, expected: str) -> None:
    assert HmacSha256(key).digest(message).hex() == expected


def test_equals_the_standard_library() -> None:
    for size in (0, 1, 16, 32, 63, 64, 65, 200):
        key = os.urandom(size)
        prf = HmacSha256(key)
        for length in (0, 1, 17, 64, 1000):
            message = os.urandom(length)
            assert prf.digest(message) == hmac.digest(key, message, "sha256")


def test_hides_its_key() -> None:
    key = bytes(range(32))
    prf = HmacSha256(key)
    assert key.hex() not in repr(prf)
    with pytest.raises(TypeError):
        pickle.dumps(prf)
    with pytest.raises(TypeError):
        HmacSha256("key")  # type: ignore[arg-type]


def test_digest_many_equals_one_digest_each() -> None:
    key = os.urandom(32)
    prf = HmacSha256(key)
    messages = [os.urandom(n) for n in (0, 1, 20, 64, 65, 300)] * 2
    assert prf.digest_many(messages) == [hmac.digest(key, m, "sha256") for m in messages]
    assert prf.digest_many([]) == []
