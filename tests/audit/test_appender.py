"""The audit appender process: SQLite batches written by a child, acknowledged only once
durable, a lost child failing only its batch (never retried, never recorded twice), a
refused batch retried one by one, a hung child killed, and the tree right throughout."""

from __future__ import annotations

import asyncio
import marshal
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from trail_support import check_tree

from strongroom.audit.appender import (
    READY,
    AppenderLostError,
    AppenderProcess,
    Event,
)
from strongroom.audit.committer import GROUP_SIZE, GroupCommitter
from strongroom.audit.events import AuditRecord
from strongroom.config import Settings, load_settings
from strongroom.errors import AuditError
from strongroom.node import Node
from strongroom.store import audit_append
from strongroom.store.engine import Database
from strongroom.store.models import AuditEvent, AuditHead, AuditTile

_FRAME = struct.Struct("<I")


def _record(request_id: str, actor: str = "tester") -> AuditRecord:
    return AuditRecord(
        1_767_225_600_000_000, request_id, actor, "test.appender", "r", "success", {"n": 1}
    )


@pytest.fixture
def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    path = tmp_path / "strongroom.db"
    shutil.copyfile(sqlite_template, path)
    db = Database.from_url(f"sqlite:///{path.as_posix()}")
    yield db
    db.dispose()


@pytest.fixture
def committer(sqlite_db: Database) -> Iterator[GroupCommitter]:
    c = GroupCommitter(sqlite_db, appender=True, timeout_seconds=30)
    yield c
    c.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes; its parent (this process) reaps it on wait.
    with Path(f"/proc/{pid}/stat").open() as stat:
        return stat.read().split()[2] != "Z"


def test_the_sql_names_match_the_models() -> None:
    assert AuditEvent.__tablename__ == audit_append.EVENTS_TABLE
    assert AuditHead.__tablename__ == audit_append.HEAD_TABLE
    assert AuditTile.__tablename__ == audit_append.TILES_TABLE
    columns = [c.key for c in AuditEvent.__table__.columns if c.key != "seq"]
    assert list(audit_append.COLUMNS) == columns


def test_coroutine_events_are_written_by_the_child_in_groups(
    committer: GroupCommitter, sqlite_db: Database
) -> None:
    async def producer(n: int) -> list[int]:
        return [await committer.append_async(_record(f"p{n}-{i}")) for i in range(10)]

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(producer(n) for n in range(100)))

    indexes = [i for part in asyncio.run(main()) for i in part]
    assert sorted(indexes) == list(range(1000))
    appender = committer.appender
    assert appender is not None and appender.started == 1
    pid = appender.pid
    assert pid is not None and pid != os.getpid()
    # No batch held more than a group: the loop's next group was written apart from it.
    assert committer.commits >= 1000 // GROUP_SIZE
    rows = check_tree(sqlite_db)
    assert {r.request_id for r in rows} == {f"p{n}-{i}" for n in range(100) for i in range(10)}


def test_thread_appends_go_through_the_child_too(
    committer: GroupCommitter, sqlite_db: Database
) -> None:
    got: list[int] = []

    def worker(n: int) -> None:
        got.extend(committer.append(_record(f"t{n}-{i}")) for i in range(20))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(160))
    assert committer.appender is not None and committer.appender.pid is not None
    assert len(check_tree(sqlite_db)) == 160


