"""A fast lane for the hottest route: served from the ASGI stack, same endpoint, same answers.

Every app reads its secrets on each start and often on each request, so
``GET /v1/apps/{app}/secrets/{name}/value`` is most of the traffic. Resolving it through
the framework (matching the route list, solving dependencies, wrapping the endpoint)
costs about as much CPU as the read itself. This middleware sits right inside
`EdgeMiddleware` (request id, security headers, access log and metrics are unchanged), in
front of the framework and its middleware (`strongroom.api.app.StrongroomAPI`), and sends
requests for that one route straight to its endpoint; everything else goes on to the
framework.

What the framework would have done around the endpoint is done here too: the app and the
route are set on the scope (metrics, logs and audit events name the route), the seal gate
is checked, and every error becomes the same RFC 9457 problem through the same handlers
(`problems.respond`). The route stays registered with the application, which documents
it in the OpenAPI document and serves it whenever the lane does not (``HEAD``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from strongroom.api import problems
from strongroom.node import Node

Endpoint = Callable[[Request], Awaitable[Response]]


class FastLane:
    """Serve ``route`` (a GET route whose endpoint takes only the request) directly;
    pass everything else to ``app``. ``api`` is the application the route belongs to."""

    def __init__(
        self,
        app: ASGIApp,
        route: APIRoute,
        endpoint: Endpoint,
        node: Node,
        api: ASGIApp | None = None,
    ) -> None:
        if route.methods != {"GET"}:
            raise ValueError("the fast lane serves GET routes only")
        self.app = app
        self.api = api
        self.route = route
        self.endpoint = endpoint
        self.node = node
        self._match = route.path_regex.match
        self._convertors = route.param_convertors

    def match(self, path: str) -> dict[str, Any] | None:
        """The route's path parameters if ``path`` is the route's, else None."""
        found = self._match(path)
        if found is None:
            return None
        return {k: self._convertors[k].convert(v) for k, v in found.groupdict().items()}

    async def answer(self, scope: Scope, receive: Receive, params: dict[str, Any]) -> Response:
        """The route's response to a GET ``scope`` (whose path gave ``params``): the
        endpoint's, or the problem of what it raised. Never raises an `Exception`."""
        if self.api is not None:
            scope["app"] = self.api  # where `request.app` finds the node
        scope["route"] = self.route
        scope["endpoint"] = self.endpoint
        scope["path_params"] = params
        request = Request(scope, receive)
        try:
            await self.node.keyring_async()  # the seal gate: 503 while sealed
            return await self.endpoint(request)
        except Exception as exc:  # every error becomes its problem
            return await problems.respond(request, exc)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        params = self.match(scope["path"])
        if params is None:
            await self.app(scope, receive, send)
            return
        response = await self.answer(scope, receive, params)
        await response(scope, receive, send)
