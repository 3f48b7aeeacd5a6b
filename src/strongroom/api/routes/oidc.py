"""Console sign-in through an OpenID provider, and the console's session."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import RedirectResponse, Response

from strongroom.api.cookies import (
    CONSOLE_COOKIE,
    SIGNIN_COOKIE,
    ConsoleSession,
    clear_cookie,
    set_cookie,
)
from strongroom.api.deps import AnonymousCall, NodeDep
from strongroom.errors import SignInError, StrongroomError, UnauthenticatedError
from strongroom.identity.bff import CSRF_HEADER, check_csrf
from strongroom.identity.signin import CONSOLE, SessionView

router = APIRouter(prefix="/v1/auth", tags=["auth"])


def callback_params(request: Request) -> dict[str, str]:
    """The callback's query parameters; a repeated one is refused (parameter pollution)."""
    items = request.query_params.multi_items()
    params = dict(items)
    if len(params) != len(items):
        raise SignInError("a callback parameter is repeated")
    return params


def session_body(view: SessionView) -> dict[str, Any]:
    return {
        "authenticated": True,
        "subject": view.subject,
        "app": view.app,
        "provider": view.provider,
        "roles": list(view.roles),
        "expires_at": view.expires_us // 1_000_000,
    }


@router.get("/oidc/{provider}/login", name="auth.oidc.login")
def login(
    provider: str,
    node: NodeDep,
    call: AnonymousCall,
    return_to: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """Send the browser to the provider (PKCE S256, state, nonce)."""
    started = node.identity.signin.begin(call, provider, CONSOLE, return_to)
    response = RedirectResponse(started.url, status_code=302)
    set_cookie(response, SIGNIN_COOKIE, started.binding, started.max_age, same_site="lax")
    return response


@router.get("/oidc/{provider}/callback", name="auth.oidc.callback")
def callback(provider: str, request: Request, node: NodeDep, call: AnonymousCall) -> Response:
    """Finish the sign-in and start a console session."""
    done = node.identity.signin.complete(
        call, provider, CONSOLE, callback_params(request), request.cookies.get(SIGNIN_COOKIE)
    )
    response = RedirectResponse(done.return_to, status_code=302)
    clear_cookie(response, SIGNIN_COOKIE)
    set_cookie(response, CONSOLE_COOKIE, done.session_id, node.settings.session_ttl_seconds)
    return response


@router.get("/session", name="auth.session.read")
def session(node: NodeDep, cookie: ConsoleSession) -> dict[str, Any]:
    """The console session of this browser; 401 without one."""
    if not cookie:
        raise UnauthenticatedError()
    view = node.identity.signin.session(cookie, CONSOLE)
    if view is None:
        raise UnauthenticatedError()
    return session_body(view)


@router.post("/logout", name="auth.session.logout")
def logout(
    node: NodeDep,
    call: AnonymousCall,
    cookie: ConsoleSession,
    csrf: Annotated[str | None, Header(alias="X-Strongroom-CSRF")] = None,
) -> Response:
    """End the console session (needs the ``X-Strongroom-CSRF: 1`` header)."""
    try:
        if not cookie:
            raise UnauthenticatedError()
        check_csrf("POST", {CSRF_HEADER: csrf or ""})
    except StrongroomError as exc:
        node.record_denied(call, "auth.session.logout", "auth/console", exc.slug)
        raise
    node.identity.signin.logout(call, cookie, CONSOLE)
    response = Response(status_code=204)
    clear_cookie(response, CONSOLE_COOKIE)
    return response
