"""Checksums that some token formats carry, and Shannon entropy.

GitHub's tokens (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``) end in six base62 digits
of the CRC32 of the 30 random characters before them, so a typo'd or invented token is
told apart from a real one without asking GitHub.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number: int, width: int) -> str:
    """``number`` in base62 (digits, upper, lower), left-padded with ``0`` to ``width``."""
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def github_checksum(random_part: str) -> str:
    """The six-character checksum GitHub appends to the 30 random characters of a token."""
    return base62(zlib.crc32(random_part.encode("ascii")), 6)


def github_token_valid(token: str) -> bool:
    """Whether a ``gh?_`` token of 40 characters carries a valid CRC32 checksum."""
    prefix, _, body = token.partition("_")
    if len(prefix) != 3 or len(body) != 36 or not body.isascii() or not body.isalnum():
        return False
    return github_checksum(body[:30]) == body[30:]


def shannon_entropy(value: str) -> float:
    """Shannon entropy of ``value`` in bits per character (0.0 for an empty string)."""
    if not value:
        return 0.0
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in Counter(value).values())
