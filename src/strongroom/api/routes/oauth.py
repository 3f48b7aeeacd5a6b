"""OAuth endpoints: token exchange (RFC 8693), revocation (RFC 7009), introspection
(RFC 7662), and the administration of clients, revocations and kill switches.

The three OAuth endpoints take ``application/x-www-form-urlencoded`` bodies and answer
errors as RFC 6749 §5.2 JSON (``error``, ``error_description``), never problems; every
answer carries ``Cache-Control: no-store``. The administration routes are ordinary JSON
routes with problem+json errors.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote_plus

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.params import Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic
from pydantic import BaseModel, ConfigDict, Field

from strongroom.api.deps import (
    NodeDep,
    anonymous_call,
    authenticate,
    bearer_scheme,
    call_of,
    get_node,
    require,
)
from strongroom.errors import (
    InvalidClientError,
    OAuthError,
    OAuthInvalidRequestError,
    UnauthenticatedError,
)
from strongroom.identity.broker import Caller
from strongroom.identity.clients import ClientCredentials
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import CLIENTS_MANAGE, TOKENS_INTROSPECT, TOKENS_REVOKE
from strongroom.node import Call, Node

router = APIRouter(prefix="/v1/oauth", tags=["oauth"])
admin_router = APIRouter(prefix="/v1/auth", tags=["auth"])


class _DeclaredBasic(HTTPBasic):
    """Declares ``client_secret_basic`` in the OpenAPI document; never checks anything.

    FastAPI's own `HTTPBasic` answers malformed credentials itself; here the broker does,
    so the failure is an audited RFC 6749 ``invalid_client``.
    """

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


# Declare the client authentication schemes in the OpenAPI document; checks happen below.
ClientAuth = Security(
    _DeclaredBasic(
        scheme_name="clientSecretBasic", auto_error=False, description="client_secret_basic"
    )
)
BearerAuth = Security(bearer_scheme)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM_TYPE = "application/x-www-form-urlencoded"
#: The endpoints whose bodies are forms (checked here), not JSON.
FORM_PATHS = frozenset({"/v1/oauth/token", "/v1/oauth/revoke", "/v1/oauth/introspect"})
MAX_FORM_FIELDS = 64


def _oauth_error(exc: OAuthError) -> JSONResponse:
    body = {"error": exc.error, "error_description": exc.detail}
    return JSONResponse(body, status_code=exc.status, headers={**NO_STORE, **exc.headers})


async def _form(request: Request) -> dict[str, list[str]]:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != FORM_TYPE:
        raise OAuthInvalidRequestError(f"the body must be {FORM_TYPE}")
    body = await request.body()
    try:
        text = body.decode("utf-8")
        form = parse_qs(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise OAuthInvalidRequestError("the body is not a valid form") from None
    if len(form) > MAX_FORM_FIELDS:
        raise OAuthInvalidRequestError("too many parameters")
    return form


def _basic(header: str | None) -> tuple[tuple[str, str] | None, bool]:
    """(client id, secret) from ``Authorization: Basic``, and whether the header was bad."""
    if header is None:
        return None, False
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, True
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, True
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None, True
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return (unquote_plus(client_id), unquote_plus(secret)), False


def _client_credentials(request: Request, form: dict[str, list[str]]) -> ClientCredentials:
    """The client credentials of a request; malformed ones fail (audited) in the broker."""
    basic, malformed = _basic(request.headers.get("authorization"))
    values: dict[str, str | None] = {}
    for name in ("client_id", "client_secret", "client_assertion_type", "client_assertion"):
        found = form.pop(name, [])
        malformed = malformed or len(found) > 1
        values[name] = found[0] if len(found) == 1 else None
    return ClientCredentials(
        basic=basic,
        client_id=values["client_id"],
        client_secret=values["client_secret"],
        assertion_type=values["client_assertion_type"],
        assertion=values["client_assertion"],
        malformed=malformed,
    )


def _caller(
    request: Request,
    node: Node,
    form: dict[str, list[str]],
    scope: str,
    malformed: OAuthError | None,
) -> Caller:
    """An authenticated client, or a token holding ``scope``; audited when refused."""
    header = request.headers.get("authorization", "")
    if header.partition(" ")[0].lower() in ("bearer", "dpop"):
        call = anonymous_call(request)
        try:
            principal = authenticate(request, node)
        except UnauthenticatedError:
            node.record_denied(call, _action(request), request.url.path, "unauthenticated")
            raise InvalidClientError("the token is not valid") from None
        if not principal.has_scope(scope):
            denied = Call(call.request_id, node.actor_of(principal))
            node.record_denied(denied, _action(request), request.url.path, f"missing {scope}")
            raise InvalidClientError(f"this call needs a client or the scope {scope!r}")
        return Caller(principal=principal, malformed=malformed)
    credentials = _client_credentials(request, form)
    client_id = node.broker.authenticate_client(
        anonymous_call(request), credentials, _action(request)
    )
    return Caller(client_id=client_id, malformed=malformed)


def _action(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "name", None) or "oauth")


async def _lenient_form(request: Request) -> tuple[dict[str, list[str]], OAuthError | None]:
    # The client is authenticated before a malformed body is reported (RFC 6749 §5.2).
    try:
        return await _form(request), None
    except OAuthError as exc:
        return {}, exc


@router.post("/token", name="oauth.token.exchange", dependencies=[ClientAuth])
async def token(request: Request) -> Response:
    """RFC 8693 token exchange: a narrowed, short-lived access token (DPoP-bound on request)."""
    # Takes only the request: the API's fast lane serves it in front of the framework.
    node = get_node(request)
    try:
        form, malformed = await _lenient_form(request)
        credentials = _client_credentials(request, form)
        proofs = request.headers.getlist("dpop")
        if len(proofs) > 1:
            malformed = malformed or OAuthInvalidRequestError("at most one DPoP header")
        result = await node.broker.exchange_async(
            anonymous_call(request),
            form,
            credentials,
            proofs[0] if proofs else None,
            malformed,
        )
    except OAuthError as exc:
        return _oauth_error(exc)
    body = {
        "access_token": result.issued.access_token,
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "token_type": result.token_type,
        "expires_in": result.issued.expires_in,
        "scope": " ".join(result.issued.scopes),
    }
    return JSONResponse(body, headers=NO_STORE)


@router.post("/revoke", name="oauth.token.revoke", dependencies=[ClientAuth, BearerAuth])
async def revoke(request: Request, node: NodeDep) -> Response:
    """RFC 7009: revoke a token and everything exchanged from it. 200 for unknown tokens."""
    try:
        form, malformed = await _lenient_form(request)
        caller = await run_in_threadpool(_caller, request, node, form, TOKENS_REVOKE, malformed)
        await run_in_threadpool(node.broker.revoke, anonymous_call(request), caller, form)
    except OAuthError as exc:
        return _oauth_error(exc)
    return Response(status_code=200, headers=NO_STORE)


@router.post("/introspect", name="oauth.token.introspect", dependencies=[ClientAuth, BearerAuth])
async def introspect(request: Request, node: NodeDep) -> Response:
    """RFC 7662: whether a token is active, and its claims; ``{"active": false}`` if not."""
    try:
        form, malformed = await _lenient_form(request)
        caller = await run_in_threadpool(_caller, request, node, form, TOKENS_INTROSPECT, malformed)
        answer = await run_in_threadpool(
            node.broker.introspect, anonymous_call(request), caller, form
        )
    except OAuthError as exc:
        return _oauth_error(exc)
    return JSONResponse(answer, headers=NO_STORE)


# -- administration ---------------------------------------------------------------------


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=128)
    auth_method: str = Field("client_secret_basic", max_length=32)
    jwks: dict[str, Any] | None = None


class ClientOut(BaseModel):
    client_id: str
    auth_method: str
    created_us: int


@router.post("/clients", name="oauth.clients.create", status_code=201)
def create_client(
    body: ClientIn,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(CLIENTS_MANAGE))],
) -> JSONResponse:
    """Register a micro app as an OAuth client; a generated secret is shown only here."""
    secret = node.broker.create_client(
        call_of(request, principal), body.client_id, body.auth_method, body.jwks
    )
    out = {"client_id": body.client_id, "auth_method": body.auth_method}
    if secret is not None:
        out["client_secret"] = secret
    return JSONResponse(out, status_code=201, headers=NO_STORE)


@router.get("/clients", name="oauth.clients.list")
def list_clients(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(CLIENTS_MANAGE))],
) -> list[ClientOut]:
    """Every registered client (never a secret)."""
    clients = node.broker.list_clients(call_of(request, principal))
    return [
        ClientOut(client_id=c.client_id, auth_method=c.auth_method, created_us=c.created_us)
        for c in clients
    ]


@router.delete("/clients/{client_id}", name="oauth.clients.delete", status_code=204)
def delete_client(
    client_id: str,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(CLIENTS_MANAGE))],
) -> Response:
    """Remove a client: it can no longer authenticate (other replicas: within the bound)."""
    node.broker.delete_client(call_of(request, principal), client_id)
    return Response(status_code=204)


class RevocationsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token_ids: list[str] = Field(min_length=1, max_length=100)


class KillSwitchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern="^(user|app)$")
    name: str = Field(min_length=1, max_length=256)


@admin_router.post("/revocations", name="auth.revocations.create", status_code=204)
def revoke_ids(
    body: RevocationsIn,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(TOKENS_REVOKE))],
) -> Response:
    """Revoke tokens (or sign-ins) by id; everything exchanged from them dies too."""
    node.broker.revoke_ids(call_of(request, principal), body.token_ids)
    return Response(status_code=204)


@admin_router.post("/kill-switches", name="auth.kill_switch")
def kill(
    body: KillSwitchIn,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(TOKENS_REVOKE))],
) -> dict[str, Any]:
    """Kill every token of a user (``sub``) or an app (``client_id``) issued until now."""
    epoch = node.broker.kill(call_of(request, principal), body.kind, body.name)
    return {"kind": body.kind, "name": body.name, "epoch": epoch}
