"""Shamir's secret sharing over GF(2^8), byte by byte.

The field is GF(2^8) with the AES/Rijndael reduction polynomial x^8 + x^4 + x^3 + x + 1
(``0x11b``), the field SLIP-39 uses too. Addition is XOR. Every byte of the secret is shared
on its own: it becomes the constant term of a fresh, uniformly random polynomial of degree
at most ``threshold - 1``, and share ``i`` holds that polynomial evaluated at ``x = i``.

Any ``threshold`` shares rebuild the secret by Lagrange interpolation at ``x = 0``; any
fewer are consistent with every possible secret and so reveal nothing about it.

There is no integrity protection here: :func:`combine` cannot tell a right answer from a
wrong one. Callers must verify the rebuilt secret (for example against a stored MAC or by
opening something sealed with it).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from strongroom.errors import ShareError

__all__ = ["MAX_SHARES", "combine", "split"]

#: The most shares a secret can be split into: x-coordinates are the non-zero field elements.
MAX_SHARES = 255

# The reduction polynomial x^8 + x^4 + x^3 + x + 1 (AES/Rijndael).
_POLY = 0x11B

# Why shift-and-add instead of log/exp tables: the usual fast GF(2^8) multiply looks up
# log[a] and exp[...] with indices derived from the secret bytes, which leaks them through
# the data cache (the classic AES table-timing attacks). Here every multiply runs the same
# eight iterations whatever its inputs, and each data-dependent choice ("add a?", "reduce?")
# is made with an all-ones/all-zeros mask instead of an ``if``. Inversion is a^254
# (Fermat: a^255 = 1 for a != 0) by a fixed sequence of those multiplies, so it has no
# secret-dependent branch either. CPython gives no hard constant-time guarantee (its ints
# are variable-length objects), but this removes the obvious, practical leaks at a cost
# that does not matter for splitting a 32-byte key.


def _mul(a: int, b: int) -> int:
    """Multiply two field elements (ints in 0..255) in GF(2^8) mod ``0x11b``.

    Branch-free "Russian peasant" multiply: for each of the 8 bits of ``b``, add (XOR) ``a``
    into the product under a mask, then double ``a`` and reduce it, again under a mask.
    """
    p = 0
    for _ in range(8):
        p ^= -(b & 1) & a  # -(bit) is all ones when the bit is set, zero otherwise
        carry = -((a >> 7) & 1)
        a = ((a << 1) ^ (carry & _POLY)) & 0xFF
        b >>= 1
    return p


def _inv(a: int) -> int:
    """Return the multiplicative inverse of ``a`` in GF(2^8), computed as ``a ** 254``.

    ``a ** 254 == a ** (2 + 4 + 8 + 16 + 32 + 64 + 128)``: seven squarings, each multiplied
    into the result, the same steps for every input. ``_inv(0)`` is ``0`` (0 has no inverse;
    callers never ask for it).
    """
    result = 1
    square = a
    for _ in range(7):
        square = _mul(square, square)
        result = _mul(result, square)
    return result


def split(secret: bytes, shares: int, threshold: int) -> list[tuple[int, bytes]]:
    """Split ``secret`` into ``shares`` shares, any ``threshold`` of which rebuild it.

    Args:
        secret: The bytes to share; must not be empty.
        shares: How many shares to make (N), ``threshold <= shares <= 255``.
        threshold: How many shares are needed to rebuild (M), ``1 <= threshold``.
            With ``threshold == 1`` every share's ``y`` equals the secret.

    Returns:
        ``shares`` pairs ``(x, y)`` with ``x = 1, 2, ..., shares`` in that order and ``y`` a
        ``bytes`` of ``len(secret)``. The random coefficients come from :mod:`secrets`, so two
        splits of the same secret give different shares (unless ``threshold == 1``).

    Raises:
        ShareError: ``threshold < 1``, ``shares > 255``, ``shares < threshold``, or an empty
            ``secret``. The message never contains secret material.
    """
    if threshold < 1:
        raise ShareError("The threshold must be at least 1.")
    if shares > MAX_SHARES:
        raise ShareError(f"At most {MAX_SHARES} shares can be made.")
    if shares < threshold:
        raise ShareError("The number of shares must not be less than the threshold.")
    if len(secret) == 0:
        raise ShareError("The secret to split must not be empty.")

    # coefficients[k][j] is the coefficient of x^k in the polynomial for secret byte j.
    # The top coefficient may be zero: the polynomial is uniform over all polynomials of
    # degree < threshold with the right constant term, which is what makes M-1 shares
    # reveal nothing (forcing it non-zero would leak a little).
    coefficients = [bytes(secret)] + [
        secrets.token_bytes(len(secret)) for _ in range(threshold - 1)
    ]
    result: list[tuple[int, bytes]] = []
    for x in range(1, shares + 1):
        y = bytearray(len(secret))
        for j in range(len(secret)):
            # Horner's rule, highest degree first.
            acc = 0
            for k in range(threshold - 1, -1, -1):
                acc = _mul(acc, x) ^ coefficients[k][j]
            y[j] = acc
        result.append((x, bytes(y)))
    return result


def combine(shares: Sequence[tuple[int, bytes]]) -> bytes:
    """Rebuild a secret from shares made by :func:`split`.

    Interpolates, byte by byte, the unique polynomial of degree ``< len(shares)`` through
    the given points and returns its value at ``x = 0``. The order of the shares does not
    matter.

    The shares do not record the threshold, so this cannot know whether enough were given:
    with fewer than ``threshold`` shares (or shares from different splits) it returns
    unrelated bytes of the right length and raises nothing. The caller must verify the
    result. Giving more than ``threshold`` shares of one split is fine.

    Args:
        shares: ``(x, y)`` pairs: ``x`` an int in 1..255, distinct across shares; ``y`` a
            non-empty ``bytes`` (or ``bytearray``), the same length in every share.

    Returns:
        The rebuilt secret, ``len(y)`` bytes.

    Raises:
        ShareError: no shares; a share that is not an ``(x, y)`` pair; an ``x`` that is
            not an int in 1..255; a duplicate ``x``; a ``y`` that is not bytes, is empty, or
            differs in length from the others. The message never contains share values.
    """
    if len(shares) == 0:
        raise ShareError("At least one share is needed.")
    xs: list[int] = []
    ys: list[bytes] = []
    for share in shares:
        try:
            x, y = share
        except (TypeError, ValueError):
            raise ShareError("A share must be an (index, value) pair.") from None
        if isinstance(x, bool) or not isinstance(x, int) or not 1 <= x <= MAX_SHARES:
            raise ShareError(f"A share index must be an integer from 1 to {MAX_SHARES}.")
        if x in xs:
            raise ShareError(f"Share index {x} is given more than once.")
        if not isinstance(y, bytes | bytearray):
            raise ShareError("A share value must be bytes.")
        xs.append(x)
        ys.append(bytes(y))
    length = len(ys[0])
    if length == 0:
        raise ShareError("A share value must not be empty.")
    if any(len(y) != length for y in ys):
        raise ShareError("The shares have different lengths; they cannot be from one secret.")

    # Lagrange basis at 0: l_i(0) = prod_{j != i} x_j / (x_j - x_i), with "-" being XOR.
    # These depend only on the public x-coordinates; the secret-dependent work is the
    # y * l_i(0) multiplies below, which use the branch-free _mul.
    weights: list[int] = []
    for i, x_i in enumerate(xs):
        numerator = 1
        denominator = 1
        for j, x_j in enumerate(xs):
            if j != i:
                numerator = _mul(numerator, x_j)
                denominator = _mul(denominator, x_j ^ x_i)
        weights.append(_mul(numerator, _inv(denominator)))

    secret = bytearray(length)
    for weight, y in zip(weights, ys, strict=True):
        for k in range(length):
            secret[k] ^= _mul(y[k], weight)
    return bytes(secret)
