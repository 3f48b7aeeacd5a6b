"""Property tests: every format round-trips through FPE and keeps its shape; the vault
round-trips any value of any scheme."""

from __future__ import annotations

import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenize_support import Vaulted

from strongroom.crypto.fpe import FF1
from strongroom.errors import FormatError
from strongroom.tokenize import codec, formats
from strongroom.tokenize.engine import fpe
from strongroom.tokenize.keys import PolicyKeys
from strongroom.tokenize.policy import PolicySpec

KEYS = PolicyKeys.derive(1, os.urandom(32))

digits = st.text(string.digits, min_size=1, max_size=40)
cards = st.builds(
    lambda ds, sep: sep.join(ds[i : i + 4] for i in range(0, len(ds), 4)),
    st.text(string.digits, min_size=12, max_size=19),
    st.sampled_from(["", " ", "-"]),
)
ssns = st.from_regex(r"\A[0-9]{3}-[0-9]{2}-[0-9]{4}\Z")
locals_ = st.text(string.ascii_letters + string.digits + ".+_-", min_size=1, max_size=30)
emails = st.builds(
    lambda local, dom: f"{local}@{dom}.com", locals_, st.from_regex(r"\A[a-z]{1,12}\Z")
)
HEX = "0123456789abcdef"


def _spec(fmt: str, cipher: str, keep_last: int, alphabet: str | None = None) -> PolicySpec:
    return PolicySpec(
        name="p", region="eu", scheme="fpe", format=fmt, alphabet=alphabet,
        cipher=cipher, keep_last=keep_last, tweak=os.urandom(8).hex(),
    )  # fmt: skip


def _shape(fmt: formats.Format, value: str) -> list[str | None]:
    spots = set(fmt.positions(value))
    return [None if i in spots else ch for i, ch in enumerate(value)]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["digits", "card", "ssn", "email", "custom"]).flatmap(
        lambda f: st.tuples(
            st.just(f),
            {
                "digits": digits,
                "card": cards,
                "ssn": ssns,
                "email": emails,
                "custom": st.text(HEX, min_size=1, max_size=30),
            }[f],
        )
    ),
    st.sampled_from(["ff1", "ff3-1"]),
    st.integers(0, 4),
)
def test_fpe_round_trips_and_keeps_the_format(
    case: tuple[str, str], cipher: str, keep: int
) -> None:
    name, value = case
    spec = _spec(name, cipher, keep, HEX if name == "custom" else None)
    fmt = spec.value_format
    fmt.check(value)
    [token], errors = fpe(spec, KEYS, [value], encrypt=True)
    enciphered = len(fmt.positions(value)) - keep
    minimum = FF1(bytes(16), fmt.alphabet).min_length
    if enciphered < minimum:
        assert isinstance(errors[0], FormatError)
        return
    if errors:  # FF3-1's maximum length only
        assert cipher == "ff3-1" and "between" in errors[0].detail
        return
    fmt.check(token)
    assert len(token) == len(value) and _shape(fmt, token) == _shape(fmt, value)
    spots = fmt.positions(value)
    if keep:
        assert [token[i] for i in spots[-keep:]] == [value[i] for i in spots[-keep:]]
    [back], errors = fpe(spec, KEYS, [token], encrypt=False)
    assert not errors and back == value


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_vault_round_trips_any_value(vaulted: Vaulted, data: st.DataObject) -> None:
    vault = vaulted.node.vault
    existing = {p.name for p in vault.list_policies(vaulted.call, "props")}
    for name, fields in {
        "text": {"scheme": "opaque", "format": "text"},
        "det": {"scheme": "opaque", "format": "text", "deterministic": True},
        "cards": {"scheme": "fpe", "format": "card", "keep_last": 4},
    }.items():
        if name not in existing:
            vault.create_policy(vaulted.call, "props", {"name": name, "region": "eu", **fields})
    texts = data.draw(
        st.lists(
            st.text(
                st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]),
                min_size=1,
                max_size=50,
            ),
            min_size=1,
            max_size=20,
        )
    )
    for name in ("text", "det"):
        tokens = vault.tokenize(vaulted.call, "props", name, texts)
        back = vault.detokenize(vaulted.call, lambda _: True, "props", name, tokens, "property")
        assert [r.value for r in back] == texts
        if name == "det":
            assert len(set(tokens)) == len(set(texts))
    numbers = data.draw(st.lists(cards, min_size=1, max_size=10))
    tokens = vault.tokenize(vaulted.call, "props", "cards", numbers)
    assert [len(t) for t in tokens] == [len(n) for n in numbers]
    back = vault.detokenize(vaulted.call, lambda _: True, "props", "cards", tokens, "property")
    assert [r.value for r in back] == numbers


