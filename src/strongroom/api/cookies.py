"""The cookies of sign-in and sessions: ``__Host-`` prefixed, Secure, HttpOnly."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Security
from fastapi.security import APIKeyCookie
from starlette.responses import Response

SIGNIN_COOKIE = "__Host-sr_signin"
CONSOLE_COOKIE = "__Host-sr_console"
BFF_COOKIE = "__Host-sr_session"


def set_cookie(
    response: Response,
    name: str,
    value: str,
    max_age: int,
    same_site: Literal["lax", "strict"] = "strict",
) -> None:
    """Set a host-only cookie (``__Host-``: Secure, Path=/, no Domain)."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite=same_site
    )


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="strict")


# Declared as security schemes so the OpenAPI document shows which routes need a session.
console_session = APIKeyCookie(
    name=CONSOLE_COOKIE, auto_error=False, description="A console session."
)
bff_session = APIKeyCookie(name=BFF_COOKIE, auto_error=False, description="A BFF session.")
ConsoleSession = Annotated[str | None, Security(console_session)]
BffSession = Annotated[str | None, Security(bff_session)]
