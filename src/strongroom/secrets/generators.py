"""Random values for rotation: passwords and keys made to a named policy.

Only the operating system's CSPRNG (`secrets`) is used. A password policy guarantees one
character of each class it includes; a key policy gives base64 text of N random bytes.
"""

from __future__ import annotations

import base64
import secrets
import string
from dataclasses import dataclass
from typing import Literal

from strongroom.errors import InvalidRequestError

SYMBOLS = "!#$%&()*+,-./:;<=>?@[]^_{|}~"
KEY_SIZES = (16, 24, 32, 48, 64)


@dataclass(frozen=True)
class Policy:
    """What to generate. ``length`` counts characters (password) or bytes (key)."""

    kind: Literal["password", "key"]
    length: int = 32
    symbols: bool = True

    def check(self) -> None:
        """`InvalidRequestError` if the policy cannot make a sound value."""
        if self.kind == "password" and not 12 <= self.length <= 256:
            raise InvalidRequestError("a generated password is 12-256 characters")
        if self.kind == "key" and self.length not in KEY_SIZES:
            raise InvalidRequestError(f"a generated key is one of {KEY_SIZES} bytes")


def generate(policy: Policy) -> bytes:
    """A fresh value for ``policy`` (as UTF-8 bytes); `InvalidRequestError` if it is unsound."""
    policy.check()
    if policy.kind == "key":
        return base64.b64encode(secrets.token_bytes(policy.length))
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits]
    if policy.symbols:
        classes.append(SYMBOLS)
    alphabet = "".join(classes)
    while True:
        chars = [secrets.choice(alphabet) for _ in range(policy.length)]
        if all(any(c in cls for c in chars) for cls in classes):
            return "".join(chars).encode()