@pytest.mark.parametrize(
    ("fmt", "value", "masked"),
    [
        ("card", "4242424242424242", "****-****-****-4242"),
        ("card", "4242 4242 4242 4242", "****-****-****-4242"),
        ("ssn", "123-45-6789", "***-**-6789"),
        ("email", "jane.doe@example.com", "j***@example.com"),
        ("digits", "12345678", "****5678"),
        ("digits", "123456", "***456"),
        ("text", "secret", "***ret"),
    ],
)
def test_masks(fmt: str, value: str, masked: str) -> None:
    assert formats.get(fmt).mask(value, 4) == masked


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["digits", "card"]),
    st.lists(st.one_of(digits, cards, st.text(max_size=25), st.just("")), max_size=8),
)
def test_check_all_only_passes_batches_that_check_passes(name: str, values: list[str]) -> None:
    fmt = formats.get(name)
    passed = True
    for value in values:
        try:
            fmt.check(value)
        except FormatError:
            passed = False
    if fmt.check_all(values):
        assert passed and values
    if passed and values and all(v.isascii() and v.isdigit() for v in values):
        assert fmt.check_all(values)


@settings(max_examples=60, deadline=None)
@given(st.lists(cards, min_size=1, max_size=12), st.integers(0, 4))
def test_fpe_batches_equal_ff1_of_each_value(values: list[str], keep: int) -> None:
    """A batch (one shape or mixed) gives what FF1 gives for each value on its own."""
    spec = _spec("card", "ff1", keep)
    fmt = spec.value_format
    cipher = FF1(KEYS.fpe, fmt.alphabet)
    tweak = bytes.fromhex(spec.tweak)
    expected = []
    for value in values:
        spots = fmt.positions(value)[: len(fmt.positions(value)) - keep]
        head = cipher.encrypt("".join(value[p] for p in spots), tweak)
        chars = list(value)
        for p, ch in zip(spots, head, strict=True):
            chars[p] = ch
        expected.append("".join(chars))
    tokens, errors = fpe(spec, KEYS, values, encrypt=True)
    assert not errors and tokens == expected
    back, errors = fpe(spec, KEYS, tokens, encrypt=False)
    assert not errors and back == values
    plain = [v.replace(" ", "").replace("-", "") for v in values]
    uniform = [p[:12] for p in plain]  # one shape: the batch path
    tokens, errors = fpe(spec, KEYS, uniform, encrypt=True)
    cut = 12 - keep
    assert not errors
    assert tokens == [cipher.encrypt(u[:cut], tweak) + u[cut:] for u in uniform]


def test_encode_many_equals_encode() -> None:
    refs = codec.new_refs(50)
    tokens = codec.encode_many(KEYS.tag, "eu", refs)
    assert tokens == [codec.encode(KEYS.tag, "eu", r) for r in refs]
    assert [codec.decode(KEYS.tag, t) for t in tokens] == refs
    assert codec.encode_many(KEYS.tag, "eu", []) == []
    assert KEYS.index_many(b"p\x00", [b"a", b"b"], 16) == [
        KEYS.index_of(b"p\x00a")[:16],
        KEYS.index_of(b"p\x00b")[:16],
    ]
