"""The store conformance suite: every backend must pass the same checks.

Each test takes ``database_url``, so it runs on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from strongroom.crypto import merkle
from strongroom.errors import ConflictError, StoreError
from strongroom.store import migrate
from strongroom.store.engine import (
    Database,
    DriverTransaction,
    HeldConnection,
    create_engine,
    normalise_url,
)
from strongroom.store.models import AuditEvent, Base, KeyringKey, RootToken, SealConfig
from strongroom.store.repositories import audit, barrier, keyring, root_tokens, seal


def _head() -> str:
    """The newest revision in the migration scripts (each branch adds its own)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrate.__file__).with_name("migrations")))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


HEAD = _head()


def test_the_head_constant_names_the_newest_script() -> None:
    # `migrate.upgrade` skips Alembic for a store at `migrate.HEAD`: a new script that
    # forgot to raise it would never be applied.
    assert migrate.HEAD == HEAD


# Every table the models declare (each area appends its own): migrations make exactly these.
TABLES = set(Base.metadata.tables)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def _event(
    *, actor: str = "alice", action: str = "sys.keys.list", time_us: int = 1_000, n: int = 0
) -> AuditEvent:
    return AuditEvent(
        time_us=time_us,
        request_id=f"req-{n}",
        actor=actor,
        action=action,
        resource="sys/keys",
        outcome="success",
        detail="{}",
        entry=b"entry-%d" % n,
        leaf_hash=bytes([n % 256]) * 32,
    )


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one())


# --- migrations -------------------------------------------------------------------------


