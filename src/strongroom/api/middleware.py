"""ASGI middleware at the edge: request ids, logs, metrics, headers, body limits."""

from __future__ import annotations

import itertools
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from strongroom import logs
from strongroom.api.metrics import Metrics, method_label
from strongroom.api.problems import MEDIA_TYPE
from strongroom.errors import (
    PayloadTooLargeError,
    StrongroomError,
    UnsupportedMediaTypeError,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _send_problem(send: Send, error: StrongroomError, request_id: str) -> None:
    body = json.dumps(
        {
            "type": error.type_uri,
            "title": error.title,
            "status": error.status,
            "detail": error.detail,
            "request_id": request_id,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class EdgeMiddleware:
    """Assign a request id, log and measure each request, add security headers.

    Its three steps (`begin`, `headers`, `finish`) are also taken, in the same order, by
    the HTTP protocol's direct path for the hot route (`strongroom.api.http_protocol`).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # Request ids need to be unique, not secret: a random prefix per process and a
        # counter (no system call for random bytes on every request).
        self._prefix = secrets.token_hex(6)
        self._count = itertools.count(1)

    def _new_id(self) -> str:
        return f"{self._prefix}{next(self._count):012x}"

    def begin(self, scope: Scope) -> str:
        """The request's id (the client's ``X-Request-Id`` when well-formed), kept in the
        scope's state."""
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID_RE.match(given) else self._new_id()
        scope.setdefault("state", {})["request_id"] = request_id
        return request_id

    @staticmethod
    def headers(given: Any, request_id: str) -> list[tuple[bytes, bytes]]:
        """A response's headers with the security headers it lacks and the request id."""
        headers = list(given)
        names = {k.lower() for k, _ in headers}
        headers += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
        headers.append((b"x-request-id", request_id.encode()))
        return headers

    def finish(self, scope: Scope, request_id: str, status: int, started: float) -> None:
        """Count and log the request, answered with ``status`` (500 if it never was)."""
        elapsed = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path_format", None) or "unmatched"
        # Labels stay bounded: the route template (never the raw path) and the method
        # folded to the standard set, so invented methods all count as "OTHER".
        self.metrics.observe(method_label(scope["method"]), template, status, elapsed)
        logs.access(
            request_id,
            scope["method"],
            template,
            status,
            round(elapsed * 1000, 3),
            scope["state"].get("actor"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self.begin(scope)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = self.headers(message.get("headers", ()), request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.finish(scope, request_id, status, started)


class BodyGuard:
    """Refuse bodies over the size limit (413) and bodies that are not JSON (415).

    The body is read here, at most ``max_bytes`` of it, and replayed to the app, so a
    chunked upload cannot slip past the limit. ``form_paths`` (the OAuth endpoints) take
    ``application/x-www-form-urlencoded`` instead.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, form_paths: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.form_paths = form_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id", "")
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _send_problem(send, PayloadTooLargeError(self._too_large()), request_id)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_problem(send, PayloadTooLargeError(self._too_large()), request_id)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if (
            body
            and scope.get("path") not in self.form_paths
            and not _is_json(_header(scope, b"content-type"))
        ):
            error = UnsupportedMediaTypeError("request bodies must be application/json")
            await _send_problem(send, error, request_id)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"request bodies are limited to {self.max_bytes} bytes"


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
