"""Scopes: the names that authorise API calls.

A scope is either a plain name from `KNOWN` or a parameterised one whose prefix is in
`PARAMETERISED` (e.g. ``secrets:read:crm/api-key``, added by later services). Token
requests naming anything else are refused, so a typo never silently grants nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from strongroom.errors import InvalidRequestError

SYS_READ = "sys:read"
SYS_WRITE = "sys:write"
AUDIT_READ = "audit:read"
TOKENS_CREATE = "tokens:create"
AUDIT_HASH = "audit:hash"
ESCROW_DEPOSIT = "escrow:deposit"
ESCROW_REQUEST = "escrow:request"
ESCROW_APPROVE = "escrow:approve"

#: Scopes only the root token may grant: a token holding one could otherwise mint its own
#: successor and live forever.
ROOT_ONLY = frozenset({TOKENS_CREATE})
#: Subjects that name Strongroom's own actors in the audit trail; no token may claim one.
RESERVED_SUBJECTS = frozenset({"root", "anonymous", "dev", "system"})

KNOWN: dict[str, str] = {
    SYS_READ: "read seal status details, key metadata and metrics",
    SYS_WRITE: "rotate keys and seal the server",
    AUDIT_READ: "read the audit trail",
    TOKENS_CREATE: "mint access tokens (only with scopes the caller holds)",
    AUDIT_HASH: "compute the audit HMAC of a value, to search the trail for it",
    ESCROW_DEPOSIT: "read apps' escrow public keys and deposit wrapped data keys",
    ESCROW_REQUEST: "request the recovery of one's own escrowed key, see and release it",
    ESCROW_APPROVE: "approve or deny others' key recovery requests",
}
FIELDS_APP_KEY = "fields:app-key:"
PARAMETERISED: dict[str, str] = {
    FIELDS_APP_KEY: "fetch the field-encryption key of the app named after the colon",
}

MAX_SCOPES = 64
# RFC 6749 §3.3 scope-token characters, minus the backslash and quote for sanity.
_SCOPE_RE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,200}$")


def validate(scopes: Iterable[str]) -> list[str]:
    """Check names and return them de-duplicated in order; `InvalidRequestError` if bad."""
    result: list[str] = []
    for position, scope in enumerate(scopes, start=1):
        # Errors name the position, never the value: a caller may paste anything here.
        if not _SCOPE_RE.match(scope):
            raise InvalidRequestError(
                f"scope {position} is not 1-200 printable characters without spaces"
            )
        if scope not in KNOWN and not any(scope.startswith(p) for p in PARAMETERISED):
            known = ", ".join(sorted(KNOWN))
            raise InvalidRequestError(f"scope {position} is unknown; known scopes: {known}")
        if scope not in result:
            result.append(scope)
    if len(result) > MAX_SCOPES:
        raise InvalidRequestError(f"at most {MAX_SCOPES} scopes per token")
    return result
