"""Names of apps and secrets, and secret references (``sr://secrets/<app>/<name>``).

An app name is 1-63 characters of lowercase letters, digits and ``-``, starting with a
letter or digit; a secret name is 1-128 characters of letters, digits, ``.``, ``_`` and
``-``, starting with a letter or digit. Neither may hold ``/``, so a reference and a scope
(``secrets:read:<app>/<name>``) split one way only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from strongroom.errors import InvalidRequestError

_APP = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SCHEME = "sr://secrets/"


def check_app(app: str) -> str:
    """``app`` if valid; `InvalidRequestError` (which does not echo it) otherwise."""
    if not _APP.fullmatch(app):
        raise InvalidRequestError(
            "an app name is 1-63 lowercase letters, digits or '-', starting with a letter or digit"
        )
    return app


def check_name(name: str) -> str:
    """``name`` if valid; `InvalidRequestError` (which does not echo it) otherwise."""
    if not _NAME.fullmatch(name):
        raise InvalidRequestError(
            "a secret name is 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class SecretRef:
    """A parsed ``sr://secrets/<app>/<name>`` reference."""

    app: str
    name: str

    def __str__(self) -> str:
        return f"{SCHEME}{self.app}/{self.name}"

    @property
    def id(self) -> str:
        """The identifier audit events and scopes use: ``<app>/<name>``."""
        return f"{self.app}/{self.name}"


def parse_ref(ref: str) -> SecretRef:
    """Parse a reference; `InvalidRequestError` if it is not ``sr://secrets/<app>/<name>``."""
    rest = ref.removeprefix(SCHEME)
    if rest == ref or rest.count("/") != 1:
        raise InvalidRequestError("a secret reference is sr://secrets/<app>/<name>")
    app, _, name = rest.partition("/")
    return SecretRef(check_app(app), check_name(name))


def read_scope(app: str, name: str) -> str:
    """The scope that reads one secret's value."""
    return f"secrets:read:{app}/{name}"


def may_read(scopes: frozenset[str], app: str, name: str) -> bool:
    """Whether ``scopes`` grant reading ``app/name``.

    Exactly two forms grant it: ``secrets:read:<app>/<name>`` and the app wildcard
    ``secrets:read:<app>/*``. No other pattern (``*`` elsewhere, prefixes) matches.
    """
    return read_scope(app, name) in scopes or f"secrets:read:{app}/*" in scopes
