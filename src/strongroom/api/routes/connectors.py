"""The connector gateway: ``POST /v1/connectors/{name}/request`` and ``.../query``.

The caller (an app's runtime identity holding ``connectors:call:<name>``) sends method,
path, headers and body; the gateway adds the connector's secret, sends the request to the
allowlisted upstream and returns its answer with every form of the secret removed. To a
``postgres`` connector it sends one SQL statement and its parameters instead, and gets
the rows back as JSON; the DSN stays with the gateway.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from strongroom.api.deps import BearerDep, NodeDep, authorise, call_of
from strongroom.api.models import Input
from strongroom.errors import InvalidRequestError
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import CONNECTORS_CALL
from strongroom.runtime.gateway import OutgoingRequest

router = APIRouter(prefix="/v1/connectors", tags=["connectors"])


def _caller(request: Request, node: NodeDep, _declared: BearerDep, name: str) -> Principal:
    scope = CONNECTORS_CALL + name
    return authorise(request, node, lambda p: p.has_scope(scope), scope)


class ConnectorRequestIn(Input):
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field("/", min_length=1, max_length=2048)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = Field(None, description="UTF-8 text body.")
    body_base64: str | None = Field(None, description="Binary body, base64.")


class ConnectorResponseOut(BaseModel):
    status: int
    headers: list[tuple[str, str]]
    body: str | None = None
    body_base64: str | None = None
    secret_version: int


@router.post("/{name}/request", name="connectors.request")
def connector_request(
    name: str,
    body: ConnectorRequestIn,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Depends(_caller)],
) -> ConnectorResponseOut:
    """Send one request upstream through the connector, with its secret injected."""
    if body.body is not None and body.body_base64 is not None:
        raise InvalidRequestError("give body or body_base64, not both")
    content = b""
    if body.body is not None:
        content = body.body.encode()
    elif body.body_base64 is not None:
        try:
            content = base64.b64decode(body.body_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError("body_base64 is not base64") from None
    answer = node.gateway.request(
        call_of(request, principal),
        name,
        OutgoingRequest(body.method, body.path, body.headers, content),
    )
    out = ConnectorResponseOut(
        status=answer.status, headers=answer.headers, secret_version=answer.secret_version
    )
    try:
        out.body = answer.body.decode("utf-8")
    except UnicodeDecodeError:
        out.body_base64 = base64.b64encode(answer.body).decode()
    return out


Scalar = str | int | float | bool | None


class ConnectorQueryIn(Input):
    sql: str = Field(
        min_length=1, max_length=100_000, description="One statement; $1, $2... for parameters."
    )
    params: list[Scalar | list[Scalar]] = Field(
        default_factory=list, max_length=1000, description="Bound to $1, $2... in order."
    )


class ConnectorQueryOut(BaseModel):
    kind: str = Field(description="The statement's leading keyword, e.g. SELECT.")
    columns: list[str] = Field(description="Column names; empty when no row came back.")
    rows: list[list[Any]]
    row_count: int
    truncated: bool = Field(description="More rows than the connector's max_rows existed.")
    secret_version: int


@router.post("/{name}/query", name="connectors.query")
def connector_query(
    name: str,
    body: ConnectorQueryIn,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Depends(_caller)],
) -> ConnectorQueryOut:
    """Run one SQL statement through a postgres connector, whose secret is the DSN."""
    from strongroom.runtime.postgres import Statement  # noqa: PLC0415 - psycopg on first use

    answer = node.gateway.query(call_of(request, principal), name, Statement(body.sql, body.params))
    result = answer.result
    return ConnectorQueryOut(
        kind=result.kind,
        columns=result.columns,
        rows=result.rows,
        row_count=len(result.rows),
        truncated=result.truncated,
        secret_version=answer.secret_version,
    )
