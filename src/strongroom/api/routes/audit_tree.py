"""Audit tree routes: checkpoints, verifier keys, proofs and bundle export."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.params import Security
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from strongroom.api.deps import NodeDep, call_of, require
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import AUDIT_READ, SYS_WRITE

router = APIRouter(prefix="/v1/audit", tags=["audit"])
MAX_INDEX = 2**62
NOTE_MEDIA = "text/plain; charset=utf-8"


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


class InclusionOut(BaseModel):
    index: int
    size: int
    leaf_hash: str
    proof: list[str]
    root_hash: str


class ConsistencyOut(BaseModel):
    size1: int
    size2: int
    root1: str
    root2: str
    proof: list[str]


class KeysOut(BaseModel):
    origin: str
    keys: list[str]


@router.get("/checkpoint", name="audit.checkpoint.read", response_class=PlainTextResponse)
def checkpoint(node: NodeDep) -> PlainTextResponse:
    """The newest signed tree head, as a C2SP signed note (public, like the JWKS)."""
    return PlainTextResponse(node.audit.checkpoint().note, media_type=NOTE_MEDIA)


@router.post("/checkpoint", name="audit.checkpoint.create", response_class=PlainTextResponse)
def create_checkpoint(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(SYS_WRITE))],
) -> PlainTextResponse:
    """Sign the current tree head now."""
    signed = node.audit.make_checkpoint(call_of(request, principal))
    return PlainTextResponse(signed.note, media_type=NOTE_MEDIA)


@router.get("/keys", name="audit.keys")
def keys(node: NodeDep) -> KeysOut:
    """Checkpoint verifier keys (``name+id+key``), every version, newest first."""
    return KeysOut(origin=node.settings.resolved_audit_origin, keys=node.audit.verifier_keys())


@router.get("/proof/inclusion", name="audit.proof.inclusion")
def inclusion(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(AUDIT_READ))],
    index: Annotated[int, Query(ge=0, le=MAX_INDEX)],
    size: Annotated[int, Query(ge=1, le=MAX_INDEX)],
) -> InclusionOut:
    """RFC 9162 inclusion proof of event ``index`` in the tree of ``size`` events."""
    leaf, proof, root = node.audit.inclusion_proof(call_of(request, principal), index, size)
    return InclusionOut(
        index=index,
        size=size,
        leaf_hash=_b64(leaf),
        proof=[_b64(p) for p in proof],
        root_hash=_b64(root),
    )


@router.get("/proof/consistency", name="audit.proof.consistency")
def consistency(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(AUDIT_READ))],
    size1: Annotated[int, Query(alias="from", ge=1, le=MAX_INDEX)],
    size2: Annotated[int, Query(alias="to", ge=1, le=MAX_INDEX)],
) -> ConsistencyOut:
    """RFC 9162 consistency proof between two tree sizes."""
    old, new, proof = node.audit.consistency_proof(call_of(request, principal), size1, size2)
    return ConsistencyOut(
        size1=size1, size2=size2, root1=_b64(old), root2=_b64(new), proof=[_b64(p) for p in proof]
    )


@router.get("/export", name="audit.export", response_class=StreamingResponse)
def export(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(AUDIT_READ))],
    since: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
) -> StreamingResponse:
    """A self-contained bundle of events ``[since, size)`` with checkpoints and keys."""
    lines = node.audit.export_bundle(call_of(request, principal), since)
    return StreamingResponse(lines, media_type="application/x-ndjson")
