"""Run a unit of work and its audit event together: both commit, or neither does."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import TypeVar, cast

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from strongroom.audit import log
from strongroom.audit.committer import GroupCommitter
from strongroom.audit.events import AuditRecord, Detail, Outcome
from strongroom.clock import Clock
from strongroom.errors import AuditError, AuthError, StrongroomError
from strongroom.store.engine import Database, Reader


@dataclass
class Audited:
    """The open transaction of an audited action, and the detail its event will carry."""

    session: Session
    detail: Detail = field(default_factory=dict)
    resource: str | None = None


logger = logging.getLogger("strongroom.audit")


def _settled_late(pending: asyncio.Future[int]) -> None:
    if not pending.cancelled() and pending.exception() is not None:
        logger.warning("could not record the work of a cancelled request")


@dataclass
class PointReading:
    """A point read's view: its transaction (`Reader`: a Session's or a driver's), and the
    detail its event will carry."""

    reader: Reader
    detail: Detail = field(default_factory=dict)
    resource: str | None = None


@dataclass
class AuditedCall:
    """The detail and resource an audited coroutine's event will carry (no transaction)."""

    detail: Detail = field(default_factory=dict)
    resource: str | None = None


T = TypeVar("T")


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

    @asynccontextmanager
    async def action_async(
        self, request_id: str, actor: str, action: str, resource: str
    ) -> AsyncIterator[AuditedCall]:
        """`action` with ``writes=False`` for coroutines, for blocks that use no store.

        The block runs on the event loop, so it must not block: it reads memory only (for
        store reads use `read_async`). Its ``success`` event is then group-committed
        without blocking the loop, and the caller resumes once the event is durable. If
        the block raises, a ``denied`` or ``error`` event is appended instead and the
        exception propagates. If no event can be written, `AuditError` is raised.
        """
        call = AuditedCall()
        try:
            yield call
        except (AuditError, asyncio.CancelledError):
            raise
        except Exception as exc:
            await self._failed_async(request_id, actor, action, resource, exc)
            raise
        await self._committer.append_async(self._success(request_id, actor, action, resource, call))

    async def read_async(
        self,
        request_id: str,
        actor: str,
        action: str,
        resource: str,
        work: Callable[[Audited], T],
    ) -> T:
        """Run ``work`` as `action` with ``writes=False`` would, from a coroutine.

        ``work`` runs in a worker thread, in a read-only transaction; its event is then
        group-committed without blocking the loop, and its result returned once the event
        is durable. Failures are recorded and raised as `action` does. If the caller is
        cancelled while ``work`` runs, the work still finishes in its thread and its event
        is still recorded (nobody waits for it), so no work happens unrecorded.
        """

        def run() -> tuple[T, Audited]:
            with self._db.transaction(read_only=True) as session:
                tx = Audited(session)
                return work(tx), tx

        job = asyncio.ensure_future(asyncio.to_thread(run))
        try:
            # Shielded: a thread cannot be stopped, so a cancelled caller's work still
            # finishes, and is still recorded when it does.
            result, tx = await asyncio.shield(job)
        except asyncio.CancelledError:
            job.add_done_callback(
                functools.partial(self._record_late, request_id, actor, action, resource)
            )
            raise
        except AuditError:
            raise
        except Exception as exc:
            await self._failed_async(request_id, actor, action, resource, exc)
            raise
        await self._committer.append_async(self._success(request_id, actor, action, resource, tx))
        return result

    @property
    def point_reads(self) -> bool:
        """Whether hot keyed reads should use `point_read_async` on this store: on SQLite,
        whose writers are serialised anyway and whose reads are in-process calls. On
        PostgreSQL every read is a round trip, which on the one writer thread would
        queue every event behind it; there reads keep their own threads (`read_async`)."""
        return self._db.backend == "sqlite"

    async def point_read_async(
        self,
        request_id: str,
        actor: str,
        action: str,
        resource: str,
        work: Callable[[PointReading], T],
    ) -> T:
        """`read_async` for a short read of a few rows by key: the hot reads of the API.

        ``work`` runs on the audit writer, in the transaction that appends its event
        (`GroupCommitter.read_async`): no worker thread and no transaction of its own, and
        the read and its event commit together. Every event of the batch waits for it, so
        it must be quick; scans and queries use `read_async`. Failures are recorded and
        raised as `action` does; `AuditError` if the event cannot be written, and then
        nothing ``work`` found reaches the caller.
        """

        def read(reader: Reader) -> tuple[object, AuditRecord]:
            tx = PointReading(reader)
            try:
                value = work(tx)
            except SQLAlchemyError:
                raise  # fails the batch: retried alone, then AuditError
            except Exception as exc:
                return exc, self._failure(request_id, actor, action, resource, exc)
            return value, self._success(request_id, actor, action, resource, tx)

        try:
            result = await self._committer.read_async(read)
        except AuditError as exc:
            raise AuditError("the audit trail could not record this request") from exc
        return cast(T, result)

    def _failure(
        self, request_id: str, actor: str, action: str, resource: str, exc: Exception
    ) -> AuditRecord:
        outcome: Outcome = "denied" if isinstance(exc, AuthError) else "error"
        slug = exc.slug if isinstance(exc, StrongroomError) else "internal"
        return AuditRecord(
            self._clock.now_us(), request_id, actor, action, resource, outcome, {"error": slug}
        )

    def _record_late(
        self,
        request_id: str,
        actor: str,
        action: str,
        resource: str,
        job: asyncio.Future[tuple[object, Audited]],
    ) -> None:
        """Record the outcome of work whose caller was cancelled; nobody waits for it."""
        if job.cancelled():
            return
        exc = job.exception()
        if exc is None:
            record = self._success(request_id, actor, action, resource, job.result()[1])
        elif isinstance(exc, AuditError):
            return
        else:
            outcome: Outcome = "denied" if isinstance(exc, AuthError) else "error"
            slug = exc.slug if isinstance(exc, StrongroomError) else "internal"
            record = AuditRecord(
                self._clock.now_us(), request_id, actor, action, resource, outcome,
                {"error": slug},
            )  # fmt: skip
        try:
            pending = self._committer.append_async(record)
        except AuditError:
            logger.warning("could not record the work of a cancelled request %s", request_id)
            return
        pending.add_done_callback(_settled_late)

    async def _failed_async(
        self, request_id: str, actor: str, action: str, resource: str, exc: Exception
    ) -> None:
        outcome: Outcome = "denied" if isinstance(exc, AuthError) else "error"
        slug = exc.slug if isinstance(exc, StrongroomError) else "internal"
        await self.record_async(
            request_id, actor, action, resource, outcome, {"error": slug}, cause=exc
        )

    def _success(
        self,
        request_id: str,
        actor: str,
        action: str,
        resource: str,
        tx: Audited | AuditedCall | PointReading,
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

    async def record_async(
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
        """`record` for coroutines: waits for durability without blocking the loop."""
        record = AuditRecord(
            self._clock.now_us(), request_id, actor, action, resource, outcome, detail or {}
        )
        try:
            await self._committer.append_async(record)
        except AuditError as exc:
            raise AuditError("the audit trail could not record this request") from (cause or exc)
