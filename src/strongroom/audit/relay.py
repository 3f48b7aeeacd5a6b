"""Group commit through another process: the audit writer of a worker in a supervised server.

A server with ``workers`` above 1 runs one supervisor and several worker processes
(`strongroom.pool`). Many writers on one SQLite file would queue for its lock by sleeping
and polling, so the workers do not append the events of reads and refusals themselves:
their writer thread gathers a batch exactly as `GroupCommitter` does, runs its point reads
in a read-only transaction of its own, and hands the batch's events to the supervisor
(`EventSink.append`), whose single writer commits the events of every worker together. A
caller is answered once the supervisor says its event is durable, as before; if the
supervisor cannot record it, or is gone, the caller gets `AuditError`.

Alert rules run in the supervisor, which sees every event once: events committed there are
observed there, and the events a worker commits with its own changes (`Recorder.action`)
are sent to it (`EventSink.observe`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from strongroom.audit.committer import GroupCommitter, _Item, _Outcome
from strongroom.audit.events import AuditRecord
from strongroom.errors import AuditError
from strongroom.store.engine import Database


class EventSink(Protocol):
    """The supervisor's audit writer, as a worker reaches it."""

    def append(self, records: Sequence[AuditRecord]) -> list[int | AuditError]:
        """Append ``records`` durably; each one's index, or the error that refused it.
        `AuditError` for all of them if the supervisor cannot be reached."""

    def observe(self, record: AuditRecord) -> None:
        """Show a record committed here to the supervisor's alert rules (no answer)."""


class RelayedCommitter(GroupCommitter):
    """`GroupCommitter` whose writer thread appends through an `EventSink`."""

    def __init__(self, database: Database, sink: EventSink, *, max_batch: int = 256) -> None:
        super().__init__(database, max_batch=max_batch)
        self._sink = sink
        # Answers are never held back for the next batch: its commit is not ours to overlap.
        self._overlap = False

    def notify(self, record: AuditRecord) -> None:
        """A record this process committed itself: the supervisor's rules observe it."""
        self._sink.observe(record)

    def _write(
        self, items: list[_Item], before_commit: Callable[[], None] | None
    ) -> tuple[list[_Outcome], list[AuditRecord | None]]:
        if before_commit is not None:
            before_commit()  # an earlier batch held back: durable already, answer it now
        records: list[AuditRecord] = []
        values: list[_Outcome] = []
        if all(isinstance(item, AuditRecord) for item in items):
            records = list(items)  # type: ignore[arg-type]
            values = [None] * len(items)
        else:
            try:
                with self._db.transaction(read_only=True) as session:
                    for item in items:
                        if isinstance(item, AuditRecord):
                            records.append(item)
                            values.append(None)
                        else:
                            value, record = item(session)
                            self._encode(record)
                            records.append(record)
                            values.append(value)
            except Exception:
                # A read failed, not the trail: retried one by one, then that caller's error.
                raise AuditError() from None
        try:
            indexes = self._sink.append(records)
        except AuditError:
            self.mark(ok=False)
            raise
        if len(indexes) != len(records):
            self.mark(ok=False)
            raise AuditError()
        failed = [i for i in indexes if isinstance(i, AuditError)]
        if failed and len(records) == 1:
            raise failed[0]
        self.mark(ok=True)
        outcomes = [
            index if isinstance(item, AuditRecord) or isinstance(index, AuditError) else value
            for item, index, value in zip(items, indexes, values, strict=True)
        ]
        # Observed by the supervisor's rules where they were committed: not again here.
        return outcomes, [None] * len(records)
