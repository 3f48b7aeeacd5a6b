"""Where a finished sign-in may send the browser: never an open redirect."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from strongroom.errors import InvalidRequestError

MAX_RETURN_CHARS = 2048


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, lower-cased, default ports dropped."""
    parsed = urlsplit(url)
    host = (parsed.hostname or "").lower()
    port = parsed.port
    default = {"https": 443, "http": 80}.get(parsed.scheme.lower())
    shown = f"[{host}]" if ":" in host else host
    suffix = "" if port is None or port == default else f":{port}"
    return f"{parsed.scheme.lower()}://{shown}{suffix}"


def safe_return_to(value: str | None, allowed_origins: Iterable[str]) -> str:
    """``value`` if it is a same-site path or a URL on an allowed origin, else refuse.

    A relative path must start with a single ``/`` (``//host`` and ``/\\host`` are
    network paths to browsers). Control characters and backslashes are refused outright.
    Raises `InvalidRequestError` without echoing the value.
    """
    if value is None or value == "":
        return "/"
    if len(value) > MAX_RETURN_CHARS or any(ord(c) < 0x21 or c == "\\" for c in value):
        raise InvalidRequestError("return_to must be a relative path or an allowed origin")
    parsed = urlsplit(value)
    if not parsed.scheme and not parsed.netloc:
        if value.startswith("/") and not value.startswith("//"):
            return value
        raise InvalidRequestError("return_to must be a relative path or an allowed origin")
    if parsed.scheme not in ("https", "http") or not parsed.hostname or parsed.username:
        raise InvalidRequestError("return_to must be a relative path or an allowed origin")
    try:
        origin = origin_of(value)
    except ValueError:
        raise InvalidRequestError(
            "return_to must be a relative path or an allowed origin"
        ) from None
    if origin not in {origin_of(o) for o in allowed_origins}:
        raise InvalidRequestError("return_to must be a relative path or an allowed origin")
    return value
