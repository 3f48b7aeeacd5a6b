"""Durable audit appends per second on SQLite and PostgreSQL, beside the raw insert rate.

For each backend (SQLite in a fresh temporary directory under `bench/.work/`, PostgreSQL on
loopback if it answers, in a private schema dropped afterwards), each method starts from an
empty, freshly migrated database and appends the same events:

- group commit, async: N coroutines on one event loop (uvloop, as the server runs) each await
  `GroupCommitter.append_async` in a loop; every call returns only once its event is durable,
  and the events of one loop iteration go to the writer thread together;
- group commit, threads: N threads each call `GroupCommitter.append` in a loop, with the same
  guarantee; concurrent callers share one transaction (one fsync);
- `log.append_many`: the service-level batch append (canonical entry, leaf hash, Merkle
  frontier and tiles, head row lock) in transactions of `--batch` events, from one thread;
- raw insert: the same rows (values prepared before the clock starts, so no encoding, no
  hashing and no frontier) inserted into a scratch table with the same columns, primary key
  and indexes, in transactions of `--batch` rows, with the same engine and so the same
  durability settings: with SQLAlchemy Core `executemany`, with the driver's `executemany`,
  and with the driver and multi-row `INSERT ... VALUES` statements as the audit log inserts.

The audit methods get fresh event objects, so encoding each event is inside their timing.
Prints one table (events/s and % of the fastest raw rate of the same backend) and writes
`bench/.work/audit_append.json`. The issue's targets are printed under the table, judged but
not enforced: the exit code is 1 only when a run fails, never because a number is low.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import random
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import common
import psycopg
import sqlalchemy
from common import WORK_DIR, BenchError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Column, Index, MetaData, event, func, insert, select
from sqlalchemy import Table as SATable

from strongroom.audit import log
from strongroom.audit.committer import GroupCommitter
from strongroom.audit.events import AuditRecord, Detail, Outcome
from strongroom.crypto.merkle import leaf_hash
from strongroom.store.engine import Database
from strongroom.store.migrate import upgrade
from strongroom.store.models import AuditEvent
from strongroom.store.repositories import audit as repo

DEFAULT_JSON = WORK_DIR / "audit_append.json"
DEFAULT_PG_URL = "postgresql://127.0.0.1:5432/test"
BASE_TIME_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
RAW = "raw insert (no hashing)"
RAW_DRIVER = "raw insert, driver executemany"
RAW_MULTIROW = "raw insert, driver multi-row"
SERVICE = "log.append_many"
SQLITE_TARGET_PER_SEC = 10_000
RAW_SHARE_TARGET = 50.0

NOTES = [
    "Every method commits durably: SQLite WAL with synchronous=FULL, BEGIN IMMEDIATE; "
    "PostgreSQL with its server settings shown above. Each method starts from an empty, "
    "freshly migrated database, after a warm-up that is not timed.",
    "Group commit is end to end: the clock runs from releasing all callers (threads or "
    "coroutines) until the last append has returned, each acknowledged only after its "
    "batch's transaction committed. Each caller encodes its event (canonical JSON) before "
    "queueing it; the writer thread hashes the batch, extends the frontier and inserts it "
    "in one transaction, straight through the driver. On SQLite, when the next batch is "
    "already waiting, a committed batch's callers are answered just before that batch "
    "commits (never before their own commit). events/commit of group-commit rows counts "
    "the committer's own transactions: SQLAlchemy's commit event does not see them.",
    "The raw inserts are the ceiling for the same rows on the same engine: their values "
    "(canonical entry and leaf hash included) are prepared before the clock starts. "
    "'% of raw' is against the fastest raw row of the same backend.",
    "One Python process, the database on the same machine: writer thread, callers and "
    "(for PostgreSQL) the server share its cores.",
    "CPU µs/event is this process's CPU time (all its threads, user and system) over the "
    "timed run per event; PostgreSQL's own work is not in it. Other load on the machine "
    "moves events/s far more than it moves this column.",
]


@dataclass
class Result:
    backend: str
    method: str
    threads: int
    events: int
    seconds: float
    events_per_sec: float
    commits: int
    cpu_seconds: float = 0.0
    pct_of_raw: float | None = None

    @property
    def cpu_us_per_event(self) -> float:
        return 1e6 * self.cpu_seconds / self.events if self.events else 0.0

    @property
    def events_per_commit(self) -> float:
        return self.events / self.commits if self.commits else 0.0


# -- events --------------------------------------------------------------------------------

# (actor, action, resource, outcome, detail maker): shapes of what a running server records.
_SHAPES: list[tuple[str, str, str, Outcome, Callable[[random.Random], Detail]]] = [
    (
        "svc-payments",
        "auth.tokens.create",
        "auth/tokens",
        "success",
        lambda r: {
            "token_id": f"tok_{r.getrandbits(88):022x}",
            "scopes": ["sys:read", "audit:read"],
            "ttl": 300,
        },
    ),
    (
        "ops-oncall@example.org",
        "sys.keys.list",
        "sys/keys",
        "success",
        lambda r: {"count": 3, "purposes": ["audit-signing", "token-signing", "data"]},
    ),
    (
        "svc-ledger-reconciler",
        "audit.events.read",
        "audit/events",
        "success",
        lambda r: {"after": r.randrange(1_000_000), "limit": 100, "returned": 100},
    ),
    (
        "anonymous",
        "sys.keys.rotate",
        "sys/keys/token-signing",
        "denied",
        lambda r: {"error": "unauthenticated", "token_id": f"tok_{r.getrandbits(88):022x}"},
    ),
    (
        "root",
        "sys.keys.rotate",
        "sys/keys/data",
        "success",
        lambda r: {"purpose": "data", "version": r.randrange(2, 40), "previous": 1},
    ),
]


def sample_records(count: int, seed: int = 7) -> list[AuditRecord]:
    """``count`` realistic events (about 200-300 bytes of canonical JSON each)."""
    rng = random.Random(seed)
    records = []
    for i in range(count):
        actor, action, resource, outcome, detail = _SHAPES[i % len(_SHAPES)]
        records.append(
            AuditRecord(
                time_us=BASE_TIME_US + i * 997 + rng.randrange(997),
                request_id=f"{rng.getrandbits(96):024x}",
                actor=actor,
                action=action,
                resource=resource,
                outcome=outcome,
                detail=detail(rng),
            )
        )
    return records


def fresh(records: Sequence[AuditRecord]) -> list[AuditRecord]:
    """Copies of ``records`` that have not been encoded yet (encoding is cached per object)."""
    return [dataclasses.replace(r) for r in records]


def raw_rows(records: Sequence[AuditRecord], first_seq: int) -> list[dict[str, Any]]:
    """The rows `log.append_many` would insert for ``records``, computed now."""
    rows = []
    for seq, r in enumerate(records, start=first_seq):
        entry = r.entry_bytes()
        rows.append(
            {
                "seq": seq,
                "time_us": r.time_us,
                "request_id": r.request_id,
                "actor": r.actor,
                "action": r.action,
                "resource": r.resource,
                "outcome": r.outcome,
                "detail": r.detail_json(),
                "entry": entry,
                "leaf_hash": leaf_hash(entry),
            }
        )
    return rows


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- databases -----------------------------------------------------------------------------


class Backend:
    """Hands out fresh, migrated databases of one kind; removes them afterwards."""

    name = ""

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Database]:
        raise NotImplementedError
        yield  # pragma: no cover

    def facts(self) -> str:
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "SQLite"

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.count = 0

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Database]:
        self.count += 1
        path = self.tmp / f"audit-{self.count}.db"
        db = Database.from_url(f"sqlite:///{path.as_posix()}")
        try:
            upgrade(db.engine)
            yield db
        finally:
            db.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    def facts(self) -> str:
        return (
            f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL) on {filesystem_of(self.tmp)}"
        )


class PostgresBackend(Backend):
    name = "PostgreSQL"

    def __init__(self, url: str, server: dict[str, str]) -> None:
        self.url = url
        self.server = server

    @classmethod
    def probe(cls, url: str) -> PostgresBackend:
        """Connect once; `BenchError` (with the reason) if the server does not answer."""
        settings = ("server_version", "fsync", "synchronous_commit", "wal_sync_method")
        try:
            with psycopg.connect(conninfo(url), connect_timeout=3) as conn:
                server = {s: str(conn.execute(f"SHOW {s}").fetchone()[0]) for s in settings}
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BenchError(reason) from None
        return cls(url, server)

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Database]:
        schema = "bench_" + secrets.token_hex(6)
        with psycopg.connect(conninfo(self.url), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        db: Database | None = None
        try:
            sep = "&" if "?" in self.url else "?"
            db = Database.from_url(f"{self.url}{sep}options=-csearch_path%3D{schema}")
            upgrade(db.engine)
            yield db
        finally:
            if db is not None:
                db.dispose()
            with psycopg.connect(conninfo(self.url), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    def facts(self) -> str:
        s = self.server
        return (
            f"PostgreSQL {s['server_version'].split()[0]} (fsync={s['fsync']}, "
            f"synchronous_commit={s['synchronous_commit']}, "
            f"wal_sync_method={s['wal_sync_method']})"
        )


def conninfo(url: str) -> str:
    """A SQLAlchemy-style URL as libpq takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def filesystem_of(path: Path) -> str:
    """The filesystem type holding ``path`` (tmpfs would make every fsync free)."""
    best, kind = "", "unknown filesystem"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) < 3:
                continue
            mount = fields[1]
            inside = str(path.resolve()).startswith(mount.rstrip("/") + "/") or mount == "/"
            if inside and len(mount) > len(best):
                best, kind = mount, fields[2]
    return kind


