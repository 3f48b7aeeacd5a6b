"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from strongroom.errors import (
    PROBLEM_BASE,
    AuthError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    RequestError,
    StrongroomError,
    UnauthenticatedError,
    ValidationFailedError,
)

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("strongroom.api")


def problem_response(
    status: int,
    type_uri: str,
    title: str,
    detail: str,
    request_id: str | None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_uri, "title": title, "status": status, "detail": detail}
    if request_id:
        body["request_id"] = request_id
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_error(error: StrongroomError, request_id: str | None) -> JSONResponse:
    headers = None
    if isinstance(error, AuthError) and error.status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="strongroom"'}
        # A DPoP challenge (and nonce) replaces the Bearer one (RFC 9449 §7.1).
        headers.update(getattr(error, "headers", None) or {})
    if error.status == 429 and isinstance(error.extra.get("retry_after"), int):
        headers = {"Retry-After": str(error.extra["retry_after"])}
    return problem_response(
        error.status, error.type_uri, error.title, error.detail, request_id, error.extra, headers
    )


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def _strongroom_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StrongroomError):
        raise exc
    if exc.status >= 500:
        log.warning("request failed", extra={"error": exc.slug, "request_id": _request_id(request)})
    return from_error(exc, _request_id(request))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    if any(e.get("type") == "json_invalid" for e in errors):
        return from_error(
            InvalidRequestError("the request body is not valid JSON"), _request_id(request)
        )
    # Locations and messages only: the input itself may be a secret.
    listed = [
        {"loc": ".".join(str(p) for p in e.get("loc", ())), "msg": str(e.get("msg", ""))}
        for e in errors
    ]
    err = ValidationFailedError(
        "the request does not match the expected shape", extra={"errors": listed}
    )
    return from_error(err, _request_id(request))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    error: StrongroomError
    if status == 404:
        error = NotFoundError("no such endpoint")
    elif status == 405:
        error = MethodNotAllowedError("this endpoint does not take that method")
    elif status == 401:
        error = UnauthenticatedError()
    elif 400 <= status < 500:
        error = RequestError("the request could not be processed")
    else:
        error = StrongroomError("internal error")
    response = from_error(error, _request_id(request))
    response.status_code = status
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc, extra={"request_id": _request_id(request)})
    return problem_response(
        500, PROBLEM_BASE + "internal", "Internal error", "internal error", _request_id(request)
    )


Handler = Callable[[Request, Exception], Awaitable[Response]]
_HANDLERS: tuple[tuple[type[Exception], Handler], ...] = (
    (StrongroomError, _strongroom_error),
    (RequestValidationError, _validation_error),
    (StarletteHTTPException, _http_error),
    (Exception, _unexpected),
)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem."""
    for kind, handler in _HANDLERS:
        app.add_exception_handler(kind, handler)


async def respond(request: Request, exc: Exception) -> Response:
    """The problem `install`'s handlers answer ``exc`` with, for code outside the router."""
    for kind, handler in _HANDLERS:
        if isinstance(exc, kind):
            return await handler(request, exc)
    return await _unexpected(request, exc)
