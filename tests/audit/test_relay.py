"""A worker's committer: point reads in its own transaction, events through a sink."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import OperationalError

from strongroom.audit.committer import GroupCommitter
from strongroom.audit.events import AuditRecord
from strongroom.audit.recorder import PointReading, Recorder
from strongroom.audit.relay import RelayedCommitter
from strongroom.clock import SystemClock
from strongroom.config import Settings
from strongroom.errors import AuditError, NotFoundError
from strongroom.store import migrate
from strongroom.store.engine import Database, DriverTransaction, Reader
from strongroom.store.models import AuditEvent
from strongroom.store.repositories import audit as repo


class Sink:
    """The supervisor's side in one process: its own committer appends what arrives."""

    def __init__(self, db: Database) -> None:
        self.committer = GroupCommitter(db)
        self.batches: list[int] = []
        self.observed: list[AuditRecord] = []
        self.refuse: set[str] = set()
        self.down = False

    def append(self, records: Sequence[AuditRecord]) -> list[int | AuditError]:
        if self.down:
            raise AuditError("the supervisor is gone")
        self.batches.append(len(records))
        out: list[int | AuditError] = []
        for record in records:
            if record.request_id in self.refuse:
                out.append(AuditError("refused"))
            else:
                out.append(self.committer.append(record))
        return out

    def observe(self, record: AuditRecord) -> None:
        self.observed.append(record)


class LoopSink:
    """The supervisor as a worker's event loop reaches it: the same sink, from the loop."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.sent = 0
        # One thread, so batches are appended whole and in the order sent, as the
        # supervisor's group commit appends each batch of a worker.
        self._writer = ThreadPoolExecutor(1)

    def append_async(
        self, records: Sequence[AuditRecord]
    ) -> asyncio.Future[list[int | AuditError]]:
        self.sent += 1
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._writer, self.sink.append, list(records))


def _relayed(db: Database, sink: Sink, mode: str) -> RelayedCommitter:
    """A worker's committer: coroutines' events through the writer thread, or the loop's own."""
    return RelayedCommitter(db, sink, loop_sink=LoopSink(sink) if mode == "loop" else None)


