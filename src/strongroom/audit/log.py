"""Appending to and reading the audit trail."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from strongroom.audit.appender import Event
from strongroom.audit.events import AuditRecord
from strongroom.clock import rfc3339
from strongroom.crypto.merkle import leaf_hash
from strongroom.errors import AuditError
from strongroom.store.engine import DriverTransaction
from strongroom.store.models import AuditEvent
from strongroom.store.repositories import audit as repo


def event_values(record: AuditRecord) -> Event:
    """The event's column values in `repo.COLUMNS` order but the leaf hash, which its
    writer computes (this process, or the appender process)."""
    return (
        record.time_us,
        record.request_id,
        record.actor,
        record.action,
        record.resource,
        record.outcome,
        record.detail_json(),
        record.entry_bytes(),
    )


def _values(record: AuditRecord) -> tuple[object, ...]:
    """The event's column values in `repo.COLUMNS` order."""
    return (*event_values(record), leaf_hash(record.entry_bytes()))  # the entry is cached


def append(session: Session, record: AuditRecord) -> int:
    """Add ``record`` to the trail inside the caller's transaction; return its index.

    Any failure raises `AuditError`, which the caller lets fail the whole request: the
    change the event records is rolled back with it.
    """
    return append_many(session, [record])[0]


def append_many(
    session: Session | Connection | DriverTransaction, records: Sequence[AuditRecord]
) -> list[int]:
    """Add several records in order inside the caller's transaction (a Session, a Core
    connection or a `DriverTransaction`); their indexes."""
    try:
        return repo.append_values(session, [_values(r) for r in records])
    except (SQLAlchemyError, ValueError, TypeError) as exc:
        raise AuditError("the audit trail could not record this request") from exc


@dataclass(frozen=True)
class EventView:
    """An event as the API shows it."""

    index: int
    time: str
    request_id: str
    actor: str
    action: str
    resource: str
    outcome: str
    detail: dict[str, Any]


def view(row: AuditEvent) -> EventView:
    return EventView(
        index=row.seq,
        time=rfc3339(row.time_us),
        request_id=row.request_id,
        actor=row.actor,
        action=row.action,
        resource=row.resource,
        outcome=row.outcome,
        detail=json.loads(row.detail),
    )


def query(
    session: Session,
    *,
    after: int | None,
    actor: str | Sequence[str] | None,
    action: str | None,
    since_us: int | None,
    until_us: int | None,
    limit: int,
    newest_first: bool,
) -> Sequence[EventView]:
    rows = repo.query(
        session,
        after=after,
        actor=actor,
        action=action,
        since_us=since_us,
        until_us=until_us,
        limit=limit,
        newest_first=newest_first,
    )
    return [view(r) for r in rows]


def size(session: Session) -> int:
    return repo.size(session)
