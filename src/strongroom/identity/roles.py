"""Strongroom roles and the scopes each entitles its holder to.

A signed-in user's roles come from their provider's group claim and, when SCIM is on,
from their SCIM groups (see docs/identity.md). The entitlements of each role are one table
in the settings (``oauth_role_scopes``, defaults in `strongroom.config.DEFAULT_ROLE_SCOPES`),
used by token exchange and by the BFF alike: a token issued for a user never carries a
scope that none of their roles' patterns matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from strongroom.identity import scopes

ROLES = ("admin", "reviewer", "app-owner", "app-user")


def entitled(role_scopes: Mapping[str, Sequence[str]], roles: Iterable[str], scope: str) -> bool:
    """Whether any of ``roles`` may hold ``scope``; unknown roles entitle to nothing."""
    return any(scopes.allowed(role_scopes.get(role, ()), scope) for role in roles)
