"""Read managed secrets by reference from a micro app, with an in-memory TTL cache.

::

    from strongroom.sdk.secrets import SecretsClient

    secrets = SecretsClient("https://strongroom.example", token=runtime_token)
    api_key = secrets.get("sr://secrets/crm/api-key")

The token is a runtime identity's access token holding ``secrets:read:<app>/<name>``.
Values are kept in this process's memory only, for ``ttl`` seconds (default 60), so a
rotation or a revocation reaches the app within that time; `invalidate` drops them at
once. Nothing is written to disk or logged. Errors are `SecretsError` and never hold a
value or the token.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

import httpx

__all__ = ["SecretsClient", "SecretsError"]

_REF = re.compile(r"^sr://secrets/([a-z0-9][a-z0-9-]{0,62})/([A-Za-z0-9][A-Za-z0-9._-]{0,127})$")


class SecretsError(Exception):
    """A secret could not be read: ``status`` is the HTTP status (0 if none), ``kind`` the
    problem type Strongroom answered with."""

    def __init__(self, message: str, status: int = 0, kind: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


class SecretsClient:
    """Reads secrets for one runtime identity. Thread-safe."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        ttl: float = 60.0,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0:
            raise ValueError("ttl must not be negative")
        self._http = http or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}"}
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretsClient(cached={len(self._cache)})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SecretsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def invalidate(self, ref: str | None = None) -> None:
        """Forget one cached value, or all of them."""
        with self._lock:
            if ref is None:
                self._cache.clear()
            else:
                self._cache.pop(ref, None)

    def get(self, ref: str) -> str:
        """The current value of ``sr://secrets/<app>/<name>``, from cache while fresh."""
        found = _REF.fullmatch(ref)
        if found is None:
            raise SecretsError("a secret reference is sr://secrets/<app>/<name>")
        now = self._clock()
        with self._lock:
            cached = self._cache.get(ref)
            if cached is not None and cached[0] > now:
                return cached[1]
        app, name = found.groups()
        path = f"/v1/apps/{quote(app)}/secrets/{quote(name)}/value"
        try:
            response = self._http.get(path, headers=self._headers)
        except httpx.HTTPError as exc:
            raise SecretsError(f"cannot reach Strongroom ({type(exc).__name__})") from None
        if response.status_code != 200:
            kind = ""
            with contextlib.suppress(ValueError):
                kind = str(response.json().get("type", ""))
            raise SecretsError(
                f"reading {app}/{name} failed (HTTP {response.status_code})",
                response.status_code,
                kind,
            )
        value = str(response.json()["value"])
        with self._lock:
            if self._ttl > 0:
                self._cache[ref] = (now + self._ttl, value)
        return value
