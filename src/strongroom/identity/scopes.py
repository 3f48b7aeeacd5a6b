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
SECRETS_DUE = "secrets:due"
SECRETS_READ = "secrets:read:"
SECRETS_LIST = "secrets:list:"
SECRETS_WRITE = "secrets:write:"
SECRETS_ADMIN = "secrets:admin:"
CONNECTORS_CALL = "connectors:call:"
APPS_SUBMIT = "apps:submit"
APPS_READ = "apps:read"
REVIEWS_APPROVE = "reviews:approve"
SCIM_PROVISION = "scim:provision"
TOKENS_REVOKE = "tokens:revoke"
TOKENS_INTROSPECT = "tokens:introspect"
CLIENTS_MANAGE = "clients:manage"
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
    SECRETS_DUE: "list the secrets of every app that are due for rotation (metadata only)",
    APPS_SUBMIT: "submit an app's manifest for policy checks and review",
    APPS_READ: "read apps, their submissions and approved manifests",
    REVIEWS_APPROVE: "list, approve and deny submissions (never one's own)",
    SCIM_PROVISION: "provision users and groups through SCIM 2.0",
    TOKENS_REVOKE: "revoke any access token, and trip a user's or an app's kill switch",
    TOKENS_INTROSPECT: "introspect any access token (RFC 7662)",
    CLIENTS_MANAGE: "register and delete OAuth clients (micro apps)",
    ESCROW_DEPOSIT: "read apps' escrow public keys and deposit wrapped data keys",
    ESCROW_REQUEST: "request the recovery of one's own escrowed key, see and release it",
    ESCROW_APPROVE: "approve or deny others' key recovery requests",
}
FIELDS_APP_KEY = "fields:app-key:"
PARAMETERISED: dict[str, str] = {
    SECRETS_READ: "<app>/<name> (or <app>/*): read a secret's value (runtime identities)",
    SECRETS_LIST: "<app>: list an app's secrets and their metadata, never values",
    SECRETS_WRITE: "<app>: write, rotate, delete and undelete an app's secrets",
    SECRETS_ADMIN: "<app>: revoke, destroy versions, disable every secret of an app",
    CONNECTORS_CALL: "<connector>: send requests through a connector of the gateway",
    "tokens:tokenize:": "tokenize values under a policy: tokens:tokenize:<app>/<policy>",
    "tokens:detokenize:": "detokenize (with a stated purpose): tokens:detokenize:<app>/<policy>",
    "tokens:reveal:": "see plain values when detokenizing: tokens:reveal:<app>/<policy>",
    "tokens:admin:": "manage an app's token policies, erase and shred: tokens:admin:<app>",
    "tokens:view:": "an entitlement token policies map to a view: tokens:view:<app>/<name>",
    FIELDS_APP_KEY: "fetch the field-encryption key of the app named after the colon",
}

MAX_SCOPES = 64


def matches(pattern: str, scope: str) -> bool:
    """Whether ``scope`` is ``pattern``, or starts with it when it ends in ``*``."""
    if pattern.endswith("*"):
        return scope.startswith(pattern[:-1])
    return scope == pattern


def allowed(patterns: Iterable[str], scope: str) -> bool:
    """Whether any of ``patterns`` matches ``scope``."""
    return any(matches(p, scope) for p in patterns)


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
