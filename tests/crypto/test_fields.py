"""The sealed-field format: round trips, context binding, bounds, one opaque error, fuzz."""

from __future__ import annotations

import pickle
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.crypto import field_kdf as k
from strongroom.crypto import fields as f
from strongroom.errors import DecryptionError, FieldError

KEY = bytes(range(32))
CTX = f.Context("crm", "42", "email")
CANARY = b"canary-4c9e-plaintext"


def _cipher(alg: f.Algorithm = f.Algorithm.AES_256_GCM, kdf: k.Kdf = k.RAW) -> f.FieldCipher:
    return f.FieldCipher(KEY, f.Header(alg, "app:crm", 3, kdf))


ALL_KDFS = [k.RAW, k.Pbkdf2(b"s" * 16, 1_000), k.Argon2id(b"s" * 16, 1, 8, 1), k.Hkdf(b"h" * 16)]


@pytest.mark.parametrize("alg", list(f.Algorithm))
@pytest.mark.parametrize("kdf", ALL_KDFS, ids=lambda d: d.name)
@pytest.mark.parametrize("size", [0, 1, 16, 1000, 65_536])
def test_round_trip_in_every_form(alg: f.Algorithm, kdf: k.Kdf, size: int) -> None:
    cipher = _cipher(alg, kdf)
    value = bytes(i % 251 for i in range(size))
    compact = cipher.seal(value, CTX)
    assert compact.startswith("srf1.")
    assert cipher.open(compact, CTX) == value
    sealed = f.parse(compact)
    assert sealed.header == cipher.header
    assert f.parse(sealed.to_json()).to_bytes() == sealed.to_bytes()
    assert cipher.open_bytes(sealed.to_bytes(), CTX) == value
    assert len(sealed.to_bytes()) == len(cipher.header_bytes) + 12 + size + 16


def test_each_seal_draws_a_fresh_nonce() -> None:
    cipher = _cipher()
    nonces = {f.parse(cipher.seal(b"same", CTX)).nonce for _ in range(200)}
    assert len(nonces) == 200


@pytest.mark.parametrize(
    "other",
    [
        f.Context("crm", "43", "email"),
        f.Context("crm", "42", "phone"),
        f.Context("hr", "42", "email"),
        # Boundaries between parts are length-prefixed, so shifting text across them fails.
        f.Context("crm4", "2", "email"),
        f.Context("crm", "42e", "mail"),
    ],
)
def test_a_value_moved_to_another_context_does_not_open(other: f.Context) -> None:
    cipher = _cipher()
    with pytest.raises(DecryptionError):
        cipher.open(cipher.seal(CANARY, CTX), other)


def test_every_single_bit_flip_and_every_truncation_fails() -> None:
    cipher = _cipher(kdf=k.Hkdf(b"h" * 16))
    data = cipher.seal_bytes(b"secret", CTX)
    for i in range(len(data)):
        for bit in (0x01, 0x80):
            changed = bytearray(data)
            changed[i] ^= bit
            with pytest.raises(DecryptionError):
                cipher.open_bytes(bytes(changed), CTX)
            with pytest.raises(DecryptionError):
                f.parse_bytes(bytes(changed)) and cipher.open_bytes(
                    f.parse_bytes(bytes(changed)).to_bytes(), CTX
                )
    for n in range(len(data)):
        with pytest.raises(DecryptionError):
            cipher.open_bytes(data[:n], CTX)


def test_reordered_parts_fail() -> None:
    cipher = _cipher()
    sealed = f.parse(cipher.seal(b"0123456789abcdef0123", CTX))
    body = sealed.ciphertext
    swapped = sealed.header_bytes + sealed.nonce + body[16:] + body[:16]
    with pytest.raises(DecryptionError):
        cipher.open_bytes(swapped, CTX)
    nonce_last = sealed.header_bytes + body + sealed.nonce
    with pytest.raises(DecryptionError):
        cipher.open_bytes(nonce_last, CTX)


def test_a_value_sealed_under_another_key_or_header_does_not_open() -> None:
    mine = _cipher()
    other_key = f.FieldCipher(bytes(32), mine.header)
    other_version = f.FieldCipher(KEY, f.Header(mine.header.alg, "app:crm", 4, k.RAW))
    other_alg = _cipher(f.Algorithm.CHACHA20_POLY1305)
    compact = mine.seal(b"x", CTX)
    for cipher in (other_key, other_version, other_alg):
        with pytest.raises(DecryptionError):
            cipher.open(compact, CTX)


