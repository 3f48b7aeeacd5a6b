"""Group commit for audit events that record no other change.

Reads, refusals and token mints change nothing but the audit trail. Their events are
handed to one writer thread, which appends every event waiting at that moment in one
transaction, so many concurrent requests share one durable commit (one fsync) instead of
queueing for one each. A caller returns only once its event is committed; if that does
not happen within the timeout, it gets `AuditError` and its request fails.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from strongroom.audit import log
from strongroom.audit.events import AuditRecord
from strongroom.errors import AuditError
from strongroom.store.engine import Database

_STOP = object()
_LINGER_SECONDS = 0.001


class GroupCommitter:
    """One writer thread appending batches of audit records. Thread-safe."""

    def __init__(
        self, database: Database, *, max_batch: int = 256, timeout_seconds: float = 10.0
    ) -> None:
        self._db = database
        self._max_batch = max_batch
        self._timeout = timeout_seconds
        self._queue: queue.Queue[object] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._healthy = True
        #: Called with each record once it is durable (alert rules listen here).
        self.observers: list[Callable[[AuditRecord], None]] = []
        #: Called once each time audit writes start failing.
        self.on_failure: Callable[[], None] | None = None

    @property
    def healthy(self) -> bool:
        """False from a failed audit write until the next successful one."""
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

    def append(self, record: AuditRecord) -> int:
        """Append ``record`` durably and return its index; `AuditError` if it cannot."""
        try:
            record.entry_bytes()
            record.detail_json()
        except (ValueError, TypeError):
            raise AuditError("the audit event could not be encoded") from None
        future: Future[int] = Future()
        with self._lock:
            if self._closed:
                raise AuditError("the audit trail is shutting down")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="strongroom-audit", daemon=True
                )
                self._thread.start()
            self._queue.put((record, future))
        try:
            return future.result(timeout=self._timeout)
        except FutureTimeout:
            pass
        # Not written yet. If the writer has not picked the event up, withdraw it, so the
        # trail never records as done a request that was refused; if it is being written
        # now, its transaction is bounded by the store's lock timeout: wait for the outcome.
        if future.cancel():
            raise AuditError("the audit trail did not record this request in time")
        try:
            return future.result(timeout=self._timeout * 6)
        except FutureTimeout:
            raise AuditError("the audit trail did not record this request in time") from None

    def close(self) -> None:
        """Finish what is queued, then stop the writer."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=self._timeout)

    def _run(self) -> None:
        previous = 0
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            # Under concurrency (the last batch held several events) linger briefly so
            # callers woken by that commit can join this one: fewer, fuller commits.
            linger = _LINGER_SECONDS if previous > 1 else 0.0
            deadline = time.monotonic() + linger
            while len(batch) < self._max_batch:
                try:
                    wait = deadline - time.monotonic()
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            previous = len(batch)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[object]) -> None:
        pending: list[tuple[AuditRecord, Future[int]]] = [
            item  # type: ignore[misc]
            for item in batch
        ]
        live = [(r, f) for r, f in pending if f.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            self._write(live)
        except Exception:
            if len(live) == 1:
                live[0][1].set_exception(AuditError())
                return
            # One bad event must not fail the others: write them one by one.
            for item in live:
                try:
                    self._write([item])
                except Exception:
                    item[1].set_exception(AuditError())

    def _write(self, items: list[tuple[AuditRecord, Future[int]]]) -> None:
        try:
            with self._db.transaction() as session:
                indexes = log.append_many(session, [record for record, _ in items])
        except Exception:
            self.mark(ok=False)
            raise
        self._healthy = True
        for (record, future), index in zip(items, indexes, strict=True):
            future.set_result(index)
            self.notify(record)