class Stopwatch:
    """Times the measured part of a run and counts the commits made during it."""

    def __init__(self, db: Database | None = None) -> None:
        self.commits = 0
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self._running = False
        self._started = 0.0
        self._cpu_started = 0.0
        self._writer: GroupCommitter | None = None
        self._writer_commits = 0
        if db is not None:
            event.listen(db.engine, "commit", self._on_commit)

    def count_commits_of(self, committer: GroupCommitter) -> None:
        """Count the transactions ``committer`` commits instead: its writer commits
        through the driver, which SQLAlchemy's commit event does not see."""
        self._writer = committer

    def start(self) -> None:
        self.commits = 0
        if self._writer is not None:
            self._writer_commits = self._writer.commits
        self._running = True
        self._cpu_started = time.process_time()
        self._started = time.perf_counter()

    def stop(self) -> None:
        self.seconds = time.perf_counter() - self._started
        self.cpu_seconds = time.process_time() - self._cpu_started
        self._running = False
        if self._writer is not None:
            self.commits = self._writer.commits - self._writer_commits

    def _on_commit(self, _conn: Any) -> None:
        if self._running:
            self.commits += 1


def stored(db: Database, table: Any) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# -- the three methods ---------------------------------------------------------------------


def scratch_table(db: Database) -> SATable:
    """A plain table shaped like `audit_events` as migrated: columns, primary key, indexes."""
    source = AuditEvent.__table__
    metadata = MetaData()
    table = SATable(
        "bench_raw_events",
        metadata,
        *(
            Column(c.name, c.type, primary_key=c.primary_key, autoincrement=False)
            for c in source.columns
        ),
    )
    for i, found in enumerate(sqlalchemy.inspect(db.engine).get_indexes(source.name)):
        cols = [table.c[name] for name in found["column_names"] if name is not None]
        Index(f"bench_raw_ix_{i}", *cols, unique=bool(found.get("unique")))
    metadata.create_all(db.engine)
    return table


