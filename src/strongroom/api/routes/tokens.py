"""Tokenization vault routes: policies, key rotation, tokenize, detokenize, erase, shred, purge.

Scopes name the app and policy: ``tokens:admin:<app>`` manages policies, erases and
shreds; ``tokens:tokenize:<app>/<policy>`` tokenizes; ``tokens:detokenize:<app>/<policy>``
detokenizes (with a stated purpose), and the policy's views decide what is shown.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.params import Security
from pydantic import BaseModel, Field

from strongroom.api.deps import BearerDep, NodeDep, call_of, require
from strongroom.api.models import Input
from strongroom.clock import rfc3339
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import SYS_WRITE
from strongroom.tokenize import PolicyInfo

router = APIRouter(tags=["tokens"])
PREFIX = "/v1/apps/{app}/tokens"

ViewName = Literal["plain", "masked", "redacted"]


def _admin(request: Request, node: NodeDep, app: str, declared: BearerDep) -> Principal:
    return require(f"tokens:admin:{app}")(request, node, declared)


def _tokenizer(
    request: Request, node: NodeDep, app: str, policy: str, declared: BearerDep
) -> Principal:
    return require(f"tokens:tokenize:{app}/{policy}")(request, node, declared)


def _detokenizer(
    request: Request, node: NodeDep, app: str, policy: str, declared: BearerDep
) -> Principal:
    return require(f"tokens:detokenize:{app}/{policy}")(request, node, declared)


Admin = Annotated[Principal, Depends(_admin)]
Tokenizer = Annotated[Principal, Depends(_tokenizer)]
Detokenizer = Annotated[Principal, Depends(_detokenizer)]


class PolicyIn(Input):
    name: str = Field(max_length=63)
    region: str = Field(max_length=16)
    scheme: Literal["opaque", "fpe", "mask"]
    format: str = Field(max_length=16, description="digits, card, ssn, email, text or custom")
    data_class: str = Field("confidential", max_length=32)
    alphabet: str | None = Field(None, max_length=256, description="For the custom format.")
    deterministic: bool = Field(False, description="Opaque: same value, same token (joins).")
    cipher: Literal["ff1", "ff3-1"] = "ff1"
    vaulted: bool = Field(True, description="FPE: also keep the value (erasable per value).")
    keep_last: int = Field(0, ge=0, le=8, description="FPE: characters left in clear.")
    mask_keep_last: int = Field(4, ge=0, le=8)
    retention_seconds: int | None = Field(None, ge=60)
    views: dict[str, ViewName] | None = Field(None, description="Scope -> view.")
    default_view: ViewName = "masked"


class PolicyOut(BaseModel):
    app: str
    name: str
    region: str
    scheme: str
    format: str
    data_class: str
    alphabet: str | None
    deterministic: bool
    cipher: str
    vaulted: bool
    keep_last: int
    mask_keep_last: int
    retention_seconds: int | None
    views: dict[str, str]
    default_view: str
    created: str
    shredded: bool


class PoliciesOut(BaseModel):
    policies: list[PolicyOut]


def _policy_out(info: PolicyInfo) -> PolicyOut:
    spec = info.spec
    return PolicyOut(
        app=info.app,
        name=spec.name,
        region=spec.region,
        scheme=spec.scheme,
        format=spec.format,
        data_class=spec.data_class,
        alphabet=spec.alphabet,
        deterministic=spec.deterministic,
        cipher=spec.cipher,
        vaulted=spec.vaulted,
        keep_last=spec.keep_last,
        mask_keep_last=spec.mask_keep_last,
        retention_seconds=spec.retention_seconds,
        views=dict(spec.views),
        default_view=spec.default_view,
        created=rfc3339(info.created_us),
        shredded=info.shredded,
    )


class TokenizeIn(Input):
    values: list[str]
    idempotency_key: str | None = Field(None, max_length=200)


class TokenizeOut(BaseModel):
    tokens: list[str]


class DetokenizeIn(Input):
    tokens: list[str]
    purpose: str = Field(max_length=200, description="Why: recorded in the audit event.")


class RevealedOut(BaseModel):
    view: ViewName
    value: str | None


class DetokenizeOut(BaseModel):
    items: list[RevealedOut]


class EraseIn(Input):
    tokens: list[str]


class CountOut(BaseModel):
    count: int


class RotateOut(BaseModel):
    key_version: int


class RewrapIn(Input):
    limit: int = Field(1000, ge=1, description="Values to re-seal in this call, at most.")


class RewrapOut(BaseModel):
    key_version: int
    rewrapped: int
    unreadable: int
    remaining: int


class ShredOut(BaseModel):
    shredded: bool = True
    policies: int = 1


@router.post(PREFIX + "/policies", name="tokens.policy.create")
def create_policy(
    body: PolicyIn, request: Request, node: NodeDep, app: str, who: Admin
) -> PolicyOut:
    """Declare a token policy for one field of the app; its key is made now."""
    fields: dict[str, Any] = body.model_dump(exclude_unset=True)
    return _policy_out(node.vault.create_policy(call_of(request, who), app, fields))


@router.get(PREFIX + "/policies", name="tokens.policy.list")
def list_policies(request: Request, node: NodeDep, app: str, who: Admin) -> PoliciesOut:
    found = node.vault.list_policies(call_of(request, who), app)
    return PoliciesOut(policies=[_policy_out(p) for p in found])


@router.get(PREFIX + "/policies/{policy}", name="tokens.policy.read")
def read_policy(request: Request, node: NodeDep, app: str, policy: str, who: Admin) -> PolicyOut:
    return _policy_out(node.vault.get_policy(call_of(request, who), app, policy))


@router.post(PREFIX + "/policies/{policy}/shred", name="tokens.policy.shred")
def shred_policy(request: Request, node: NodeDep, app: str, policy: str, who: Admin) -> ShredOut:
    """Destroy the policy's key: all its values become unrecoverable. Cannot be undone."""
    node.vault.shred_policy(call_of(request, who), app, policy)
    return ShredOut()


