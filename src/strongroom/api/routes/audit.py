"""Audit trail routes."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.params import Security
from pydantic import BaseModel, Field

from strongroom.api.deps import NodeDep, call_of, require, require_async
from strongroom.api.models import EventOut, EventsOut, Input
from strongroom.clock import parse_rfc3339
from strongroom.errors import InvalidRequestError
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import AUDIT_HASH, AUDIT_READ

router = APIRouter(prefix="/v1/audit", tags=["audit"])

# Audit indexes are BIGINT in the store; a larger cursor cannot match and cannot be bound.
MAX_CURSOR = 2**62
# Far above any page size setting; the configured maximum is checked below with a clear
# message. The bound only refuses absurd integers before they reach the store.
MAX_LIMIT = 2**31 - 1


def _time(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise InvalidRequestError(f"{name} must be an RFC 3339 timestamp") from None


def _text(value: str | None, name: str) -> str | None:
    # Control characters (NUL above all: PostgreSQL cannot store it) never occur in
    # actors or actions; refuse them rather than hand them to the database.
    if value is not None and any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidRequestError(f"{name} may not contain control characters")
    return value


@router.get("/events", name="audit.events.read")
async def list_events(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require_async(AUDIT_READ))],
    after: Annotated[
        int | None, Query(ge=-1, le=MAX_CURSOR, description="Cursor: the last index seen.")
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT)] = None,
    actor: Annotated[str | None, Query(max_length=256)] = None,
    action: Annotated[str | None, Query(max_length=128, description="Exact, or prefix*.")] = None,
    since: Annotated[str | None, Query(max_length=64, description="RFC 3339, inclusive.")] = None,
    until: Annotated[str | None, Query(max_length=64, description="RFC 3339, exclusive.")] = None,
    order: Literal["asc", "desc"] = "asc",
) -> EventsOut:
    """Events in index order (or newest first), filtered, one page at a time."""
    settings = node.settings
    size = settings.default_page_size if limit is None else limit
    if size > settings.max_page_size:
        raise InvalidRequestError(f"limit may not exceed {settings.max_page_size}")
    events = await node.audit.events_async(
        call_of(request, principal),
        after=after,
        actor=_text(actor, "actor"),
        action=_text(action, "action"),
        since_us=_time(since, "since"),
        until_us=_time(until, "until"),
        limit=size,
        newest_first=order == "desc",
        match_hmacs=principal.has_scope(AUDIT_HASH),
    )
    out = [EventOut(**vars(e)) for e in events]
    return EventsOut(events=out, next=out[-1].index if len(out) == size else None)


class HashIn(Input):
    value: str = Field(min_length=1, max_length=1024)


class HashOut(BaseModel):
    hmacs: list[str] = Field(description="Newest key version first.")


@router.post("/hash", name="audit.hash")
def hash_value(
    body: HashIn,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(AUDIT_HASH))],
) -> HashOut:
    """The forms a sensitive value (e.g. an e-mail) takes in the trail; audited, never kept."""
    return HashOut(hmacs=node.audit.hash_identifier(call_of(request, principal), body.value))


class AlertOut(BaseModel):
    time: str
    rule: str
    severity: str
    summary: str
    actor: str
    action: str
    request_id: str


class AlertsOut(BaseModel):
    alerts: list[AlertOut]


@router.get("/alerts", name="audit.alerts.read")
def list_alerts(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(AUDIT_READ))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> AlertsOut:
    """The newest alerts raised by the rules over the audit stream, newest first."""
    found = node.audit.recent_alerts(call_of(request, principal), limit)
    return AlertsOut(alerts=[AlertOut(**a.as_json()) for a in found])
