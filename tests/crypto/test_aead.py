"""The AEAD recipe: envelope layout, round trips, and one opaque error for every failure."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.crypto import aead
from strongroom.errors import CryptoError, DecryptionError

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
AAD = b"strongroom/test\x00secrets/crm/api-key"
PLAINTEXT = b"the quick brown fox jumps over the lazy dog"


def _sealed(plaintext: bytes = PLAINTEXT, *, version: int = 7) -> bytes:
    return aead.encrypt(KEY, plaintext, AAD, key_version=version)


def _failure(key: bytes, blob: bytes, aad: bytes) -> DecryptionError:
    with pytest.raises(DecryptionError) as info:
        aead.decrypt(key, blob, aad)
    return info.value


# --- layout and round trip -------------------------------------------------------------


def test_overhead_is_header_nonce_and_tag() -> None:
    assert aead.HEADER_BYTES == 5
    assert aead.OVERHEAD == 5 + 12 + 16


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000, 65_537])
def test_round_trip(size: int) -> None:
    plaintext = bytes((i * 31 + 7) % 256 for i in range(size))
    blob = aead.encrypt(KEY, plaintext, AAD, key_version=3)
    assert len(blob) == size + aead.OVERHEAD
    assert aead.decrypt(KEY, blob, AAD) == plaintext


def test_empty_plaintext_round_trips_and_is_still_authenticated() -> None:
    blob = _sealed(b"")
    assert len(blob) == aead.OVERHEAD
    assert aead.decrypt(KEY, blob, AAD) == b""
    _failure(KEY, blob, AAD + b"x")
    _failure(OTHER_KEY, blob, AAD)


def test_empty_associated_data_is_its_own_context() -> None:
    blob = aead.encrypt(KEY, PLAINTEXT, b"", key_version=1)
    assert aead.decrypt(KEY, blob, b"") == PLAINTEXT
    _failure(KEY, blob, b"\x00")


def test_header_layout_is_format_byte_then_big_endian_version() -> None:
    blob = aead.encrypt(KEY, PLAINTEXT, AAD, key_version=0x01020304)
    assert blob[0] == 0x01
    assert blob[1:5] == b"\x01\x02\x03\x04"
    assert PLAINTEXT not in blob


def test_blob_opens_with_independent_aes_gcm_binding_the_header() -> None:
    """The documented layout, checked with the primitive directly: header ‖ AAD is bound."""
    blob = _sealed()
    header, nonce, body = blob[:5], blob[5:17], blob[17:]
    assert AESGCM(KEY).decrypt(nonce, body, header + AAD) == PLAINTEXT


def test_blob_built_independently_opens() -> None:
    header = struct.pack(">BI", 1, 42)
    nonce = bytes(12)
    blob = header + nonce + AESGCM(KEY).encrypt(nonce, PLAINTEXT, header + AAD)
    assert aead.key_version(blob) == 42
    assert aead.decrypt(KEY, blob, AAD) == PLAINTEXT


def test_nonces_are_fresh_each_time() -> None:
    blobs = {_sealed() for _ in range(50)}
    assert len(blobs) == 50
    assert len({b[5:17] for b in blobs}) == 50


def test_generate_key_is_32_random_bytes() -> None:
    keys = {aead.generate_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(len(k) == 32 for k in keys)


# --- key_version ------------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1, 2, 255, 256, 65_536, 2**31, 2**32 - 1])
def test_key_version_is_read_back(version: int) -> None:
    blob = aead.encrypt(KEY, PLAINTEXT, AAD, key_version=version)
    assert aead.key_version(blob) == version
    assert aead.decrypt(KEY, blob, AAD) == PLAINTEXT


@pytest.mark.parametrize("version", [-1, 2**32, 2**40])
def test_key_version_out_of_range_is_refused_at_encrypt(version: int) -> None:
    with pytest.raises(ValueError):
        aead.encrypt(KEY, PLAINTEXT, AAD, key_version=version)


def test_key_version_refuses_short_or_unknown_blobs() -> None:
    blob = _sealed()
    for length in range(aead.OVERHEAD):
        with pytest.raises(DecryptionError):
            aead.key_version(blob[:length])
    for marker in (0x00, 0x02, 0x80, 0xFF):
        with pytest.raises(DecryptionError):
            aead.key_version(bytes([marker]) + blob[1:])


# --- keys -------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 16, 24, 31, 33, 64])
def test_encrypt_refuses_a_key_of_the_wrong_size(length: int) -> None:
    with pytest.raises(ValueError):
        aead.encrypt(b"k" * length, PLAINTEXT, AAD, key_version=1)


@pytest.mark.parametrize("length", [0, 16, 24, 31, 33])
def test_decrypt_with_a_key_of_the_wrong_size_is_a_decryption_error(length: int) -> None:
    _failure(KEY[:length] if length <= 32 else KEY + b"x", _sealed(), AAD)


def test_wrong_key_fails() -> None:
    _failure(OTHER_KEY, _sealed(), AAD)


# --- tampering --------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_changing_any_single_byte_fails(mask: int) -> None:
    blob = _sealed()
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= mask
        _failure(KEY, bytes(tampered), AAD)


def test_changing_any_byte_of_an_empty_plaintext_blob_fails() -> None:
    blob = _sealed(b"")
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        _failure(KEY, bytes(tampered), AAD)


def test_wrong_associated_data_fails() -> None:
    blob = _sealed()
    for aad in (b"", AAD[:-1], AAD + b"\x00", AAD.upper(), b"x" + AAD[1:]):
        _failure(KEY, blob, aad)


def test_the_key_version_cannot_be_relabelled() -> None:
    blob = _sealed(version=1)
    relabelled = blob[:1] + struct.pack(">I", 2) + blob[5:]
    assert aead.key_version(relabelled) == 2
    _failure(KEY, relabelled, AAD)


def test_every_truncation_below_the_overhead_fails() -> None:
    blob = _sealed()
    for length in range(aead.OVERHEAD):
        _failure(KEY, blob[:length], AAD)


def test_every_truncation_of_a_whole_blob_fails() -> None:
    blob = _sealed()
    for length in range(len(blob)):
        _failure(KEY, blob[:length], AAD)


def test_appended_bytes_fail() -> None:
    blob = _sealed()
    _failure(KEY, blob + b"\x00", AAD)
    _failure(KEY, blob + blob, AAD)


@pytest.mark.parametrize("marker", [0x00, 0x02, 0x7F, 0x80, 0xFF])
def test_unknown_format_byte_fails(marker: int) -> None:
    blob = _sealed()
    _failure(KEY, bytes([marker]) + blob[1:], AAD)


def test_blob_swapped_between_contexts_fails() -> None:
    a = aead.encrypt(KEY, b"alpha", b"path/a", key_version=1)
    b = aead.encrypt(KEY, b"bravo", b"path/b", key_version=1)
    _failure(KEY, a, b"path/b")
    _failure(KEY, b, b"path/a")
    # Splicing one blob's ciphertext onto another's nonce fails too.
    _failure(KEY, a[:17] + b[17:], b"path/a")


# --- one opaque error -------------------------------------------------------------------


def test_every_failure_raises_the_same_message() -> None:
    blob = _sealed()
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    failures = [
        _failure(OTHER_KEY, blob, AAD),
        _failure(KEY, blob, b"other"),
        _failure(KEY, bytes(tampered), AAD),
        _failure(KEY, blob[:10], AAD),
        _failure(KEY, b"", AAD),
        _failure(KEY, b"\x02" + blob[1:], AAD),
        _failure(KEY[:16], blob, AAD),
        _failure(KEY, blob + b"x", AAD),
    ]
    assert {str(e) for e in failures} == {"Decryption failed."}
    assert {e.detail for e in failures} == {"Decryption failed."}
    assert {repr(e) for e in failures} == {"DecryptionError('Decryption failed.')"}
    for error in failures:
        assert isinstance(error, CryptoError)
        assert error.__cause__ is None
        assert error.__suppress_context__ or error.__context__ is None


def test_decryption_error_ignores_a_detail_it_is_given() -> None:
    assert str(DecryptionError("tag mismatch at byte 7")) == "Decryption failed."
