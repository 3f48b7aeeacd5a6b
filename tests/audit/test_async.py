"""Group commit for coroutines: acknowledged means durable, failures are bounded and
reported, cancellation neither loses nor duplicates an event, the tree stays right."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from trail_support import check_tree, stored

from strongroom.audit import log
from strongroom.audit.committer import GroupCommitter
from strongroom.audit.events import AuditRecord
from strongroom.audit.recorder import Audited, PointReading, Recorder
from strongroom.clock import SystemClock
from strongroom.config import Settings
from strongroom.errors import AuditError, ForbiddenError, NotFoundError
from strongroom.store import migrate
from strongroom.store.engine import Database
from strongroom.store.models import AuditHead
from strongroom.store.repositories import audit as repo


def _record(request_id: str, **detail: str | int) -> AuditRecord:
    return AuditRecord(
        1_767_225_600_000_000, request_id, "tester", "test.async", "r", "success", dict(detail)
    )


async def _append(committer: GroupCommitter, record: AuditRecord) -> int:
    """What a coroutine route does: await its event."""
    return await committer.append_async(record)


def _broken(*args: object, **kwargs: object) -> list[int]:
    raise AuditError("the audit store is down")


def test_acknowledged_events_are_durable_after_reopening(settings: Settings) -> None:
    db = Database.from_url(settings.resolved_database_url)
    migrate.upgrade(db.engine)
    committer = GroupCommitter(db, max_batch=64)
    acknowledged: dict[str, int] = {}

    async def producer(n: int) -> None:
        for i in range(5):
            request_id = f"p{n}-{i}"
            acknowledged[request_id] = await committer.append_async(_record(request_id))

    async def main() -> None:
        await asyncio.gather(*(producer(n) for n in range(150)))

    asyncio.run(main())
    # Nothing more is written after the last acknowledgement: what was acknowledged must
    # already be in the file, as another connection sees it.
    committer.close()
    db.dispose()
    reopened = Database.from_url(settings.resolved_database_url)
    try:
        rows = check_tree(reopened)
        found = {r.request_id: r.seq for r in rows}
        assert found == acknowledged
        assert len(rows) == 750
    finally:
        reopened.dispose()


def test_concurrent_async_and_thread_appends_keep_the_tree(settings: Settings) -> None:
    db = Database.from_url(settings.resolved_database_url)
    migrate.upgrade(db.engine)
    committer = GroupCommitter(db, max_batch=32)
    indexes: list[int] = []

    def thread_producer(n: int) -> None:
        for i in range(20):
            indexes.append(committer.append(_record(f"t{n}-{i}", n=n)))

    async def coroutine_producer(tag: str, n: int) -> None:
        for i in range(10):
            indexes.append(await committer.append_async(_record(f"{tag}{n}-{i}", n=n)))

    async def main(tag: str) -> None:
        await asyncio.gather(*(coroutine_producer(tag, n) for n in range(100)))

    threads = [threading.Thread(target=thread_producer, args=(n,)) for n in range(4)]
    try:
        for t in threads:
            t.start()
        # Two loops at once: each has its own open group.
        other = threading.Thread(target=lambda: asyncio.run(main("b")))
        other.start()
        asyncio.run(main("a"))
        other.join()
        for t in threads:
            t.join()
    finally:
        committer.close()
    rows = check_tree(db)
    assert len(rows) == 80 + 2000
    assert sorted(indexes) == list(range(len(rows)))
    assert len({r.request_id for r in rows}) == len(rows)
    # Each producer's events are in the order it appended them.
    for prefix in ("a7-", "b42-", "t2-"):
        mine = [int(r.request_id.split("-")[1]) for r in rows if r.request_id.startswith(prefix)]
        assert mine == sorted(mine) and len(mine) in (10, 20)
    db.dispose()


def test_a_failing_store_fails_every_waiter_quickly(node_db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    committer = GroupCommitter(node_db, timeout_seconds=2.0)
    failures: list[int] = []
    committer.on_failure = lambda: failures.append(1)
    monkeypatch.setattr(log, "append_many", _broken)

    async def main() -> list[BaseException | int]:
        return await asyncio.gather(
            *(committer.append_async(_record(f"f{i}")) for i in range(50)),
            return_exceptions=True,
        )

    started = time.monotonic()
    outcomes = asyncio.run(main())
    elapsed = time.monotonic() - started
    monkeypatch.undo()
    assert all(isinstance(o, AuditError) for o in outcomes)
    assert elapsed < 2.0
    assert not committer.healthy and failures == [1]
    # The next good write heals it.
    asyncio.run(_append(committer, _record("healed")))
    assert committer.healthy
    committer.close()
    assert [r.request_id for r in stored(node_db)] == ["healed"]


@contextlib.contextmanager
def _stalled(db: Database) -> Iterator[Callable[[], None]]:
    """Hold what an audit append must wait for; yields a function that lets go early."""
    lock = db._write_lock
    if lock is not None:  # SQLite: its writers queue on this lock
        lock.acquire()
        try:
            yield lambda: lock.release() if lock.locked() else None
        finally:
            if lock.locked():
                lock.release()
        return
    # PostgreSQL: another transaction holds the head row that every append locks.
    with db.engine.connect() as conn:
        tx = conn.begin()
        conn.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update())
        try:
            yield lambda: tx.rollback() if tx.is_active else None
        finally:
            if tx.is_active:
                tx.rollback()


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_batch_acknowledged_at_the_next_commit_is_answered_when_that_fails(
    node_db: Database,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    # A batch whose acknowledgement waits for the next batch's commit (SQLite) is still
    # answered when the next batch fails; the next batch is then retried event by event.
    committer = GroupCommitter(node_db)
    real = log.append_many

    def refusing(target: object, records: list[AuditRecord]) -> list[int]:
        if any(r.request_id == "bad" for r in records):
            raise AuditError("refused")
        return real(target, records)  # type: ignore[arg-type]

    monkeypatch.setattr(log, "append_many", refusing)
    outcomes: dict[str, object] = {}

    def call(request_id: str) -> None:
        try:
            outcomes[request_id] = committer.append(_record(request_id))
        except AuditError as exc:
            outcomes[request_id] = exc

    def taken() -> bool:
        with committer._lock:  # queued and then taken by the writer, which waits to write
            return committer._thread is not None and not committer._items

    threads = [threading.Thread(target=call, args=(rid,)) for rid in ("first", "bad", "good")]
    with _stalled(node_db) as release:
        threads[0].start()
        _wait_for(taken)
        threads[1].start()
        _wait_for(lambda: len(committer._items) == 1)
        threads[2].start()
        _wait_for(lambda: len(committer._items) == 2)
        release()
    for thread in threads:
        thread.join(timeout=10)
    committer.close()
    monkeypatch.undo()
    assert outcomes["first"] == 0 and outcomes["good"] == 1
    assert isinstance(outcomes["bad"], AuditError)
    assert [r.request_id for r in check_tree(node_db)] == ["first", "good"]


def test_a_stalled_writer_fails_waiters_in_bounded_time(node_db: Database) -> None:
    committer = GroupCommitter(node_db, timeout_seconds=0.3)
    outcomes: dict[str, object] = {}
    alerts: list[bool] = []
    committer.on_failure = lambda: alerts.append(committer.healthy)

    async def append(request_id: str) -> None:
        try:
            outcomes[request_id] = await committer.append_async(_record(request_id))
        except AuditError as exc:
            outcomes[request_id] = exc

    async def main(release: Callable[[], None]) -> float:
        first = asyncio.create_task(append("taken-1"))
        await asyncio.sleep(0.1)  # the writer has taken the first group and waits
        started = time.monotonic()
        await append("withdrawn-2")
        waited = time.monotonic() - started
        # Requests are failing: health says so (and the alert hook ran) at once.
        assert not committer.healthy and alerts == [False]
        release()
        await first
        return waited

    with _stalled(node_db) as release:
        waited = asyncio.run(main(release))
    committer.close()
    assert isinstance(outcomes["withdrawn-2"], AuditError)
    assert 0.15 < waited < 1.0
    # The group being written when the timeout passed is waited for, and succeeds; that
    # good write heals the health state.
    assert outcomes["taken-1"] == 0
    assert committer.healthy
    # The withdrawn group is never written later.
    assert [r.request_id for r in stored(node_db)] == ["taken-1"]


def test_cancelling_a_waiter_neither_loses_nor_duplicates_its_event(node_db: Database) -> None:
    committer = GroupCommitter(node_db)

    async def main() -> tuple[list[BaseException | int], bool]:
        tasks = [asyncio.create_task(_append(committer, _record(f"c{i}"))) for i in range(40)]
        await asyncio.sleep(0)  # every task has queued its event and is waiting
        victim = tasks[7]
        victim.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        return outcomes, victim.cancelled()

    outcomes, cancelled = asyncio.run(main())
    committer.close()
    assert cancelled
    assert isinstance(outcomes[7], asyncio.CancelledError)
    assert all(isinstance(o, int) for i, o in enumerate(outcomes) if i != 7)
    rows = check_tree(node_db)
    counts = Counter(r.request_id for r in rows)
    assert counts == Counter(f"c{i}" for i in range(40))


def test_a_closed_committer_refuses_async_appends(node_db: Database) -> None:
    committer = GroupCommitter(node_db)
    asyncio.run(_append(committer, _record("before")))
    committer.close()
    with pytest.raises(AuditError):
        asyncio.run(_append(committer, _record("after")))
    assert [r.request_id for r in stored(node_db)] == ["before"]


def test_an_unencodable_event_is_refused_before_queueing(node_db: Database) -> None:
    committer = GroupCommitter(node_db)
    bad = AuditRecord(1, "bad", "t", "x", "r", "success", {"n": 2**60})
    huge = AuditRecord(1, "huge", "t", "x", "r", "success", {"s": "x" * 5000})

    async def main() -> None:
        for record in (bad, huge):
            with pytest.raises(AuditError):
                await committer.append_async(record)
        await committer.append_async(_record("fine"))

    asyncio.run(main())
    committer.close()
    assert [r.request_id for r in stored(node_db)] == ["fine"]


# -- the recorder's coroutine API ---------------------------------------------------------


def test_recorder_async_actions_record_outcomes(node_db: Database) -> None:
    committer = GroupCommitter(node_db)
    recorder = Recorder(node_db, SystemClock(), committer)

    def read_size(tx: Audited) -> int:
        tx.detail["size"] = repo.size(tx.session)
        return 41

    async def main() -> None:
        async with recorder.action_async("ok-1", "alice", "test.read", "things") as call:
            call.detail["count"] = 3
            call.resource = "things/3"
        with pytest.raises(ForbiddenError):
            async with recorder.action_async("denied-2", "bob", "test.read", "things"):
                raise ForbiddenError("no")
        assert await recorder.read_async("read-3", "alice", "test.size", "log", read_size) == 41

        def missing(tx: Audited) -> int:
            raise NotFoundError("none here")

        with pytest.raises(NotFoundError):
            await recorder.read_async("error-4", "alice", "test.size", "log", missing)
        await recorder.record_async("own-5", "carol", "test.note", "n", "success", {"k": "v"})

    asyncio.run(main())
    committer.close()
    rows = {r.request_id: r for r in check_tree(node_db)}
    assert (rows["ok-1"].outcome, rows["ok-1"].resource) == ("success", "things/3")
    assert rows["ok-1"].detail == '{"count":3}'
    assert (rows["denied-2"].outcome, rows["denied-2"].detail) == (
        "denied",
        '{"error":"forbidden"}',
    )
    assert (rows["read-3"].outcome, rows["read-3"].detail) == ("success", '{"size":2}')
    assert rows["error-4"].outcome == "error"
    assert rows["own-5"].detail == '{"k":"v"}'


def test_recorder_async_fails_closed_when_the_trail_cannot_record(
    node_db: Database,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    committer = GroupCommitter(node_db, timeout_seconds=2.0)
    recorder = Recorder(node_db, SystemClock(), committer)
    monkeypatch.setattr(log, "append_many", _broken)
    ran: list[str] = []

    async def main() -> None:
        with pytest.raises(AuditError):
            async with recorder.action_async("a", "alice", "test.read", "x"):
                ran.append("a")
        with pytest.raises(AuditError):
            await recorder.read_async("b", "alice", "test.read", "x", lambda tx: ran.append("b"))
        with pytest.raises(AuditError):
            await recorder.record_async("c", "alice", "test.note", "x", "success")

    asyncio.run(main())
    monkeypatch.undo()
    committer.close()
    assert ran == ["a", "b"]
    assert stored(node_db) == []


@pytest.fixture
def node_db(settings: Settings) -> Iterator[Database]:
    db = Database.from_url(settings.resolved_database_url)
    migrate.upgrade(db.engine)
    yield db
    db.dispose()


@pytest.mark.parametrize("how", ["read_async", "point_read_async"])
def test_work_of_a_cancelled_reader_is_still_recorded(node_db: Database, how: str) -> None:
    """In a worker thread or on the audit writer, the work of a cancelled caller still
    finishes and its event is still written, once."""
    committer = GroupCommitter(node_db)
    recorder = Recorder(node_db, SystemClock(), committer)
    read = getattr(recorder, how)
    started = threading.Event()
    release = threading.Event()

    def slow(tx: Audited | PointReading) -> int:
        started.set()
        release.wait(10)
        tx.detail["size"] = repo.size(_session(tx))
        return 1

    async def main() -> None:
        reader = asyncio.create_task(read("late-1", "a", "t.read", "x", slow))
        await asyncio.to_thread(started.wait, 10)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        release.set()
        # The work finishes in its thread; its event follows without anyone waiting.
        for _ in range(200):
            await asyncio.sleep(0.01)
            if [r for r in stored(node_db) if r.request_id == "late-1"]:
                break

    asyncio.run(main())
    committer.close()
    rows = [r for r in check_tree(node_db) if r.request_id == "late-1"]
    assert [(r.outcome, r.detail) for r in rows] == [("success", '{"size":0}')]


# -- point reads: run by the writer, in the transaction that records them -------------------


def _session(tx: Audited | PointReading) -> Session:
    """The Session a read runs in (the single-process writer gives point reads its own)."""
    reader = tx.reader if isinstance(tx, PointReading) else tx.session
    assert isinstance(reader, Session)
    return reader


def _size_read(tx: Audited | PointReading) -> int:
    size = repo.size(_session(tx))
    tx.detail["size"] = size
    return size


def test_point_reads_commit_with_their_events_and_report_their_failures(
    node_db: Database,
) -> None:
    committer = GroupCommitter(node_db)
    recorder = Recorder(node_db, SystemClock(), committer)
    writer: list[str] = []

    def on_writer(tx: PointReading) -> str:
        writer.append(threading.current_thread().name)
        return "seen"

    def refused(tx: PointReading) -> int:
        raise ForbiddenError("not yours")

    def broken(tx: PointReading) -> int:
        raise ValueError("a bug")

    async def main() -> list[object]:
        await recorder.record_async("first", "alice", "test.note", "n", "success")
        # One batch: the reads see the store as their transaction does, events included.
        return await asyncio.gather(
            recorder.point_read_async("r-1", "alice", "test.size", "log", _size_read),
            recorder.point_read_async("r-2", "bob", "test.read", "x", refused),
            recorder.point_read_async("r-3", "carol", "test.read", "x", on_writer),
            recorder.point_read_async("r-4", "dave", "test.read", "x", broken),
            return_exceptions=True,
        )

    got = asyncio.run(main())
    committer.close()
    assert got[0] == 1
    assert isinstance(got[1], ForbiddenError)
    assert got[2] == "seen"
    assert isinstance(got[3], ValueError)
    assert writer == ["strongroom-audit"]
    rows = {r.request_id: r for r in check_tree(node_db)}
    assert (rows["r-1"].outcome, rows["r-1"].detail) == ("success", '{"size":1}')
    assert (rows["r-2"].outcome, rows["r-2"].detail) == ("denied", '{"error":"forbidden"}')
    assert rows["r-3"].outcome == "success"
    assert (rows["r-4"].outcome, rows["r-4"].detail) == ("error", '{"error":"internal"}')


def test_a_point_read_failing_in_the_store_fails_alone(node_db: Database) -> None:
    """A database error aborts the batch's transaction: the others are written one by one,
    and the failed read's caller gets `AuditError` (nothing it read reaches it)."""
    committer = GroupCommitter(node_db)
    recorder = Recorder(node_db, SystemClock(), committer)

    def bad_sql(tx: PointReading) -> int:
        sql = "SELECT * FROM no_such_table"
        return int(_session(tx).connection().exec_driver_sql(sql).one()[0])

    async def main() -> list[object]:
        return await asyncio.gather(
            recorder.point_read_async("ok-1", "alice", "test.size", "log", _size_read),
            recorder.point_read_async("bad-2", "bob", "test.read", "x", bad_sql),
            committer.append_async(_record("plain-3")),
            return_exceptions=True,
        )

    got = asyncio.run(main())
    committer.close()
    rows = {r.request_id: r for r in check_tree(node_db)}
    assert set(rows) == {"ok-1", "plain-3"}
    # Retried alone, the read saw the store as it was just before its own event.
    assert got[0] == rows["ok-1"].seq
    assert isinstance(got[1], AuditError)
    assert got[2] == rows["plain-3"].seq
    assert committer.healthy is True  # a read failed, not the trail: no false alarm


def test_point_reads_fail_closed_when_the_trail_cannot_record(
    node_db: Database,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    committer = GroupCommitter(node_db, timeout_seconds=2.0)
    recorder = Recorder(node_db, SystemClock(), committer)
    monkeypatch.setattr(log, "append_many", _broken)

    async def main() -> None:
        with pytest.raises(AuditError):
            await recorder.point_read_async("a", "alice", "test.read", "x", lambda tx: "value")

    asyncio.run(main())
    monkeypatch.undo()
    committer.close()
    assert stored(node_db) == []
