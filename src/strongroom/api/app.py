"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request

from strongroom import __version__
from strongroom.api import problems
from strongroom.api.deps import get_node
from strongroom.api.metrics import Metrics
from strongroom.api.middleware import BodyGuard, EdgeMiddleware
from strongroom.api.routes import audit, auth, sys, wellknown
from strongroom.node import Node

# Routes that answer while sealed; every other route answers 503 until unsealed.
SEALED_OK = frozenset({"sys.health", "sys.seal_status", "sys.unseal", "sys.init", "sys.metrics"})


def _seal_gate(request: Request) -> None:
    route = request.scope.get("route")
    if getattr(route, "name", None) not in SEALED_OK:
        get_node(request).keyring()


def create_app(node: Node) -> FastAPI:
    """Build the API for ``node``. Routes are thin; the node does the work."""
    app = FastAPI(
        title="Strongroom",
        version=__version__,
        description="Secure storage for micro apps.",
        dependencies=[Depends(_seal_gate)],
        docs_url=None,
        redoc_url=None,
    )
    app.state.node = node
    metrics = Metrics(lambda: (node.seal_manager.initialized, node.seal_manager.sealed))
    app.state.metrics = metrics
    problems.install(app)
    for module in (sys, auth, audit, wellknown):
        app.include_router(module.router)
    app.add_middleware(BodyGuard, max_bytes=node.settings.max_body_bytes)
    app.add_middleware(EdgeMiddleware, metrics=metrics)
    return app
