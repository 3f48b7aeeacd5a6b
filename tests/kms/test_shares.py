"""The printable key share: round trip, typing tolerance, typo detection, no leaks."""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import pickle

import pytest

from strongroom.errors import ShareError
from strongroom.kms import shares
from strongroom.kms.shares import Share

BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
SET_ID = bytes.fromhex("0123456789abcdef")
Y = bytes(range(100, 132))
SHARE = Share(set_id=SET_ID, threshold=3, x=2, y=Y)


def _text(share: Share = SHARE) -> str:
    return shares.encode(share)


def _refused(text: str) -> ShareError:
    with pytest.raises(ShareError) as info:
        shares.decode(text)
    _assert_no_leak(info.value, text)
    return info.value


def _assert_no_leak(error: ShareError, text: str) -> None:
    message = f"{error} {error!r} {error.detail} {error.extra}".lower()
    body = "".join(text.split()).lower().removeprefix(shares.PREFIX)
    # No run of 8 characters of the share body shows in the message.
    for start in range(max(0, len(body) - 7)):
        assert body[start : start + 8] not in message
    assert Y.hex() not in message


def test_leak_check_catches_an_echoed_share() -> None:
    text = _text()
    with pytest.raises(AssertionError):
        _assert_no_leak(ShareError(f"bad share near {_body(text)[20:30]}"), text)


def _body(text: str) -> str:
    return text.removeprefix(shares.PREFIX)


# --- round trip -------------------------------------------------------------------------


def test_encode_layout_matches_the_documented_format() -> None:
    text = _text()
    assert text.startswith("srs1-")
    assert text == text.lower()
    assert "=" not in text
    payload = _body(text).upper()
    raw = base64.b32decode(payload + "=" * (-len(payload) % 8))
    body, check = raw[:-4], raw[-4:]
    assert body == b"\x01" + SET_ID + bytes([3, 2]) + Y
    assert check == hashlib.sha256(body).digest()[:4]


def test_round_trip() -> None:
    assert shares.decode(_text()) == SHARE


@pytest.mark.parametrize(
    ("threshold", "x", "y_len"), [(1, 1, 32), (3, 5, 32), (32, 32, 32), (255, 255, 1), (2, 7, 64)]
)
def test_round_trip_of_varied_shares(threshold: int, x: int, y_len: int) -> None:
    share = Share(os.urandom(8), threshold, x, os.urandom(y_len))
    decoded = shares.decode(shares.encode(share))
    assert decoded == share
    assert (decoded.set_id, decoded.threshold, decoded.x, decoded.y) == (
        share.set_id,
        share.threshold,
        share.x,
        share.y,
    )


def test_random_round_trips() -> None:
    for _ in range(200):
        share = Share(
            os.urandom(8), 1 + os.urandom(1)[0] % 32, 1 + os.urandom(1)[0] % 32, os.urandom(32)
        )
        assert shares.decode(shares.encode(share)) == share


# --- typing tolerance -------------------------------------------------------------------


def test_upper_case_is_accepted() -> None:
    assert shares.decode(_text().upper()) == SHARE


def test_mixed_case_is_accepted() -> None:
    text = "".join(c.upper() if i % 2 else c for i, c in enumerate(_text()))
    assert shares.decode(text) == SHARE


@pytest.mark.parametrize("sep", [" ", "\n", "\t", "\r\n", "  \n "])
def test_whitespace_anywhere_is_ignored(sep: str) -> None:
    text = _text()
    grouped = sep.join(text[i : i + 4] for i in range(0, len(text), 4))
    assert shares.decode(grouped) == SHARE
    assert shares.decode(f"{sep}{text}{sep}") == SHARE


def test_whitespace_inside_the_prefix_is_ignored() -> None:
    text = _text()
    assert shares.decode("s r s 1 -" + _body(text)) == SHARE


# --- typos ------------------------------------------------------------------------------


def test_every_single_character_substitution_in_the_body_is_caught() -> None:
    text = _text()
    body = _body(text)
    for index, original in enumerate(body):
        for replacement in BASE32:
            if replacement == original:
                continue
            typo = shares.PREFIX + body[:index] + replacement + body[index + 1 :]
            _refused(typo)


