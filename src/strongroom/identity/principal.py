"""The authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The client ids the BFF exchanges under: ``bff:<app>``. A registered client's id can
#: never contain ``:``, so no client can take a BFF app's approvals or pass for it; the
#: app's own kill switch covers it.
BFF_CLIENT_PREFIX = "bff:"


@dataclass(frozen=True)
class Principal:
    """Who is calling and what they may do. Holds identifiers only, never the token."""

    subject: str
    kind: Literal["root", "access"]
    token_id: str
    scopes: frozenset[str]
    expires_us: int | None = None
    #: The OAuth client the token was issued to (access tokens only).
    client_id: str = ""
    #: ``iat`` in seconds, for kill switches (a revocation epoch).
    issued_at: int = 0
    #: The ``jti`` values of the tokens this one was exchanged from, oldest first.
    lineage: tuple[str, ...] = ()
    #: The RFC 7638 thumbprint of the DPoP key the token is bound to, if any.
    jkt: str | None = None

    @property
    def actor(self) -> str:
        """How audit events name this caller."""
        return "root" if self.kind == "root" else self.subject

    def has_scope(self, scope: str) -> bool:
        """Root holds every scope; an access token holds exactly those it was given."""
        return self.kind == "root" or scope in self.scopes
