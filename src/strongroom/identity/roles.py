"""Strongroom roles and the scopes each entitles its holder to.

A signed-in user's roles come from their provider's group claim and, when SCIM is on,
from their SCIM groups (see docs/identity.md). A token minted for a user never carries a
scope outside the union of their roles' entitlements.
"""

from __future__ import annotations

from collections.abc import Iterable

from strongroom.identity import scopes

ROLES = ("admin", "reviewer", "app-owner", "app-user")

ENTITLEMENTS: dict[str, frozenset[str]] = {
    "admin": frozenset({scopes.SYS_READ, scopes.SYS_WRITE, scopes.AUDIT_READ, scopes.AUDIT_HASH}),
    "reviewer": frozenset({scopes.SYS_READ, scopes.AUDIT_READ}),
    "app-owner": frozenset({scopes.SYS_READ}),
    "app-user": frozenset(),
}


def entitlements(roles: Iterable[str]) -> frozenset[str]:
    """Every scope the given roles entitle to; unknown role names entitle to nothing."""
    granted: set[str] = set()
    for role in roles:
        granted |= ENTITLEMENTS.get(role, frozenset())
    return frozenset(granted)
