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

The lane also serves form routes (``forms``: POST routes at a fixed path, the token
endpoint ``POST /v1/oauth/token``), whose endpoints take only the request too. Their
bodies pass the same `BodyGuard` the framework applies (its size limit and its problems)
before the seal gate and the endpoint, so a request reaches the endpoint exactly as it
would through the framework, without matching the route list first: the token endpoint
is registered after a hundred other routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from strongroom.api import problems
from strongroom.api.middleware import BodyGuard
from strongroom.node import Node

Endpoint = Callable[[Request], Awaitable[Response]]


class FastLane:
    """Serve ``route`` (a GET route whose endpoint takes only the request) and the
    ``forms`` routes (POST routes without path parameters, bodies at most
    ``max_body_bytes``) directly; pass everything else to ``app``. ``api`` is the
    application the routes belong to."""

    def __init__(
        self,
        app: ASGIApp,
        route: APIRoute,
        endpoint: Endpoint,
        node: Node,
        api: ASGIApp | None = None,
        *,
        forms: Sequence[tuple[APIRoute, Endpoint]] = (),
        max_body_bytes: int = 0,
    ) -> None:
        if route.methods != {"GET"}:
            raise ValueError("the fast lane serves GET routes only")
        for form_route, _ in forms:
            if form_route.methods != {"POST"} or form_route.param_convertors:
                raise ValueError("form routes are POST routes at a fixed path")
        if forms and max_body_bytes < 1:
            raise ValueError("form routes need a body limit")
        self.app = app
        self.api = api
        self.route = route
        self.endpoint = endpoint
        self.node = node
        self._match = route.path_regex.match
        self._convertors = route.param_convertors
        self._forms = {form_route.path: (form_route, fn) for form_route, fn in forms}
        self._guard = BodyGuard(self._serve_form, max_body_bytes, frozenset(self._forms))

    def match(self, path: str) -> dict[str, Any] | None:
        """The route's path parameters if ``path`` is the route's, else None."""
        found = self._match(path)
        if found is None:
            return None
        return {k: self._convertors[k].convert(v) for k, v in found.groupdict().items()}

    async def answer(self, scope: Scope, receive: Receive, params: dict[str, Any]) -> Response:
        """The route's response to a GET ``scope`` (whose path gave ``params``): the
        endpoint's, or the problem of what it raised. Never raises an `Exception`."""
        return await self._respond(scope, receive, self.route, self.endpoint, params)

    async def _respond(
        self,
        scope: Scope,
        receive: Receive,
        route: APIRoute,
        endpoint: Endpoint,
        params: dict[str, Any],
    ) -> Response:
        if self.api is not None:
            scope["app"] = self.api  # where `request.app` finds the node
        scope["route"] = route
        scope["endpoint"] = endpoint
        scope["path_params"] = params
        request = Request(scope, receive)
        try:
            await self.node.keyring_async()  # the seal gate: 503 while sealed
            return await endpoint(request)
        except Exception as exc:  # every error becomes its problem
            return await problems.respond(request, exc)

    async def _serve_form(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A form route's answer, once `BodyGuard` has read and checked the body."""
        route, endpoint = self._forms[scope["path"]]
        response = await self._respond(scope, receive, route, endpoint, {})
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            if method == "GET":
                params = self.match(scope["path"])
                if params is not None:
                    response = await self.answer(scope, receive, params)
                    await response(scope, receive, send)
                    return
            elif method == "POST" and scope["path"] in self._forms:
                await self._guard(scope, receive, send)
                return
        await self.app(scope, receive, send)