MODES = pytest.mark.parametrize("mode", ["thread", "loop"])


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database.from_url(settings.resolved_database_url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def _stored(db: Database) -> list[tuple[str, str, str]]:
    with db.transaction(read_only=True) as session:
        rows = session.query(AuditEvent).order_by(AuditEvent.seq).all()
        return [(r.request_id, r.action, r.outcome) for r in rows]


def _trail_size(reader: Reader) -> int:
    """The trail's size as a point read sees it: through a Session (the writer thread's
    batch) or a driver transaction (a worker's loop)."""
    if isinstance(reader, DriverTransaction):
        cursor = reader.connection.cursor()
        cursor.execute("SELECT size FROM audit_head WHERE id = 1")
        (size,) = cursor.fetchone()
        cursor.close()
        return int(size)
    return repo.size(reader)


def _size(tx: PointReading) -> int:
    size = _trail_size(tx.reader)
    tx.detail["size"] = size
    return size


def _missing(tx: PointReading) -> int:
    raise NotFoundError("no such thing")


@MODES
def test_reads_and_events_go_through_the_sink(db: Database, mode: str) -> None:
    sink = Sink(db)
    relayed = _relayed(db, sink, mode)
    recorder = Recorder(db, SystemClock(), relayed)

    async def main() -> list[object]:
        plain = [
            relayed.append_async(AuditRecord(1, f"e{i}", "a", "t.event", "x", "success"))
            for i in range(5)
        ]
        reads = [
            recorder.point_read_async("r1", "a", "t.read", "x", _size),
            recorder.point_read_async("r2", "a", "t.read", "x", _missing),
        ]
        return list(await asyncio.gather(*plain, *reads, return_exceptions=True))

    outcomes = asyncio.run(main())
    relayed.close()
    sink.committer.close()
    assert outcomes[:5] == [0, 1, 2, 3, 4]  # indexes the supervisor's writer gave
    # The read ran in the worker (no event of its batch stored yet) and its event says so.
    assert isinstance(outcomes[5], int) and 0 <= outcomes[5] <= 5
    assert isinstance(outcomes[6], NotFoundError)  # refused, and recorded as such
    stored = _stored(db)
    assert [s[0] for s in stored] == ["e0", "e1", "e2", "e3", "e4", "r1", "r2"]
    assert stored[-1][2] == "error"
    with db.transaction(read_only=True) as session:
        detail = session.query(AuditEvent.detail).filter(AuditEvent.request_id == "r1").scalar()
    assert detail == f'{{"size":{outcomes[5]}}}'
    assert sum(sink.batches) == 7  # every event went through the sink, a batch at a time
    assert relayed.healthy


@MODES
def test_an_event_the_supervisor_refuses_fails_only_its_caller(db: Database, mode: str) -> None:
    sink = Sink(db)
    sink.refuse = {"bad"}
    relayed = _relayed(db, sink, mode)

    async def main() -> list[object]:
        waiters = [
            relayed.append_async(AuditRecord(1, rid, "a", "t.event", "x", "success"))
            for rid in ("good-1", "bad", "good-2")
        ]
        return list(await asyncio.gather(*waiters, return_exceptions=True))

    first, bad, last = asyncio.run(main())
    relayed.close()
    sink.committer.close()
    assert isinstance(bad, AuditError)
    assert (first, last) == (0, 1)
    assert [s[0] for s in _stored(db)] == ["good-1", "good-2"]


@MODES
def test_a_gone_supervisor_fails_closed_and_shows_in_health(db: Database, mode: str) -> None:
    sink = Sink(db)
    sink.down = True
    relayed = _relayed(db, sink, mode)
    recorder = Recorder(db, SystemClock(), relayed)

    async def main() -> None:
        with pytest.raises(AuditError):
            await relayed.append_async(AuditRecord(1, "lost", "a", "t.event", "x", "success"))
        with pytest.raises(AuditError):
            # The read succeeded, but its caller gets nothing without its event.
            await recorder.point_read_async("r", "a", "t.read", "x", _size)

    asyncio.run(main())
    assert not relayed.healthy
    sink.down = False
    assert relayed.append(AuditRecord(1, "back", "a", "t.event", "x", "success")) == 0
    assert relayed.healthy
    relayed.close()
    sink.committer.close()
    assert [s[0] for s in _stored(db)] == ["back"]


def test_events_committed_by_the_worker_itself_are_observed_by_the_supervisor(
    db: Database,
) -> None:
    sink = Sink(db)
    relayed = RelayedCommitter(db, sink)
    recorder = Recorder(db, SystemClock(), relayed)
    with recorder.action("w1", "a", "t.write", "x") as tx:
        tx.detail["n"] = 1
    relayed.append(AuditRecord(1, "relayed", "a", "t.event", "x", "success"))
    relayed.close()
    sink.committer.close()
    # Its own write is shown to the supervisor's rules; a relayed event is observed where
    # it was committed (the supervisor), not a second time here.
    assert [r.request_id for r in sink.observed] == ["w1"]


def _broken(tx: PointReading) -> int:
    raise OperationalError("SELECT 1", None, Exception("disk I/O error"))


def test_on_the_loop_a_read_whose_store_fails_fails_alone(db: Database) -> None:
    sink = Sink(db)
    loop_sink = LoopSink(sink)
    relayed = RelayedCommitter(db, sink, loop_sink=loop_sink)
    recorder = Recorder(db, SystemClock(), relayed)

    async def event() -> int:
        return await relayed.append_async(AuditRecord(1, "e0", "a", "t.event", "x", "success"))

    async def main() -> list[object]:
        # All four start in one loop iteration, so they form one batch.
        waiters = [
            event(),
            recorder.point_read_async("r1", "a", "t.read", "x", _size),
            recorder.point_read_async("r2", "a", "t.read", "x", _broken),
            recorder.point_read_async("r3", "a", "t.read", "x", _size),
        ]
        return list(await asyncio.gather(*waiters, return_exceptions=True))

    e0, r1, r2, r3 = asyncio.run(main())
    relayed.close()
    sink.committer.close()
    # The failed read has no event and its caller an audit error (a 503); the reads
    # after it ran in a fresh transaction, and every other event went in one batch.
    assert e0 == 0 and r1 == 0 and r3 == 0  # the trail was empty when they read it
    assert isinstance(r2, AuditError)
    assert [s[0] for s in _stored(db)] == ["e0", "r1", "r3"]
    assert sink.batches == [3] and loop_sink.sent == 1
    assert relayed.healthy  # the store failed a read; the trail is fine


def test_on_the_loop_a_batch_goes_out_per_loop_iteration_and_skips_the_writer(
    db: Database,
) -> None:
    sink = Sink(db)
    loop_sink = LoopSink(sink)
    relayed = RelayedCommitter(db, sink, loop_sink=loop_sink)

    async def main() -> list[int]:
        first = [
            relayed.append_async(AuditRecord(1, f"a{i}", "a", "t.event", "x", "success"))
            for i in range(3)
        ]
        await asyncio.sleep(0)  # the next loop iteration: a second batch, both on their way
        second = [
            relayed.append_async(AuditRecord(1, f"b{i}", "a", "t.event", "x", "success"))
            for i in range(2)
        ]
        return list(await asyncio.gather(*first, *second))

    indexes = asyncio.run(main())
    assert sorted(indexes) == [0, 1, 2, 3, 4]
    assert sorted(sink.batches) == [2, 3] and loop_sink.sent == 2
    assert relayed._thread is None  # the writer thread was never needed
    relayed.close()
    sink.committer.close()


def test_on_the_loop_a_closed_committer_refuses_before_anything_is_sent(db: Database) -> None:
    sink = Sink(db)
    loop_sink = LoopSink(sink)
    relayed = RelayedCommitter(db, sink, loop_sink=loop_sink)

    async def main() -> None:
        waiter = relayed.append_async(AuditRecord(1, "late", "a", "t.event", "x", "success"))
        relayed.close()  # before the loop hands the group over
        with pytest.raises(AuditError, match="shutting down"):
            await waiter

    asyncio.run(main())
    sink.committer.close()
    assert loop_sink.sent == 0 and _stored(db) == []


def test_on_the_loop_a_store_that_cannot_begin_fails_the_reads_and_not_the_events(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = Sink(db)
    relayed = RelayedCommitter(db, sink, loop_sink=LoopSink(sink))
    recorder = Recorder(db, SystemClock(), relayed)

    def unavailable(held: object = None) -> object:
        raise OperationalError("BEGIN", None, Exception("unable to open database file"))

    monkeypatch.setattr(db, "driver_reads", unavailable)

    async def event(rid: str) -> int:
        return await relayed.append_async(AuditRecord(1, rid, "a", "t.event", "x", "success"))

    async def main() -> list[object]:
        waiters = [
            event("e0"),
            recorder.point_read_async("r1", "a", "t.read", "x", _size),
            event("e2"),
            recorder.point_read_async("r3", "a", "t.read", "x", _size),
        ]
        return list(await asyncio.gather(*waiters, return_exceptions=True))

    e0, r1, e2, r3 = asyncio.run(main())
    relayed.close()
    sink.committer.close()
    assert isinstance(r1, AuditError) and isinstance(r3, AuditError)
    assert (e0, e2) == (0, 1)  # the plain events still went out, in one batch
    assert [s[0] for s in _stored(db)] == ["e0", "e2"]
