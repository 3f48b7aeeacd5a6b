"""Defaults the server's settings and its clients share, importable without either."""

from __future__ import annotations

#: Where a server listens, and where the CLI and the SDK look for one, unless told.
DEFAULT_ADDR = "127.0.0.1:8210"
