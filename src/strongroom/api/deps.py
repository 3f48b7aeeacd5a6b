"""Request dependencies: the node, the call context and scope checks declared per route."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from strongroom.errors import DpopProofError, ForbiddenError, UnauthenticatedError
from strongroom.identity.principal import Principal
from strongroom.node import ANONYMOUS, Call, Node

MAX_AUTH_HEADER = 8300
# Declares the bearer scheme in the OpenAPI document; errors are raised by `require`.
bearer_scheme = HTTPBearer(auto_error=False, description="A root token or an access token.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


async def _node(request: Request) -> Node:
    # A coroutine: FastAPI runs plain-function dependencies in a worker thread.
    return get_node(request)


NodeDep = Annotated[Node, Depends(_node)]


def _request_id(request: Request) -> str:
    # Read from the scope's state (what `request.state` wraps) without building the wrapper.
    state = request.scope.get("state")
    return str(state.get("request_id", "") or "") if isinstance(state, dict) else ""


def anonymous_call(request: Request) -> Call:
    return Call(request_id=_request_id(request), actor=ANONYMOUS)


AnonymousCall = Annotated[Call, Depends(anonymous_call)]


def _credentials(request: Request) -> tuple[str, str] | None:
    """(scheme, token) from ``Authorization: Bearer`` or ``Authorization: DPoP``."""
    header = request.headers.get("authorization")
    if header is None or len(header) > MAX_AUTH_HEADER:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop") or not value.strip():
        return None
    return scheme, value.strip()


def _presented(request: Request) -> tuple[str, str, str | None]:
    """(scheme, token, DPoP proof) of ``request``; `UnauthenticatedError` if none."""
    credentials = _credentials(request)
    if credentials is None:
        raise UnauthenticatedError()
    scheme, token = credentials
    proofs = request.headers.getlist("dpop")
    if len(proofs) > 1:
        raise DpopProofError("invalid_dpop_proof")
    return scheme, token, proofs[0] if proofs else None


def authenticate(request: Request, node: Node) -> Principal:
    """The caller of ``request``; `UnauthenticatedError` (or `DpopProofError`) if none.

    A DPoP-bound token needs ``Authorization: DPoP`` and exactly one ``DPoP`` proof header
    for this method and path (RFC 9449 §7).
    """
    scheme, token, proof = _presented(request)
    return node.authenticate(
        token, scheme=scheme, proof=proof, method=request.method, path=_path(request)
    )


def _path(request: Request) -> str:
    """``request.url.path`` without building the URL (parsing the Host header and the
    whole URL costs more than the rest of a cached token's check): the ASGI path with the
    characters a URL cannot hold in its path escaped, as `starlette.datastructures.URL`
    escapes them."""
    path: str = request.scope["path"]
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


async def authenticate_async(request: Request, node: Node) -> Principal:
    """`authenticate` for coroutines (`Node.authenticate_async`): the same checks."""
    scheme, token, proof = _presented(request)
    return await node.authenticate_async(
        token, scheme=scheme, proof=proof, method=request.method, path=_path(request)
    )


def _action(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "name", None) or "unknown")


def require(
    scope: str,
) -> Callable[[Request, Node, HTTPAuthorizationCredentials | None], Principal]:
    """A dependency that authenticates the caller and demands ``scope``.

    A missing or bad token is a 401 and a missing scope a 403; both are audited as
    ``denied`` under the route's action name before the error is raised.
    """

    def dependency(request: Request, node: NodeDep, _declared: BearerDep) -> Principal:
        return authorise(request, node, lambda p: p.has_scope(scope), scope)

    return dependency


def require_async(
    scope: str,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Coroutine[None, None, Principal]]:
    """`require` for ``async def`` routes: a coroutine dependency, so FastAPI runs it on
    the event loop instead of a worker thread (`authorise_async`)."""

    async def dependency(request: Request, _declared: BearerDep) -> Principal:
        return await authorise_async(
            request, get_node(request), lambda p: p.has_scope(scope), scope
        )

    return dependency


def authorise(
    request: Request, node: Node, allowed: Callable[[Principal], bool], needed: str
) -> Principal:
    """Authenticate the caller and demand ``allowed(principal)``, as `require` does.

    For routes whose scope depends on the path (``secrets:read:<app>/<name>``) or that
    accept one of several scopes; ``needed`` names what was missing in the 403 and in
    the ``denied`` audit event.
    """
    call = anonymous_call(request)
    try:
        principal = authenticate(request, node)
    except UnauthenticatedError:
        node.record_denied(call, _action(request), _path(request), "unauthenticated")
        raise
    refusal = _refusal(request, node, principal, allowed, needed)
    if refusal is not None:
        denied, reason, error = refusal
        node.record_denied(denied, _action(request), _path(request), reason)
        raise error
    return principal


async def authorise_async(
    request: Request, node: Node, allowed: Callable[[Principal], bool], needed: str
) -> Principal:
    """`authorise` for coroutines: the same checks and ``denied`` events, on the loop.

    Authentication and the refusal events do not hold a worker thread
    (`authenticate_async`, `Node.record_denied_async`).
    """
    call = anonymous_call(request)
    try:
        principal = await authenticate_async(request, node)
    except UnauthenticatedError:
        await node.record_denied_async(call, _action(request), _path(request), "unauthenticated")
        raise
    refusal = _refusal(request, node, principal, allowed, needed)
    if refusal is not None:
        denied, reason, error = refusal
        await node.record_denied_async(denied, _action(request), _path(request), reason)
        raise error
    return principal


def _refusal(
    request: Request,
    node: Node,
    principal: Principal,
    allowed: Callable[[Principal], bool],
    needed: str,
) -> tuple[Call, str, Exception] | None:
    """Note the caller on ``request``; (call, reason, error) if it may not make this call."""
    actor = node.actor_of(principal)
    request.state.actor = actor
    denied = Call(anonymous_call(request).request_id, actor)
    if principal.kind != "root" and principal.jkt is None and node.broker.dpop_required(needed):
        return denied, f"{needed} needs DPoP", DpopProofError("invalid_token")
    if not allowed(principal):
        return (
            denied,
            f"missing scope {needed}",
            ForbiddenError(f"this call needs the scope {needed!r}"),
        )
    return None


def call_of(request: Request, principal: Principal) -> Call:
    """The call context of an authenticated request (the actor `require` worked out)."""
    actor = getattr(request.state, "actor", None) or get_node(request).actor_of(principal)
    return Call(request_id=_request_id(request), actor=actor)
