"""The FastAPI application factory."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from strongroom import __version__
from strongroom.api import problems
from strongroom.api.deps import get_node
from strongroom.api.fastlane import FastLane
from strongroom.api.http_protocol import DirectRoute
from strongroom.api.metrics import Metrics
from strongroom.api.middleware import BodyGuard, EdgeMiddleware
from strongroom.api.routes import (
    apps,
    audit,
    audit_tree,
    auth,
    bff,
    connectors,
    escrow,
    fields,
    oauth,
    oidc,
    reviews,
    scim,
    secrets,
    sys,
    tokens,
    wellknown,
)
from strongroom.node import Node

# Routes that answer while sealed; every other route answers 503 until unsealed.
SEALED_OK = frozenset(
    {"sys.health", "sys.seal_status", "sys.unseal", "sys.init", "sys.metrics.read"}
)


async def _seal_gate(request: Request) -> None:
    # A coroutine, so FastAPI does not hop to a worker thread on every request; a keyring
    # refresh that is due runs in a thread (`Node.keyring_async`).
    route = request.scope.get("route")
    if getattr(route, "name", None) not in SEALED_OK:
        await get_node(request).keyring_async()


def _answer_head(app: FastAPI) -> None:
    """Let probes send HEAD where they may send GET: same endpoint, same status code.

    The server sends the headers of the GET answer without its body. These twins stay
    out of the OpenAPI document, which lists one operation per route.
    """
    for path, endpoint, name in (
        ("/health", sys.health, "sys.health"),
        ("/seal-status", sys.seal_status, "sys.seal_status"),
    ):
        app.add_api_route(
            sys.router.prefix + path,
            endpoint,
            methods=["HEAD"],
            name=name,
            include_in_schema=False,
        )


def _route(router: APIRouter, name: str) -> APIRoute:
    for route in router.routes:
        if isinstance(route, APIRoute) and route.name == name:
            return route
    raise LookupError(name)


class StrongroomAPI(FastAPI):
    """FastAPI entered through `front`: the edge middleware, then the fast lane.

    Both sit in front of the framework's own middleware (its error, telemetry and body
    limit layers, each an extra call and ``send`` wrapper per request), so the hot route
    passes through nothing but the edge middleware before its endpoint; every other
    request goes on into the framework (`FastAPI.__call__`) as usual. Unhandled errors
    still become a 500 inside the framework, which the edge middleware then sees, logs and
    counts like any other answer.
    """

    front: ASGIApp | None = None
    #: The route the HTTP protocol may serve without the ASGI exchange (`HttpProtocol`).
    direct: DirectRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is None:
            await super().__call__(scope, receive, send)
        else:
            await front(scope, receive, send)


def create_app(node: Node) -> FastAPI:
    """Build the API for ``node``. Routes are thin; the node does the work."""
    app = StrongroomAPI(
        title="Strongroom",
        version=__version__,
        description="Secure storage for micro apps.",
        dependencies=[Depends(_seal_gate)],
        docs_url=None,
        redoc_url=None,
        # No 307 to the other spelling: its Location would come from the client's Host
        # header. `/v1/sys/health/` is a plain 404 problem.
        redirect_slashes=False,
        # Strongroom measures itself (`/v1/sys/metrics`, JSON request logs); FastAPI's
        # OpenTelemetry hooks would look up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.node = node

    def seal_state() -> tuple[bool, bool]:
        # The server's state, read at each scrape (a worker asks its supervisor).
        status = node.status()
        return status.initialized, status.sealed

    metrics = Metrics(
        seal_state,
        lambda: node.alerts.windows_state,
    )
    app.state.metrics = metrics
    problems.install(app)
    # Secrets first: requests are matched against routes in order, and secret reads are
    # the hot path of every app (no other router's paths overlap with these).
    app.include_router(secrets.router)
    routers = (sys, auth, audit, audit_tree, wellknown, tokens, apps, reviews, oidc, bff, scim)
    for module in (*routers, escrow, fields):
        app.include_router(module.router)
    app.include_router(connectors.router)
    app.include_router(oauth.router)
    app.include_router(oauth.admin_router)
    _answer_head(app)
    app.add_middleware(
        BodyGuard, max_bytes=node.settings.max_body_bytes, form_paths=oauth.FORM_PATHS
    )
    hot = _route(secrets.router, "secrets.read")
    framework = functools.partial(FastAPI.__call__, app)
    lane = FastLane(
        framework,
        route=hot,
        endpoint=secrets.read_value,
        node=node,
        api=app,
        forms=[(_route(oauth.router, "oauth.token.exchange"), oauth.token)],
        max_body_bytes=node.settings.max_body_bytes,
    )
    edge = EdgeMiddleware(lane, metrics=metrics)
    app.front = edge
    app.direct = DirectRoute(edge, lane)
    return app
