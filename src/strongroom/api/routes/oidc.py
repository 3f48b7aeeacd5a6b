"""Console sign-in through an OpenID provider, and the console's session."""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from strongroom.api.cookies import (
    BFF_COOKIE,
    CONSOLE_COOKIE,
    SIGNIN_COOKIE,
    ConsoleSession,
    clear_cookie,
    set_cookie,
)
from strongroom.api.deps import AnonymousCall, NodeDep
from strongroom.errors import SignInError, StrongroomError, UnauthenticatedError
from strongroom.identity.bff import CSRF_HEADER, check_csrf
from strongroom.identity.signin import CONSOLE, Completed, SessionView
from strongroom.node import Call, Node

router = APIRouter(prefix="/v1/auth", tags=["auth"])


def callback_params(request: Request) -> dict[str, str]:
    """The callback's query parameters; a repeated one is refused (parameter pollution)."""
    items = request.query_params.multi_items()
    params = dict(items)
    if len(params) != len(items):
        raise SignInError("a callback parameter is repeated")
    return params


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - Strongroom</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}
code{{background:#f3f3f3;padding:.1rem .3rem}}</style></head>
<body><h1>{title}</h1><p>{detail}</p>
<p>Request <code>{request_id}</code>. <a href="/">Start again</a>.</p></body></html>
"""


def wants_html(request: Request) -> bool:
    """True for a browser navigation (it asks for HTML before JSON)."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/problem+json" not in accept


def error_page(request: Request, error: StrongroomError) -> HTMLResponse:
    """A small page for a person whose sign-in failed; the same words as the problem."""
    body = _PAGE.format(
        title=html.escape(error.title),
        detail=html.escape(error.detail),
        request_id=html.escape(str(getattr(request.state, "request_id", ""))),
    )
    return HTMLResponse(body, status_code=error.status)


def finish(request: Request, app: str, provider: str, node: Node, call: Call) -> Completed:
    """Complete a sign-in from the callback request (shared by the console and the BFF)."""
    previous = request.cookies.get(CONSOLE_COOKIE if app == CONSOLE else BFF_COOKIE)
    return node.identity.signin.complete(
        call,
        provider,
        app,
        callback_params(request),
        request.cookies.get(SIGNIN_COOKIE),
        previous,
    )


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
    """Finish the sign-in and start a console session (an HTML page if it fails)."""
    try:
        done = finish(request, CONSOLE, provider, node, call)
    except StrongroomError as exc:
        if exc.status < 500 and wants_html(request):
            return error_page(request, exc)
        raise
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
