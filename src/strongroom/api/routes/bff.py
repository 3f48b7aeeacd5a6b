"""The backend-for-frontend of micro apps: sign-in, session, logout, and API forwarding."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from strongroom.api.cookies import BFF_COOKIE, SIGNIN_COOKIE, BffSession, clear_cookie, set_cookie
from strongroom.api.deps import AnonymousCall, NodeDep, anonymous_call, get_node
from strongroom.api.routes.oidc import error_page, finish, session_body, wants_html
from strongroom.errors import StrongroomError, UnauthenticatedError
from strongroom.identity import bff
from strongroom.node import Call, Node

router = APIRouter(prefix="/bff", tags=["bff"])
# The forwarded call never leaves the process: it goes to this very application.
_INTERNAL_BASE = "http://strongroom.internal"
FORWARDED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@router.get("/{app}/login", name="bff.login")
def login(
    app: str,
    node: NodeDep,
    call: AnonymousCall,
    return_to: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """Send the browser to the app's provider to sign in."""
    config = node.identity.bff.app(app)
    started = node.identity.signin.begin(call, config.provider, app, return_to)
    response = RedirectResponse(started.url, status_code=302)
    set_cookie(response, SIGNIN_COOKIE, started.binding, started.max_age, same_site="lax")
    return response


@router.get("/{app}/callback", name="bff.callback")
def callback(app: str, request: Request, node: NodeDep, call: AnonymousCall) -> Response:
    """Finish the sign-in; the browser gets only the ``__Host-sr_session`` cookie."""
    try:
        config = node.identity.bff.app(app)
        done = finish(request, app, config.provider, node, call)
    except StrongroomError as exc:
        if exc.status < 500 and wants_html(request):
            return error_page(request, exc)
        raise
    response = RedirectResponse(done.return_to, status_code=302)
    clear_cookie(response, SIGNIN_COOKIE)
    set_cookie(response, BFF_COOKIE, done.session_id, node.settings.session_ttl_seconds)
    return response


@router.get("/{app}/session", name="bff.session")
def session(app: str, node: NodeDep, cookie: BffSession) -> dict[str, Any]:
    """Who is signed in to ``app`` in this browser (never a token); 401 if nobody."""
    if not cookie:
        raise UnauthenticatedError()
    node.identity.bff.app(app)
    view = node.identity.signin.session(cookie, app)
    if view is None:
        raise UnauthenticatedError()
    return session_body(view)


def _refused(node: Node, call: Call, action: str, app: str, error: StrongroomError) -> None:
    # Refusals at the BFF are audited like a bad bearer token is.
    if error.status < 500:
        node.record_denied(call, action, f"bff/{app[:32]}", error.slug)


@router.post("/{app}/logout", name="bff.logout")
def logout(
    app: str,
    node: NodeDep,
    call: AnonymousCall,
    cookie: BffSession,
    csrf: Annotated[str | None, Header(alias="X-Strongroom-CSRF")] = None,
) -> Response:
    """End the session (needs the ``X-Strongroom-CSRF: 1`` header)."""
    try:
        if not cookie:
            raise UnauthenticatedError()
        node.identity.bff.app(app)
        bff.check_csrf("POST", {bff.CSRF_HEADER: csrf or ""})
    except StrongroomError as exc:
        _refused(node, call, "bff.logout", app, exc)
        raise
    node.identity.signin.logout(call, cookie, app)
    response = Response(status_code=204)
    clear_cookie(response, BFF_COOKIE)
    return response


async def forward(app: str, path: str, request: Request, cookie: BffSession) -> Response:
    """Forward a call to Strongroom's own API with the session's access token.

    Needs the app's session cookie, and ``X-Strongroom-CSRF: 1`` on state-changing
    methods. Only ``v1/...`` paths of this server; the ``Cookie`` header is not forwarded.
    """
    node = get_node(request)
    call = anonymous_call(request)
    try:
        if not cookie:
            raise UnauthenticatedError()
        config = node.identity.bff.app(app)
        bff.check_csrf(request.method, {k.lower(): v for k, v in request.headers.items()})
        target = bff.api_path(path)
        view = await run_in_threadpool(node.identity.signin.session, cookie, app)
        if view is None:
            raise UnauthenticatedError()
    except StrongroomError as exc:
        await run_in_threadpool(_refused, node, call, "bff.api", app, exc)
        raise
    call = Call(call.request_id, node.hide_subject(view.subject))
    forwarding = await run_in_threadpool(node.identity.bff.token, call, view, config, target)
    credentials = forwarding.credentials(request.method, node.broker.url_for(target))
    headers = bff.forward_headers(request.headers.items(), credentials)
    body = await request.body()
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url=_INTERNAL_BASE) as client:
        upstream = await client.request(
            request.method,
            target,
            params=list(request.query_params.multi_items()),
            headers=headers,
            content=body,
        )
    return Response(
        content=upstream.content,
        status_code=upstream.status_code,
        headers=bff.response_headers(upstream.headers.items()),
    )


for _method in FORWARDED_METHODS:
    router.add_api_route(
        "/{app}/api/{path:path}",
        forward,
        methods=[_method],
        name="bff.api",
        operation_id=f"bff_api_{_method.lower()}",
    )