def run_raw(
    db: Database, clock: Stopwatch, rows: list[dict[str, Any]], warmup: int, batch: int
) -> None:
    table = scratch_table(db)
    for part in chunks(rows[:warmup], batch):
        with db.engine.begin() as conn:
            conn.execute(insert(table), part)
    measured = rows[warmup:]
    clock.start()
    for part in chunks(measured, batch):
        with db.engine.begin() as conn:
            conn.execute(insert(table), part)
    clock.stop()
    if stored(db, table) != len(rows):
        raise BenchError("the raw insert stored a different number of rows")


def run_raw_driver(
    db: Database,
    clock: Stopwatch,
    rows: list[dict[str, Any]],
    warmup: int,
    batch: int,
    multirow: bool,
) -> None:
    """The raw rows straight through the driver: ``executemany`` of one-row INSERTs, or
    multi-row ``INSERT ... VALUES (...), (...)`` statements as the audit log uses."""
    table = scratch_table(db)
    names = list(rows[0])
    marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
    one = f"({', '.join(marker for _ in names)})"
    head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
    values = [tuple(row[name] for name in names) for row in rows]

    def insert_part(conn: Any, part: Sequence[tuple[Any, ...]]) -> None:
        if not multirow:
            conn.exec_driver_sql(head + one, list(part))
            return
        for start in range(0, len(part), repo.ROWS_PER_STATEMENT):
            chunk = part[start : start + repo.ROWS_PER_STATEMENT]
            flat = tuple(v for row in chunk for v in row)
            conn.exec_driver_sql(head + ", ".join(one for _ in chunk), flat)

    for part in chunks(values[:warmup], batch):
        with db.engine.begin() as conn:
            insert_part(conn, part)
    measured = values[warmup:]
    clock.start()
    for part in chunks(measured, batch):
        with db.engine.begin() as conn:
            insert_part(conn, part)
    clock.stop()
    if stored(db, table) != len(rows):
        raise BenchError("the raw insert stored a different number of rows")


