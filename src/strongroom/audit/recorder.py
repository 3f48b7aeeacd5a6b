"""Run a unit of work and its audit event together: both commit, or neither does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from strongroom.audit import log
from strongroom.audit.events import AuditRecord, Detail, Outcome
from strongroom.clock import Clock
from strongroom.errors import AuditError, AuthError, StoreError, StrongroomError
from strongroom.store.engine import Database


@dataclass
class Audited:
    """The open transaction of an audited action, and the detail its event will carry."""

    session: Session
    detail: Detail = field(default_factory=dict)
    resource: str | None = None


class Recorder:
    """Wraps actions so each appends exactly one event, in the same transaction."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    @contextmanager
    def action(self, request_id: str, actor: str, action: str, resource: str) -> Iterator[Audited]:
        """Run the block in a transaction that also appends its success event.

        If the block raises, its changes roll back and a failure event (``denied`` for
        authentication and authorisation errors, ``error`` otherwise) is appended in a
        transaction of its own. If no event can be written, `AuditError` is raised:
        nothing happens unaudited.
        """
        try:
            with self._db.transaction() as session:
                tx = Audited(session)
                yield tx
                log.append(
                    session,
                    AuditRecord(
                        self._clock.now_us(),
                        request_id,
                        actor,
                        action,
                        tx.resource or resource,
                        "success",
                        tx.detail,
                    ),
                )
        except AuditError:
            raise
        except Exception as exc:
            outcome: Outcome = "denied" if isinstance(exc, AuthError) else "error"
            slug = exc.slug if isinstance(exc, StrongroomError) else "internal"
            self.record(request_id, actor, action, resource, outcome, {"error": slug}, cause=exc)
            raise

    def record(
        self,
        request_id: str,
        actor: str,
        action: str,
        resource: str,
        outcome: Outcome,
        detail: Detail | None = None,
        *,
        cause: BaseException | None = None,
    ) -> None:
        """Append one event in its own transaction; `AuditError` if it cannot."""
        record = AuditRecord(
            self._clock.now_us(), request_id, actor, action, resource, outcome, detail or {}
        )
        try:
            with self._db.transaction() as session:
                log.append(session, record)
        except (AuditError, StoreError) as exc:
            raise AuditError("the audit trail could not record this request") from (cause or exc)