def test_migrations_apply_and_reapply(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    try:
        assert migrate.current_revision(database.engine) is None
        migrate.upgrade(database.engine)
        assert migrate.current_revision(database.engine) == HEAD
        tables = set(sa.inspect(database.engine).get_table_names())
        assert tables >= TABLES
        assert tables - TABLES == {"alembic_version"}
        # Re-applying is a no-op and keeps data.
        with database.transaction() as session:
            barrier.put(session, "kept", b"v", 1)
        migrate.upgrade(database.engine)
        migrate.upgrade(database.engine)
        assert migrate.current_revision(database.engine) == HEAD
        with database.transaction() as session:
            assert barrier.get(session, "kept") == b"v"
            assert audit.size(session) == 0
        assert _count(database, "audit_head") == 1
    finally:
        database.dispose()


def test_migrations_from_two_connections_at_once(empty_database_url: str) -> None:
    databases = [Database.from_url(empty_database_url) for _ in range(3)]
    errors: list[BaseException] = []

    def run(database: Database) -> None:
        try:
            migrate.upgrade(database.engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in databases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert migrate.current_revision(databases[0].engine) == HEAD
        assert _count(databases[0], "audit_head") == 1
    finally:
        for d in databases:
            d.dispose()


def test_schema_has_the_declared_keys(db: Database) -> None:
    inspector = sa.inspect(db.engine)
    assert inspector.get_pk_constraint("keyring_keys")["constrained_columns"] == [
        "purpose",
        "version",
    ]
    assert inspector.get_pk_constraint("barrier_entries")["constrained_columns"] == ["path"]
    assert inspector.get_pk_constraint("audit_events")["constrained_columns"] == ["seq"]
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("audit_events")}
    assert {("time_us",), ("actor",), ("action",)} <= indexed


# --- repositories -----------------------------------------------------------------------


def test_seal_config_round_trip(db: Database) -> None:
    with db.transaction() as session:
        assert seal.get(session) is None
        seal.create(
            session,
            SealConfig(
                provider="shamir",
                shares=5,
                threshold=3,
                share_set_id=b"\x00\xff" * 4,
                verifier_salt=bytes(range(32)),
                verifier=bytes(range(32, 64)),
                created_us=2**62,
            ),
        )
    with db.transaction() as session:
        row = seal.get(session)
        assert row is not None
        assert (row.id, row.provider, row.shares, row.threshold) == (1, "shamir", 5, 3)
        assert bytes(row.share_set_id) == b"\x00\xff" * 4
        assert bytes(row.verifier_salt) == bytes(range(32))
        assert bytes(row.verifier) == bytes(range(32, 64))
        assert row.created_us == 2**62


def test_seal_config_is_a_single_row(db: Database) -> None:
    def config() -> SealConfig:
        return SealConfig(
            provider="shamir",
            shares=1,
            threshold=1,
            share_set_id=b"x" * 8,
            verifier_salt=b"s" * 32,
            verifier=b"v" * 32,
            created_us=0,
        )

    with db.transaction() as session:
        seal.create(session, config())
    with pytest.raises(StoreError), db.transaction() as session:
        seal.create(session, config())
    assert _count(db, "seal_config") == 1


def test_keyring_round_trip(db: Database) -> None:
    with db.transaction() as session:
        assert keyring.all_keys(session) == []
        assert keyring.latest_version(session, "barrier") == 0
        assert keyring.fingerprint(session) == (0, 0)
        for purpose, version, created in [("b", 1, 10), ("a", 2, 30), ("a", 1, 20), ("b", 2, 5)]:
            keyring.add(
                session,
                KeyringKey(
                    purpose=purpose,
                    version=version,
                    algorithm="alg",
                    created_us=created,
                    wrapped=bytes([version]) * 40 + b"\x00",
                ),
            )
    with db.transaction() as session:
        rows = keyring.all_keys(session)
        assert [(r.purpose, r.version) for r in rows] == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
        assert bytes(rows[1].wrapped) == b"\x02" * 40 + b"\x00"
        assert keyring.latest_version(session, "a") == 2
        assert keyring.latest_version(session, "c") == 0
        assert keyring.fingerprint(session) == (4, 30)


def test_keyring_duplicate_purpose_and_version_raises(db: Database) -> None:
    def key(wrapped: bytes) -> KeyringKey:
        return KeyringKey(purpose="p", version=1, algorithm="a", created_us=1, wrapped=wrapped)

    with db.transaction() as session:
        keyring.add(session, key(b"first"))
    with pytest.raises(StoreError), db.transaction() as session:
        keyring.add(session, key(b"second"))
    with pytest.raises(StoreError), db.transaction() as session:
        keyring.add(
            session, KeyringKey(purpose="q", version=1, algorithm="a", created_us=1, wrapped=b"")
        )
        keyring.add(
            session, KeyringKey(purpose="q", version=1, algorithm="a", created_us=2, wrapped=b"")
        )
    with db.transaction() as session:
        rows = keyring.all_keys(session)
        assert [(r.purpose, r.version, bytes(r.wrapped)) for r in rows] == [("p", 1, b"first")]


def test_root_tokens_round_trip(db: Database) -> None:
    with db.transaction() as session:
        for i, kind in enumerate(["init", "dev", "dev", "init"]):
            root_tokens.add(
                session,
                RootToken(id=f"rt_{i}", token_hash=bytes([i]) * 32, kind=kind, created_us=i),
            )
    with db.transaction() as session:
        found = root_tokens.find_live(session, bytes([1]) * 32)
        assert found is not None
        assert (found.id, found.kind, found.revoked_us) == ("rt_1", "dev", None)
        assert root_tokens.find_live(session, b"\x09" * 32) is None
        assert root_tokens.revoke_kind(session, "init", 99) == 2
        assert root_tokens.revoke_kind(session, "init", 100) == 0
        assert root_tokens.find_live(session, bytes([0]) * 32) is None
    with db.transaction() as session:
        assert root_tokens.delete_kind(session, "dev") == 2
        assert root_tokens.find_live(session, bytes([1]) * 32) is None
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, revoked_us FROM root_tokens ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("rt_0", 99), ("rt_3", 99)]


def test_root_token_hashes_are_unique(db: Database) -> None:
    with db.transaction() as session:
        root_tokens.add(session, RootToken(id="a", token_hash=b"h" * 32, kind="x", created_us=0))
    with pytest.raises(StoreError), db.transaction() as session:
        root_tokens.add(session, RootToken(id="b", token_hash=b"h" * 32, kind="x", created_us=0))


def test_barrier_round_trip(db: Database) -> None:
    value = bytes(range(256)) * 4
    with db.transaction() as session:
        assert barrier.get(session, "p") is None
        barrier.put(session, "p", value, 1)
        barrier.put(session, "q/r", b"", 2)
    with db.transaction() as session:
        assert barrier.get(session, "p") == value
        assert barrier.get(session, "q/r") == b""
        barrier.put(session, "p", b"new", 3)
    with db.transaction() as session:
        assert barrier.get(session, "p") == b"new"
        assert list(barrier.list_prefix(session, "")) == ["p", "q/r"]
        assert barrier.delete_path(session, "p") is True
        assert barrier.delete_path(session, "p") is False
        assert barrier.get(session, "p") is None
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT updated_us FROM barrier_entries")).scalar_one() == 2