def run_service(
    db: Database, clock: Stopwatch, records: list[AuditRecord], warmup: int, batch: int
) -> None:
    records = fresh(records)
    for part in chunks(records[:warmup], batch):
        with db.transaction() as session:
            log.append_many(session, part)
    measured = records[warmup:]
    clock.start()
    for part in chunks(measured, batch):
        with db.transaction() as session:
            log.append_many(session, part)
    clock.stop()
    check_log_size(db, len(records))


def run_group_commit(
    db: Database,
    clock: Stopwatch,
    records: list[AuditRecord],
    warmup: int,
    threads: int,
    batch: int,
) -> None:
    records = fresh(records)
    committer = GroupCommitter(db, max_batch=batch)
    clock.count_commits_of(committer)
    failures: list[BaseException] = []
    try:
        if warmup:
            append_from_threads(committer, records[:warmup], threads, failures, Stopwatch())
        append_from_threads(committer, records[warmup:], threads, failures, clock)
    finally:
        committer.close()
    if failures:
        raise BenchError(f"{len(failures)} appends failed; the first: {failures[0]!r}")
    check_log_size(db, len(records))


def append_from_threads(
    committer: GroupCommitter,
    records: list[AuditRecord],
    threads: int,
    failures: list[BaseException],
    clock: Stopwatch,
) -> None:
    """Each thread appends its share in a loop; timed from release to the last return."""
    gate = threading.Barrier(threads + 1)

    def work(mine: list[AuditRecord]) -> None:
        gate.wait()
        try:
            for record in mine:
                committer.append(record)
        except BaseException as exc:
            failures.append(exc)

    workers = [
        threading.Thread(target=work, args=(records[i::threads],), name=f"bench-{i}")
        for i in range(threads)
    ]
    for w in workers:
        w.start()
    gate.wait()
    clock.start()
    for w in workers:
        w.join()
    clock.stop()


def run_async_group_commit(
    db: Database,
    clock: Stopwatch,
    records: list[AuditRecord],
    warmup: int,
    tasks: int,
    batch: int,
) -> None:
    records = fresh(records)
    committer = GroupCommitter(db, max_batch=batch)
    clock.count_commits_of(committer)
    failures: list[BaseException] = []
    try:
        if warmup:
            common.run_loop(
                append_from_tasks(committer, records[:warmup], tasks, failures, Stopwatch())
            )
        common.run_loop(append_from_tasks(committer, records[warmup:], tasks, failures, clock))
    finally:
        committer.close()
    if failures:
        raise BenchError(f"{len(failures)} appends failed; the first: {failures[0]!r}")
    check_log_size(db, len(records))


async def append_from_tasks(
    committer: GroupCommitter,
    records: list[AuditRecord],
    tasks: int,
    failures: list[BaseException],
    clock: Stopwatch,
) -> None:
    """Each coroutine appends its share in a loop; timed from release to the last return."""
    gate = asyncio.Event()

    async def work(mine: list[AuditRecord]) -> None:
        await gate.wait()
        try:
            for record in mine:
                await committer.append_async(record)
        except Exception as exc:
            failures.append(exc)

    workers = [asyncio.create_task(work(records[i::tasks])) for i in range(tasks)]
    await asyncio.sleep(0)  # every task is now waiting at the gate
    clock.start()
    gate.set()
    await asyncio.gather(*workers)
    clock.stop()


