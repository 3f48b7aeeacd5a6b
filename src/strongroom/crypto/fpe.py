"""Format-preserving encryption: FF1 and FF3-1 of NIST SP 800-38G Rev. 1, over AES.

A format-preserving cipher maps a string over an alphabet to another string of the same
length over the same alphabet: a 16-digit card number encrypts to 16 digits. Both
ciphers are deterministic: the same key, tweak and text always give the same output, so
equal values stay equal. Use a tweak that differs per field or context (a column name, a
tenant id) so equal values in different places do not match.

``FF1(key, alphabet)`` takes tweaks of any length up to ``max_tweak_len`` bytes (256 by
default) and texts of up to 2^32 - 1 characters. ``FF3_1(key, alphabet)`` takes tweaks of
exactly 7 bytes (56 bits) and texts of at most ``2 * floor(log_radix(2^96))`` characters
(56 decimal digits). Both refuse texts whose domain is smaller than one million values
(``radix ** len(text) < 1_000_000``), the minimum of Rev. 1. Every refusal is a
`FormatError` whose message names the rule, never the value. Keys are 16, 24 or 32 bytes
(AES-128/192/256); the alphabet is a string of 2 to 65536 distinct characters, and the
radix is its length. Only AES from ``cryptography`` is used, in ECB mode one block at a
time, which is what the CBC-MAC of FF1 and the round function of FF3-1 call for.

Notes for callers:

- FF1 is the recommended one. SP 800-38G Rev. 1 2nd public draft (2025) withdraws FF3-1;
  it is here to read data that older systems wrote with it.
- The arithmetic runs on Python integers, whose timing depends on the values; do not use
  this where an attacker can time many encryptions of chosen values on the same host.
- The objects hold an AES key schedule. They cannot be pickled or copied, and their repr
  shows only the radix.
"""

from __future__ import annotations

import functools
import struct
import threading
from collections.abc import Callable, Sequence
from operator import add
from typing import NoReturn

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from strongroom.errors import FormatError

__all__ = ["FF1", "FF3_1"]

#: The least domain size Rev. 1 allows: radix ** minlen >= 1,000,000.
DOMAIN_MIN = 1_000_000
#: The largest radix either method allows (2^16).
MAX_RADIX = 1 << 16

_KEY_SIZES = (16, 24, 32)
_FF1_ROUNDS = 10
_FF3_ROUNDS = 8
_FF1_MAX_LEN = (1 << 32) - 1  # n is encoded in four bytes of P
_FF3_TWEAK_BYTES = 7
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# CPython refuses int <-> str conversions of more than 4300 digits in bases that are not
# powers of two; longer numerals are converted in pieces of this many digits.
_CHUNK = 4000
# Alphabets whose radix is at most this get a table of every numeral of k digits, with
# radix ** k <= _TABLE_SIZE, so int -> string costs one divmod per k digits.
_TABLE_SIZE = 4096
# FF1 plans cached per object (one per tweak and length); the cache is emptied when full.
# Plans for longer tweaks are made afresh each time, so the cache stays small.
_PLAN_CACHE = 256
_PLAN_CACHE_TWEAK = 256
# How many values encrypt_many pushes through AES in one call per Feistel round.
_BATCH = 2048


_Update = Callable[[bytes], bytes]


def _refuse(detail: str) -> NoReturn:
    raise FormatError(detail)


def _check_key(key: object) -> bytes:
    if not isinstance(key, bytes | bytearray):
        raise TypeError("key must be bytes")
    if len(key) not in _KEY_SIZES:
        _refuse("The key must be 16, 24 or 32 bytes (AES-128, AES-192 or AES-256).")
    return bytes(key)


def _check_tweak(tweak: object) -> bytes:
    if not isinstance(tweak, bytes | bytearray):
        raise TypeError("tweak must be bytes")
    return bytes(tweak)


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError("text must be a str")
    return text


def _min_len(radix: int) -> int:
    """The fewest characters a text may have: radix ** n >= DOMAIN_MIN, and n >= 2."""
    n = 2
    while radix**n < DOMAIN_MIN:
        n += 1
    return n