@pytest.mark.parametrize(
    ("build", "rule"),
    [
        (lambda: k.Pbkdf2(b"s" * 16, 0), "iterations"),
        (lambda: k.Pbkdf2(b"s" * 16, 10**12), "iterations"),
        (lambda: k.Pbkdf2(b"s" * 16, 999), "iterations"),
        (lambda: k.Pbkdf2(b"s" * 16, True), "iterations"),
        (lambda: k.Pbkdf2(b"s" * 15), "salt"),
        (lambda: k.Pbkdf2(b"s" * 65), "salt"),
        (lambda: k.Argon2id(b"s" * 16, 0), "time cost"),
        (lambda: k.Argon2id(b"s" * 16, 11), "time cost"),
        (lambda: k.Argon2id(b"s" * 16, 1, 2**30), "memory"),
        (lambda: k.Argon2id(b"s" * 16, 1, 16, 4), "memory"),
        (lambda: k.Argon2id(b"s" * 16, 1, 1024, 17), "parallelism"),
        (lambda: k.Hkdf(b"s" * 10_000), "salt"),
        (lambda: f.Header(f.Algorithm.AES_256_GCM, "", 1, k.RAW), "key id"),
        (lambda: f.Header(f.Algorithm.AES_256_GCM, "a b", 1, k.RAW), "key id"),
        (lambda: f.Header(f.Algorithm.AES_256_GCM, "x" * 65, 1, k.RAW), "key id"),
        (lambda: f.Header(f.Algorithm.AES_256_GCM, "k", -1, k.RAW), "key version"),
        (lambda: f.Header(f.Algorithm.AES_256_GCM, "k", 2**32, k.RAW), "key version"),
        (lambda: f.Context("", "1", "f"), "app"),
        (lambda: f.Context("a", "r" * 256, "f"), "record"),
        (lambda: f.Context("a", "1", "\ud800"), "field"),
        (lambda: f.Context.of({"app": "a", "record": "1"}), "keys"),
        (lambda: f.FieldCipher(b"short", f.Header(f.Algorithm.AES_256_GCM, "k", 1, k.RAW)), "32"),
        (lambda: _cipher().seal(b"x" * (f.MAX_PLAINTEXT + 1), CTX), "at most"),
        (lambda: _cipher().seal("text", CTX), "bytes"),  # type: ignore[arg-type]
        (lambda: _cipher().seal(b"x", {"app": "a"}), "Context"),  # type: ignore[arg-type]
    ],
)
def test_bad_sealing_input_is_a_clear_field_error(build: object, rule: str) -> None:
    with pytest.raises(FieldError) as info:
        build()  # type: ignore[operator]
    assert rule in str(info.value)


def test_the_largest_field_round_trips() -> None:
    cipher = _cipher()
    value = b"\x07" * f.MAX_PLAINTEXT
    assert cipher.open(cipher.seal(value, CTX), CTX) == value


def test_absurd_kdf_parameters_in_a_header_fail_fast() -> None:
    pb = f.FieldCipher(KEY, f.Header(f.Algorithm.AES_256_GCM, "k", 1, k.Pbkdf2(b"s" * 16)))
    sealed = f.parse(pb.seal(b"x", CTX)).to_json()
    start = time.monotonic()
    for iterations in (0, 10**12, 2**32 - 1, -1, "600000", None):
        with pytest.raises(DecryptionError):
            f.parse(dict(sealed, kdf=dict(sealed["kdf"], iterations=iterations)))
    with pytest.raises(DecryptionError):
        f.parse(dict(sealed, kdf=dict(sealed["kdf"], salt="A" * 100_000)))
    with pytest.raises(DecryptionError):
        f.parse("srf1." + "A" * (f.MAX_COMPACT + 1))
    assert time.monotonic() - start < 1.0


def test_errors_and_reprs_never_hold_plaintext_or_keys() -> None:
    cipher = _cipher()
    compact = cipher.seal(CANARY, CTX)
    assert KEY.hex() not in repr(cipher) and str(KEY) not in repr(cipher)
    with pytest.raises(DecryptionError) as info:
        cipher.open(compact, f.Context("crm", "42", "other"))
    text = repr(info.value) + str(info.value) + repr(info.value.__cause__)
    assert CANARY.decode() not in text and "crm" not in text
    with pytest.raises(TypeError):
        pickle.dumps(cipher)


def test_sealed_field_parts_use_only_safe_characters() -> None:
    compact = _cipher().seal(b"\xff" * 300, CTX)
    assert set(compact) <= set(
        "srf1.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_binary_parser_never_crashes(data: bytes) -> None:
    try:
        sealed = f.parse_bytes(data)
    except DecryptionError:
        return
    assert sealed.to_bytes() == data


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_compact_parser_never_crashes(text: str) -> None:
    for candidate in (text, "srf1." + text):
        try:
            sealed = f.parse_compact(candidate)
        except DecryptionError:
            continue
        assert sealed.to_compact() == candidate


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "v": st.sampled_from([1, 2, True, "1"]),
            "alg": st.sampled_from(["AES-256-GCM", "ChaCha20-Poly1305"]) | _json_values,
            "kid": st.just("k") | _json_values,
            "kver": st.just(1) | _json_values,
            "kdf": _json_values
            | st.dictionaries(
                st.sampled_from(["name", "salt", "iterations", "time_cost"]),
                st.sampled_from(["raw", "HKDF-SHA256", "PBKDF2-HMAC-SHA256"]) | _json_values,
            ),
            "nonce": _json_values,
            "ct": _json_values,
        }
    )
)
def test_fuzz_json_parser_never_crashes(value: dict[str, object]) -> None:
    try:
        sealed = f.parse_json(value)
    except DecryptionError:
        return
    assert f.parse_json(sealed.to_json()).to_bytes() == sealed.to_bytes()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=10_000))
def test_fuzz_mutated_sealed_values_never_open(junk: bytes, cut: int) -> None:
    cipher = _cipher()
    data = cipher.seal_bytes(b"value", CTX)
    mutated = data[: cut % (len(data) + 1)] + junk
    if mutated == data:
        return
    with pytest.raises(DecryptionError):
        cipher.open_bytes(mutated, CTX)
