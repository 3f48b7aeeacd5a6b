"""Value formats of the tokenization vault: what a value must look like, which of its
characters a format-preserving cipher may change, and how a value is masked for display.

A format never echoes the value in an error: every refusal is a `FormatError` naming the
rule. Formats are pure functions with no state.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from strongroom.errors import FormatError

DIGITS = string.digits
ALNUM = string.digits + string.ascii_lowercase + string.ascii_uppercase
MASK = "*"
#: The longest value any format takes, in characters (a DoS bound).
MAX_VALUE_CHARS = 4096

#: Lengths a value of only the digits 0-9 may have, for the formats that take such values.
_PLAIN_DIGITS = {"digits": (1, MAX_VALUE_CHARS), "card": (12, 19)}
_SSN = re.compile(r"^[0-9]{3}-[0-9]{2}-[0-9]{4}$")
_CARD = re.compile(r"^[0-9]+(?:[ -][0-9]+)*$")
_EMAIL_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class Format:
    """A named value shape. ``alphabet`` is what a format-preserving cipher runs over."""

    name: str
    alphabet: str
    fpe: bool = True

    def check(self, value: str) -> None:
        """`FormatError` naming the rule if ``value`` does not have this shape."""
        if not isinstance(value, str):
            raise FormatError("a value must be a string")
        if not value or len(value) > MAX_VALUE_CHARS:
            raise FormatError(f"a value must have 1 to {MAX_VALUE_CHARS} characters")
        if "\x00" in value:
            raise FormatError("a value may not contain NUL characters")
        _CHECKS[self.name](self, value)

    def check_all(self, values: Sequence[object]) -> bool:
        """True if every value passes `check`, decided in a few passes over the whole batch
        for plain digit strings (digits and card formats); False means only that each
        value must go through `check` to find which fail."""
        if self.name not in _PLAIN_DIGITS or not values:
            return False
        try:
            joined = "".join(values)  # type: ignore[arg-type]  # TypeError for a non-str
        except TypeError:
            return False
        lengths = list(map(len, values))  # type: ignore[arg-type]  # all str, joined above
        low, high = _PLAIN_DIGITS[self.name]
        return (
            low <= min(lengths) and max(lengths) <= high and joined.isascii() and joined.isdigit()
        )

    def positions(self, value: str) -> list[int]:
        """Indexes of the characters a cipher changes (all others stay as they are)."""
        if self.name == "email":
            at = value.index("@")
            return [i for i in range(at) if value[i] in self.alphabet]
        if self.name == "text":
            return list(range(len(value)))
        alphabet = self.alphabet
        return [i for i, ch in enumerate(value) if ch in alphabet]

    def mask(self, value: str, keep_last: int) -> str:
        """A display form that cannot be reversed: all but the last ``keep_last`` hidden."""
        if self.name == "email":
            at = value.index("@")
            return value[0] + MASK * 3 + value[at:]
        chars = list(value)
        spots = self.positions(value)
        shown = min(keep_last, len(spots) // 2)  # never reveal half or more of a value
        for i in spots[: len(spots) - shown]:
            chars[i] = MASK
        if self.name == "card":
            kept = [c for c in chars if c == MASK or c.isdigit()]
            return "-".join("".join(kept[i : i + 4]) for i in range(0, len(kept), 4))
        return "".join(chars)


def _check_digits(fmt: Format, value: str) -> None:
    if not (value.isascii() and value.isdigit()):
        raise FormatError("a digits value may hold only the digits 0-9")


def _check_card(fmt: Format, value: str) -> None:
    if value.isascii() and value.isdigit():
        digits = len(value)
    elif _CARD.match(value):
        digits = len(value.replace(" ", "").replace("-", ""))
    else:
        raise FormatError("a card number holds digits, optionally grouped by spaces or dashes")
    if not 12 <= digits <= 19:
        raise FormatError("a card number has 12 to 19 digits")


def _check_ssn(fmt: Format, value: str) -> None:
    if not _SSN.match(value):
        raise FormatError("an SSN has the form ddd-dd-dddd")


def _check_email(fmt: Format, value: str) -> None:
    local, at, domain = value.rpartition("@")
    if not at or not local or "@" in local or len(local) > 64 or len(domain) > 253:
        raise FormatError("an e-mail address has the form local@domain")
    if not (local.isascii() and local.isprintable()) or " " in local:
        raise FormatError("an e-mail address's local part is printable ASCII without spaces")
    if not _EMAIL_DOMAIN.match(domain):
        raise FormatError("an e-mail address needs a domain such as example.com")


def _check_text(fmt: Format, value: str) -> None:
    return None


def _check_custom(fmt: Format, value: str) -> None:
    alphabet = set(fmt.alphabet)
    if not alphabet.issuperset(value):
        raise FormatError("the value has a character outside the policy's alphabet")


_CHECKS = {
    "digits": _check_digits,
    "card": _check_card,
    "ssn": _check_ssn,
    "email": _check_email,
    "text": _check_text,
    "custom": _check_custom,
}
NAMES = tuple(_CHECKS)


def get(name: str, alphabet: str | None = None) -> Format:
    """The format called ``name``; ``custom`` needs its ``alphabet``. `FormatError` if unknown."""
    if name == "custom":
        if not alphabet:
            raise FormatError("the custom format needs an alphabet")
        return Format("custom", alphabet)
    if alphabet is not None:
        raise FormatError("only the custom format takes an alphabet")
    if name in ("digits", "card", "ssn"):
        return Format(name, DIGITS)
    if name == "email":
        return Format(name, ALNUM)
    if name == "text":
        return Format(name, "", fpe=False)
    raise FormatError(f"unknown format; known formats: {', '.join(NAMES)}")