def _ff3_max_len(radix: int) -> int:
    """``2 * floor(log_radix(2^96))``, computed exactly."""
    k = 0
    while radix ** (k + 1) <= 1 << 96:
        k += 1
    return 2 * k


class _Ecb:
    """AES-ECB on whole blocks, one encryptor context per thread.

    A ``cryptography`` cipher context must not be used by two threads at once (it raises
    ``Already borrowed``); ECB keeps no state between blocks, so each thread simply gets
    its own context, made once and reused for every block after.
    """

    __slots__ = ("_cipher", "_local")

    def __init__(self, key: bytes) -> None:
        # Single blocks as a PRF, never ECB as a mode over a message.
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305
        self._local = threading.local()

    def updater(self) -> _Update:
        """The ``update`` of this thread's encryptor: encrypts whole 16-byte blocks."""
        local = self._local
        try:
            update: _Update = local.update
        except AttributeError:
            update = local.update = self._cipher.encryptor().update
        return update


class _Alphabet:
    """A radix and the conversions between numerals over the alphabet and integers."""

    __slots__ = (
        "_canonical",
        "_charset",
        "_from_canon",
        "_index",
        "_table",
        "_table_digits",
        "_table_mod",
        "_to_canon",
        "chars",
        "is_decimal",
        "radix",
    )

    def __init__(self, alphabet: str) -> None:
        radix = len(alphabet)
        if not 2 <= radix <= MAX_RADIX:
            _refuse(f"The alphabet must have between 2 and {MAX_RADIX} characters.")
        charset = frozenset(alphabet)
        if len(charset) != radix:
            _refuse("The alphabet must not repeat a character.")
        self.chars = alphabet
        self.radix = radix
        self.is_decimal = alphabet == _DIGITS[:10]
        self._charset = charset
        self._index = {ch: i for i, ch in enumerate(alphabet)}
        # Alphabets of at most 36 characters are parsed by int(), after translating them
        # to int's own digits when they differ.
        self._canonical = radix <= len(_DIGITS) and alphabet == _DIGITS[:radix]
        self._to_canon: dict[int, str] = {}
        self._from_canon: dict[int, str] = {}
        if radix <= len(_DIGITS) and not self._canonical:
            self._to_canon = {ord(c): _DIGITS[i] for i, c in enumerate(alphabet)}
            self._from_canon = {ord(_DIGITS[i]): c for i, c in enumerate(alphabet)}
        digits = 1
        while radix ** (digits + 1) <= _TABLE_SIZE:
            digits += 1
        self._table_digits = digits
        self._table_mod = radix**digits
        if digits == 1:
            self._table: Sequence[str] = alphabet
        else:
            table = list(alphabet)
            for _ in range(digits - 1):
                table = [head + ch for head in table for ch in alphabet]
            self._table = table

    def fits(self, text: str) -> bool:
        """Whether every character of ``text`` is in the alphabet."""
        if self.is_decimal:
            return text.isascii() and text.isdigit()
        return self._charset.issuperset(text)

    def num(self, text: str) -> int:
        """NUM_radix: the integer a numeral of the alphabet stands for (most significant first)."""
        radix = self.radix
        if radix <= len(_DIGITS):
            if not self._canonical:
                text = text.translate(self._to_canon)
            if len(text) <= _CHUNK:
                return int(text, radix)
            value = 0
            for start in range(0, len(text), _CHUNK):
                piece = text[start : start + _CHUNK]
                value = value * radix ** len(piece) + int(piece, radix)
            return value
        index = self._index
        value = 0
        for ch in text:
            value = value * radix + index[ch]
        return value

    def str(self, value: int, length: int) -> str:
        """STR^length_radix: ``value`` (below ``radix ** length``) as ``length`` characters."""
        if self.radix == 10 and length <= _CHUNK:
            text = f"{value:0{length}d}"
            return text if self._canonical else text.translate(self._from_canon)
        table = self._table
        width = self._table_digits
        mod = self._table_mod
        radix = self.radix
        chars = self.chars
        parts: list[str] = []
        full, rest = divmod(length, width)
        for _ in range(full):
            value, digit = divmod(value, mod)
            parts.append(table[digit])
        for _ in range(rest):
            value, digit = divmod(value, radix)
            parts.append(chars[digit])
        parts.reverse()
        return "".join(parts)