def check_log_size(db: Database, expected: int) -> None:
    with db.transaction(read_only=True) as session:
        size = log.size(session)
    if size != expected or stored(db, AuditEvent.__table__) != expected:
        raise BenchError(f"the audit log holds {size} events where {expected} were appended")


def measure_backend(
    backend: Backend,
    records: list[AuditRecord],
    rows: list[dict[str, Any]],
    args: argparse.Namespace,
    console: Console,
) -> list[Result]:
    n, warmup, batch = args.events, args.warmup, args.batch
    results: list[Result] = []

    def timed(method: str, threads: int, run: Callable[[Database, Stopwatch], None]) -> None:
        console.print(f"  {backend.name}: {method} ...", highlight=False)
        with backend.fresh() as db:
            clock = Stopwatch(db)
            run(db, clock)
        s = clock.seconds
        results.append(
            Result(
                backend.name,
                method,
                threads,
                n,
                round(s, 4),
                n / s,
                clock.commits,
                round(clock.cpu_seconds, 4),
            )
        )

    timed(RAW, 1, lambda db, c: run_raw(db, c, rows, warmup, batch))
    timed(RAW_DRIVER, 1, lambda db, c: run_raw_driver(db, c, rows, warmup, batch, False))
    timed(RAW_MULTIROW, 1, lambda db, c: run_raw_driver(db, c, rows, warmup, batch, True))
    timed(SERVICE, 1, lambda db, c: run_service(db, c, records, warmup, batch))
    for tasks in args.tasks:
        timed(
            f"group commit, async, {tasks} tasks",
            tasks,
            lambda db, c, t=tasks: run_async_group_commit(db, c, records, warmup, t, batch),
        )
    for threads in args.threads:
        timed(
            f"group commit, {threads} threads",
            threads,
            lambda db, c, t=threads: run_group_commit(db, c, records, warmup, t, batch),
        )
    raw_rate = max(r.events_per_sec for r in results if r.method in (RAW, RAW_DRIVER, RAW_MULTIROW))
    for r in results:
        r.pct_of_raw = 100.0 * r.events_per_sec / raw_rate
    return results


# -- report --------------------------------------------------------------------------------


def machine_facts(load: str, backends: list[Backend]) -> dict[str, str]:
    facts = common.machine_facts(load, sqlalchemy=sqlalchemy.__version__)
    for b in backends:
        facts[b.name.lower()] = b.facts()
    return facts