def test_point_reads_stay_in_the_writers_transaction(
    committer: GroupCommitter, sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    real = AppenderProcess.append

    def spy(self: AppenderProcess, events: list[Event]) -> list[int]:
        sent.extend(event[1] for event in events)
        return real(self, events)

    monkeypatch.setattr(AppenderProcess, "append", spy)
    reads: list[str] = []

    def read(reader: object) -> tuple[object, AuditRecord]:
        reads.append(type(reader).__name__)
        return "read", _record("with-a-read")

    async def main() -> list[object]:
        waiters = [committer.read_async(read)]  # the read first, then plain events
        waiters += [committer.append_async(_record(f"plain-{i}")) for i in range(5)]
        return list(await asyncio.gather(*waiters))

    results = asyncio.run(main())
    assert results[0] == "read"
    # The read ran in this process, in a Session of the writer's transaction, and its
    # batch (the plain events queued with it) never went to the child.
    assert reads == ["Session"]
    assert sent == []
    assert sorted(results[1:]) == [1, 2, 3, 4, 5]  # type: ignore[type-var]
    assert [r.request_id for r in check_tree(sqlite_db)] == [
        "with-a-read",
        *(f"plain-{i}" for i in range(5)),
    ]
    # A batch of plain events alone goes to the child.
    assert committer.append(_record("alone")) == 6
    assert sent == ["alone"]


def test_a_lost_child_fails_only_its_batch_and_a_new_one_takes_over(
    committer: GroupCommitter, sqlite_db: Database
) -> None:
    assert committer.append(_record("before")) == 0
    appender = committer.appender
    assert appender is not None
    pid = appender.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.01)
    # The next batch finds the child gone: it fails, whole, and is not retried.
    with pytest.raises(AppenderLostError):
        committer.append(_record("lost"))
    assert not committer.healthy
    assert committer.append(_record("after")) == 1
    assert committer.healthy
    assert appender.started == 2
    assert [r.request_id for r in check_tree(sqlite_db)] == ["before", "after"]


def test_a_lost_child_mid_group_fails_every_caller_of_it(
    committer: GroupCommitter, sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    appender = committer.appender
    assert appender is not None
    real = AppenderProcess.append
    calls: list[int] = []

    def dies_after_writing(self: AppenderProcess, events: list[object]) -> list[int]:
        calls.append(len(events))
        real(self, events)  # type: ignore[arg-type]
        raise AppenderLostError()  # written, but the answer never came

    monkeypatch.setattr(AppenderProcess, "append", dies_after_writing)

    async def main() -> list[object]:
        return await asyncio.gather(
            *(committer.append_async(_record(f"g{i}")) for i in range(5)),
            return_exceptions=True,
        )

    outcomes = asyncio.run(main())
    assert all(isinstance(o, AppenderLostError) for o in outcomes)
    assert calls == [5]  # one batch, never retried one by one: nothing recorded twice
    assert [r.request_id for r in check_tree(sqlite_db)] == [f"g{i}" for i in range(5)]


def test_a_refused_batch_is_retried_one_by_one(
    committer: GroupCommitter, sqlite_db: Database
) -> None:
    path = sqlite_db.sqlite_path
    assert path is not None
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON audit_events WHEN NEW.actor = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )

    async def main() -> list[object]:
        return await asyncio.gather(
            committer.append_async(_record("a")),
            committer.append_async(_record("b", actor="poison")),
            committer.append_async(_record("c")),
            return_exceptions=True,
        )

    first, bad, last = asyncio.run(main())
    assert isinstance(bad, AuditError) and not isinstance(bad, AppenderLostError)
    assert {first, last} == {0, 1}
    assert [r.request_id for r in check_tree(sqlite_db)] == ["a", "c"]
    assert committer.appender is not None and committer.appender.started == 1


def test_a_hung_child_is_killed_and_its_batch_fails(sqlite_db: Database) -> None:
    path = sqlite_db.sqlite_path
    assert path is not None
    appender = AppenderProcess(path, timeout_seconds=1.5)
    try:
        event = (1, "r", "a", "x", "r", "success", "{}", b'{"n":1}')
        assert appender.append([event]) == [0]
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the child now waits for the write lock
        started = time.monotonic()
        with pytest.raises(AppenderLostError):
            appender.append([event])
        assert time.monotonic() - started < 10
        blocker.execute("ROLLBACK")
        blocker.close()
        assert appender.append([event]) == [1]
        assert appender.started == 2
    finally:
        appender.close()
    assert len(check_tree(sqlite_db)) == 2


