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

With a `LoopSink` (a channel the worker's event loop reads and writes itself), the
events of coroutines skip the writer thread altogether: at the end of each loop
iteration the loop's group runs its point reads there and then, in one read-only
transaction, and its events go to the supervisor as one message; the answer, read by the
same loop, settles the callers. No thread is woken on the way, so a busy loop never waits
for another thread to get the interpreter lock, and a worker can have several batches on
their way to the supervisor at once (they join its group commits). Threads still append
through the writer thread and `EventSink`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from strongroom.audit.committer import GroupCommitter, _Group, _Item, _Outcome
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


class LoopSink(Protocol):
    """The supervisor's audit writer as a worker's event loop reaches it."""

    def append_async(self, records: Sequence[AuditRecord]) -> Awaitable[list[int | AuditError]]:
        """Send ``records`` from the running loop; each one's index, or the error that
        refused it, once they are durable. `AuditError` if the supervisor cannot be reached."""


class RelayedCommitter(GroupCommitter):
    """`GroupCommitter` whose writer thread appends through an `EventSink`, and whose
    coroutines' events go through ``loop_sink`` when there is one."""

    def __init__(
        self,
        database: Database,
        sink: EventSink,
        *,
        loop_sink: LoopSink | None = None,
        max_batch: int = 256,
    ) -> None:
        super().__init__(database, max_batch=max_batch)
        self._sink = sink
        self._loop_sink = loop_sink
        # The loop's own connection for its point reads (`_run_reads`; one loop per channel).
        self._reads = database.held_connection()
        # Answers are never held back for the next batch: its commit is not ours to overlap.
        self._overlap = False

    def close(self) -> None:
        super().close()
        self._reads.release()  # the loop that read on it has stopped

    def notify(self, record: AuditRecord) -> None:
        """A record this process committed itself: the supervisor's rules observe it."""
        self._sink.observe(record)

    # -- coroutines, through the loop's own channel ------------------------------------------

    def _submit(self, group: _Group) -> None:
        """Send ``group`` to the supervisor from its loop (without a loop sink: queue it
        for the writer thread, as `GroupCommitter` does)."""
        if self._loop_sink is None:
            super()._submit(group)
            return
        if self._open.get(group.loop) is group:
            del self._open[group.loop]
        with self._lock:
            closed = self._closed
            if group.state != "open":
                return  # withdrawn: its callers have their answer
            group.state = "withdrawn" if closed else "taken"
        if closed:
            group.settle([AuditError("the audit trail is shutting down")] * len(group.records))
            return
        items = group.records
        records, values, failed = self._run_reads(items)
        if not records:
            group.settle(failed)
            return
        try:
            answer = asyncio.ensure_future(self._loop_sink.append_async(records))
        except Exception:  # the channel is gone, or an event cannot even be framed
            self.mark(ok=False)
            group.settle([AuditError()] * len(items))
            return
        answer.add_done_callback(lambda done: self._answered(group, done, items, values, failed))

    def _run_reads(
        self, items: list[_Item]
    ) -> tuple[list[AuditRecord], list[_Outcome], list[_Outcome]]:
        """Run the point reads of ``items`` (on the loop: each is a keyed read of a few
        rows) in a read-only driver transaction. The records to send, each item's value,
        and each item's error (None when it has a record). A read whose store fails gets
        `AuditError` and no event, and the reads after it go on in a fresh transaction."""
        records: list[AuditRecord] = []
        values: list[_Outcome] = [None] * len(items)
        failed: list[_Outcome] = [None] * len(items)
        position = 0
        while position < len(items):
            if all(isinstance(item, AuditRecord) for item in items[position:]):
                records.extend(items[position:])  # type: ignore[arg-type]
                break
            try:
                with self._db.driver_reads(self._reads) as reader:
                    while position < len(items):
                        item = items[position]
                        if isinstance(item, AuditRecord):
                            records.append(item)
                        else:
                            # Not encoded here: the supervisor encodes every event it
                            # appends and refuses, one by one, any it cannot.
                            values[position], record = item(reader)
                            records.append(record)
                        position += 1
            except Exception:
                # The read at ``position`` failed (or the transaction could not even
                # begin: then a plain event there still goes out). A failure once every
                # item is done (closing the transaction) changes nothing that was read.
                if position < len(items):
                    item = items[position]
                    if isinstance(item, AuditRecord):
                        records.append(item)
                    else:
                        failed[position] = AuditError()
                    position += 1
        return records, values, failed

    def _answered(
        self,
        group: _Group,
        done: asyncio.Future[list[int | AuditError]],
        items: list[_Item],
        values: list[_Outcome],
        failed: list[_Outcome],
    ) -> None:
        """Settle ``group`` with the supervisor's answer (runs in the group's loop)."""
        try:
            indexes = list(done.result())
        except (Exception, asyncio.CancelledError):  # the sink failed: nothing is durable
            indexes = []
        if len(indexes) != sum(error is None for error in failed):
            self.mark(ok=False)
            group.settle([AuditError()] * len(items))
            return
        self.mark(ok=True)
        answers = iter(indexes)
        outcomes: list[_Outcome] = []
        for item, value, error in zip(items, values, failed, strict=True):
            answer = next(answers) if error is None else error
            keep = isinstance(item, AuditRecord) or isinstance(answer, AuditError)
            outcomes.append(answer if keep else value)
        group.settle(outcomes)

    # -- threads, through the writer -------------------------------------------------------

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
