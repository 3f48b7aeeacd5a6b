"""Token routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.params import Security

from strongroom.api.deps import NodeDep, call_of, require
from strongroom.api.models import TokenIn, TokenOut
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import TOKENS_CREATE

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/tokens", name="auth.tokens.create")
def create_token(
    body: TokenIn,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(TOKENS_CREATE))],
) -> TokenOut:
    """Mint a short-lived access token with scopes the caller itself holds."""
    issued = node.mint_token(
        call_of(request, principal), principal, body.subject, body.scopes, body.ttl
    )
    return TokenOut(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        scope=" ".join(issued.scopes),
        jti=issued.jti,
    )