def test_without_a_child_the_writer_thread_writes_the_trail(
    committer: GroupCommitter, sqlite_db: Database, tmp_path: Path
) -> None:
    appender = committer.appender
    assert appender is not None
    # A child that cannot open its database never says it is ready: nothing is sent to
    # it, and the batch is written in this process instead.
    appender._path = tmp_path / "missing" / "nowhere.db"
    assert committer.append(_record("one")) == 0
    assert appender.pid is None and appender.started == 1

    async def main() -> list[int]:
        waiters = [committer.append_async(_record(f"c{i}")) for i in range(3)]
        return list(await asyncio.gather(*waiters))

    assert sorted(asyncio.run(main())) == [1, 2, 3]
    assert appender.started == 1  # not tried again for a while
    assert committer.healthy
    assert [r.request_id for r in check_tree(sqlite_db)] == ["one", "c0", "c1", "c2"]


def test_close_stops_the_child(sqlite_db: Database) -> None:
    committer = GroupCommitter(sqlite_db, appender=True)
    committer.append(_record("x"))
    assert committer.appender is not None
    pid = committer.appender.pid
    assert pid is not None
    committer.close()
    assert committer.appender.pid is None
    assert not _alive(pid)


def test_the_child_refuses_a_malformed_request_and_stops_at_the_end_of_its_input(
    sqlite_db: Database,
) -> None:
    path = sqlite_db.sqlite_path
    child = subprocess.Popen(
        [sys.executable, "-m", "strongroom.audit.appender", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None

    def ask(payload: bytes) -> object:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(_FRAME.pack(len(payload)) + payload)
        child.stdin.flush()
        (size,) = _FRAME.unpack(child.stdout.read(_FRAME.size))
        return marshal.loads(child.stdout.read(size))

    (size,) = _FRAME.unpack(child.stdout.read(_FRAME.size))
    assert marshal.loads(child.stdout.read(size)) == READY  # it opened the database
    assert ask(b"\xff\x00garbage") == ("error", "bad request")
    assert ask(marshal.dumps([("not", "an", "event")])) == ("error", "bad request")
    assert ask(marshal.dumps([(1, "r", "a", "x", "r", "success", "{}", b"{}")])) == (0, 1)
    child.stdin.close()
    assert child.wait(timeout=10) == 0
    child.stdout.close()
    assert len(check_tree(sqlite_db)) == 1


def test_the_child_needs_its_database() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "strongroom.audit.appender"], capture_output=True, check=False
    )
    assert done.returncode == 2
    assert b"usage" in done.stderr


def test_postgresql_the_thread_setting_and_a_supervisor_have_no_child(
    settings: Settings, tmp_path: Path
) -> None:
    def sqlite(name: str, **overrides: object) -> Settings:
        url = f"sqlite:///{(tmp_path / f'{name}.db').as_posix()}"
        return load_settings(database_url=url, data_dir=tmp_path / name, **overrides)

    cases = [
        # The test's store: SQLite gets a child, PostgreSQL does not.
        (settings, settings.resolved_database_url.startswith("sqlite")),
        (sqlite("threaded", audit_appender="thread"), False),
        # With workers, the supervisor's node is the one audit writer already.
        (sqlite("supervised", workers=2), False),
    ]
    for case, child in cases:
        node = Node.open(case)
        try:
            assert (node.committer.appender is not None) is child
        finally:
            node.close()


def test_the_child_outlives_a_stop_signal_until_its_input_ends(sqlite_db: Database) -> None:
    appender = AppenderProcess(sqlite_db.sqlite_path or Path())
    try:
        event = (1, "r", "a", "x", "r", "success", "{}", b'{"n":1}')
        assert appender.append([event]) == [0]
        pid = appender.pid
        assert pid is not None
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            os.kill(pid, number)
        time.sleep(0.2)
        assert _alive(pid)
        assert appender.append([event]) == [1]  # the same child, still serving
        assert appender.started == 1
    finally:
        appender.close()
    assert not _alive(pid)
