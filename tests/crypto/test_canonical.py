"""Canonical JSON (RFC 8785): ordering, escaping, encoding, and what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.crypto.canonical import canonical_json


def test_literals() -> None:
    assert canonical_json(None) == b"null"
    assert canonical_json(True) == b"true"
    assert canonical_json(False) == b"false"
    assert canonical_json(0) == b"0"
    assert canonical_json(-17) == b"-17"
    assert canonical_json("") == b'""'
    assert canonical_json([]) == b"[]"
    assert canonical_json({}) == b"{}"


def test_booleans_are_not_written_as_integers() -> None:
    assert canonical_json([True, False, 1, 0]) == b"[true,false,1,0]"
    assert canonical_json({"a": True}) == b'{"a":true}'


def test_no_whitespace_and_members_sorted() -> None:
    assert canonical_json({"b": 2, "a": 1, "c": [1, 2, 3]}) == b'{"a":1,"b":2,"c":[1,2,3]}'


def test_nested_structures_are_sorted_at_every_level() -> None:
    value = {
        "z": [{"y": None, "x": [True, {"d": "4", "c": 3}]}, []],
        "a": {"k": {"b": 1, "a": {}}},
    }
    assert canonical_json(value) == (
        b'{"a":{"k":{"a":{},"b":1}},"z":[{"x":[true,{"c":3,"d":"4"}],"y":null},[]]}'
    )


def test_tuples_are_arrays_and_order_of_arrays_is_kept() -> None:
    assert canonical_json((3, 1, 2)) == b"[3,1,2]"
    assert canonical_json({"a": ("b", ["c"])}) == b'{"a":["b",["c"]]}'


def test_output_does_not_depend_on_insertion_order() -> None:
    forward = {str(i): i for i in range(50)}
    backward = dict(reversed(list(forward.items())))
    assert canonical_json(forward) == canonical_json(backward)


def test_rfc8785_sorting_example() -> None:
    """RFC 8785 §3.2.3: members ordered by the UTF-16 code units of their names.

    The emoji U+1F600 is the surrogate pair D83D DE00 in UTF-16, so it sorts *before*
    U+FB33 although its code point is larger (a code-point sort gets this wrong).
    """
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_json(value) == expected.encode("utf-8")


def test_non_bmp_key_sorts_before_high_bmp_key() -> None:
    out = canonical_json({"\ufb33": 1, "\U0001f600": 2})
    assert out == '{"\U0001f600":2,"\ufb33":1}'.encode()
    # A plain code-point sort would have put U+FB33 first.
    assert sorted(["\ufb33", "\U0001f600"]) == ["\ufb33", "\U0001f600"]


def test_keys_are_compared_as_strings_not_as_their_utf8_bytes() -> None:
    # U+FF61 (EF BD A1 in UTF-8) vs U+1F600 (F0 ...): UTF-8 order differs from UTF-16 order.
    out = canonical_json({"\uff61": 1, "\U0001f600": 2})
    assert out == '{"\U0001f600":2,"\uff61":1}'.encode()


def test_prefix_keys_sort_first() -> None:
    assert canonical_json({"ab": 1, "a": 2, "": 3}) == b'{"":3,"a":2,"ab":1}'


_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


@pytest.mark.parametrize("code", range(0x20))
def test_control_characters_are_escaped(code: int) -> None:
    expected = _SHORT_ESCAPES.get(code, f"\\u{code:04x}")
    assert canonical_json(chr(code)) == f'"{expected}"'.encode("ascii")


def test_escape_examples_from_the_brief() -> None:
    assert canonical_json("\u000f") == b'"\\u000f"'
    assert canonical_json("\n") == b'"\\n"'
    assert canonical_json("\u001f") == b'"\\u001f"'


def test_quote_and_backslash_are_escaped_and_nothing_else_is() -> None:
    assert canonical_json('"') == b'"\\""'
    assert canonical_json("\\") == b'"\\\\"'
    assert canonical_json("/") == b'"/"'
    assert canonical_json("\x7f") == b'"\x7f"'
    assert canonical_json("<script>&'") == b'"<script>&\'"'


def test_keys_are_escaped_like_strings() -> None:
    assert canonical_json({"a\nb": 1, 'q"': 2}) == b'{"a\\nb":1,"q\\"":2}'


def test_non_ascii_is_kept_as_utf8() -> None:
    assert canonical_json("\u00e9") == b'"\xc3\xa9"'
    assert canonical_json("\u20ac") == b'"\xe2\x82\xac"'
    assert canonical_json("\U0001f600") == b'"\xf0\x9f\x98\x80"'
    assert canonical_json("\u0080") == b'"\xc2\x80"'
    assert b"\\u" not in canonical_json({"\u00f6": "\u65e5\u672c"})


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(ValueError):
        canonical_json("\ud800")


def test_output_parses_back_to_the_input() -> None:
    value: Any = {"s": '\u0000\t\u00e9\U0001f600\\"', "n": [-(2**53 - 1), 0, 2**53 - 1]}
    assert json.loads(canonical_json(value)) == value


# --- integers ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2**53 - 1, -(2**53 - 1), 2**31, -(2**31), 10**15])
def test_integers_in_the_safe_range(n: int) -> None:
    assert canonical_json(n) == str(n).encode()
    assert canonical_json({"n": [n]}) == f'{{"n":[{n}]}}'.encode()


@pytest.mark.parametrize("n", [2**53, -(2**53), 2**53 + 1, 2**64, -(2**100)])
def test_integers_beyond_the_safe_range_are_refused(n: int) -> None:
    with pytest.raises(ValueError):
        canonical_json(n)
    with pytest.raises(ValueError):
        canonical_json({"a": [1, {"b": n}]})


# --- refused types ----------------------------------------------------------------------


@pytest.mark.parametrize("x", [0.0, 1.0, 1.5, -0.0, 1e300, float("inf"), float("nan")])
def test_floats_are_refused(x: float) -> None:
    with pytest.raises(TypeError):
        canonical_json(x)
    with pytest.raises(TypeError):
        canonical_json({"a": [x]})


@pytest.mark.parametrize("key", [1, 1.5, None, True, b"a", ("a",)])
def test_non_string_keys_are_refused(key: Any) -> None:
    with pytest.raises(TypeError):
        canonical_json({key: 1})
    with pytest.raises(TypeError):
        canonical_json({"ok": {"a": 1, key: 2}})


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, object(), frozenset(), 1j])
def test_other_types_are_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@given(_json_values)
@settings(max_examples=300, deadline=None)
def test_fast_path_equals_the_reference_encoder(value: object) -> None:
    from strongroom.crypto.canonical import _encode

    try:
        reference = _encode(value).encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates: neither path produces bytes
    assert canonical_json(value) == reference
