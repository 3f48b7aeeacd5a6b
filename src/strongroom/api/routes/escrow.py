"""Key escrow routes: public keys, deposits, recovery requests, decisions, release."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.params import Security
from pydantic import BaseModel, Field

from strongroom.api.deps import NodeDep, call_of, require
from strongroom.api.models import Input
from strongroom.crypto import rsa_keywrap
from strongroom.errors import InvalidRequestError
from strongroom.escrow.service import RequestView
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import ESCROW_APPROVE, ESCROW_DEPOSIT, ESCROW_REQUEST

router = APIRouter(prefix="/v1/escrow", tags=["escrow"])
RequestId = Annotated[str, Path(min_length=32, max_length=32)]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str, name: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"{name} must be base64url") from None


class PublicKeyOut(BaseModel):
    app: str
    version: int
    algorithm: str = Field(description="x25519 or rsa-oaep-3072.")
    public_key: str = Field(
        description="Raw X25519 public key, or RSA SubjectPublicKeyInfo DER; base64url."
    )
    public_key_pem: str | None = Field(None, description="RSA only: the SPKI as PEM.")
    jwk: dict[str, str] | None = Field(None, description="RSA only: the key as a JWK.")


class DepositIn(Input):
    app: str = Field(min_length=1, max_length=128)
    key_id: str = Field(min_length=1, max_length=64)
    key_version: int = Field(ge=0, lt=2**32)
    escrow_version: int = Field(ge=1, lt=2**31)
    wrapped: str = Field(min_length=1, max_length=1024, description="base64url")


class DepositOut(BaseModel):
    id: str


class RecoveryIn(Input):
    deposit_id: str = Field(min_length=32, max_length=32)
    recipient_public_key: str = Field(
        min_length=1,
        max_length=1024,
        description="Raw X25519 or RSA-3072 SubjectPublicKeyInfo DER, base64url.",
    )


class RequestOut(BaseModel):
    id: str
    deposit_id: str
    app: str
    key_id: str
    key_version: int
    status: str
    approvals: int
    threshold: int


class ReleaseOut(RequestOut):
    wrapped: str = Field(description="The data key wrapped to the recipient key, base64url.")


def _out(view: RequestView) -> RequestOut:
    return RequestOut(**view.__dict__)


@router.get("/public-key", name="escrow.public_key.read")
def public_key(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(ESCROW_DEPOSIT))],
    app: Annotated[str, Query(min_length=1, max_length=128)],
) -> PublicKeyOut:
    """The app's escrow public key: wrap data keys to it before depositing them."""
    key = node.escrow.public_key(call_of(request, principal), app)
    out = PublicKeyOut(
        app=key.app, version=key.version, algorithm=key.algorithm, public_key=_b64(key.public)
    )
    if key.algorithm == rsa_keywrap.ALGORITHM:
        n, e = rsa_keywrap.public_jwk_numbers(key.public)
        out.public_key_pem = rsa_keywrap.public_pem(key.public)
        out.jwk = {
            "kty": "RSA", "alg": rsa_keywrap.JWK_ALG, "use": "enc",
            "kid": f"{key.app}:{key.version}", "n": _b64(n), "e": _b64(e),
        }  # fmt: skip
    return out


@router.post("/deposits", name="escrow.deposit")
def deposit(
    request: Request,
    body: DepositIn,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(ESCROW_DEPOSIT))],
) -> DepositOut:
    """Deposit a data key wrapped to the app's escrow public key."""
    deposit_id = node.escrow.deposit(
        call_of(request, principal),
        principal.subject,
        app=body.app,
        key_id=body.key_id,
        key_version=body.key_version,
        escrow_version=body.escrow_version,
        wrapped=_unb64(body.wrapped, "wrapped"),
    )
    return DepositOut(id=deposit_id)


@router.post("/requests", name="escrow.request")
def open_request(
    request: Request,
    body: RecoveryIn,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(ESCROW_REQUEST))],
) -> RequestOut:
    """Ask to recover one's own deposit, to be released wrapped to the given key."""
    recipient = _unb64(body.recipient_public_key, "recipient_public_key")
    view = node.escrow.request(
        call_of(request, principal), principal.subject, body.deposit_id, recipient
    )
    return _out(view)


@router.post("/requests/{request_id}/approve", name="escrow.approve")
def approve(
    request: Request,
    request_id: RequestId,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(ESCROW_APPROVE))],
) -> RequestOut:
    """Approve a recovery request (never one's own)."""
    call = call_of(request, principal)
    return _out(node.escrow.decide(call, principal.subject, request_id, approve=True))


@router.post("/requests/{request_id}/deny", name="escrow.deny")
def deny(
    request: Request,
    request_id: RequestId,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(ESCROW_APPROVE))],
) -> RequestOut:
    """Deny a recovery request: it can no longer be released."""
    call = call_of(request, principal)
    return _out(node.escrow.decide(call, principal.subject, request_id, approve=False))


@router.get("/requests/{request_id}", name="escrow.status.read")
def status(
    request: Request,
    request_id: RequestId,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(ESCROW_REQUEST))],
) -> RequestOut:
    """Where a recovery request stands."""
    return _out(node.escrow.status(call_of(request, principal), request_id))


@router.post("/requests/{request_id}/release", name="escrow.release")
def release(
    request: Request,
    request_id: RequestId,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(ESCROW_REQUEST))],
) -> ReleaseOut:
    """The approved data key, wrapped to the requester's key; once, to the requester only."""
    view, wrapped = node.escrow.release(call_of(request, principal), principal.subject, request_id)
    return ReleaseOut(**view.__dict__, wrapped=_b64(wrapped))