def test_barrier_list_prefix_is_literal_and_case_sensitive(db: Database) -> None:
    paths = ["a%b", "axb", "a_b", "a\\b", "A%b", "AXB", "a", "ab%", "b"]
    with db.transaction() as session:
        for path in paths:
            barrier.put(session, path, b"v", 0)
    with db.transaction() as session:
        assert list(barrier.list_prefix(session, "a%")) == ["a%b"]
        assert list(barrier.list_prefix(session, "a_")) == ["a_b"]
        assert list(barrier.list_prefix(session, "a\\")) == ["a\\b"]
        assert list(barrier.list_prefix(session, "ax")) == ["axb"]
        assert list(barrier.list_prefix(session, "A")) == ["A%b", "AXB"]
        assert list(barrier.list_prefix(session, "ab%")) == ["ab%"]
        assert list(barrier.list_prefix(session, "%")) == []


def test_audit_append_and_query_round_trip(db: Database) -> None:
    with db.transaction() as session:
        assert audit.size(session) == 0
        assert audit.append(session, _event(n=0)) == 0
        assert audit.append(session, _event(n=1)) == 1
    with db.transaction() as session:
        assert audit.size(session) == 2
        rows = audit.query(session)
        assert [r.seq for r in rows] == [0, 1]
        first = rows[0]
        assert (first.request_id, first.actor, first.action, first.outcome) == (
            "req-0",
            "alice",
            "sys.keys.list",
            "success",
        )
        assert bytes(first.entry) == b"entry-0"
        assert bytes(rows[1].leaf_hash) == b"\x01" * 32


def test_audit_append_many_round_trip(db: Database) -> None:
    with db.transaction() as session:
        assert audit.append_many(session, []) == []
        assert audit.append(session, _event(n=0)) == 0
        assert audit.append_many(session, [_event(n=i) for i in (1, 2, 3)]) == [1, 2, 3]
        assert audit.size(session) == 4
    with db.transaction() as session:
        assert audit.append_many(session, []) == []
        rows = audit.query(session)
    assert [(r.seq, r.request_id) for r in rows] == [(i, f"req-{i}") for i in range(4)]


