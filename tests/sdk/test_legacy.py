"""Legacy records from the source document's raw Web Crypto recipe: open and upgrade."""

from __future__ import annotations

import base64
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsinterop import legacy_record

from strongroom.crypto import legacy_fields
from strongroom.sdk import (
    DecryptionError,
    FieldKey,
    is_legacy,
    new_raw_key,
    open_legacy,
    upgrade_legacy,
)

PASSPHRASE = "canary-legacy-pass"
CTX = {"app": "crm", "record": "42", "field": "email"}


@pytest.mark.parametrize("value", ["", "alice@example.com", "Zoë 東京 🗝️"])
def test_open_with_the_default_100000_iterations(value: str) -> None:
    record = legacy_record(value, PASSPHRASE)
    assert is_legacy(record)
    assert open_legacy(record, PASSPHRASE) == value


def test_open_with_given_iterations_only_when_they_match() -> None:
    record = legacy_record("v", PASSPHRASE, 20_000)
    assert open_legacy(record, PASSPHRASE, iterations=20_000) == "v"
    with pytest.raises(DecryptionError):
        open_legacy(record, PASSPHRASE)


def test_upgrade_binds_the_value_to_its_context() -> None:
    record = legacy_record("Zoë", PASSPHRASE)
    key = FieldKey.from_app_key(new_raw_key(), key_id="app:crm")
    sealed = upgrade_legacy(record, PASSPHRASE, key=key, context=CTX)
    assert sealed.startswith("srf1.")
    assert key.open(sealed, CTX) == "Zoë"
    with pytest.raises(DecryptionError):
        key.open(sealed, dict(CTX, record="43"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    "change",
    [
        lambda r: dict(r, ct=_b64(base64.b64decode(r["ct"])[:-1])),
        lambda r: dict(
            r, ct=_b64(bytes([base64.b64decode(r["ct"])[0] ^ 1]) + base64.b64decode(r["ct"])[1:])
        ),
        lambda r: dict(r, iv=_b64(bytes(12))),
        lambda r: dict(r, iv=_b64(bytes(16))),
        lambda r: dict(r, salt=_b64(bytes(4))),
        lambda r: dict(r, salt=_b64(bytes(10_000))),
        lambda r: dict(r, ct=r["ct"] + "!"),
        lambda r: dict(r, ct=r["ct"].rstrip("=")),
        lambda r: dict(r, ct=None),
        lambda r: dict(r, extra="x"),
        lambda r: {"ct": r["ct"], "iv": r["iv"]},
        lambda r: [r],
    ],
)
def test_damaged_records_fail_with_the_one_opaque_error(change: object) -> None:
    record = legacy_record("canary-legacy-value", PASSPHRASE)
    with pytest.raises(DecryptionError) as info:
        open_legacy(change(record), PASSPHRASE)  # type: ignore[operator]
    assert "canary" not in repr(info.value)


@pytest.mark.parametrize("iterations", [0, -1, 999, 2_000_001, 10**12])
def test_absurd_iterations_fail_fast(iterations: int) -> None:
    record = legacy_record("v", PASSPHRASE)
    start = time.monotonic()
    with pytest.raises(DecryptionError):
        open_legacy(record, PASSPHRASE, iterations=iterations)
    assert time.monotonic() - start < 0.5


def test_wrong_passphrase_fails() -> None:
    with pytest.raises(DecryptionError):
        open_legacy(legacy_record("v", PASSPHRASE), "not it")
    assert not legacy_fields.is_legacy({"ct": "", "iv": ""})


_parts = st.one_of(st.text(max_size=40), st.none(), st.integers(), st.binary(max_size=40))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["ct", "iv", "salt", "x"]), _parts, max_size=4))
def test_fuzz_legacy_parser_never_crashes(record: dict[str, object]) -> None:
    with pytest.raises(DecryptionError):
        open_legacy(record, PASSPHRASE)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=16, max_size=80), st.binary(min_size=12, max_size=12))
def test_fuzz_well_formed_but_forged_records_never_open(ct: bytes, iv: bytes) -> None:
    record = {"ct": _b64(ct), "iv": _b64(iv), "salt": _b64(b"s" * 16)}
    with pytest.raises(DecryptionError):
        open_legacy(record, PASSPHRASE, iterations=1_000)
