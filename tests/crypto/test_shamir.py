"""Shamir secret sharing over GF(2^8): field arithmetic, vectors, properties, validation.

The vectors in ``tests/vectors/shamir/vectors.json`` were made by an independent
implementation (``shamir-mnemonic``, see PROVENANCE.md there).
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.crypto.shamir import MAX_SHARES, _inv, _mul, combine, split
from strongroom.errors import CryptoError, ShareError

VECTORS_PATH = Path(__file__).resolve().parent.parent / "vectors" / "shamir" / "vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="ascii"))["vectors"]

FAST = settings(max_examples=40, deadline=None)

byte = st.integers(min_value=0, max_value=255)
nonzero_byte = st.integers(min_value=1, max_value=255)


def _reference_mul(a: int, b: int) -> int:
    """Textbook GF(2^8) multiply: carry-less product, then reduce mod 0x11b."""
    product = 0
    for bit in range(8):
        if (b >> bit) & 1:
            product ^= a << bit
    for bit in range(14, 7, -1):
        if (product >> bit) & 1:
            product ^= 0x11B << (bit - 8)
    return product


def _shares_of(vector: dict[str, Any]) -> list[tuple[int, bytes]]:
    return [(share["x"], bytes.fromhex(share["y_hex"])) for share in vector["shares"]]


def _evaluate_at(points: list[tuple[int, bytes]], t: int) -> bytes:
    """Value at ``x = t`` of the polynomial through ``points`` (t not among their x).

    In characteristic 2, g(u) = f(u + t) = f(u XOR t) is a polynomial of the same degree,
    and g(0) = f(t); so interpolating the shifted points at 0 with ``combine`` gives f(t).
    """
    return combine([(x ^ t, y) for x, y in points])


# --- field arithmetic -------------------------------------------------------------------


def test_mul_matches_reference_for_every_pair() -> None:
    for a in range(256):
        for b in range(256):
            assert _mul(a, b) == _reference_mul(a, b), (a, b)


@pytest.mark.parametrize(
    ("a", "b", "product"),
    [
        # FIPS-197 section 4.2 and 4.2.1.
        (0x57, 0x83, 0xC1),
        (0x57, 0x13, 0xFE),
        (0x57, 0x02, 0xAE),
        (0x57, 0x04, 0x47),
        (0x57, 0x08, 0x8E),
        (0x57, 0x10, 0x07),
        (0x00, 0xFF, 0x00),
        (0x01, 0xA5, 0xA5),
        (0x80, 0x02, 0x1B),  # x^7 * x = x^8 = x^4 + x^3 + x + 1
    ],
)
def test_known_products(a: int, b: int, product: int) -> None:
    assert _mul(a, b) == product
    assert _mul(b, a) == product


def test_known_inverse() -> None:
    # The AES S-box construction's worked example: {53}^-1 = {ca}.
    assert _inv(0x53) == 0xCA
    assert _inv(0xCA) == 0x53
    assert _inv(0x01) == 0x01


def test_inverse_of_every_nonzero_element() -> None:
    for a in range(1, 256):
        assert _mul(a, _inv(a)) == 1, a
    assert sorted(_inv(a) for a in range(1, 256)) == list(range(1, 256))
    assert _inv(0) == 0  # documented convention


def test_generator_three_has_order_255() -> None:
    seen = set()
    power = 1
    for _ in range(255):
        seen.add(power)
        power = _mul(power, 0x03)
    assert power == 1
    assert seen == set(range(1, 256))


def test_mul_is_commutative() -> None:
    for a in range(256):
        for b in range(a, 256):
            assert _mul(a, b) == _mul(b, a)


@FAST
@given(byte, byte, byte)
def test_mul_is_associative(a: int, b: int, c: int) -> None:
    assert _mul(_mul(a, b), c) == _mul(a, _mul(b, c))


@FAST
@given(byte, byte, byte)
def test_mul_distributes_over_xor(a: int, b: int, c: int) -> None:
    assert _mul(a, b ^ c) == _mul(a, b) ^ _mul(a, c)


@FAST
@given(nonzero_byte, nonzero_byte)
def test_division_undoes_multiplication(a: int, b: int) -> None:
    assert _mul(_mul(a, b), _inv(b)) == a


# --- independent vectors ----------------------------------------------------------------


def _vector_id(vector: dict[str, Any]) -> str:
    return str(vector["description"])


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_vector_threshold_subsets_rebuild_secret(vector: dict[str, Any]) -> None:
    secret = bytes.fromhex(vector["secret_hex"])
    m = vector["threshold"]
    shares = _shares_of(vector)
    assert [x for x, _ in shares] == list(range(1, len(shares) + 1))
    assert all(len(y) == len(secret) for _, y in shares)

    subsets = [shares[:m], shares[-m:], shares[-m:][::-1], shares]
    if m > 1:
        # The last share with the first m-1; the first share with the last m-1.
        subsets.append([*shares[: m - 1], shares[-1]])
        subsets.append([*shares[::-1][: m - 1], shares[0]])
    if len(list(itertools.islice(itertools.combinations(shares, m), 201))) <= 200:
        subsets.extend(list(subset) for subset in itertools.combinations(shares, m))
    rng = random.Random(vector["secret_hex"])
    subsets.extend(rng.sample(shares, m) for _ in range(20))

    for subset in subsets:
        assert len(subset) >= m
        assert combine(subset) == secret


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_vector_shares_lie_on_one_polynomial(vector: dict[str, Any]) -> None:
    """The first M shares predict every later share of the vector."""
    m = vector["threshold"]
    shares = _shares_of(vector)
    basis = shares[:m]
    for x, y in shares[m:]:
        assert _evaluate_at(basis, x) == y


@pytest.mark.parametrize(
    "vector",
    # Only long secrets: a 1-byte secret is hit by chance with probability 1/256.
    [v for v in VECTORS if v["threshold"] >= 2 and len(v["secret_hex"]) >= 32],
    ids=_vector_id,
)
def test_vector_fewer_than_threshold_shares_miss_secret(vector: dict[str, Any]) -> None:
    secret = bytes.fromhex(vector["secret_hex"])
    m = vector["threshold"]
    shares = _shares_of(vector)
    assert combine(shares[: m - 1]) != secret
    assert combine(shares[-(m - 1) :]) != secret


# --- split / combine round trips ---------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_threshold_shares_rebuild_secret(data: st.DataObject) -> None:
    secret = data.draw(st.binary(min_size=1, max_size=64), label="secret")
    n = data.draw(st.integers(min_value=1, max_value=20), label="shares")
    m = data.draw(st.integers(min_value=1, max_value=n), label="threshold")
    shares = split(secret, n, m)

    assert [x for x, _ in shares] == list(range(1, n + 1))
    assert all(isinstance(y, bytes) and len(y) == len(secret) for _, y in shares)

    chosen = data.draw(st.permutations(shares), label="order")[:m]
    assert combine(chosen) == secret
    assert combine(shares) == secret


@FAST
@given(st.binary(min_size=1, max_size=32), st.integers(min_value=1, max_value=8))
def test_split_output_lies_on_degree_m_minus_1_polynomial(secret: bytes, m: int) -> None:
    n = m + 4
    shares = split(secret, n, m)
    basis = shares[:m]
    for x, y in shares[m:]:
        assert _evaluate_at(basis, x) == y
    assert _evaluate_at(basis, 0xFF) == _evaluate_at(shares[-m:], 0xFF)


def test_threshold_one_shares_equal_secret() -> None:
    secret = bytes(range(32))
    assert split(secret, 1, 1) == [(1, secret)]
    shares = split(secret, 5, 1)
    assert shares == [(x, secret) for x in range(1, 6)]
    assert combine(shares[3:4]) == secret


def test_split_is_randomised() -> None:
    secret = bytes(32)
    first, second = split(secret, 3, 2), split(secret, 3, 2)
    assert first != second
    assert all(y != secret for _, y in first)
    assert combine(first[1:]) == combine(second[:2]) == secret


def test_split_accepts_the_largest_share_count() -> None:
    secret = b"\x42\x00\xff"
    shares = split(secret, MAX_SHARES, 3)
    assert [x for x, _ in shares] == list(range(1, 256))
    assert combine(shares[-3:]) == secret
    assert combine([shares[0], shares[127], shares[254]]) == secret


def test_combine_accepts_bytearray_and_more_than_threshold() -> None:
    secret = b"strongroom root key, 32 bytes.."
    shares = split(secret, 6, 3)
    mutable: list[tuple[int, Any]] = [(x, bytearray(y)) for x, y in shares[:4]]
    assert combine(mutable) == secret


# --- fewer than M shares reveal nothing ------------------------------------------------


@pytest.mark.parametrize(("n", "m"), [(2, 2), (3, 2), (5, 3), (7, 4), (10, 10)])
def test_m_minus_1_shares_fit_every_possible_secret_byte(n: int, m: int) -> None:
    """For any m-1 shares, each candidate secret byte has exactly one completing share.

    Interpolation at 0 is linear in the y of the added point (x0, y0):
    combine(S + [(x0, y0)]) = c XOR y0 * w, with c = combine(S + [(x0, 0)]) and
    w = combine(S + [(x0, 1)]) XOR c, the (non-zero) Lagrange weight of x0. So
    y0 = (v XOR c) / w completes S to secret v, for every v: S pins nothing down.
    """
    secret = b"\x5a"
    known = split(secret, n, m)[: m - 1]
    used = {x for x, _ in known}
    for x0 in (x for x in (m, 200, 255) if x not in used):
        c = combine([*known, (x0, b"\x00")])[0]
        w = combine([*known, (x0, b"\x01")])[0] ^ c
        assert w != 0
        completions = set()
        for v in range(256):
            y0 = _mul(v ^ c, _inv(w))
            assert combine([*known, (x0, bytes([y0]))]) == bytes([v])
            completions.add(y0)
        assert len(completions) == 256  # one distinct completion per candidate secret


@FAST
@given(data=st.data())
def test_m_minus_1_shares_do_not_return_secret(data: st.DataObject) -> None:
    secret = data.draw(st.binary(min_size=32, max_size=32), label="secret")
    n = data.draw(st.integers(min_value=2, max_value=12), label="shares")
    m = data.draw(st.integers(min_value=2, max_value=n), label="threshold")
    shares = split(secret, n, m)
    chosen = data.draw(st.permutations(shares), label="order")[: m - 1]
    # Wrong with probability 2^-256: combine cannot know the threshold.
    assert combine(chosen) != secret


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "shares", "threshold"),
    [
        (b"", 3, 2),  # empty secret
        (b"k", 2, 3),  # fewer shares than the threshold
        (b"k", 0, 0),  # threshold below 1
        (b"k", 3, 0),
        (b"k", 3, -1),
        (b"k", 256, 2),  # more shares than non-zero x-coordinates
        (b"k", 256, 256),
    ],
)
def test_split_rejects_bad_parameters(secret: bytes, shares: int, threshold: int) -> None:
    with pytest.raises(ShareError):
        split(secret, shares, threshold)


@pytest.mark.parametrize(
    "shares",
    [
        [],  # no shares
        [(1, b"\x01\x02"), (1, b"\x03\x04")],  # duplicate x
        [(1, b"\x01\x02"), (2, b"\x03\x04"), (1, b"\x01\x02")],  # duplicate x, same share
        [(0, b"\x01\x02"), (2, b"\x03\x04")],  # x == 0 would be the secret itself
        [(256, b"\x01\x02"), (2, b"\x03\x04")],  # x outside 1..255
        [(-1, b"\x01\x02"), (2, b"\x03\x04")],
        [(1, b"\x01\x02"), (2, b"\x03")],  # y lengths differ
        [(1, b"\x01\x02"), (2, b"\x03\x04\x05")],
        [(1, b""), (2, b"")],  # empty values
        [(1.0, b"\x01\x02"), (2, b"\x03\x04")],  # x not an int
        [(True, b"\x01\x02"), (2, b"\x03\x04")],
        [(1, "0102"), (2, b"\x03\x04")],  # y not bytes
        [(1, b"\x01\x02", 3), (2, b"\x03\x04")],  # not a pair
        [1, 2],
    ],
)
def test_combine_rejects_malformed_shares(shares: Any) -> None:
    with pytest.raises(ShareError):
        combine(shares)


def test_share_error_is_a_crypto_error_and_says_nothing_secret() -> None:
    y = bytes.fromhex("deadbeef")
    with pytest.raises(CryptoError) as info:
        combine([(7, y), (7, y)])
    assert isinstance(info.value, ShareError)
    assert info.value.status == 400
    assert "deadbeef" not in str(info.value).lower()
    assert repr(y) not in str(info.value)
