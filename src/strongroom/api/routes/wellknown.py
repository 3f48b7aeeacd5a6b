"""Well-known documents: the token-signing JWK Set and the OAuth server metadata."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from strongroom.api.deps import NodeDep
from strongroom.errors import NotFoundError
from strongroom.identity import metadata

router = APIRouter(tags=["well-known"])


@router.get("/.well-known/jwks.json", name="wellknown.jwks")
def jwks(node: NodeDep) -> dict[str, Any]:
    """Public keys that verify Strongroom access tokens, every live version."""
    node.keyring()
    return node.tokens.jwks()


@router.get(metadata.WELL_KNOWN, name="wellknown.oauth_metadata")
@router.get(metadata.WELL_KNOWN + "/{issuer_path:path}", name="wellknown.oauth_metadata_path")
def oauth_metadata(node: NodeDep, issuer_path: str | None = None) -> dict[str, Any]:
    """RFC 8414 Authorization Server Metadata: the token broker's endpoints and methods.

    Served at the issuer's own metadata path only (RFC 8414 §3: an issuer with a path
    has its path after the well-known segment); 404 for any other issuer's path.
    """
    issuer = node.settings.resolved_issuer
    asked = metadata.WELL_KNOWN + ("/" + issuer_path if issuer_path else "")
    if asked.rstrip("/") != metadata.metadata_path(issuer):
        raise NotFoundError("no authorization server has this issuer")
    return metadata.authorization_server_metadata(issuer)