@functools.lru_cache(maxsize=16)
def _cached_alphabet(alphabet: str) -> _Alphabet:
    return _Alphabet(alphabet)


def _alphabet(alphabet: object) -> _Alphabet:
    """The (shared, immutable) conversions for an alphabet; `FormatError` if it is unfit."""
    if type(alphabet) is not str:
        raise TypeError("alphabet must be a str")
    return _cached_alphabet(alphabet)


class _NoCopy:
    """Refuse pickling and copying: the objects hold key material."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} objects hold a key and cannot be pickled or copied")

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} objects hold a key and cannot be pickled or copied")

    def __getstate__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} objects hold a key and cannot be pickled or copied")


class _Ff1Plan:
    """Everything FF1 can compute once per key, tweak and text length.

    ``chain`` is the CBC-MAC state after ``P`` and after every block of ``Q`` that holds
    only tweak and padding bytes. What is left of ``Q`` (the last tweak or padding bytes,
    the round number and ``NUM(B)`` in ``b`` bytes) is the tail, ``blocks`` blocks long.
    When the tail is a single block (``b <= 15``), round ``i`` of the PRF is one AES call
    on ``round_keys[i] ^ NUM(B)``: the chain value, the tail's constant bytes and ``i``
    folded into one 128-bit integer.
    """

    __slots__ = (
        "b",
        "blocks",
        "chain",
        "d",
        "extra",
        "mod_u",
        "mod_v",
        "prefixes",
        "round_keys",
        "u",
        "v",
    )

    def __init__(self, update: _Update, radix: int, n: int, tweak: bytes) -> None:
        u = n // 2
        v = n - u
        t = len(tweak)
        self.u = u
        self.v = v
        self.mod_u = radix**u
        self.mod_v = self.mod_u if u == v else radix**v
        # b = ceil(ceil(v * log2(radix)) / 8), exactly: ceil(log2(N)) is (N - 1).bit_length().
        b = ((self.mod_v - 1).bit_length() + 7) // 8
        d = 4 * ((b + 3) // 4) + 4
        self.b = b
        self.d = d
        self.extra = (d + 15) // 16 - 1  # blocks of S beyond R
        p = (
            bytes((1, 2, 1))
            + radix.to_bytes(3, "big")
            + bytes((10, u % 256))
            + n.to_bytes(4, "big")
            + t.to_bytes(4, "big")
        )
        constant = tweak + bytes((-t - b - 1) % 16)
        whole = len(constant) - len(constant) % 16
        chain = int.from_bytes(update(p), "big")
        for start in range(0, whole, 16):
            block = chain ^ int.from_bytes(constant[start : start + 16], "big")
            chain = int.from_bytes(update(block.to_bytes(16, "big")), "big")
        self.chain = chain
        rest = constant[whole:]
        self.blocks = (len(rest) + 1 + b) // 16
        self.prefixes = tuple(rest + bytes((i,)) for i in range(_FF1_ROUNDS))
        if self.blocks == 1:
            shift = 8 * b
            self.round_keys = tuple(
                chain ^ (int.from_bytes(prefix, "big") << shift) for prefix in self.prefixes
            )
        else:
            self.round_keys = ()


@functools.lru_cache(maxsize=32)
def _heads(count: int, d: int) -> struct.Struct:
    """Unpacks the first ``d`` bytes (8 or 12) of each of ``count`` blocks as words."""
    return struct.Struct(">" + ("Q8x" if d == 8 else "QI4x") * count)


@functools.lru_cache(maxsize=32)
def _low_words(count: int) -> struct.Struct:
    """Packs ``count`` 16-byte blocks from their low 64-bit words (high words zero)."""
    return struct.Struct(">" + "8xQ" * count)


def _ff1_prf_words(update: _Update, plan: _Ff1Plan, i: int, values: list[int]) -> Sequence[int]:
    """`_ff1_prf` when ``b <= 8``: every ``NUM(B)`` fits the low 64-bit word of its block.

    Then the blocks of the whole batch are one `struct` pack (the high word is the same for
    all) and the ``y`` values one unpack, instead of a conversion per value each way.
    """
    count = len(values)
    # Each block is round_keys[i] ^ NUM(B), and NUM(B) fills at most the low word: pack the
    # NUM(B)s into zeroed blocks, then XOR the whole batch with the key repeated, as one
    # integer, rather than once per value.
    heads = _heads(count, plan.d)
    packed = int.from_bytes(_low_words(count).pack(*values), "big")
    pattern = int.from_bytes(plan.round_keys[i].to_bytes(16, "big") * count, "big")
    ys: tuple[int, ...] = heads.unpack(update((packed ^ pattern).to_bytes(16 * count, "big")))
    if plan.d == 8:
        return ys
    return [(high << 32) | rest for high, rest in zip(ys[0::2], ys[1::2], strict=True)]


def _ff1_prf(update: _Update, plan: _Ff1Plan, i: int, values: list[int]) -> Sequence[int]:
    """``y = NUM(S)`` of FF1 round ``i`` for each ``NUM(B)`` in ``values``, batched.

    Every AES call covers one block of every value, so a batch costs ``blocks + 1`` calls
    per round whatever its size.
    """
    d = plan.d
    if plan.b <= 8:  # so the tail is one block and d <= 12
        return _ff1_prf_words(update, plan, i, values)
    if plan.blocks == 1:
        key = plan.round_keys[i]
        out = update(b"".join([(key ^ value).to_bytes(16, "big") for value in values]))
    else:
        b = plan.b
        prefix = plan.prefixes[i]
        tails = [prefix + value.to_bytes(b, "big") for value in values]
        states = [plan.chain] * len(values)
        out = b""
        for start in range(0, 16 * plan.blocks, 16):
            blocks = [
                state ^ int.from_bytes(tail[start : start + 16], "big")
                for state, tail in zip(states, tails, strict=True)
            ]
            out = update(b"".join([block.to_bytes(16, "big") for block in blocks]))
            states = [int.from_bytes(out[at : at + 16], "big") for at in range(0, len(out), 16)]
    if plan.extra == 0:
        return [int.from_bytes(out[at : at + d], "big") for at in range(0, len(out), 16)]
    # S = R || CIPH(R ^ [1]^16) || CIPH(R ^ [2]^16) || ..., cut to d bytes.
    extra = plan.extra
    rs = [int.from_bytes(out[at : at + 16], "big") for at in range(0, len(out), 16)]
    more = update(b"".join([(r ^ j).to_bytes(16, "big") for r in rs for j in range(1, extra + 1)]))
    size = 16 * extra
    cut = d - 16
    return [
        int.from_bytes(out[16 * k : 16 * k + 16] + more[size * k : size * k + cut], "big")
        for k in range(len(rs))
    ]


def _ff1_encrypt(
    update: _Update, plan: _Ff1Plan, a: list[int], b: list[int]
) -> tuple[list[int], list[int]]:
    """The ten FF1 encryption rounds over the halves ``(NUM(A), NUM(B))`` of many values."""
    for i in range(_FF1_ROUNDS):
        mod = plan.mod_v if i & 1 else plan.mod_u
        ys = _ff1_prf(update, plan, i, b)
        a, b = b, [(x + y) % mod for x, y in zip(a, ys, strict=True)]
    return a, b


def _ff1_decrypt(
    update: _Update, plan: _Ff1Plan, a: list[int], b: list[int]
) -> tuple[list[int], list[int]]:
    """The ten FF1 decryption rounds, the encryption rounds undone in reverse order."""
    for i in reversed(range(_FF1_ROUNDS)):
        mod = plan.mod_v if i & 1 else plan.mod_u
        ys = _ff1_prf(update, plan, i, a)
        a, b = [(x - y) % mod for x, y in zip(b, ys, strict=True)], a
    return a, b


class FF1(_NoCopy):
    """FF1 format-preserving encryption (NIST SP 800-38G Rev. 1, Algorithms 7 and 8) with AES.

    ``FF1(key, "0123456789").encrypt("4111111111111111", b"cards")`` returns 16 digits.
    The key is 16, 24 or 32 bytes; the alphabet has 2 to 65536 distinct characters. A
    tweak is any byte string of at most ``max_tweak_len`` bytes (empty allowed).
    Texts must have between `min_length` and ``2**32 - 1`` characters, all from the
    alphabet. Anything else raises `FormatError`; a wrong type raises `TypeError`.
    """

    __slots__ = ("_alphabet", "_ecb", "_max_tweak_len", "_min_len", "_plans")

    def __init__(self, key: bytes, alphabet: str, *, max_tweak_len: int = 256) -> None:
        key = _check_key(key)
        if isinstance(max_tweak_len, bool) or not isinstance(max_tweak_len, int):
            raise TypeError("max_tweak_len must be an int")
        if not 0 <= max_tweak_len <= _FF1_MAX_LEN:
            _refuse("max_tweak_len must be between 0 and 2**32 - 1 bytes.")
        self._alphabet = _alphabet(alphabet)
        self._ecb = _Ecb(key)
        self._max_tweak_len = max_tweak_len
        self._min_len = _min_len(self._alphabet.radix)
        self._plans: dict[tuple[bytes, int], _Ff1Plan] = {}

    def __repr__(self) -> str:
        return f"FF1(radix={self._alphabet.radix}, max_tweak_len={self._max_tweak_len})"

    @property
    def radix(self) -> int:
        """The number of characters in the alphabet."""
        return self._alphabet.radix

    @property
    def min_length(self) -> int:
        """The shortest text accepted: the least n >= 2 with radix ** n >= 1,000,000."""
        return self._min_len

    @property
    def max_length(self) -> int:
        """The longest text accepted (2^32 - 1, as n is encoded in four bytes)."""
        return _FF1_MAX_LEN

    def encrypt(self, text: str, tweak: bytes) -> str:
        """Encrypt ``text`` under ``tweak``; the result has the same length and alphabet."""
        return self._crypt(text, tweak, encrypt=True)

    def decrypt(self, text: str, tweak: bytes) -> str:
        """Decrypt ``text`` that `encrypt` made under the same key, alphabet and tweak."""
        return self._crypt(text, tweak, encrypt=False)

    def encrypt_many(self, texts: Sequence[str], tweak: bytes) -> list[str]:
        """Encrypt every text under the same tweak; equal to ``[encrypt(t, tweak) ...]``.

        The texts may differ in length. Every one is checked before any is encrypted, so
        a single bad text raises `FormatError` (naming its position) and returns nothing.
        Much faster than a loop: each Feistel round costs one AES call for the whole batch.
        """
        return self._crypt_many(texts, tweak, encrypt=True)

    def decrypt_many(self, texts: Sequence[str], tweak: bytes) -> list[str]:
        """Decrypt every text under the same tweak; the inverse of `encrypt_many`."""
        return self._crypt_many(texts, tweak, encrypt=False)

    # --- checks -------------------------------------------------------------------------

    def _tweak(self, tweak: object) -> bytes:
        tweak = _check_tweak(tweak)
        if len(tweak) > self._max_tweak_len:
            _refuse(f"The tweak must be at most {self._max_tweak_len} bytes.")
        return tweak

    def _length_error(self) -> str:
        return (
            f"The text must have between {self._min_len} and {_FF1_MAX_LEN} characters "
            f"for a radix of {self._alphabet.radix}."
        )

    def _plan(self, tweak: bytes, n: int) -> _Ff1Plan:
        plans = self._plans
        plan = plans.get((tweak, n))
        if plan is None:
            plan = _Ff1Plan(self._ecb.updater(), self._alphabet.radix, n, tweak)
            if len(tweak) <= _PLAN_CACHE_TWEAK:
                if len(plans) >= _PLAN_CACHE:
                    plans.clear()
                plans[(tweak, n)] = plan
        return plan

    # --- one value ----------------------------------------------------------------------

    def _crypt(self, text: str, tweak: bytes, *, encrypt: bool) -> str:
        text = _check_text(text)
        tweak = self._tweak(tweak)
        n = len(text)
        alphabet = self._alphabet
        if not self._min_len <= n <= _FF1_MAX_LEN:
            _refuse(self._length_error())
        if not alphabet.fits(text):
            _refuse("The text has a character outside the alphabet.")
        plan = self._plan(tweak, n)
        update = self._ecb.updater()
        mod_u = plan.mod_u
        mod_v = plan.mod_v
        # NUM(X) = NUM(A) * radix^v + NUM(B): one conversion, then split.
        a, b = divmod(alphabet.num(text), mod_v)
        if plan.blocks == 1 and plan.extra == 0:
            # One AES call per round: the whole PRF is round_keys[i] ^ NUM(B).
            keys = plan.round_keys
            d = plan.d
            if encrypt:
                for i in range(_FF1_ROUNDS):
                    y = int.from_bytes(update((keys[i] ^ b).to_bytes(16, "big"))[:d], "big")
                    a, b = b, (a + y) % (mod_v if i & 1 else mod_u)
            else:
                for i in reversed(range(_FF1_ROUNDS)):
                    y = int.from_bytes(update((keys[i] ^ a).to_bytes(16, "big"))[:d], "big")
                    a, b = (b - y) % (mod_v if i & 1 else mod_u), a
        else:
            run = _ff1_encrypt if encrypt else _ff1_decrypt
            (a,), (b,) = run(update, plan, [a], [b])
        return alphabet.str(a * mod_v + b, n)

    # --- many values --------------------------------------------------------------------

    def _check_many(self, texts: Sequence[str]) -> tuple[list[str], list[int]]:
        """Check every text in a few passes over the batch; return the texts and lengths."""
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of str, not a single str")
        texts = list(texts)
        if not texts:
            return texts, []
        try:
            joined = "".join(texts)
        except TypeError:
            raise TypeError("texts must all be str") from None
        lengths = list(map(len, texts))
        low = self._min_len
        if min(lengths) < low or max(lengths) > _FF1_MAX_LEN:
            position = next(k for k, n in enumerate(lengths) if not low <= n <= _FF1_MAX_LEN)
            _refuse(f"Text {position}: {self._length_error()}")
        fits = self._alphabet.fits
        if not fits(joined):
            position = next(k for k, text in enumerate(texts) if not fits(text))
            _refuse(f"Text {position} has a character outside the alphabet.")
        return texts, lengths

    def _crypt_many(self, texts: Sequence[str], tweak: bytes, *, encrypt: bool) -> list[str]:
        texts, lengths = self._check_many(texts)
        tweak = self._tweak(tweak)
        if not texts:
            return []
        alphabet = self._alphabet
        groups: dict[int, list[int]] = {}
        if min(lengths) != max(lengths):
            for position, n in enumerate(lengths):
                groups.setdefault(n, []).append(position)
        out: list[str] = [""] * len(texts) if groups else []
        update = self._ecb.updater()
        run = _ff1_encrypt if encrypt else _ff1_decrypt
        for n in groups or (lengths[0],):
            positions = groups.get(n)
            members = [texts[k] for k in positions] if positions else texts
            plan = self._plan(tweak, n)
            mod_v = plan.mod_v
            num: Callable[[str], int]
            show: Callable[[int], str]
            if alphabet.is_decimal and n <= _CHUNK:
                num = int  # the text has only the digits 0-9: checked above
                show = f"{{:0{n}d}}".format
            else:
                show = functools.partial(alphabet.str, length=n)
                num = alphabet.num
            done: list[str] = []
            for start in range(0, len(members), _BATCH):
                halves = [divmod(num(text), mod_v) for text in members[start : start + _BATCH]]
                a, b = run(update, plan, [h[0] for h in halves], [h[1] for h in halves])
                done += map(show, map(add, map(mod_v.__mul__, a), b))
            if positions is None:
                return done
            for k, text in zip(positions, done, strict=True):
                out[k] = text
        return out


class FF3_1(_NoCopy):
    """FF3-1 format-preserving encryption (NIST SP 800-38G Rev. 1, Algorithms 9 and 10).

    The key is 16, 24 or 32 bytes; the alphabet has 2 to 65536 distinct characters. The
    tweak is exactly 7 bytes (56 bits). Texts have between `min_length` and `max_length`
    characters (``2 * floor(log_radix(2^96))``: 56 for decimal digits), all from the
    alphabet. Anything else raises `FormatError`; a wrong type raises `TypeError`.

    Prefer `FF1` for new data: the second public draft of Rev. 1 (2025) drops FF3-1.
    """

    __slots__ = ("_alphabet", "_ecb", "_max_len", "_min_len", "_powers")

    def __init__(self, key: bytes, alphabet: str) -> None:
        key = _check_key(key)
        self._alphabet = _alphabet(alphabet)
        radix = self._alphabet.radix
        # FF3-1 runs AES under the byte-reversed key, REVB(K).
        self._ecb = _Ecb(key[::-1])
        self._min_len = _min_len(radix)
        self._max_len = _ff3_max_len(radix)
        if self._min_len > self._max_len:  # pragma: no cover - holds for every radix <= 2^16
            _refuse("No text length fits this radix.")
        self._powers = [radix**k for k in range(self._max_len // 2 + 2)]

    def __repr__(self) -> str:
        return f"FF3_1(radix={self._alphabet.radix})"

    @property
    def radix(self) -> int:
        """The number of characters in the alphabet."""
        return self._alphabet.radix

    @property
    def min_length(self) -> int:
        """The shortest text accepted: the least n >= 2 with radix ** n >= 1,000,000."""
        return self._min_len

    @property
    def max_length(self) -> int:
        """The longest text accepted: ``2 * floor(log_radix(2^96))``."""
        return self._max_len

    def encrypt(self, text: str, tweak: bytes) -> str:
        """Encrypt ``text`` under the 7-byte ``tweak``; same length, same alphabet."""
        return self._crypt(text, tweak, encrypt=True)

    def decrypt(self, text: str, tweak: bytes) -> str:
        """Decrypt ``text`` that `encrypt` made under the same key, alphabet and tweak."""
        return self._crypt(text, tweak, encrypt=False)

    def _crypt(self, text: str, tweak: bytes, *, encrypt: bool) -> str:
        text = _check_text(text)
        tweak = _check_tweak(tweak)
        if len(tweak) != _FF3_TWEAK_BYTES:
            _refuse(f"The FF3-1 tweak must be exactly {_FF3_TWEAK_BYTES} bytes (56 bits).")
        n = len(text)
        alphabet = self._alphabet
        if not self._min_len <= n <= self._max_len:
            _refuse(
                f"The text must have between {self._min_len} and {self._max_len} characters "
                f"for a radix of {alphabet.radix}."
            )
        if not alphabet.fits(text):
            _refuse("The text has a character outside the alphabet.")
        u = (n + 1) // 2
        v = n - u
        mod_u = self._powers[u]
        mod_v = self._powers[v]
        # T_L = T[0..27] || 0^4 and T_R = T[32..55] || T[28..31] || 0^4; round i uses
        # W ^ [i]^4 (W = T_R when i is even), and AES sees REVB(P), so W goes in reversed.
        left = int.from_bytes(tweak[:3] + bytes((tweak[3] & 0xF0,)), "big")
        right = int.from_bytes(tweak[4:] + bytes(((tweak[3] & 0x0F) << 4,)), "big")
        ws = [((left if i & 1 else right) ^ i).to_bytes(4, "little") for i in range(_FF3_ROUNDS)]
        update = self._ecb.updater()
        # The state is NUM(REV(A)), NUM(REV(B)): numerals read least significant first.
        a = alphabet.num(text[:u][::-1])
        b = alphabet.num(text[u:][::-1])
        if encrypt:
            for i in range(_FF3_ROUNDS):
                y = int.from_bytes(update(b.to_bytes(12, "little") + ws[i]), "little")
                a, b = b, (a + y) % (mod_v if i & 1 else mod_u)
        else:
            for i in reversed(range(_FF3_ROUNDS)):
                y = int.from_bytes(update(a.to_bytes(12, "little") + ws[i]), "little")
                a, b = (b - y) % (mod_v if i & 1 else mod_u), a
        return alphabet.str(a, u)[::-1] + alphabet.str(b, v)[::-1]