def test_audit_append_is_contiguous_under_concurrency(db: Database) -> None:
    threads_n, per_thread = 8, 25
    errors: list[BaseException] = []
    barrier_start = threading.Barrier(threads_n)

    def worker(t: int) -> None:
        try:
            barrier_start.wait()
            for i in range(per_thread):
                with db.transaction() as session:
                    audit.append(session, _event(actor=f"t{t}", n=t * per_thread + i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = threads_n * per_thread
    with db.transaction() as session:
        assert audit.size(session) == total
        rows = audit.query(session, limit=10_000)
    assert [r.seq for r in rows] == list(range(total))
    assert sorted(r.request_id for r in rows) == sorted(f"req-{n}" for n in range(total))
    for t in range(threads_n):
        mine = [r.seq for r in rows if r.actor == f"t{t}"]
        assert len(mine) == per_thread
        # Each thread's own appends keep their order.
        order = [int(r.request_id.removeprefix("req-")) for r in rows if r.actor == f"t{t}"]
        assert order == sorted(order)


def test_audit_append_rolled_back_leaves_no_gap(db: Database) -> None:
    with db.transaction() as session:
        audit.append(session, _event(n=0))
    with pytest.raises(RuntimeError), db.transaction() as session:
        audit.append(session, _event(n=1))
        raise RuntimeError("boom")
    with db.transaction() as session:
        assert audit.append(session, _event(n=2)) == 1
        assert audit.size(session) == 2


def _values(event: AuditEvent) -> tuple[object, ...]:
    return tuple(getattr(event, column) for column in audit.COLUMNS)


def test_audit_driver_append_numbers_and_hashes_across_statements(db: Database) -> None:
    # More events than one SQLite statement takes, after a first append: numbering and
    # the frontier carry across statements and transactions the same way on both paths.
    events = [_event(n=n) for n in range(2 * audit.ROWS_PER_STATEMENT + 7)]
    with db.driver_transaction() as transaction:
        assert audit.append_values(transaction, [_values(e) for e in events[:3]]) == [0, 1, 2]
    with db.driver_transaction() as transaction:
        assert audit.append_values(transaction, [_values(e) for e in events[3:]]) == list(
            range(3, len(events))
        )
    with db.transaction(read_only=True) as session:
        rows = audit.query(session, limit=10_000)
        size, frontier = audit.head(session)
    assert [(r.seq, r.request_id, bytes(r.entry)) for r in rows] == [
        (n, f"req-{n}", b"entry-%d" % n) for n in range(len(events))
    ]
    assert size == len(events)
    assert frontier.root() == merkle.root_from_leaves([e.leaf_hash for e in events])


def test_driver_transaction_commits_or_rolls_back(db: Database) -> None:
    with db.driver_transaction() as transaction:
        audit.append_values(transaction, [_values(_event(n=0))])
    with pytest.raises(RuntimeError), db.driver_transaction() as transaction:
        audit.append_values(transaction, [_values(_event(n=1))])
        raise RuntimeError("boom")
    # A statement the database refuses (a duplicate key) fails as a StoreError, and
    # nothing of that transaction stays.
    with pytest.raises(StoreError), db.driver_transaction() as transaction:
        audit.append_values(transaction, [_values(_event(n=2))])
        cursor = transaction.connection.cursor()
        marker = "?" if transaction.dialect.paramstyle == "qmark" else "%s"
        cursor.execute(f"INSERT INTO audit_head (id, size) VALUES (1, {marker})", (0,))
    with db.transaction() as session:
        assert audit.size(session) == 1
        assert [r.request_id for r in audit.query(session)] == ["req-0"]


def _head_size(reader: DriverTransaction) -> int:
    """The audit head's size as ``reader``'s transaction sees it."""
    cursor = reader.connection.cursor()
    cursor.execute("SELECT size FROM audit_head WHERE id = 1")
    (found,) = cursor.fetchone()
    cursor.close()
    return int(found)


def test_driver_reads_keep_nothing(db: Database) -> None:
    with db.driver_transaction() as transaction:
        audit.append_values(transaction, [_values(_event(n=0))])

    with db.driver_reads() as reader:
        assert _head_size(reader) == 1
        with db.driver_transaction() as transaction:
            audit.append_values(transaction, [_values(_event(n=1))])
        # On SQLite a read transaction is one snapshot: a commit made meanwhile is not
        # seen. PostgreSQL (READ COMMITTED, as its Session transactions) sees it.
        assert _head_size(reader) == (1 if db.backend == "sqlite" else 2)
    # Whatever a read transaction tried to write is not kept (PostgreSQL refuses it).
    with contextlib.suppress(StoreError), db.driver_reads() as reader:
        cursor = reader.connection.cursor()
        cursor.execute("UPDATE audit_head SET size = 99 WHERE id = 1")
    with db.driver_reads() as reader:
        assert _head_size(reader) == 2
    # A statement the database refuses is a StoreError, with no driver detail.
    with pytest.raises(StoreError) as caught, db.driver_reads() as reader:
        reader.connection.cursor().execute("SELECT * FROM no_such_table")
    assert "no_such_table" not in str(caught.value)


def _checkouts(db: Database) -> list[object]:
    """Every connection ``db``'s pool hands out from now on, as it is handed out."""
    checkouts: list[object] = []
    sa.event.listen(db.engine, "checkout", lambda *args: checkouts.append(args))
    return checkouts


def _break(held: HeldConnection) -> None:
    """Close ``held``'s driver connection under its holder."""
    driver = held.take().driver_connection
    assert driver is not None
    driver.close()


def test_a_held_connection_serves_many_transactions_and_is_replaced_when_broken(
    db: Database,
) -> None:
    checkouts = _checkouts(db)
    held = db.held_connection()
    for n in range(3):
        with db.driver_transaction(held=held) as transaction:
            audit.append_values(transaction, [_values(_event(n=n))])
    assert len(checkouts) == 1  # one connection for the three transactions
    _break(held)
    with pytest.raises(StoreError), db.driver_transaction(held=held) as transaction:
        audit.append_values(transaction, [_values(_event(n=3))])
    with db.driver_transaction(held=held) as transaction:  # a fresh one
        audit.append_values(transaction, [_values(_event(n=3))])
    assert len(checkouts) == 2
    held.release()
    with db.transaction(read_only=True) as session:
        assert audit.size(session) == 4


def test_held_reads_keep_one_connection_and_take_a_fresh_snapshot_each_time(
    db: Database,
) -> None:
    checkouts = _checkouts(db)
    held = db.held_connection()

    for n in range(3):
        with db.driver_transaction() as transaction:
            audit.append_values(transaction, [_values(_event(n=n))])
        with db.driver_reads(held) as reader:  # each read sees every earlier commit
            assert _head_size(reader) == n + 1
    assert len(checkouts) == 4  # three writers from the pool, one held reader
    # Nothing a held read tried to write is kept, and the connection stays usable.
    with contextlib.suppress(StoreError), db.driver_reads(held) as reader:
        reader.connection.cursor().execute("UPDATE audit_head SET size = 99 WHERE id = 1")
    with db.driver_reads(held) as reader:
        assert _head_size(reader) == 3
    _break(held)
    with pytest.raises(StoreError), db.driver_reads(held) as reader:
        _head_size(reader)
    with db.driver_reads(held) as reader:  # a fresh one
        assert _head_size(reader) == 3
    assert len(checkouts) == 5
    held.release()


def test_driver_transaction_says_when_it_must_wait_for_the_write_lock(db: Database) -> None:
    calls: list[str] = []
    with db.driver_transaction(before_waiting=lambda: calls.append("free")):
        pass
    assert calls == []
    lock = db._write_lock
    if lock is None:
        pytest.skip("only SQLite writers queue on a process lock")
    lock.acquire()

    def waiting() -> None:
        calls.append("taken")
        threading.Timer(0.05, lock.release).start()

    with db.driver_transaction(before_waiting=waiting) as transaction:
        audit.append_values(transaction, [_values(_event(n=0))])
    assert calls == ["taken"]


@pytest.fixture
def events(db: Database) -> Database:
    spec = [
        ("alice", "sys.keys.list", 100),
        ("bob", "sys.keys.rotate", 200),
        ("alice", "sys.seal", 300),
        ("carol", "auth.tokens.create", 400),
        ("alice", "sys.keys.rotate", 500),
        ("bob", "sysx.other", 600),
        ("alice", "SYS.upper", 700),
        ("dave", "sys_keys.odd", 800),
    ]
    with db.transaction() as session:
        for n, (actor, action, time_us) in enumerate(spec):
            audit.append(session, _event(actor=actor, action=action, time_us=time_us, n=n))
    return db


def _seqs(db: Database, **filters: object) -> list[int]:
    with db.transaction() as session:
        return [r.seq for r in audit.query(session, **filters)]  # type: ignore[arg-type]


def test_audit_query_by_actor(events: Database) -> None:
    assert _seqs(events, actor="alice") == [0, 2, 4, 6]
    assert _seqs(events, actor="bob") == [1, 5]
    assert _seqs(events, actor="ALICE") == []
    assert _seqs(events, actor="nobody") == []


def test_audit_query_by_exact_action(events: Database) -> None:
    assert _seqs(events, action="sys.keys.rotate") == [1, 4]
    assert _seqs(events, action="sys.keys") == []
    assert _seqs(events, action="sys.seal") == [2]


def test_audit_query_by_action_prefix(events: Database) -> None:
    assert _seqs(events, action="sys.*") == [0, 1, 2, 4]
    assert _seqs(events, action="sys.keys.*") == [0, 1, 4]
    assert _seqs(events, action="sys*") == [0, 1, 2, 4, 5, 7]
    assert _seqs(events, action="*") == list(range(8))
    # The prefix is literal: "_" is not a wildcard.
    assert _seqs(events, action="sys_*") == [7]
    assert _seqs(events, action="auth.*") == [3]


def test_audit_query_by_time(events: Database) -> None:
    assert _seqs(events, since_us=300) == [2, 3, 4, 5, 6, 7]
    assert _seqs(events, until_us=300) == [0, 1]
    assert _seqs(events, since_us=200, until_us=500) == [1, 2, 3]
    assert _seqs(events, since_us=900) == []


def test_audit_query_cursor_order_and_limit(events: Database) -> None:
    assert _seqs(events, after=2) == [3, 4, 5, 6, 7]
    assert _seqs(events, after=2, limit=2) == [3, 4]
    assert _seqs(events, newest_first=True) == [7, 6, 5, 4, 3, 2, 1, 0]
    assert _seqs(events, newest_first=True, after=5) == [4, 3, 2, 1, 0]
    assert _seqs(events, newest_first=True, after=5, limit=2) == [4, 3]
    assert _seqs(events, limit=3) == [0, 1, 2]
    assert _seqs(events, after=7) == []
    assert _seqs(events, after=-1) == list(range(8))


def test_audit_query_filters_combine(events: Database) -> None:
    assert _seqs(events, actor="alice", action="sys.*", since_us=200) == [2, 4]
    assert _seqs(events, actor="alice", newest_first=True, limit=2) == [6, 4]
    assert _seqs(events, actor="bob", action="sys.*", after=1) == []


def test_audit_pages_cover_everything_once(events: Database) -> None:
    for newest_first in (False, True):
        seen: list[int] = []
        after: int | None = None
        while True:
            page = _seqs(events, after=after, limit=3, newest_first=newest_first)
            if not page:
                break
            seen.extend(page)
            after = page[-1]
        assert sorted(seen) == list(range(8))
        assert len(seen) == 8


# --- transactions -----------------------------------------------------------------------


def test_rollback_on_exception_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        barrier.put(session, "gone", b"v", 0)
        keyring.add(
            session, KeyringKey(purpose="p", version=1, algorithm="a", created_us=0, wrapped=b"")
        )
        audit.append(session, _event())
        root_tokens.add(session, RootToken(id="x", token_hash=b"t" * 32, kind="k", created_us=0))
        raise RuntimeError("boom")
    with pytest.raises(ConflictError), db.transaction() as session:
        barrier.put(session, "gone-too", b"v", 0)
        raise ConflictError("a typed error rolls back too")
    for table in ("barrier_entries", "keyring_keys", "audit_events", "root_tokens"):
        assert _count(db, table) == 0
    with db.transaction() as session:
        assert audit.size(session) == 0


def test_commit_at_the_end_of_the_block(db: Database) -> None:
    with db.transaction() as session:
        barrier.put(session, "kept", b"v", 0)
    assert _count(db, "barrier_entries") == 1
    with db.transaction(read_only=True) as session:
        assert barrier.get(session, "kept") == b"v"


def test_driver_error_becomes_store_error_without_parameters(db: Database) -> None:
    secret = "s3cr3t-parameter-value"
    with pytest.raises(StoreError) as info, db.transaction() as session:
        session.execute(sa.text("SELECT * FROM no_such_table WHERE x = :p"), {"p": secret})
    error = info.value
    assert error.status == 503
    assert str(error) == "the database could not complete the request"
    assert secret not in str(error)
    assert secret not in repr(error)
    # The chained driver error hides parameters too, so a logged traceback cannot leak them.
    assert error.__cause__ is not None
    assert secret not in str(error.__cause__)
    assert "no_such_table" not in str(error)


def test_integrity_error_becomes_store_error_without_parameters(db: Database) -> None:
    wrapped = b"WRAPPED-SECRET-BYTES"
    with db.transaction() as session:
        keyring.add(
            session,
            KeyringKey(purpose="p", version=1, algorithm="a", created_us=0, wrapped=wrapped),
        )
    with pytest.raises(StoreError) as info, db.transaction() as session:
        keyring.add(
            session,
            KeyringKey(purpose="p", version=1, algorithm="a", created_us=0, wrapped=wrapped),
        )
    assert "WRAPPED-SECRET" not in str(info.value)
    assert "WRAPPED-SECRET" not in str(info.value.__cause__)


def test_sessions_are_independent(db: Database) -> None:
    with db.transaction() as first:
        barrier.put(first, "a", b"1", 0)
    with db.transaction() as second:
        assert isinstance(second, Session)
        assert second is not first
        assert barrier.get(second, "a") == b"1"


# --- engines ----------------------------------------------------------------------------


def test_sqlite_pragmas_are_in_force(tmp_path: Path) -> None:
    database = Database.from_url(f"sqlite:///{(tmp_path / 'p.db').as_posix()}")
    try:
        assert database.backend == "sqlite"
        for _ in range(3):  # every pooled connection, not only the first
            with database.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30000
    finally:
        database.dispose()


def test_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "p.db"
    database = Database.from_url(f"sqlite:///{path.as_posix()}")
    try:
        migrate.upgrade(database.engine)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        database.dispose()
    os.chmod(path, 0o644)
    Database.from_url(f"sqlite:///{path.as_posix()}").dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://u@h/db"])
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(StoreError):
        create_engine(url)


def test_normalise_url() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_backend_name(db: Database, database_url: str) -> None:
    expected = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert db.backend == expected
