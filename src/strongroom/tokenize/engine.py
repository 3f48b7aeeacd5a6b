"""The per-value work of tokenizing: sealing opaque values, format-preserving encryption.

Pure functions over one policy's keys; the vault service does the storage and auditing.
Item errors are returned by index rather than raised, so a batch can report every bad
item at once and then write nothing.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence

from strongroom.crypto import aead
from strongroom.crypto.fpe import FF1, FF3_1
from strongroom.errors import FormatError, StrongroomError
from strongroom.tokenize.formats import Format
from strongroom.tokenize.keys import PolicyKeys
from strongroom.tokenize.policy import PolicySpec

ItemErrors = dict[int, StrongroomError]


def value_aad(app: str, name: str, region: str, ref: bytes) -> bytes:
    """Associated data of a sealed value: app, policy, region and token ref."""
    return b"\x00".join(
        [b"strongroom/tokenize/value/v1", app.encode(), name.encode(), region.encode(), ref]
    )


def seal(keys: PolicyKeys, value: str, aad: bytes) -> bytes:
    return aead.encrypt(keys.seal, value.encode("utf-8"), aad, key_version=keys.version)


def seal_many(
    keys: PolicyKeys, values: Sequence[str], aad_prefix: bytes, refs: Sequence[bytes]
) -> list[bytes]:
    """`seal` of each value with associated data ``aad_prefix + refs[i]``, in one batch."""
    plaintexts = [value.encode("utf-8") for value in values]
    return aead.encrypt_batch(keys.seal, plaintexts, aad_prefix, refs, key_version=keys.version)


def unseal(keys: PolicyKeys, blob: bytes, aad: bytes) -> str:
    """Open a value sealed under any version of the policy key: the version the blob names
    (authenticated as associated data) picks the key; `DecryptionError` for any failure."""
    return aead.decrypt(keys.seal_key(aead.key_version(blob)), blob, aad).decode("utf-8")


def check_values(spec: PolicySpec, values: Sequence[str]) -> ItemErrors:
    """Every value that does not fit the policy's format, by index."""
    fmt = spec.value_format
    if fmt.check_all(values):
        return {}
    errors: ItemErrors = {}
    for i, value in enumerate(values):
        try:
            fmt.check(value)
        except FormatError as exc:
            errors[i] = exc
    return errors


def _cipher(spec: PolicySpec, keys: PolicyKeys) -> tuple[FF1 | FF3_1, bytes]:
    """The policy's format-preserving cipher and its tweak."""
    tweak = bytes.fromhex(spec.tweak)
    alphabet = spec.value_format.alphabet
    if spec.cipher == "ff1":
        return FF1(keys.fpe, alphabet), tweak
    return FF3_1(keys.fpe, alphabet), tweak[:7]


def _uniform_cut(fmt: Format, texts: Sequence[str], keep: int, low: int) -> int | None:
    """How many leading characters of every text are enciphered, when that is the same for
    the whole batch, every text is enciphered whole but its kept tail, and the cut meets
    the cipher's minimum; None otherwise (the per-text path decides)."""
    if fmt.name not in ("digits", "custom", "card") or not texts:
        return None
    lengths = set(map(len, texts))
    if len(lengths) != 1:
        return None
    cut = lengths.pop() - keep
    if cut < low or (fmt.name == "card" and not "".join(texts).isdigit()):
        return None
    return cut


def fpe(
    spec: PolicySpec, keys: PolicyKeys, texts: Sequence[str], *, encrypt: bool
) -> tuple[list[str], ItemErrors]:
    """Encipher (or decipher) the changeable characters of each text, keeping its shape.

    The last ``keep_last`` changeable characters stay in clear; what remains must meet the
    cipher's domain minimum (radix ** length >= 1,000,000), or the item fails.
    """
    fmt = spec.value_format
    cipher, tweak = _cipher(spec, keys)
    cut = _uniform_cut(fmt, texts, spec.keep_last, cipher.min_length)
    if cut is not None and isinstance(cipher, FF1):
        # The common batch: one shape, every character enciphered but the kept tail.
        # A text the cipher refuses falls through to the per-text path, which says which.
        run = cipher.encrypt_many if encrypt else cipher.decrypt_many
        with contextlib.suppress(FormatError):
            done = run([text[:cut] for text in texts], tweak)
            return [out + text[cut:] for out, text in zip(done, texts, strict=True)], {}
    errors: ItemErrors = {}
    # None: every character is enciphered but the kept tail (plain slicing, the fast path).
    spots: list[list[int] | None] = []
    heads: list[str] = []
    by_length: dict[int, list[int]] = defaultdict(list)
    keep = spec.keep_last
    whole = fmt.name in ("digits", "custom")
    for i, text in enumerate(texts):
        if whole or (fmt.name == "card" and text.isdigit()):
            cut = len(text) - keep
            spots.append(None)
            heads.append(text[: max(cut, 0)])
        else:
            positions = fmt.positions(text)
            cut = len(positions) - keep
            positions = positions[: max(cut, 0)]
            spots.append(positions)
            heads.append("".join(text[p] for p in positions))
        if cut < cipher.min_length:
            errors[i] = FormatError(
                f"too short for format-preserving tokens: at least {cipher.min_length} "
                f"enciphered characters are needed (after keep_last {spec.keep_last})"
            )
        else:
            by_length[cut].append(i)
    outs = list(heads)
    for indexes in by_length.values():
        group = [heads[i] for i in indexes]
        try:
            if isinstance(cipher, FF1):
                done = (
                    cipher.encrypt_many(group, tweak)
                    if encrypt
                    else cipher.decrypt_many(group, tweak)
                )
            else:
                done = [
                    cipher.encrypt(t, tweak) if encrypt else cipher.decrypt(t, tweak) for t in group
                ]
        except FormatError as exc:  # FF3-1's maximum length: the whole group shares it
            for i in indexes:
                errors[i] = FormatError(exc.detail.split(": ", 1)[-1])
            continue
        for i, out in zip(indexes, done, strict=True):
            outs[i] = out
    results: list[str] = []
    for i, text in enumerate(texts):
        spot = spots[i]
        if spot is None:
            results.append(outs[i] + text[len(outs[i]) :])
            continue
        chars = list(text)
        for p, ch in zip(spot, outs[i], strict=True):
            chars[p] = ch
        results.append("".join(chars))
    return results, errors
