"""uvicorn's httptools protocol, with the writes of one loop iteration sent together.

uvicorn writes a response's status line and headers as soon as the app sends
``http.response.start``, and its body on ``http.response.body``: two ``send`` calls per
response, and two TCP segments for the client to take in. A secret read is small and
whole, so the two always follow each other in one step of the request's task; sending
them as one halves the system calls per answer (on loopback each is a trip through the
whole TCP stack, a tenth of a read's CPU).

The connection's transport is wrapped in a `CoalescingTransport`. A streamed body whose
parts are seconds apart still leaves part by part: nothing waits longer than the
iteration it was written in.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from strongroom.coalescing import CoalescingTransport


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]
