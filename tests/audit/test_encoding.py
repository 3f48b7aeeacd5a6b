"""The fast encoding of audit events gives exactly the canonical bytes and column text."""

from __future__ import annotations

import json
from json import encoder as json_encoder

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import Ready

from strongroom.audit import events, identifiers
from strongroom.audit.events import AuditRecord
from strongroom.call import Call
from strongroom.clock import rfc3339
from strongroom.crypto.canonical import canonical_json
from strongroom.errors import SealedError

_text = st.text(
    st.characters(blacklist_categories=("Cs",)) | st.sampled_from(["\x7f", "\x00", '"', "\\"]),
    max_size=12,
)
_scalar = st.none() | st.booleans() | st.integers(-(2**60), 2**60) | _text
_value = _scalar | st.lists(_text, max_size=4) | st.lists(_scalar, max_size=3)
_details = st.dictionaries(_text, _value, max_size=5)
_times = st.integers(-(2**62), 2**62) | st.integers(0, 2**51 + 10**9)


def _reference(record: AuditRecord) -> tuple[bytes, str]:
    """What the encoding was before the fast path: the RFC 8785 encoder, json.dumps."""
    detail = json.dumps(record.detail, sort_keys=True, separators=(",", ":"))
    return canonical_json(record.as_json()), detail


@given(_details, _times, _text, _text)
def test_fast_encoding_matches_the_canonical_encoder(
    detail: events.Detail, time_us: int, actor: str, resource: str
) -> None:
    if not -62135596800_000_000 <= time_us <= 253402300799_000_000:
        time_us = 1_767_225_600_000_000  # datetime's range; rfc3339 refuses the rest
    record = AuditRecord(time_us, "rid", actor, "x.y", resource, "denied", detail)
    try:
        expected = _reference(record)
    except (ValueError, TypeError):
        expected = None
    if expected is None:
        try:
            record.entry_bytes()
            record.detail_json()
        except (ValueError, TypeError):
            return
        raise AssertionError("the fast path encoded what the canonical encoder refuses")
    if len(expected[1].encode()) > events.MAX_DETAIL_BYTES:
        return
    assert (record.entry_bytes(), record.detail_json()) == expected


@given(_times)
def test_time_text_matches_rfc3339(time_us: int) -> None:
    if not -62135596800_000_000 <= time_us <= 253402300799_000_000:
        return
    assert events._time_text(time_us) == rfc3339(time_us)


def test_time_text_at_the_edges() -> None:
    for t in (0, 1, 999_999, 1_000_000, 1_767_225_599_999_999, (1 << 51) - 1, 1 << 51):
        assert events._time_text(t) == rfc3339(t)
        assert events._time_text(t + 7) == rfc3339(t + 7)  # the cached second reused


def test_an_oversized_detail_is_refused() -> None:
    record = AuditRecord(1, "r", "a", "x", "r", "success", {"s": "x" * events.MAX_DETAIL_BYTES})
    for method in (record.entry_bytes, record.detail_json):
        try:
            method()
        except ValueError:
            continue
        raise AssertionError("an oversized detail was accepted")


@given(_details)
def test_the_detail_encoder_agrees_with_or_without_the_c_encoder(detail: events.Detail) -> None:
    if not events._plain_detail(detail):
        return
    fast = events._plain_encoder()
    original = json_encoder.c_make_encoder
    json_encoder.c_make_encoder = None  # as on an interpreter without it
    try:
        fallback = events._plain_encoder()
    finally:
        json_encoder.c_make_encoder = original
    assert fallback == events._PLAIN.encode
    assert (
        fast(detail)
        == fallback(detail)
        == json.dumps(detail, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    )


@given(st.text(max_size=40) | st.text(st.characters(max_codepoint=127), max_size=40))
def test_bounded_text_is_clean_and_fits(text: str) -> None:
    for limit in (5, 40):
        out = events.bounded(text, limit)
        assert len(out) <= limit
        assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in out)
        out.encode("utf-8")  # no unpaired surrogates left
        if len(text) <= limit and text.isascii() and text.isprintable():
            assert out == text


def test_a_hidden_identifier_follows_the_audit_key_in_use(ready: Ready) -> None:
    node = ready.node
    one = identifiers.hide(node.keyring(), "alice@example.test")
    assert identifiers.hide(node.keyring(), "alice@example.test") == one  # from the cache
    node.rotate_key(Call("t-rotate", "root"), identifiers.PURPOSE)
    rotated = identifiers.hide(node.keyring(), "alice@example.test")
    assert rotated != one  # a new audit key: a new HMAC
    assert identifiers.candidates(node.keyring(), "alice@example.test") == [rotated, one]
    keyring = node.keyring()
    node.seal(Call("t-seal", "root"))
    with pytest.raises(SealedError):
        identifiers.hide(keyring, "alice@example.test")  # never from the cache once sealed
