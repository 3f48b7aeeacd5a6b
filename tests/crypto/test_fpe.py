"""FF1 and FF3-1 format-preserving encryption: published vectors, properties, validation.

Vectors: the NIST FF1 samples and FF3-1 vectors in ``tests/vectors/fpe/`` (sources in
PROVENANCE.md there), and the Wycheproof AES-FF1 files read in place from
``../shared/vectors/wycheproof/``. Every vector goes through the one-value path
(`encrypt`/`decrypt`) and the batched path (`encrypt_many`/`decrypt_many`).
"""

from __future__ import annotations

import copy
import json
import pickle
import random
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.crypto.fpe import (
    FF1,
    FF3_1,
    _Ecb,
    _ff1_decrypt,
    _ff1_encrypt,
    _Ff1Plan,
)
from strongroom.errors import CryptoError, FormatError

FPE_VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "fpe"
WYCHEPROOF = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "wycheproof"

KEY = bytes(range(32))
DIGITS = "0123456789"
BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# A stand-in alphabet for vectors given as numeral values: CJK ideographs, so that nothing
# about it resembles the digits int() knows.
IDEOGRAPHS = 0x4E00

FAST = settings(max_examples=60, deadline=None)


# --- loading ---------------------------------------------------------------------------


def _load(name: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((FPE_VECTORS / name).read_text("ascii"))["vectors"]
    return vectors


def _case(vector: dict[str, Any]) -> tuple[bytes, str, bytes, str, str]:
    """(key, alphabet, tweak, plaintext, ciphertext) of a vector, in either of its forms."""
    key = bytes.fromhex(vector["key"])
    tweak = bytes.fromhex(vector["tweak"])
    if "alphabet" in vector:
        return key, vector["alphabet"], tweak, vector["plaintext"], vector["ciphertext"]
    alphabet = "".join(chr(IDEOGRAPHS + i) for i in range(vector["radix"]))
    plaintext = "".join(alphabet[d] for d in vector["plaintext_digits"])
    ciphertext = "".join(alphabet[d] for d in vector["ciphertext_digits"])
    return key, alphabet, tweak, plaintext, ciphertext


FF1_VECTORS = _load("nist_ff1.json")
FF3_VECTORS = _load("ff3_1.json")


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [f"{v['source']}:{v['id']}:{v['cipher']}" for v in vectors]


# --- NIST SP 800-38G FF1 samples ------------------------------------------------------


def test_all_nine_nist_ff1_samples_are_present() -> None:
    nist = [v for v in FF1_VECTORS if v["source"] == "nist"]
    assert [v["id"] for v in nist] == [f"Sample #{i}" for i in range(1, 10)]
    assert Counter(v["cipher"] for v in nist) == {"AES-128": 3, "AES-192": 3, "AES-256": 3}


@pytest.mark.parametrize("vector", FF1_VECTORS, ids=_ids(FF1_VECTORS))
def test_ff1_vector_one_at_a_time(vector: dict[str, Any]) -> None:
    key, alphabet, tweak, plaintext, ciphertext = _case(vector)
    cipher = FF1(key, alphabet)
    assert cipher.encrypt(plaintext, tweak) == ciphertext
    assert cipher.decrypt(ciphertext, tweak) == plaintext


@pytest.mark.parametrize("vector", FF1_VECTORS, ids=_ids(FF1_VECTORS))
def test_ff1_vector_batched(vector: dict[str, Any]) -> None:
    key, alphabet, tweak, plaintext, ciphertext = _case(vector)
    cipher = FF1(key, alphabet)
    assert cipher.encrypt_many([plaintext] * 3, tweak) == [ciphertext] * 3
    assert cipher.decrypt_many([ciphertext] * 3, tweak) == [plaintext] * 3


# --- FF3-1 ------------------------------------------------------------------------------


def test_ff3_1_vector_sources() -> None:
    assert Counter(v["source"] for v in FF3_VECTORS) == {
        "acvp-draft (via mysto/python-fpe)": 18,
        "bouncycastle": 6,
    }
    assert {len(bytes.fromhex(v["tweak"])) for v in FF3_VECTORS} == {7}


@pytest.mark.parametrize("vector", FF3_VECTORS, ids=_ids(FF3_VECTORS))
def test_ff3_1_vector(vector: dict[str, Any]) -> None:
    key, alphabet, tweak, plaintext, ciphertext = _case(vector)
    cipher = FF3_1(key, alphabet)
    assert cipher.encrypt(plaintext, tweak) == ciphertext
    assert cipher.decrypt(ciphertext, tweak) == plaintext


# --- Wycheproof AES-FF1 -----------------------------------------------------------------

# Radix 26 runs over a-z, so the translation to int()'s digits is exercised too.
WYCHEPROOF_ALPHABETS = {
    10: DIGITS,
    26: "abcdefghijklmnopqrstuvwxyz",
    36: BASE62[:36],
    62: BASE62,
}
KNOWN_FLAGS = {
    "EdgeCasePrf",
    "EdgeCaseState",
    "NormalMessageSize",
    "LargeMessageSize",
    "SmallMessageSize",
    "InvalidMessageSize",
    "InvalidPlaintext",
    "InvalidKeySize",
}


def _wycheproof(radix: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    data = json.loads((WYCHEPROOF / f"aes_ff1_radix{radix}_test.json").read_text("utf-8"))
    assert data["algorithm"] == "AES-FF1"
    cases = [(group, test) for group in data["testGroups"] for test in group["tests"]]
    assert len(cases) == data["numberOfTests"]
    for group, _ in cases:
        assert group["type"] == "FpeListTest"
        assert group["radix"] == radix
    return cases


def _numerals(alphabet: str, digits: list[int]) -> str:
    """Digits as text; a digit outside the radix becomes a character outside the alphabet."""
    return "".join(alphabet[d] if 0 <= d < len(alphabet) else "\N{SECTION SIGN}" for d in digits)


def _core_encrypt(key: bytes, radix: int, tweak: bytes, digits: list[int]) -> list[int]:
    """FF1 with no domain check at all: the Feistel rounds alone, on numeral values."""
    update = _Ecb(key).updater()
    plan = _Ff1Plan(update, radix, len(digits), tweak)
    value = 0
    for digit in digits:
        value = value * radix + digit
    a, b = divmod(value, plan.mod_v)
    (a,), (b,) = _ff1_encrypt(update, plan, [a], [b])
    value = a * plan.mod_v + b
    out = []
    for _ in digits:
        value, digit = divmod(value, radix)
        out.append(digit)
    return out[::-1]


@pytest.mark.parametrize("path", ["one-at-a-time", "batched"])
@pytest.mark.parametrize("radix", sorted(WYCHEPROOF_ALPHABETS))
def test_wycheproof_ff1(radix: int, path: str) -> None:
    """Every valid test matches; every invalid one raises FormatError.

    ``SmallMessageSize`` tests are "valid" in Wycheproof (legacy): radix ** n lies between
    the original minimum of 100 and Rev. 1's 1,000,000. We follow Rev. 1 and refuse them,
    and check that the unchecked Feistel rounds still give Wycheproof's ciphertext.
    """
    alphabet = WYCHEPROOF_ALPHABETS[radix]
    seen: Counter[str] = Counter()
    failures: list[int] = []
    batches: dict[tuple[bytes, bytes], list[tuple[int, str, str]]] = {}
    for _, test in _wycheproof(radix):
        (flag,) = test["flags"]
        assert flag in KNOWN_FLAGS, f"tcId {test['tcId']}: unknown flag {flag}"
        key = bytes.fromhex(test["key"])
        tweak = bytes.fromhex(test["tweak"])
        plaintext = _numerals(alphabet, test["msg"])
        if flag == "InvalidKeySize":
            assert test["result"] == "invalid"
            with pytest.raises(FormatError):
                FF1(key, alphabet)
            seen[flag] += 1
            continue
        cipher = FF1(key, alphabet)
        if test["result"] == "invalid" or flag == "SmallMessageSize":
            assert flag in {"InvalidMessageSize", "InvalidPlaintext", "SmallMessageSize"}
            for call in (cipher.encrypt, cipher.decrypt):
                with pytest.raises(FormatError):
                    call(plaintext, tweak)
            for many in (cipher.encrypt_many, cipher.decrypt_many):
                with pytest.raises(FormatError):
                    many([plaintext], tweak)
            if flag == "SmallMessageSize":
                assert test["result"] == "valid"
                if _core_encrypt(key, radix, tweak, test["msg"]) != test["ct"]:
                    failures.append(test["tcId"])
            seen[flag] += 1
            continue
        assert test["result"] == "valid"
        ciphertext = _numerals(alphabet, test["ct"])
        if path == "batched":
            batches.setdefault((key, tweak), []).append((test["tcId"], plaintext, ciphertext))
        elif not (
            cipher.encrypt(plaintext, tweak) == ciphertext
            and cipher.decrypt(ciphertext, tweak) == plaintext
        ):
            failures.append(test["tcId"])
        seen[flag] += 1
    # Wycheproof reuses a key and tweak for up to 16 tests of different lengths: each such
    # set goes through encrypt_many and decrypt_many as one batch.
    for (key, tweak), members in batches.items():
        cipher = FF1(key, alphabet)
        plaintexts = [m[1] for m in members]
        ciphertexts = [m[2] for m in members]
        encrypted = cipher.encrypt_many(plaintexts, tweak)
        decrypted = cipher.decrypt_many(ciphertexts, tweak)
        for (tc_id, plaintext, ciphertext), enc, dec in zip(
            members, encrypted, decrypted, strict=True
        ):
            if enc != ciphertext or dec != plaintext:
                failures.append(tc_id)
    assert path == "one-at-a-time" or max(len(m) for m in batches.values()) > 1
    assert failures == []
    assert sum(seen.values()) == len(_wycheproof(radix))
    assert seen["InvalidKeySize"] == 5
    assert seen["InvalidMessageSize"] == 6
    assert seen["SmallMessageSize"] > 0
    assert seen["LargeMessageSize"] > 0


def test_wycheproof_plaintexts_of_every_length_in_one_batch() -> None:
    """Every valid radix-62 plaintext (dozens of lengths, up to 260) under one key, at once."""
    tests = [
        test
        for _, test in _wycheproof(62)
        if test["result"] == "valid" and test["flags"] != ["SmallMessageSize"]
    ]
    first = tests[0]
    cipher = FF1(bytes.fromhex(first["key"]), BASE62)
    tweak = bytes.fromhex(first["tweak"])
    plaintexts = [_numerals(BASE62, t["msg"]) for t in tests]
    assert len({len(p) for p in plaintexts}) > 40
    assert max(len(p) for p in plaintexts) == 260
    batch = cipher.encrypt_many(plaintexts, tweak)
    assert batch[0] == _numerals(BASE62, first["ct"])
    assert batch == [cipher.encrypt(p, tweak) for p in plaintexts]
    assert cipher.decrypt_many(batch, tweak) == plaintexts


# --- properties ---------------------------------------------------------------------------


@st.composite
def alphabets(draw: st.DrawFn) -> str:
    """Alphabets of many sizes, shuffled, from several blocks of Unicode."""
    radix = draw(
        st.integers(min_value=2, max_value=300)
        | st.sampled_from([10, 16, 26, 36, 62, 64, 255, 256, 1000, 1024, 4096, 4097, 65536])
    )
    start = draw(st.sampled_from([0x21, 0x100, IDEOGRAPHS, 0x10000]))
    chars = [chr(start + i) for i in range(radix)]
    draw(st.randoms(use_true_random=False)).shuffle(chars)
    if radix <= 36 and draw(st.booleans()):
        chars = list(BASE62[:radix])  # int()'s own digits: the direct path
    return "".join(chars)


@st.composite
def ff1_cases(draw: st.DrawFn, *, min_domain: int = 1) -> tuple[str, str, bytes]:
    """(alphabet, text, tweak) for FF1, lengths up to 80 (so multi-block PRF tails too)."""
    alphabet = draw(alphabets())
    cipher = FF1(KEY, alphabet)
    radix = len(alphabet)
    low = cipher.min_length
    while radix**low < min_domain:
        low += 1
    n = draw(st.integers(min_value=low, max_value=max(low, 80)))
    digits = draw(st.lists(st.integers(0, radix - 1), min_size=n, max_size=n))
    tweak = draw(st.binary(max_size=40))
    return alphabet, "".join(alphabet[d] for d in digits), tweak


@st.composite
def ff3_cases(draw: st.DrawFn, *, min_domain: int = 1) -> tuple[str, str, bytes]:
    alphabet = draw(alphabets())
    cipher = FF3_1(KEY, alphabet)
    radix = len(alphabet)
    low = cipher.min_length
    while radix**low < min_domain:
        low += 1
    n = draw(st.integers(min_value=low, max_value=cipher.max_length))
    digits = draw(st.lists(st.integers(0, radix - 1), min_size=n, max_size=n))
    tweak = draw(st.binary(min_size=7, max_size=7))
    return alphabet, "".join(alphabet[d] for d in digits), tweak


@FAST
@given(ff1_cases())
def test_ff1_round_trip_keeps_length_and_alphabet(case: tuple[str, str, bytes]) -> None:
    alphabet, text, tweak = case
    cipher = FF1(KEY, alphabet)
    ciphertext = cipher.encrypt(text, tweak)
    assert len(ciphertext) == len(text)
    assert set(ciphertext) <= set(alphabet)
    assert cipher.decrypt(ciphertext, tweak) == text
    assert cipher.encrypt(text, tweak) == ciphertext


@FAST
@given(ff3_cases())
def test_ff3_1_round_trip_keeps_length_and_alphabet(case: tuple[str, str, bytes]) -> None:
    alphabet, text, tweak = case
    cipher = FF3_1(KEY, alphabet)
    ciphertext = cipher.encrypt(text, tweak)
    assert len(ciphertext) == len(text)
    assert set(ciphertext) <= set(alphabet)
    assert cipher.decrypt(ciphertext, tweak) == text


@FAST
@given(ff1_cases(min_domain=2**40), st.binary(max_size=40))
def test_ff1_other_tweak_other_ciphertext(case: tuple[str, str, bytes], other: bytes) -> None:
    # The domain has at least 2^40 values, so a chance equality has odds below 2^-40.
    alphabet, text, tweak = case
    cipher = FF1(KEY, alphabet)
    if other != tweak:
        assert cipher.encrypt(text, tweak) != cipher.encrypt(text, other)


@FAST
@given(ff3_cases(min_domain=2**40), st.binary(min_size=7, max_size=7))
def test_ff3_1_other_tweak_other_ciphertext(case: tuple[str, str, bytes], other: bytes) -> None:
    alphabet, text, tweak = case
    cipher = FF3_1(KEY, alphabet)
    if other != tweak:
        assert cipher.encrypt(text, tweak) != cipher.encrypt(text, other)


@FAST
@given(alphabets(), st.binary(max_size=20), st.data())
def test_ff1_batched_equals_one_at_a_time(alphabet: str, tweak: bytes, data: st.DataObject) -> None:
    cipher = FF1(KEY, alphabet)
    radix = len(alphabet)
    lengths = data.draw(
        st.lists(st.integers(cipher.min_length, cipher.min_length + 40), max_size=12)
    )
    texts = [
        "".join(
            alphabet[d]
            for d in data.draw(st.lists(st.integers(0, radix - 1), min_size=n, max_size=n))
        )
        for n in lengths
    ]
    batch = cipher.encrypt_many(texts, tweak)
    assert batch == [cipher.encrypt(t, tweak) for t in texts]
    assert cipher.decrypt_many(batch, tweak) == texts


def test_ff1_large_batch_matches_one_at_a_time() -> None:
    """More values than one AES call takes (the batch is cut), with mixed lengths."""
    rng = random.Random(7)
    cipher = FF1(KEY, DIGITS)
    texts = [
        "".join(rng.choice(DIGITS) for _ in range(rng.choice((6, 16, 19)))) for _ in range(5000)
    ]
    batch = cipher.encrypt_many(texts, b"tweak")
    assert batch[:300] == [cipher.encrypt(t, b"tweak") for t in texts[:300]]
    assert cipher.decrypt_many(batch, b"tweak") == texts


@pytest.mark.parametrize(("radix", "n"), [(10, 3), (2, 9), (7, 4)])
def test_ff1_rounds_permute_a_whole_small_domain(radix: int, n: int) -> None:
    """Below the domain minimum, through the unchecked rounds: a bijection, and undone."""
    update = _Ecb(KEY).updater()
    plan = _Ff1Plan(update, radix, n, b"tweak")
    values = range(radix**n)
    a = [value // plan.mod_v for value in values]
    b = [value % plan.mod_v for value in values]
    ea, eb = _ff1_encrypt(update, plan, a, b)
    assert sorted(x * plan.mod_v + y for x, y in zip(ea, eb, strict=True)) == list(values)
    assert _ff1_decrypt(update, plan, ea, eb) == (a, b)


@pytest.mark.parametrize(("alphabet", "n"), [(DIGITS, 5000), (BASE62[:36], 4500), (BASE62, 700)])
def test_ff1_long_texts(alphabet: str, n: int) -> None:
    """Past int()'s 4300-digit limit, and PRF outputs many blocks long (d > 16)."""
    rng = random.Random(n)
    text = "".join(rng.choice(alphabet) for _ in range(n))
    cipher = FF1(KEY, alphabet)
    ciphertext = cipher.encrypt(text, b"long")
    assert len(ciphertext) == n
    assert cipher.encrypt_many([text], b"long") == [ciphertext]
    assert cipher.decrypt(ciphertext, b"long") == text


def test_ff1_long_tweaks() -> None:
    """Tweaks of many blocks, and longer than the plan cache keeps."""
    cipher = FF1(KEY, DIGITS, max_tweak_len=5000)
    tweaks = [bytes(range(256)) * 4, bytes(4999), bytes(5000)]
    texts = ["0123456789", "98765432109876543210"]
    for tweak in tweaks:
        encrypted = [cipher.encrypt(t, tweak) for t in texts]
        assert cipher.encrypt_many(texts, tweak) == encrypted
        assert [cipher.decrypt(c, tweak) for c in encrypted] == texts
    assert len({cipher.encrypt(texts[0], tweak) for tweak in tweaks}) == 3


def test_ff1_many_tweaks_past_the_plan_cache() -> None:
    cipher = FF1(KEY, DIGITS)
    tweaks = [i.to_bytes(2, "big") for i in range(600)]
    first = [cipher.encrypt("0123456789", t) for t in tweaks]
    assert [FF1(KEY, DIGITS).encrypt("0123456789", t) for t in tweaks[::50]] == first[::50]
    assert len(set(first)) == len(first)


def test_ff1_is_safe_to_share_between_threads() -> None:
    cipher = FF1(KEY, DIGITS)
    rng = random.Random(11)
    texts = ["".join(rng.choice(DIGITS) for _ in range(16)) for _ in range(3000)]
    expected = cipher.encrypt_many(texts, b"t")
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def work(k: int) -> None:
        # One shared cryptography context would fail here with "Already borrowed".
        try:
            for _ in range(3):
                if k % 2:
                    results.append(cipher.encrypt_many(texts, b"t"))
                else:
                    results.append([cipher.encrypt(t, b"t") for t in texts])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [expected] * 18


# --- validation ---------------------------------------------------------------------------


def test_format_error_is_a_400_crypto_error() -> None:
    error = FormatError("x")
    assert isinstance(error, CryptoError)
    assert error.status == 400
    assert error.type_uri == "urn:strongroom:problem:invalid-format"
    assert FormatError.title == "Value does not fit the format"


@pytest.mark.parametrize("size", [0, 1, 8, 15, 17, 20, 31, 33, 64])
@pytest.mark.parametrize("cls", [FF1, FF3_1])
def test_key_must_be_an_aes_key(cls: type[FF1] | type[FF3_1], size: int) -> None:
    with pytest.raises(FormatError, match="16, 24 or 32 bytes"):
        cls(bytes(size), DIGITS)


def test_every_aes_key_size_works() -> None:
    keys = [bytes(range(size)) for size in (16, 24, 32)]
    assert len({FF1(key, DIGITS).encrypt("1234567890", b"") for key in keys}) == 3
    assert len({FF3_1(key, DIGITS).encrypt("1234567890", bytes(7)) for key in keys}) == 3


@pytest.mark.parametrize("cls", [FF1, FF3_1])
def test_wrong_types_raise_type_error(cls: type[FF1] | type[FF3_1]) -> None:
    with pytest.raises(TypeError):
        cls(KEY.hex(), DIGITS)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cls(KEY, list(DIGITS))  # type: ignore[arg-type]
    cipher = cls(KEY, DIGITS)
    with pytest.raises(TypeError):
        cipher.encrypt(1234567, b"1234567")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cipher.encrypt("1234567", "1234567")  # type: ignore[arg-type]


@pytest.mark.parametrize("alphabet", ["", "0", "00", "0123456789" + "5", "abca"])
@pytest.mark.parametrize("cls", [FF1, FF3_1])
def test_alphabet_needs_two_distinct_characters_or_more(
    cls: type[FF1] | type[FF3_1], alphabet: str
) -> None:
    with pytest.raises(FormatError, match="alphabet"):
        cls(KEY, alphabet)


@pytest.mark.parametrize("cls", [FF1, FF3_1])
def test_radix_is_at_most_65536(cls: type[FF1] | type[FF3_1]) -> None:
    largest = "".join(chr(0x10000 + i) for i in range(65536))
    assert cls(KEY, largest).radix == 65536
    with pytest.raises(FormatError, match="65536"):
        cls(KEY, largest + "a")


@pytest.mark.parametrize(
    ("radix", "min_length"), [(2, 20), (10, 6), (26, 5), (36, 4), (62, 4), (1000, 2), (65536, 2)]
)
def test_domain_of_at_least_a_million(radix: int, min_length: int) -> None:
    """Rev. 1: radix ** minlen >= 1,000,000 and minlen >= 2, for both methods."""
    alphabet = "".join(chr(IDEOGRAPHS + i) for i in range(radix))
    for cipher in (FF1(KEY, alphabet), FF3_1(KEY, alphabet)):
        assert cipher.min_length == min_length
        tweak = bytes(7)
        assert len(cipher.encrypt(alphabet[0] * min_length, tweak)) == min_length
        with pytest.raises(FormatError, match="between"):
            cipher.encrypt(alphabet[0] * (min_length - 1), tweak)
        with pytest.raises(FormatError, match="between"):
            cipher.decrypt(alphabet[0] * (min_length - 1), tweak)


@pytest.mark.parametrize(
    ("radix", "max_length"), [(2, 192), (10, 56), (26, 40), (36, 36), (64, 32), (65536, 12)]
)
def test_ff3_1_maximum_length(radix: int, max_length: int) -> None:
    """``2 * floor(log_radix(2^96))``."""
    alphabet = "".join(chr(IDEOGRAPHS + i) for i in range(radix))
    cipher = FF3_1(KEY, alphabet)
    assert cipher.max_length == max_length
    text = alphabet[-1] * max_length
    assert cipher.decrypt(cipher.encrypt(text, bytes(7)), bytes(7)) == text
    with pytest.raises(FormatError, match="between"):
        cipher.encrypt(text + alphabet[0], bytes(7))


def test_ff1_maximum_length_is_four_bytes_of_n() -> None:
    assert FF1(KEY, DIGITS).max_length == 2**32 - 1


@pytest.mark.parametrize("size", [0, 1, 6, 8, 16])
def test_ff3_1_tweak_is_exactly_56_bits(size: int) -> None:
    cipher = FF3_1(KEY, DIGITS)
    with pytest.raises(FormatError, match="7 bytes"):
        cipher.encrypt("1234567890", bytes(size))
    with pytest.raises(FormatError, match="7 bytes"):
        cipher.decrypt("1234567890", bytes(size))


def test_ff1_tweak_length_bound() -> None:
    cipher = FF1(KEY, DIGITS, max_tweak_len=8)
    assert cipher.decrypt(cipher.encrypt("123456", bytes(8)), bytes(8)) == "123456"
    for call in (cipher.encrypt, cipher.decrypt):
        with pytest.raises(FormatError, match="at most 8 bytes"):
            call("123456", bytes(9))
    with pytest.raises(FormatError, match="at most 8 bytes"):
        cipher.encrypt_many(["123456"], bytes(9))
    assert FF1(KEY, DIGITS).encrypt("123456", bytes(256))
    with pytest.raises(FormatError):
        FF1(KEY, DIGITS).encrypt("123456", bytes(257))
    only_empty = FF1(KEY, DIGITS, max_tweak_len=0)
    assert only_empty.encrypt("123456", b"") == FF1(KEY, DIGITS).encrypt("123456", b"")
    with pytest.raises(FormatError):
        only_empty.encrypt("123456", b"\x00")
    with pytest.raises(FormatError):
        FF1(KEY, DIGITS, max_tweak_len=-1)
    with pytest.raises(FormatError):
        FF1(KEY, DIGITS, max_tweak_len=2**32)
    with pytest.raises(TypeError):
        FF1(KEY, DIGITS, max_tweak_len=True)


@pytest.mark.parametrize(
    ("alphabet", "text"),
    [
        (DIGITS, "12345a7890"),
        # Arabic-Indic digits: int() takes them, we must not.
        (DIGITS, "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660"),
        (DIGITS, "12_4567890"),  # int() takes underscores
        (DIGITS, " 123456789"),  # and surrounding space
        (DIGITS, "+123456789"),  # and a sign
        (DIGITS, "\uff11\uff12\uff13\uff14\uff15\uff16\uff17"),  # full-width digits
        ("0123456789abcdef", "ABCDEF0123"),  # int(..., 16) takes upper case
        ("abcdefghijklmnopqrstuvwxyz", "hello world"),
        (BASE62, "abc-defghij"),
    ],
)
def test_characters_outside_the_alphabet(alphabet: str, text: str) -> None:
    ff1 = FF1(KEY, alphabet)
    ff3 = FF3_1(KEY, alphabet)
    for call in (ff1.encrypt, ff1.decrypt, ff3.encrypt, ff3.decrypt):
        with pytest.raises(FormatError, match="outside the alphabet"):
            call(text, bytes(7))
    for many in (ff1.encrypt_many, ff1.decrypt_many):
        with pytest.raises(FormatError, match="Text 1 has a character outside"):
            many([ff1.min_length * alphabet[0], text], b"")


def test_encrypt_many_checks_everything_before_encrypting() -> None:
    cipher = FF1(KEY, DIGITS)
    assert cipher.encrypt_many([], b"t") == []
    with pytest.raises(TypeError, match="single str"):
        cipher.encrypt_many("1234567", b"t")
    with pytest.raises(TypeError):
        cipher.encrypt_many(["1234567", 1234567], b"t")  # type: ignore[list-item]
    with pytest.raises(FormatError, match="Text 2: The text must have between 6"):
        cipher.encrypt_many(["1234567", "7654321", "12345"], b"t")
    assert cipher.encrypt_many(("1234567", "7654321"), b"t") == [
        cipher.encrypt("1234567", b"t"),
        cipher.encrypt("7654321", b"t"),
    ]


def test_errors_never_carry_the_value_or_the_tweak() -> None:
    canary = "8675309867530986753098"
    tweak = b"canary-tweak-CAFEBABE"
    ff1 = FF1(KEY, "0123456789", max_tweak_len=4)
    ff3 = FF3_1(KEY, "0123456789")
    attempts: list[Callable[[], object]] = [
        lambda: ff1.encrypt(canary + "x", b""),
        lambda: ff1.encrypt(canary, tweak),
        lambda: ff1.encrypt(canary[:5], b""),
        lambda: ff1.encrypt_many([canary, canary + "x"], b""),
        lambda: ff3.encrypt(canary + "x", bytes(7)),
        lambda: ff3.encrypt(canary * 3, bytes(7)),
        lambda: ff3.encrypt(canary, tweak),
        lambda: FF1(tweak[:15], DIGITS),
    ]
    for attempt in attempts:
        with pytest.raises(FormatError) as info:
            attempt()
        for shown in (str(info.value), repr(info.value), info.value.detail):
            assert canary[:6] not in shown
            assert "canary" not in shown
            assert "CAFEBABE" not in shown


@pytest.mark.parametrize("cls", [FF1, FF3_1])
def test_repr_hides_the_key_and_the_object_cannot_be_pickled(cls: type[FF1] | type[FF3_1]) -> None:
    key = bytes.fromhex("00112233445566778899aabbccddeeff")
    cipher = cls(key, DIGITS)
    shown = repr(cipher) + str(cipher)
    assert "radix=10" in shown
    for leak in (key.hex(), key.hex().upper(), repr(key), "00112233"):
        assert leak not in shown
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(cipher, protocol=protocol)
    with pytest.raises(TypeError):
        copy.copy(cipher)
    with pytest.raises(TypeError):
        copy.deepcopy(cipher)


def test_ff1_and_ff3_1_differ_and_keys_matter() -> None:
    text = "4111111111111111"
    assert FF1(KEY, DIGITS).encrypt(text, bytes(7)) != FF3_1(KEY, DIGITS).encrypt(text, bytes(7))
    assert FF1(KEY, DIGITS).encrypt(text, b"") != FF1(bytes(32), DIGITS).encrypt(text, b"")
