"""System routes: health, init, unseal, seal, keys, metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.params import Security
from fastapi.responses import JSONResponse

from strongroom import __version__
from strongroom.api.deps import AnonymousCall, BearerDep, NodeDep, call_of, require, require_async
from strongroom.api.metrics import CONTENT_TYPE
from strongroom.api.models import (
    HealthOut,
    InitIn,
    InitOut,
    KeyOut,
    KeysOut,
    SealStatusOut,
    UnsealIn,
)
from strongroom.clock import rfc3339
from strongroom.errors import InvalidRequestError
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import SYS_READ, SYS_WRITE
from strongroom.kms.keyring import KeyInfo
from strongroom.kms.seal import SealStatus

router = APIRouter(prefix="/v1/sys", tags=["sys"])


def _status_out(status: SealStatus) -> SealStatusOut:
    return SealStatusOut(
        initialized=status.initialized,
        sealed=status.sealed,
        threshold=status.threshold,
        shares=status.shares,
        progress=status.progress,
        version=__version__,
    )


def _key_out(info: KeyInfo) -> KeyOut:
    return KeyOut(
        purpose=info.purpose,
        version=info.version,
        algorithm=info.algorithm,
        created=rfc3339(info.created_us),
        current=info.current,
    )


@router.get(
    "/health",
    name="sys.health",
    response_model=HealthOut,
    responses={
        501: {"description": "not initialised"},
        503: {"description": "sealed, or the audit trail cannot record"},
    },
)
def health(node: NodeDep) -> JSONResponse:
    """200 when serving; 503 when sealed or when audit writes fail (every request would);
    501 when not initialised. For load balancers."""
    status = node.status()
    degraded = not node.committer.healthy
    code = 501 if not status.initialized else 503 if status.sealed or degraded else 200
    body = HealthOut(
        initialized=status.initialized,
        sealed=status.sealed,
        version=__version__,
        audit="degraded" if degraded else "ok",
        alerts=None if node.alerts.windows_state == "local" else node.alerts.windows_state,
    )
    # Alerts never fail a request, so their state is shown but does not change the code.
    return JSONResponse(body.model_dump(exclude_none=True), status_code=code)


@router.get("/seal-status", name="sys.seal_status")
def seal_status(node: NodeDep) -> SealStatusOut:
    return _status_out(node.status())


@router.post("/init", name="sys.init")
def init(body: InitIn, node: NodeDep, call: AnonymousCall) -> InitOut:
    """Create the root key and print its shares and a root token, once."""
    done = node.initialize(call, body.shares, body.threshold)
    return InitOut(
        shares=done.result.shares, threshold=done.result.threshold, root_token=done.root_token
    )


@router.post("/unseal", name="sys.unseal")
def unseal(body: UnsealIn, node: NodeDep, call: AnonymousCall) -> SealStatusOut:
    """Submit one key share (or ``reset: true`` to discard the shares given so far)."""
    if body.reset:
        return _status_out(node.reset_unseal(call))
    if body.share is None:
        raise InvalidRequestError("give a key share in 'share', or 'reset': true")
    return _status_out(node.unseal(call, body.share))


@router.post("/seal", name="sys.seal")
def seal(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(SYS_WRITE))],
) -> SealStatusOut:
    """Drop every key from memory; the server answers 503 until unsealed again."""
    node.seal(call_of(request, principal))
    return _status_out(node.status())


@router.get("/keys", name="sys.keys.list")
async def list_keys(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require_async(SYS_READ))],
) -> KeysOut:
    """Key metadata: purpose, versions, algorithm, created. Never key material."""
    # A coroutine: waiting for the audit event holds no worker thread.
    keys = await node.list_keys_async(call_of(request, principal))
    return KeysOut(keys=[_key_out(k) for k in keys])


@router.post("/keys/{purpose}/rotate", name="sys.keys.rotate")
def rotate_key(
    purpose: str,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(SYS_WRITE))],
) -> KeyOut:
    """Add a key version; older versions keep decrypting and verifying."""
    return _key_out(node.rotate_key(call_of(request, principal), purpose))


_require_read = require(SYS_READ)


def _metrics_access(request: Request, node: NodeDep, declared: BearerDep) -> Principal | None:
    """The caller (``sys:read`` required), or None when the route is open."""
    # Scrapers rarely hold short-lived tokens: `metrics_unauthenticated` opens this route.
    if node.settings.metrics_unauthenticated:
        return None
    return _require_read(request, node, declared)


@router.get("/metrics", name="sys.metrics.read", response_class=Response)
def metrics(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal | None, Depends(_metrics_access)],
) -> Response:
    """Prometheus text: request counts and latencies by route and status, seal state.

    An authenticated read is audited like every other authenticated request; an open
    route (``metrics_unauthenticated``) records nothing, as scrapers would flood the trail.
    """
    if principal is None:
        return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
    call = call_of(request, principal)
    with node.recorder.action(
        call.request_id, call.actor, "sys.metrics.read", "sys/metrics", writes=False
    ):
        body = request.app.state.metrics.render()
    return Response(body, media_type=CONTENT_TYPE)