def test_every_substitution_is_caught_for_random_shares() -> None:
    for _ in range(5):
        text = shares.encode(Share(os.urandom(8), 3, 4, os.urandom(32)))
        body = _body(text)
        for index, original in enumerate(body):
            replacement = BASE32[(BASE32.index(original) + 1 + index) % 32]
            if replacement == original:
                continue
            _refused(shares.PREFIX + body[:index] + replacement + body[index + 1 :])


@pytest.mark.parametrize("bad", ["0", "1", "8", "9", "!", "-", "=", "\u00e9"])
def test_characters_outside_base32_are_refused(bad: str) -> None:
    body = _body(_text())
    for index in (0, len(body) // 2, len(body) - 1):
        _refused(shares.PREFIX + body[:index] + bad + body[index + 1 :])


def test_every_deleted_character_is_caught() -> None:
    body = _body(_text())
    for index in range(len(body)):
        _refused(shares.PREFIX + body[:index] + body[index + 1 :])


def test_every_inserted_character_is_caught() -> None:
    body = _body(_text())
    for index in range(len(body) + 1):
        _refused(shares.PREFIX + body[:index] + "a" + body[index:])


def test_every_adjacent_transposition_is_caught() -> None:
    body = _body(_text())
    for index in range(len(body) - 1):
        if body[index] == body[index + 1]:
            continue
        swapped = body[:index] + body[index + 1] + body[index] + body[index + 2 :]
        _refused(shares.PREFIX + swapped)


def test_every_truncation_is_caught() -> None:
    text = _text()
    for length in range(len(text)):
        _refused(text[:length])


def test_empty_and_blank_are_refused() -> None:
    for text in ("", " ", "\n\t", shares.PREFIX, shares.PREFIX + "  "):
        _refused(text)


@pytest.mark.parametrize("prefix", ["", "srs2-", "srs1", "srs1_", "srr1-", "xrs1-", "srs-1-"])
def test_wrong_prefix_is_refused(prefix: str) -> None:
    error = _refused(prefix + _body(_text()))
    assert "srs1-" in str(error)


def test_prefix_repeated_is_refused() -> None:
    _refused(shares.PREFIX + _text())


# --- well-formed text, wrong contents ---------------------------------------------------


def _encode_raw(body: bytes) -> str:
    check = hashlib.sha256(body).digest()[:4]
    return shares.PREFIX + base64.b32encode(body + check).decode().rstrip("=").lower()


def test_unknown_version_is_refused_even_with_a_good_checksum() -> None:
    for version in (0x00, 0x02, 0xFF):
        _refused(_encode_raw(bytes([version]) + SET_ID + bytes([3, 2]) + Y))


def test_zero_threshold_or_zero_index_is_refused() -> None:
    _refused(shares.encode(Share(SET_ID, 0, 2, Y)))
    _refused(shares.encode(Share(SET_ID, 3, 0, Y)))


def test_body_too_short_to_hold_a_share_is_refused() -> None:
    _refused(_encode_raw(b"\x01" + SET_ID + bytes([3, 2])))
    _refused(_encode_raw(b""))


def test_appended_valid_base32_is_refused() -> None:
    _refused(_text() + "aaaaaaaa")


# --- the Share object -------------------------------------------------------------------


def test_repr_hides_y() -> None:
    shown = repr(SHARE) + str(SHARE)
    assert "y=" not in shown
    assert Y.hex() not in shown
    assert repr(Y) not in shown
    assert repr(Y)[2:-1] not in shown
    assert "x=2" in shown
    assert "threshold=3" in shown


def test_pickling_raises() -> None:
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(SHARE, protocol=protocol)


def test_copying_raises() -> None:
    with pytest.raises(TypeError):
        copy.copy(SHARE)
    with pytest.raises(TypeError):
        copy.deepcopy(SHARE)


def test_share_is_immutable() -> None:
    with pytest.raises(AttributeError):
        SHARE.y = b"x"  # type: ignore[misc]
