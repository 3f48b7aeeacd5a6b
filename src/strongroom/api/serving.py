"""How uvicorn runs the API: the settings every Strongroom server process uses."""

from __future__ import annotations

from typing import Any

import uvicorn

from strongroom.api.http_protocol import HttpProtocol
from strongroom.config import Settings


def uvicorn_config(app: Any, settings: Settings, **where: Any) -> uvicorn.Config:
    """uvicorn's config for ``app``: no access log or server header of its own (Strongroom
    logs and identifies itself), graceful shutdown and TLS from ``settings``. ``where`` is
    the host and port to bind, or nothing when the caller hands uvicorn its sockets.
    HTTP/1.1 is served by httptools, each response sent in one write (`HttpProtocol`)."""
    return uvicorn.Config(
        app,
        **where,
        http=HttpProtocol,
        log_config=None,
        access_log=False,
        server_header=False,
        # The client is the socket's peer: X-Forwarded-* from a local process is not
        # trusted (uvicorn's default trusts 127.0.0.1), and no request pays to check it.
        proxy_headers=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        ssl_certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
        ssl_keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
    )
