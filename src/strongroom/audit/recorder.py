"""Run a unit of work and its audit event together: both commit, or neither does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from strongroom.audit import log
from strongroom.audit.committer import GroupCommitter
from strongroom.audit.events import AuditRecord, Detail, Outcome
from strongroom.clock import Clock
from strongroom.errors import AuditError, AuthError, StrongroomError
from strongroom.store.engine import Database


@dataclass
class Audited:
    """The open transaction of an audited action, and the detail its event will carry."""

    session: Session
    detail: Detail = field(default_factory=dict)
    resource: str | None = None


class Recorder:
    """Wraps actions so each appends exactly one event, in the same transaction."""

    def __init__(self, database: Database, clock: Clock, committer: GroupCommitter) -> None:
        self._db = database
        self._clock = clock
        self._committer = committer

    @contextmanager
    def action(
        self, request_id: str, actor: str, action: str, resource: str, *, writes: bool = True
    ) -> Iterator[Audited]:
        """Run the block and append its ``success`` event; both commit or neither does.

        With ``writes=False`` the block runs in a read-only transaction and changes
        nothing, so its event is group-committed after the block; the caller still
        returns only once the event is durable.

        If the block raises, its changes roll back and a failure event (``denied`` for
        authentication and authorisation errors, ``error`` otherwise) is appended on its
        own. If no event can be written, `AuditError` is raised: nothing happens
        unaudited.
        """
        record: AuditRecord | None = None
        try:
            with self._db.transaction(read_only=not writes) as session:
                tx = Audited(session)
                yield tx
                if writes:
                    record = self._success(request_id, actor, action, resource, tx)
                    try:
                        log.append(session, record)
                    except AuditError:
                        self._committer.mark(ok=False)
                        raise
        except AuditError:
            raise
        except Exception as exc:
            outcome: Outcome = "denied" if isinstance(exc, AuthError) else "error"
            slug = exc.slug if isinstance(exc, StrongroomError) else "internal"
            self.record(request_id, actor, action, resource, outcome, {"error": slug}, cause=exc)
            raise
        if record is not None:
            self._committer.notify(record)
        else:
            self._committer.append(self._success(request_id, actor, action, resource, tx))

    def _success(
        self, request_id: str, actor: str, action: str, resource: str, tx: Audited
    ) -> AuditRecord:
        return AuditRecord(
            self._clock.now_us(),
            request_id,
            actor,
            action,
            tx.resource or resource,
            "success",
            tx.detail,
        )

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
        """Append one event on its own (group-committed); `AuditError` if it cannot."""
        record = AuditRecord(
            self._clock.now_us(), request_id, actor, action, resource, outcome, detail or {}
        )
        try:
            self._committer.append(record)
        except AuditError as exc:
            raise AuditError("the audit trail could not record this request") from (cause or exc)
