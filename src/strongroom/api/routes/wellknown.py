"""Well-known documents: the token-signing JWK Set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from strongroom.api.deps import NodeDep

router = APIRouter(tags=["well-known"])


@router.get("/.well-known/jwks.json", name="wellknown.jwks")
def jwks(node: NodeDep) -> dict[str, Any]:
    """Public keys that verify Strongroom access tokens, every live version."""
    node.keyring()
    return node.tokens.jwks()