def render(
    console: Console,
    results: list[Result],
    facts: dict[str, str],
    skipped: list[str],
    args: argparse.Namespace,
) -> list[str]:
    table = Table(
        title=(
            f"Durable audit appends: {args.events:,} events per method, "
            f"up to {args.batch} per commit"
        )
    )
    table.add_column("backend")
    table.add_column("method")
    table.add_column("events/s", justify="right")
    table.add_column("% of raw", justify="right")
    table.add_column("events/commit", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("CPU µs/event", justify="right")
    for r in results:
        table.add_row(
            r.backend,
            r.method,
            f"{r.events_per_sec:,.0f}",
            f"{r.pct_of_raw:.0f} %" if r.pct_of_raw is not None else "-",
            f"{r.events_per_commit:,.0f}",
            f"{r.seconds:.2f}",
            f"{r.cpu_us_per_event:.1f}",
        )
    console.print()
    console.print(table)
    common.print_machine(console, facts, [f"SQLAlchemy {facts['sqlalchemy']}"])
    common.print_lines(
        console, "Database", [facts[key] for key in ("sqlite", "postgresql") if key in facts]
    )
    for note in skipped:
        console.print(f"[yellow]Skipped:[/] {escape(note)}", highlight=False, soft_wrap=True)
    common.print_lines(console, "Note", NOTES)
    verdicts = judge(results)
    common.print_lines(console, "Target", verdicts)
    return verdicts


def judge(results: list[Result]) -> list[str]:
    """The issue's targets against the best group-commit row of each backend (coroutines or
    threads: both acknowledge each event only once durable)."""
    lines = []
    for backend in dict.fromkeys(r.backend for r in results):
        group = [r for r in results if r.backend == backend and r.method.startswith("group")]
        if not group:
            continue
        best = max(group, key=lambda r: r.events_per_sec)
        share = best.pct_of_raw or 0.0
        parts = []
        if backend == "SQLite":
            ok = best.events_per_sec >= SQLITE_TARGET_PER_SEC
            parts.append(
                f">= {SQLITE_TARGET_PER_SEC:,}/s: {best.events_per_sec:,.0f}/s "
                f"({'met' if ok else 'MISSED'})"
            )
        ok = share >= RAW_SHARE_TARGET
        parts.append(
            f">= {RAW_SHARE_TARGET:.0f} % of raw: {share:.0f} % ({'met' if ok else 'MISSED'})"
        )
        lines.append(f"{backend} {best.method}: " + "; ".join(parts))
    return lines


def json_payload(
    results: list[Result],
    facts: dict[str, str],
    skipped: list[str],
    verdicts: list[str],
    args: argparse.Namespace,
    entry_bytes: dict[str, float],
) -> dict[str, Any]:
    return {
        "benchmark": "audit_append",
        "settings": {
            "events": args.events,
            "warmup": args.warmup,
            "batch": args.batch,
            "threads": args.threads,
            "tasks": args.tasks,
            "entry_bytes": entry_bytes,
        },
        "machine": facts,
        "notes": NOTES,
        "skipped": skipped,
        "targets": verdicts,
        "results": [
            {
                **asdict(r),
                "events_per_sec": round(r.events_per_sec, 1),
                "pct_of_raw": None if r.pct_of_raw is None else round(r.pct_of_raw, 1),
                "events_per_commit": round(r.events_per_commit, 1),
                "cpu_us_per_event": round(r.cpu_us_per_event, 2),
            }
            for r in results
        ],
    }


# -- main ----------------------------------------------------------------------------------


def thread_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of integers") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("thread counts are positive")
    return counts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=50_000, help="events per method (50000)")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed events first (1000)")
    parser.add_argument("--batch", type=int, default=256, help="events per transaction (256)")
    parser.add_argument(
        "--threads",
        type=thread_counts,
        default=[32, 64],
        help="group-commit thread counts, comma-separated (32,64)",
    )
    parser.add_argument(
        "--tasks",
        type=thread_counts,
        default=[256, 1024],
        help="async group-commit coroutine counts, comma-separated (256,1024)",
    )
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="PostgreSQL server to use, skipped if it does not answer (loopback, db test)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where results go")
    args = parser.parse_args(argv)
    if args.events < 1 or args.warmup < 0 or args.batch < 1:
        parser.error("--events and --batch must be positive, --warmup not negative")
    if max(args.threads + args.tasks) > args.events:
        parser.error("--events must be at least the largest thread or task count")
    return args


def run(args: argparse.Namespace, console: Console) -> int:
    load = common.load_average()
    # Under bench/.work, not /tmp: a tmpfs there would make every fsync free.
    with common.scratch_directory("audit-append-", WORK_DIR) as tmp:
        backends: list[Backend] = [SQLiteBackend(tmp)]
        skipped: list[str] = []
        if args.no_postgres:
            skipped.append("PostgreSQL: --no-postgres")
        else:
            try:
                backends.append(PostgresBackend.probe(args.pg_url))
            except BenchError as exc:
                skipped.append(f"PostgreSQL: not reachable ({exc})")

        console.print(f"Preparing {args.warmup + args.events:,} events ...")
        records = sample_records(args.warmup + args.events)
        rows = raw_rows(records, first_seq=0)
        sizes = [len(row["entry"]) for row in rows]
        entry_bytes = {
            "min": min(sizes),
            "mean": round(sum(sizes) / len(sizes), 1),
            "max": max(sizes),
        }
        console.print(
            f"Canonical entries: {entry_bytes['min']}-{entry_bytes['max']} bytes, "
            f"mean {entry_bytes['mean']:.0f}",
            highlight=False,
        )
        results: list[Result] = []
        for backend in backends:
            results += measure_backend(backend, records, rows, args, console)

    facts = machine_facts(load, backends)
    verdicts = render(console, results, facts, skipped, args)
    common.write_json(args.json, json_payload(results, facts, skipped, verdicts, args, entry_bytes))
    console.print(f"Results: {common.display_path(args.json)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