@router.post(PREFIX + "/policies/{policy}/rotate", name="tokens.policy.rotate")
def rotate_policy(request: Request, node: NodeDep, app: str, policy: str, who: Admin) -> RotateOut:
    """Make a new version of the policy's key: new values are sealed under it, older ones
    still open, tokens do not change. Vaultless and mask policies are refused (400)."""
    return RotateOut(key_version=node.vault.rotate_policy(call_of(request, who), app, policy))


@router.post(PREFIX + "/policies/{policy}/rewrap", name="tokens.policy.rewrap")
def rewrap_policy(
    request: Request,
    node: NodeDep,
    app: str,
    policy: str,
    who: Admin,
    body: RewrapIn | None = None,
) -> RewrapOut:
    """Re-seal up to ``limit`` stored values under the newest key version; call again
    until ``remaining`` is 0. Idempotent."""
    limit = body.limit if body is not None else 1000
    done = node.vault.rewrap(call_of(request, who), app, policy, limit)
    return RewrapOut(
        key_version=done.key_version,
        rewrapped=done.rewrapped,
        unreadable=done.unreadable,
        remaining=done.remaining,
    )


@router.post(PREFIX + "/{policy}/tokenize", name="tokens.tokenize")
def tokenize(
    body: TokenizeIn,
    request: Request,
    node: NodeDep,
    app: str,
    policy: str,
    who: Tokenizer,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> TokenizeOut:
    """Tokens for the values, in order; all or nothing (per-item errors on failure)."""
    key = body.idempotency_key or idempotency_key
    tokens = node.vault.tokenize(call_of(request, who), app, policy, body.values, key)
    return TokenizeOut(tokens=tokens)


@router.post(PREFIX + "/{policy}/detokenize", name="tokens.detokenize")
def detokenize(
    body: DetokenizeIn, request: Request, node: NodeDep, app: str, policy: str, who: Detokenizer
) -> DetokenizeOut:
    """The values behind the tokens, as the caller's view allows (plain, masked, redacted)."""
    found = node.vault.detokenize(
        call_of(request, who), who.has_scope, app, policy, body.tokens, body.purpose
    )
    return DetokenizeOut(items=[RevealedOut(view=r.view, value=r.value) for r in found])


@router.post(PREFIX + "/{policy}/erase", name="tokens.erase")
def erase(
    body: EraseIn, request: Request, node: NodeDep, app: str, policy: str, who: Admin
) -> CountOut:
    """Erase the values of these tokens (right to erasure); the tokens then dangle."""
    return CountOut(count=node.vault.erase(call_of(request, who), app, policy, body.tokens))


@router.post("/v1/tokens/purge", name="tokens.purge")
def purge(
    request: Request, node: NodeDep, who: Annotated[Principal, Security(require(SYS_WRITE))]
) -> CountOut:
    """Purge every value past its policy's retention now (a background job does it too)."""
    return CountOut(count=node.vault.purge(call_of(request, who)))


@router.post("/v1/tokens/regions/{region}/shred", name="tokens.region.shred")
def shred_region(
    request: Request,
    node: NodeDep,
    region: str,
    who: Annotated[Principal, Security(require(SYS_WRITE))],
) -> ShredOut:
    """Destroy a region's keys: every value of every policy there becomes unrecoverable."""
    count = node.vault.shred_region(call_of(request, who), region)
    return ShredOut(policies=count)
