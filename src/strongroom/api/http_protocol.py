"""uvicorn's httptools protocol: each response sent in one write, and the hot route served
straight from the protocol.

**One write per response.** uvicorn writes a response's status line and headers as soon
as the app sends ``http.response.start``, and its body on ``http.response.body``: two
``send`` calls per response, and two TCP segments for the client to take in. The
connection's transport is wrapped in a `CoalescingTransport`, so the writes of one loop
iteration leave as one (on loopback each send is a trip through the whole TCP stack, a
tenth of a read's CPU). A streamed body whose parts are seconds apart still leaves part by
part: nothing waits longer than the iteration it was written in.

**The direct path.** Every app reads its secrets all the time, so
``GET /v1/apps/{app}/secrets/{name}/value`` is most of the traffic, and its answer is
small and whole. When the application offers a `DirectRoute` (Strongroom's does), a GET
request for that route skips the ASGI message exchange: the protocol takes the edge
middleware's steps itself (`EdgeMiddleware.begin`, `headers`, `finish`: request id,
security headers, metrics, the log line), asks the fast lane for the response
(`FastLane.answer`: seal gate, endpoint, problems) and writes its status line, headers
and body at once, as uvicorn's own ``send`` would have (its default headers first, the
same header checks, ``connection: close`` when the connection ends). Everything else,
including ``HEAD``, a response that streams or runs background work, and a server
past its concurrency limit, takes uvicorn's path through the application.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from strongroom.api.fastlane import FastLane
from strongroom.api.middleware import EdgeMiddleware
from strongroom.coalescing import CoalescingTransport


@dataclass(frozen=True, slots=True)
class DirectRoute:
    """The route an application lets the protocol serve directly, and its edge."""

    edge: EdgeMiddleware
    lane: FastLane


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `CoalescingTransport`, with the direct path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        direct = getattr(self.app, "direct", None)
        # Context isolation per request (an opt-in of uvicorn's) needs its own task set-up.
        isolated = getattr(self.config, "reset_contextvars", False)
        usable = isinstance(direct, DirectRoute) and not isolated
        self._direct: DirectRoute | None = direct if usable else None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        direct = self._direct
        # `app` is the application unless uvicorn is refusing the request (over its limit).
        if direct is not None and app is self.app and cycle.scope["method"] == "GET":
            params = direct.lane.match(cycle.scope["path"])
            if params is not None:
                task = self.loop.create_task(_serve(cycle, direct, params))
                task.add_done_callback(self.tasks.discard)
                self.tasks.add(task)
                return
        super()._start_asgi_task(cycle, app)


async def _serve(cycle: RequestResponseCycle, direct: DirectRoute, params: dict[str, Any]) -> None:
    """Answer ``cycle``'s request on the direct path (`HttpProtocol`); what uvicorn's
    ``run_asgi`` does with an application that fails is done here too."""
    scope: Any = cycle.scope
    edge = direct.edge
    request_id = edge.begin(scope)
    started = time.perf_counter()
    status = 500
    try:
        receive: Any = cycle.receive  # uvicorn's typed messages; the lane never reads a body
        response = await direct.lane.answer(scope, receive, params)
        status = response.status_code
        body = getattr(response, "body", None)
        if isinstance(body, bytes) and response.background is None:
            await _write(cycle, status, edge.headers(response.raw_headers, request_id), body)
        else:  # streamed, or work to run after it: as the ASGI path sends it
            await _send(cycle, response, edge, request_id)
    except BaseException as exc:  # as uvicorn's `run_asgi`: logged, answered 500 or cut
        cycle.logger.error("Exception in ASGI application\n", exc_info=exc)
        if not cycle.response_started:
            await cycle.send_500_response()
        else:
            cycle.transport.close()
    finally:
        edge.finish(scope, request_id, status, started)
        cycle.on_response = lambda: None


async def _send(
    cycle: RequestResponseCycle, response: Response, edge: EdgeMiddleware, request_id: str
) -> None:
    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = edge.headers(message.get("headers", ()), request_id)
        await cycle.send(message)

    await response(cycle.scope, cycle.receive, send)  # type: ignore[arg-type]


async def _write(
    cycle: RequestResponseCycle, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    """Write a whole response in one go: what ``cycle.send`` writes for its two messages."""
    if cycle.flow.write_paused and not cycle.disconnected:
        await cycle.flow.drain()
    if cycle.disconnected:
        return
    content = [STATUS_LINE[status]]
    length: bytes | None = None
    says_close = False
    for given, value in (*cycle.default_headers, *headers):
        if HEADER_RE.search(given) or HEADER_VALUE_RE.search(value):
            raise RuntimeError("Invalid HTTP header.")
        name = given.lower()
        if name == b"content-length":
            length = value
        elif name == b"connection" and b"close" in [t.strip() for t in value.lower().split(b",")]:
            cycle.keep_alive = False
            says_close = True
        content += (name, b": ", value, b"\r\n")
    if length is None and status not in (204, 304):
        length = str(len(body)).encode()
        content += (b"content-length: ", length, b"\r\n")
    if length is not None and int(length) != len(body):
        raise RuntimeError("Response content length does not match its Content-Length.")
    if not cycle.keep_alive and not says_close:
        content.append(b"connection: close\r\n")
    content += (b"\r\n", body)
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    cycle.transport.write(b"".join(content))
    cycle.response_complete = True
    cycle.message_event.set()
    if not cycle.keep_alive:
        cycle.transport.close()
    cycle.on_response()
