"""Group commit for audit events that record no other change.

Reads, refusals and token mints change nothing but the audit trail. Their events are
handed to one writer thread, which appends every event waiting at that moment in one
transaction, so many concurrent requests share one durable commit (one fsync) instead of
queueing for one each. A caller returns only once its event is committed; if that does
not happen within the timeout, it gets `AuditError` and its request fails.

Two ways in, one writer:

- `GroupCommitter.append` for threads: each event is queued on its own and its caller
  blocks on a future of its own.
- `GroupCommitter.append_async` for coroutines: the events of one event loop gather in
  an open *group*, which is handed to the writer once per loop iteration and settled
  with one ``call_soon_threadsafe`` per batch. The hand-off costs microseconds per event
  instead of a thread wake-up each way.

Coroutines can also hand the writer a *point read* (`GroupCommitter.read_async`): a
short read of a few rows by key that the writer runs inside the batch's transaction,
followed by the event recording it. The read and its event commit together, and the read
costs neither a worker thread nor a transaction of its own.

On SQLite, with an appender (``appender=True``, the server's default), the writer hands
batches of plain events to the audit appender process (`strongroom.audit.appender`),
which writes them on another core; a loop's group then goes to the writer once it holds
`GROUP_SIZE` events, and each is written on its own, so the loop goes on with its next
requests while the last ones are written. Batches with point reads are still written
here, in the writer's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Literal, cast

from strongroom.audit import log
from strongroom.audit.appender import (
    AppenderLostError,
    AppenderProcess,
    AppenderUnavailableError,
)
from strongroom.audit.events import AuditRecord
from strongroom.errors import AuditError, StrongroomError
from strongroom.store.engine import Database, Reader

_STOP = object()
_LINGER_SECONDS = 0.001
#: How much longer than the timeout a caller waits for a batch the writer has taken: its
#: transaction is bounded by the store's lock timeout.
_RUNNING_GRACE = 6
_LATE = "the audit trail did not record this request in time"
#: With an appender, the most events a loop's group and a batch hold.
GROUP_SIZE = 32

#: A point read for the writer: run inside the batch's transaction, it returns what its
#: caller gets (a value, or an exception to raise) and the event recording it. It must only
#: read, and few rows: every event of the batch waits for it. A database error it raises
#: fails the batch, which is then retried one item at a time.
PointRead = Callable[[Reader], tuple[Any, AuditRecord]]

# One item of a batch: an event ready to append, or a point read that makes one.
_Item = AuditRecord | PointRead

# The outcome of one item: an event's index, a point read's value, or the error raised.
_Outcome = Any


class _Group:
    """Events queued by the coroutines of one event loop; settled together.

    ``state`` moves from ``open`` (taking events, not yet taken by the writer) to
    ``taken`` (being written) or ``withdrawn`` (timed out before the writer took it: never
    written). It is only changed under the committer's lock.
    """

    __slots__ = ("loop", "records", "state", "timer", "waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.records: list[_Item] = []
        self.waiters: list[asyncio.Future[Any]] = []
        self.state: Literal["open", "taken", "withdrawn"] = "open"
        self.timer: asyncio.TimerHandle | None = None

    def settle(self, outcomes: Sequence[_Outcome]) -> None:
        """Resolve every waiter still waiting (runs in the group's loop)."""
        if self.timer is not None:
            self.timer.cancel()
        for waiter, outcome in zip(self.waiters, outcomes, strict=True):
            if waiter.done():
                continue  # its caller was cancelled or gave up; the event stands
            if isinstance(outcome, BaseException):
                waiter.set_exception(outcome)
            else:
                waiter.set_result(outcome)

    def fail(self, message: str) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_exception(AuditError(message))


# Who waits for a batch part: one thread's future, or a loop's group.
_Owner = Future[int] | _Group


class _Acknowledgement:
    """Hands a committed batch's outcomes to its callers; runs once, however often called."""

    __slots__ = ("batch", "outcomes")

    def __init__(self, batch: list[tuple[list[_Item], _Owner]], outcomes: list[_Outcome]) -> None:
        self.batch: list[tuple[list[_Item], _Owner]] | None = batch
        self.outcomes = outcomes

    def __call__(self) -> None:
        batch, self.batch = self.batch, None
        if batch is None:
            return
        start = 0
        for part, owner in batch:
            mine = self.outcomes[start : start + len(part)]
            start += len(part)
            if isinstance(owner, _Group):
                # A closed loop has nobody waiting any more.
                with contextlib.suppress(RuntimeError):
                    owner.loop.call_soon_threadsafe(owner.settle, mine)
            else:
                outcome = mine[0]
                if isinstance(outcome, BaseException):
                    owner.set_exception(outcome)
                else:
                    owner.set_result(outcome)


class GroupCommitter:
    """One writer thread appending batches of audit records. Thread-safe."""

    def __init__(
        self,
        database: Database,
        *,
        max_batch: int = 256,
        timeout_seconds: float = 10.0,
        appender: bool = False,
    ) -> None:
        self._db = database
        self._max_batch = max_batch
        self._timeout = timeout_seconds
        self._items: deque[object] = deque()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._open: dict[asyncio.AbstractEventLoop, _Group] = {}
        self._thread: threading.Thread | None = None
        self._closed = False
        self._healthy = True
        #: Called with each record once it is durable (alert rules listen here).
        self.observers: list[Callable[[AuditRecord], None]] = []
        #: Called once each time audit writes start failing.
        self.on_failure: Callable[[], None] | None = None
        #: Transactions the writer has committed (the writer alone counts).
        self.commits = 0
        # See `_commit`: on SQLite a batch's acknowledgement may wait for the next commit.
        self._overlap = database.backend == "sqlite"
        # The appender process for batches of plain events (SQLite only; see the module).
        path = database.sqlite_path if appender else None
        self.appender = AppenderProcess(path) if path is not None else None
        if self.appender is not None:
            # One group per batch: the loop's next group is computed while this one is
            # written, and its callers are answered as soon as it is durable.
            self._max_batch = min(max_batch, GROUP_SIZE)
        # The writer thread's own connection for batches of events (see `_write`).
        self._held = database.held_connection()

    @property
    def healthy(self) -> bool:
        """False from a failed or timed-out audit write until the next successful one."""
        return self._healthy

    def mark(self, ok: bool) -> None:
        """Note the outcome of an audit write made outside the writer thread."""
        was = self._healthy
        self._healthy = ok
        if was and not ok and self.on_failure is not None:
            self.on_failure()

    def notify(self, record: AuditRecord) -> None:
        """Tell the observers a record is durable."""
        for observer in self.observers:
            observer(record)

    @staticmethod
    def _encode(record: AuditRecord) -> None:
        """Build the event's canonical entry and detail column now (both are cached on the
        record), so an event that cannot be stored is refused before it is queued."""
        try:
            record.entry_bytes()
        except (ValueError, TypeError):
            raise AuditError("the audit event could not be encoded") from None

    def _put(self, item: object) -> None:
        """Queue ``item`` for the writer (lock held by the caller)."""
        if self._closed:
            raise AuditError("the audit trail is shutting down")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="strongroom-audit", daemon=True)
            self._thread.start()
        self._items.append(item)
        self._ready.notify()

    # -- threads ----------------------------------------------------------------------------

    def append(self, record: AuditRecord) -> int:
        """Append ``record`` durably and return its index; `AuditError` if it cannot.

        Blocks the calling thread for at most the timeout (plus the bounded transaction
        of a batch already being written). Coroutines use `append_async`.
        """
        self._encode(record)
        future: Future[int] = Future()
        with self._lock:
            self._put((record, future))
        try:
            return future.result(timeout=self._timeout)
        except FutureTimeout:
            pass
        # Not written yet. If the writer has not picked the event up, withdraw it, so the
        # trail never records as done a request that was refused; if it is being written
        # now, its transaction is bounded by the store's lock timeout: wait for the outcome.
        if future.cancel():
            self.mark(ok=False)
            raise AuditError(_LATE)
        try:
            return future.result(timeout=self._timeout * _RUNNING_GRACE)
        except FutureTimeout:
            self.mark(ok=False)
            raise AuditError(_LATE) from None

    # -- coroutines -------------------------------------------------------------------------

    def append_async(self, record: AuditRecord) -> asyncio.Future[int]:
        """Queue ``record`` from a coroutine; await the result for its index.

        ``await committer.append_async(record)`` has the same contract as `append`,
        without blocking the event loop: it returns once the event is durable, or raises
        `AuditError`. An event that cannot be encoded is refused at once. The event joins
        the loop's open group, which the writer commits with whatever else is waiting. A
        group the writer has not taken within the timeout is withdrawn (none of its
        events is ever written) and its callers get `AuditError`.

        Cancelling the awaiting coroutine does not withdraw its event: it is written
        once, with its group, as the work it records has already happened.

        A plain function returning the caller's own future, not a coroutine: one object
        less per event, and cancelling one caller cancels only its future.
        """
        self._encode(record)
        return self._join(record)

    def read_async(self, read: PointRead) -> asyncio.Future[Any]:
        """Queue a point read from a coroutine; await the result for what ``read`` returned.

        The writer runs ``read`` in the transaction of the batch it joins, then appends
        the event it returned with the others; the result arrives once that event is
        durable. A returned exception is raised to the caller (its event is written all
        the same). `AuditError` if the event cannot be written: then the caller gets
        nothing ``read`` found. Timeouts and cancellation work as in `append_async`.
        """
        return self._join(read)

    def _join(self, item: _Item) -> asyncio.Future[Any]:
        """Add ``item`` to this loop's open group (opening one if needed); its waiter."""
        if self._closed:
            raise AuditError("the audit trail is shutting down")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        # Only this loop's thread touches its open group, so no lock is needed here.
        group = self._open.get(loop)
        if group is None or len(group.records) >= self._max_batch:
            group = self._open[loop] = _Group(loop)
            # Handed over after the coroutines already runnable in this loop iteration
            # have had their turn, so they share the batch.
            loop.call_soon(self._submit, group)
            group.timer = loop.call_later(self._timeout, self._expire, group)
        group.records.append(item)
        group.waiters.append(waiter)
        return waiter

    def _submit(self, group: _Group) -> None:
        """Hand ``group`` to the writer (runs in its loop); it takes no more events."""
        if self._open.get(group.loop) is group:
            del self._open[group.loop]
        with self._lock:
            try:
                self._put(group)
                return
            except AuditError as exc:
                group.state = "withdrawn"
                message = exc.detail
        if group.timer is not None:
            group.timer.cancel()
        group.fail(message)

    def _expire(self, group: _Group) -> None:
        """The group's timeout passed (runs in its loop)."""
        with self._lock:
            state = group.state
            if state == "open":
                group.state = "withdrawn"
        if state == "open":
            # A trail too slow to take events is failing requests: health shows it.
            self.mark(ok=False)
            group.fail(_LATE)
        elif state == "taken":
            # Being written: the outcome comes within the store's lock timeout.
            group.timer = group.loop.call_later(
                self._timeout * (_RUNNING_GRACE - 1), self._give_up, group
            )

    def _give_up(self, group: _Group) -> None:
        self.mark(ok=False)
        group.fail(_LATE)

    # -- the writer -------------------------------------------------------------------------

    def close(self) -> None:
        """Finish what is queued, then stop the writer."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._items.append(_STOP)
                self._ready.notify()
        if thread is not None:
            thread.join(timeout=self._timeout)
        if thread is None or not thread.is_alive():
            self._held.release()
            if self.appender is not None:
                self.appender.close()

    def _take(self, item: object) -> tuple[list[_Item], _Owner] | None:
        """Claim ``item`` for writing (lock held): its live records, or None."""
        if isinstance(item, _Group):
            if item.state != "open":
                return None
            item.state = "taken"
            return item.records, item
        record, future = cast(tuple[AuditRecord, "Future[int]"], item)
        if not future.set_running_or_notify_cancel():
            return None  # withdrawn by its timed-out caller
        return [record], future

    def _run(self) -> None:
        previous = 0
        # The last batch's acknowledgement while it is held back (see `_commit`).
        held: _Acknowledgement | None = None
        while True:
            if held is not None and not self._items:
                held()  # no next batch to overlap with
                held = None
            batch: list[tuple[list[_Item], _Owner]] = []
            count = 0
            stop = False
            with self._ready:
                while not self._items:
                    self._ready.wait()
                # Under thread concurrency (the last batch held several events) linger
                # briefly so callers woken by that commit can join this one. Groups need
                # no linger: each already holds a whole loop iteration's events. Nobody
                # woken joins while the last batch's acknowledgement is held back.
                deadline = time.monotonic() + _LINGER_SECONDS
                linger = False
                while count < self._max_batch:
                    if not self._items:
                        wait = deadline - time.monotonic()
                        if not (linger and held is None and previous > 1 and wait > 0):
                            break
                        self._ready.wait(wait)
                        continue
                    item = self._items[0]
                    if item is _STOP:
                        stop = True
                        break
                    if isinstance(item, _Group):
                        if batch and count + len(item.records) > self._max_batch:
                            break  # it opens the next transaction
                    else:
                        linger = True
                    self._items.popleft()
                    taken = self._take(item)
                    if taken is not None:
                        batch.append(taken)
                        count += len(taken[0])
            if batch:
                previous = count
                held = self._commit(batch, held)
            elif held is not None:
                held()
                held = None
            if stop:
                if held is not None:
                    held()
                return

    def _commit(
        self, batch: list[tuple[list[_Item], _Owner]], earlier: _Acknowledgement | None
    ) -> _Acknowledgement | None:
        """Write ``batch``, acknowledging ``earlier`` (a committed batch) before its commit.

        Returns the batch's acknowledgement if it is held back: on SQLite, when the next
        batch is already waiting, the callers of this one are answered just before that
        batch commits (or rather than wait for the write lock), so their event loop runs
        while the commit waits on the disk, releasing the GIL, instead of making the
        writer wait for the GIL between its statements. Only acknowledging waits: every
        event is durable before its caller hears of it.
        """
        items = [item for part, _ in batch for item in part]
        written: list[AuditRecord | None]
        try:
            outcomes, written = self._write(items, earlier)
        except AuditError as exc:
            if earlier is not None:
                earlier()
            if len(items) == 1:
                outcomes, written = [exc], [None]
            elif isinstance(exc, AppenderLostError):
                # The batch may have been written: retried, it could be recorded twice.
                outcomes, written = [AppenderLostError() for _ in items], [None] * len(items)
            else:
                # One bad event (or failing read) must not fail the others: one by one.
                outcomes, written = [], []
                for item in items:
                    try:
                        one, wrote = self._write([item], None)
                    except AuditError as error:
                        one, wrote = [error], [None]
                    outcomes.extend(one)
                    written.extend(wrote)
        if earlier is not None:
            earlier()  # done already unless the write failed early
        acknowledge = _Acknowledgement(batch, outcomes)
        # A batch the appender wrote is never held back: its commit was not in this
        # process, so there is no commit here for its callers to overlap.
        remote = self.appender is not None and all(isinstance(i, AuditRecord) for i in items)
        hold = self._overlap and bool(self._items) and not remote
        if not hold:
            acknowledge()
        for record in written:
            if record is not None:
                self.notify(record)
        return acknowledge if hold else None

    def _write(
        self, items: list[_Item], before_commit: Callable[[], None] | None
    ) -> tuple[list[_Outcome], list[AuditRecord | None]]:
        """Run the point reads and append every event in one transaction.

        The outcome of each item (an index, or what a read returned) and the records
        written; `AuditError` (nothing written) if the transaction fails. A batch of
        events alone needs no Session: it is appended in a driver transaction.
        ``before_commit`` runs once everything is written, just before the commit, or
        earlier rather than wait for the write lock.
        """
        reads = not all(isinstance(item, AuditRecord) for item in items)
        if not reads and self.appender is not None:
            if before_commit is not None:
                before_commit()  # durable already; its callers need not wait for this one
            records = cast(list[AuditRecord], items)
            try:
                return self._append_remote(self.appender, records), list(records)
            except AppenderUnavailableError:
                pass  # no child could start (nothing was sent): written here instead
        reading = False  # a point read (not the trail) is what failed
        if reads and before_commit is not None:
            before_commit()  # a Session may wait for the write lock: answer first
        try:
            if not reads:
                records = cast(list[AuditRecord], items)
                with self._db.driver_transaction(
                    before_waiting=before_commit, held=self._held
                ) as transaction:
                    indexes = log.append_many(transaction, records)
                    if before_commit is not None:
                        before_commit()
                self.commits += 1
                self._healthy = True
                return list(indexes), list(records)
            with self._db.transaction() as session:
                records = []
                values: list[_Outcome] = []
                for item in items:
                    if isinstance(item, AuditRecord):
                        records.append(item)
                        values.append(None)
                    else:
                        reading = True
                        value, record = item(session)
                        reading = False
                        self._encode(record)
                        records.append(record)
                        values.append(value)
                indexes = log.append_many(session, records)
                if before_commit is not None:
                    before_commit()
        except Exception:
            if not reading:
                self.mark(ok=False)  # a read's own failure says nothing of the trail's health
            raise AuditError() from None
        self.commits += 1
        self._healthy = True
        outcomes = [
            index if isinstance(item, AuditRecord) else value
            for item, index, value in zip(items, indexes, values, strict=True)
        ]
        return outcomes, list(records)

    def _append_remote(self, appender: AppenderProcess, records: list[AuditRecord]) -> list[int]:
        """Append ``records`` through the appender process, holding this process's write
        lock meanwhile; their indexes. `AuditError` (or `AppenderLostError`) if not."""
        events = [log.event_values(r) for r in records]
        try:
            with self._db.write_lock():
                indexes = appender.append(events)
        except AppenderUnavailableError:
            raise
        except AuditError:
            self.mark(ok=False)
            raise
        except StrongroomError:  # the write lock stayed taken
            self.mark(ok=False)
            raise AuditError() from None
        self.commits += 1
        self._healthy = True
        return indexes
