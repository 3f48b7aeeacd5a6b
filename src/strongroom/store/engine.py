"""Engines for the embedded SQLite default and PostgreSQL, and the unit of work."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from sqlalchemy import Dialect, Engine, PoolProxiedConnection, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from strongroom.errors import StoreError, StrongroomError

READ_ONLY = "strongroom_read_only"
LOCK_TIMEOUT_SECONDS = 30.0
WAL_SWITCH_TIMEOUT_SECONDS = 30.0


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` to the psycopg 3 driver; leave other URLs alone."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def create_engine(url: str) -> Engine:
    """Create an engine with Strongroom's durability settings.

    SQLite: WAL journal, ``synchronous=FULL`` (a commit is on disk when acknowledged),
    foreign keys on, and ``BEGIN IMMEDIATE`` so writers queue instead of failing to
    upgrade a read lock. PostgreSQL: psycopg 3 with pre-ping. Statement parameters are
    hidden from error messages, since they may hold ciphertext or hashes.
    """
    sa_url = make_url(normalise_url(url))
    if sa_url.get_backend_name() == "sqlite":
        return _sqlite_engine(sa_url.database)
    if sa_url.get_backend_name() == "postgresql":
        return sa_create_engine(
            sa_url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
        )
    raise StoreError("unsupported database URL scheme")


def _sqlite_engine(database: str | None) -> Engine:
    if not database or database == ":memory:":
        raise StoreError("an in-memory SQLite database cannot be shared; give a file path")
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = sa_create_engine(
        f"sqlite:///{path.as_posix()}",
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=10,
        max_overflow=20,
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE below is ours.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        _set_wal(cur)
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers take no write lock; writers queue for it up front.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    if not path.exists():
        path.touch(mode=0o600)
    else:
        os.chmod(path, 0o600)
    return engine


def _set_wal(cursor: Any) -> None:
    """Switch a new file to WAL. The switch needs an exclusive lock, and SQLite answers
    "locked" at once, without its busy handler, when another connection opening the same
    fresh file is mid-transaction (deadlock avoidance); so wait for that one to finish."""
    deadline = time.monotonic() + WAL_SWITCH_TIMEOUT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@dataclass(frozen=True)
class DriverTransaction:
    """An open transaction on a pooled driver connection (`Database.driver_transaction`,
    `Database.driver_reads`).

    ``connection.cursor()`` gives a driver cursor; ``dialect`` says which driver it is.
    """

    connection: PoolProxiedConnection
    dialect: Dialect


#: Where a keyed read runs: a Session's transaction, or a driver transaction.
Reader: TypeAlias = Session | DriverTransaction


class HeldConnection:
    """One pooled driver connection that a single thread keeps between its transactions
    (`Database.driver_transaction`, `Database.driver_reads`): taking one from the pool
    and giving it back cost more than a short batch's statements. Used by one thread
    only; `release` gives it back (and one that failed is discarded by the transaction
    first)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: PoolProxiedConnection | None = None

    def take(self) -> PoolProxiedConnection:
        if self._connection is None:
            self._connection = self._engine.raw_connection()
        return self._connection

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class Database:
    """An engine and its session factory; `transaction` is the unit of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False, autoflush=True)
        # SQLite has one writer at a time; queueing writers on a lock here is fairer and
        # faster than SQLite's busy handler, which polls with sleeps.
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None
        self._readers = sessionmaker(
            engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_engine(url))

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file (None on PostgreSQL)."""
        database = self.engine.url.database if self.backend == "sqlite" else None
        return Path(database) if database else None

    def held_connection(self) -> HeldConnection:
        """A connection for one writer thread to keep (`driver_transaction`)."""
        return HeldConnection(self.engine)

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """This process's SQLite write lock, held for a write made elsewhere (the audit
        appender process), so the process's own writers queue here rather than in
        SQLite's busy handler. `StoreError` if it stays taken; nothing on PostgreSQL."""
        lock = self._take_write_lock()
        try:
            yield
        finally:
            if lock is not None:
                lock.release()

    def _take_write_lock(self) -> threading.Lock | None:
        """The SQLite write lock, taken (None on PostgreSQL); `StoreError` if it stays
        taken by others past the timeout."""
        lock = self._write_lock
        if lock is not None and not lock.acquire(timeout=LOCK_TIMEOUT_SECONDS):
            raise StoreError("the database is busy; retry")
        return lock

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        ``read_only`` transactions take no write lock on SQLite (a deferred ``BEGIN``);
        they must not write. Database failures surface as `StoreError` (HTTP 503) with
        no driver detail.
        """
        lock = None if read_only else self._take_write_lock()
        session = (self._readers if read_only else self._sessions)()
        try:
            with session.begin():
                yield session
        except StrongroomError:
            raise
        except (DBAPIError, SQLAlchemyError) as exc:
            raise StoreError("the database could not complete the request") from exc
        finally:
            session.close()
            if lock is not None:
                lock.release()

    @contextmanager
    def driver_reads(self, held: HeldConnection | None = None) -> Iterator[DriverTransaction]:
        """A read-only transaction straight on a pooled driver connection, for hot reads.

        What `transaction` with ``read_only`` gives (no write lock on SQLite: a deferred
        ``BEGIN``; on PostgreSQL a ``READ ONLY`` transaction; failures as `StoreError`),
        without a Session, whose transaction bookkeeping costs more than a keyed read. It
        is rolled back at the end: it must not write. A connection that cannot roll back
        is discarded. With ``held`` (one thread's), its connection is used and kept for
        the next transaction: taking one from the pool and giving it back costs several
        times a keyed read.
        """
        dialect = self.engine.dialect
        try:
            connection = self.engine.raw_connection() if held is None else held.take()
            try:
                cursor = connection.cursor()
                try:
                    if dialect.name == "sqlite":
                        cursor.execute("BEGIN")
                    else:
                        cursor.execute("SET TRANSACTION READ ONLY")
                finally:
                    cursor.close()
                yield DriverTransaction(connection, dialect)
            finally:
                try:
                    connection.rollback()
                except Exception:
                    connection.invalidate()
                    if held is not None:
                        held.release()
                if held is None:
                    connection.close()
        except StrongroomError:
            raise
        except (DBAPIError, SQLAlchemyError, dialect.loaded_dbapi.Error) as exc:
            raise StoreError("the database could not complete the request") from exc

    @contextmanager
    def driver_transaction(
        self,
        *,
        before_waiting: Callable[[], None] | None = None,
        held: HeldConnection | None = None,
    ) -> Iterator[DriverTransaction]:
        """A write transaction straight on a pooled driver connection, for hot paths.

        The guarantees of `transaction` (on SQLite the process write lock and ``BEGIN
        IMMEDIATE``; committed when the block ends, rolled back if it raises; database
        failures as `StoreError`) without a Session or SQLAlchemy's statement and
        transaction bookkeeping, which cost more than a short batch's statements. Its
        statements go through the driver (the dialect's paramstyle, no type processing)
        and fire no engine events. A connection that cannot roll back is discarded.
        ``before_waiting`` is called first if the write lock is taken and must be waited for.
        With ``held`` (one writer thread's), its connection is used and kept for the next
        transaction instead of going back to the pool.
        """
        lock = self._write_lock
        if lock is not None and not lock.acquire(blocking=False):
            if before_waiting is not None:
                before_waiting()
            if not lock.acquire(timeout=LOCK_TIMEOUT_SECONDS):
                raise StoreError("the database is busy; retry")
        dialect = self.engine.dialect
        try:
            connection = self.engine.raw_connection() if held is None else held.take()
            try:
                if dialect.name == "sqlite":
                    connection.cursor().execute("BEGIN IMMEDIATE")
                yield DriverTransaction(connection, dialect)
                connection.commit()
            except BaseException:
                try:
                    connection.rollback()
                except Exception:
                    connection.invalidate()
                    if held is not None:
                        held.release()
                raise
            finally:
                if held is None:
                    connection.close()
        except StrongroomError:
            raise
        except (DBAPIError, SQLAlchemyError, dialect.loaded_dbapi.Error) as exc:
            raise StoreError("the database could not complete the request") from exc
        finally:
            if lock is not None:
                lock.release()

    def dispose(self) -> None:
        self.engine.dispose()
