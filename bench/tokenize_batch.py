"""Batch tokenize throughput (values/s, batches of 1,000) on SQLite and PostgreSQL, beside
the raw insert rate of the same rows, and FF1 encryptions per second on one core.

For each backend (SQLite in a fresh directory under `bench/.work/`, PostgreSQL on loopback
if it answers, in private schemas dropped afterwards), each method starts from an empty,
freshly migrated database:

- raw insert: rows shaped like `token_values` (random 16-byte refs, random bytes as long as
  a sealed value), prepared before the clock starts, inserted with the driver's
  `executemany` (as the service does) into a scratch table with the same columns and keys,
  one transaction per batch, with the same engine and durability settings; no crypto, no
  audit event;
- service: `TokenVault.tokenize` on an unsealed node (policy lookup, key unwrap, per-value
  AES-256-GCM seal and token tag, insert, one audit event, one transaction per batch) for an
  opaque policy, a deterministic opaque policy and a vaulted FF1 card policy;
- API: the same opaque policy through a real `strongroom server` process over HTTP.

Each method runs `--rounds` rounds (3) of `--values` values on fresh rows and reports its
fastest round, which damps the noise of a shared machine equally for every method. Each
row also shows this process's CPU time per value in that round, steadier than wall time on
a busy machine: SQLite runs inside the process, so its rows count the database's work too;
PostgreSQL's server is not counted, and the API row shows none (the server is another
process).

Then FF1 (AES-256, 16 decimal digits) encryptions per second in one thread, one value per
call and batched (`encrypt_many`). Prints one table, writes `bench/.work/tokenize_batch.json`.
Targets are judged, not enforced: the exit status is 1 only when a run fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import common
import httpx
import psycopg
import sqlalchemy
from common import WORK_DIR, BenchError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, func, insert, select
from sqlalchemy import Table as SATable

from strongroom.call import Call
from strongroom.config import load_settings
from strongroom.crypto.fpe import FF1
from strongroom.node import Node
from strongroom.store.engine import Database
from strongroom.store.migrate import upgrade
from strongroom.store.models import TokenValue

DEFAULT_JSON = WORK_DIR / "tokenize_batch.json"
DEFAULT_PG_URL = "postgresql://127.0.0.1:5432/test"
RAW = "raw insert (no crypto)"
SERVICE_TARGET_PCT = 50.0
FF1_TARGET = 50_000
SEALED_OVERHEAD = 33  # aead: 5-byte header, 12-byte nonce, 16-byte tag

NOTES = [
    "Every method commits durably (SQLite WAL + synchronous=FULL; PostgreSQL as shown) and "
    "starts from an empty, freshly migrated database after an untimed warm-up.",
    "Service and API rows carry one audit event per batch in the same transaction; the raw "
    "insert has neither crypto nor audit event.",
    "The API server is one uvicorn process on the same machine as the client and database.",
    "CPU us/value: this process's CPU time in the fastest round, per value; it includes "
    "SQLite's work (in-process) but not PostgreSQL's server, nor the API server's.",
]


class Backend:
    """Hands out fresh, migrated databases of one kind and removes them afterwards."""

    name = ""

    def fresh(self) -> contextlib.AbstractContextManager[Database]:
        raise NotImplementedError

    def facts(self) -> str:
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "SQLite"

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.count = 0

    @contextlib.contextmanager
    def _fresh(self) -> Iterator[Database]:
        self.count += 1
        path = self.tmp / f"tokens-{self.count}.db"
        db = Database.from_url(f"sqlite:///{path.as_posix()}")
        try:
            upgrade(db.engine)
            yield db
        finally:
            db.dispose()

    def fresh(self) -> contextlib.AbstractContextManager[Database]:
        return self._fresh()

    def facts(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL)"


class PostgresBackend(Backend):
    name = "PostgreSQL"

    def __init__(self, url: str, version: str) -> None:
        self.url = url
        self.version = version

    @classmethod
    def probe(cls, url: str) -> PostgresBackend:
        try:
            with psycopg.connect(conninfo(url), connect_timeout=3) as conn:
                row = conn.execute("SHOW server_version").fetchone()
        except psycopg.Error as exc:
            raise BenchError(type(exc).__name__) from None
        return cls(url, str(row[0]) if row else "?")

    @contextlib.contextmanager
    def _fresh(self) -> Iterator[Database]:
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

    def fresh(self) -> contextlib.AbstractContextManager[Database]:
        return self._fresh()

    def facts(self) -> str:
        return f"PostgreSQL {self.version.split()[0]}"


def conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@dataclass
class Result:
    backend: str
    method: str
    values: int
    seconds: float
    values_per_sec: float
    cpu_us_per_value: float | None
    pct_of_raw: float | None = None


def card_values(count: int, seed: int) -> list[str]:
    rng = __import__("random").Random(seed)
    return ["4" + "".join(rng.choice("0123456789") for _ in range(15)) for _ in range(count)]


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- raw --------------------------------------------------------------------------------------


def scratch_table(db: Database) -> SATable:
    source = TokenValue.__table__
    metadata = MetaData()
    table = SATable(
        "bench_raw_token_values",
        metadata,
        *(Column(c.name, c.type, nullable=c.nullable) for c in source.columns),
        PrimaryKeyConstraint("pid", "ref"),
    )
    sqlalchemy.Index("bench_raw_tv_expires", table.c.expires_us)
    metadata.create_all(db.engine)
    return table


Timing = tuple[float, float]  # wall seconds, CPU seconds of this process


def best_of(items: list[Any], rounds: int, once: Callable[[list[Any]], None]) -> Timing:
    """The fastest of ``rounds`` runs over ``items`` (fresh rows each round): its wall
    seconds and this process's CPU seconds."""
    size = len(items) // rounds
    best = (float("inf"), float("inf"))
    for r in range(rounds):
        cpu = time.process_time()
        started = time.perf_counter()
        once(items[r * size : (r + 1) * size])
        best = min(best, (time.perf_counter() - started, time.process_time() - cpu))
    return best


def run_raw(db: Database, values: list[str], warmup: int, batch: int, rounds: int) -> Timing:
    table = scratch_table(db)
    now = time.time_ns() // 1000
    rows = [
        ("0" * 32, os.urandom(16), os.urandom(len(v) + SEALED_OVERHEAD), 1, "live", now, None)
        for v in values
    ]
    mark = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
    sql = str(insert(table).compile(dialect=db.engine.dialect))
    sql = sql.split(" VALUES ", maxsplit=1)[0] + " VALUES (" + ", ".join([mark] * 7) + ")"
    for part in chunks(rows[:warmup], batch):
        with db.engine.begin() as conn:
            conn.exec_driver_sql(sql, part)

    def once(measured: list[Any]) -> None:
        for part in chunks(measured, batch):
            with db.engine.begin() as conn:
                conn.exec_driver_sql(sql, part)

    timing = best_of(rows[warmup:], rounds, once)
    with db.engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(table)).scalar_one() != len(rows):
            raise BenchError("the raw insert stored a different number of rows")
    return timing


# -- service ----------------------------------------------------------------------------------

POLICIES: dict[str, dict[str, Any]] = {
    "opaque": {"scheme": "opaque", "format": "card"},
    "opaque, deterministic": {"scheme": "opaque", "format": "card", "deterministic": True},
    "FF1 card, vaulted": {"scheme": "fpe", "format": "card", "keep_last": 4},
}


def open_node(db: Database, tmp: Path) -> Node:
    url = str(db.engine.url.render_as_string(hide_password=False))
    settings = load_settings(database_url=url.replace("+psycopg", ""), data_dir=tmp / "data")
    node = Node(settings, db)
    done = node.initialize(Call("bench"), shares=1, threshold=1)
    node.unseal(Call("bench"), done.result.shares[0])
    return node


def run_service(
    db: Database,
    tmp: Path,
    fields: dict[str, Any],
    values: list[str],
    warmup: int,
    batch: int,
    rounds: int,
) -> Timing:
    node = open_node(db, tmp)
    try:
        call = Call("bench", "bench")
        node.vault.create_policy(call, "bench", {"name": "p", "region": "default", **fields})
        for part in chunks(values[:warmup], batch):
            node.vault.tokenize(call, "bench", "p", part)

        def once(measured: list[str]) -> None:
            for part in chunks(measured, batch):
                node.vault.tokenize(call, "bench", "p", part)

        return best_of(values[warmup:], rounds, once)
    finally:
        node.close()


# -- API --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(db_url: str, tmp: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env["STRONGROOM_DATA_DIR"] = str(tmp / "api-data")
    env["STRONGROOM_LOG_LEVEL"] = "warning"
    env["STRONGROOM_DATABASE_URL"] = db_url
    log = (tmp / "api-server.log").open("wb")
    proc = subprocess.Popen(
        [common.strongroom_executable(), "server", "--addr", f"127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/v1/sys/health", timeout=2).status_code in (200, 501, 503):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError("the API server did not start (see bench/.work)")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def run_api(
    db: Database, tmp: Path, values: list[str], warmup: int, batch: int, rounds: int
) -> tuple[float, None]:
    url_of_db = db.engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    db.dispose()
    with server(url_of_db, tmp) as url, httpx.Client(base_url=url, timeout=60) as client:
        body = client.post("/v1/sys/init", json={"shares": 1, "threshold": 1}).json()
        client.post("/v1/sys/unseal", json={"share": body["shares"][0]}).raise_for_status()
        client.headers["Authorization"] = f"Bearer {body['root_token']}"
        client.post(
            "/v1/apps/bench/tokens/policies",
            json={"name": "p", "region": "default", "scheme": "opaque", "format": "card"},
        ).raise_for_status()

        def send(part: list[str]) -> None:
            resp = client.post("/v1/apps/bench/tokens/p/tokenize", json={"values": part})
            if resp.status_code != 200:
                raise BenchError(f"tokenize over HTTP answered {resp.status_code}")

        for part in chunks(values[:warmup], batch):
            send(part)

        def once(measured: list[str]) -> None:
            for part in chunks(measured, batch):
                send(part)

        return best_of(values[warmup:], rounds, once)[0], None  # the server's CPU is elsewhere


# -- FF1 --------------------------------------------------------------------------------------


def ff1_rates(count: int) -> tuple[float, float]:
    cipher = FF1(os.urandom(32), "0123456789")
    values = card_values(count, 3)
    tweak = b"bench-tweak"
    cipher.encrypt_many(values[:1000], tweak)
    started = time.perf_counter()
    for part in chunks(values, 1000):
        cipher.encrypt_many(part, tweak)
    batched = count / (time.perf_counter() - started)
    single_n = count // 4
    started = time.perf_counter()
    for value in values[:single_n]:
        cipher.encrypt(value, tweak)
    single = single_n / (time.perf_counter() - started)
    return single, batched


# -- main -------------------------------------------------------------------------------------


def measure(
    backend: Backend, args: argparse.Namespace, tmp: Path, console: Console
) -> list[Result]:
    n, warmup, batch, rounds = args.values, args.warmup, args.batch, args.rounds
    values = card_values(warmup + n * rounds, 7)
    results: list[Result] = []

    def timed(method: str, run: Callable[[Database], tuple[float, float | None]]) -> None:
        console.print(f"  {backend.name}: {method} ...", highlight=False)
        with backend.fresh() as db:
            seconds, cpu = run(db)
        per_value = None if cpu is None else round(cpu / n * 1e6, 2)
        results.append(Result(backend.name, method, n, round(seconds, 4), n / seconds, per_value))

    timed(RAW, lambda db: run_raw(db, values, warmup, batch, rounds))
    for label, fields in POLICIES.items():
        timed(
            f"service: {label}",
            lambda db, f=fields: run_service(db, tmp, f, values, warmup, batch, rounds),  # type: ignore[misc]
        )
    timed("API: opaque", lambda db: run_api(db, tmp, values, warmup, batch, rounds))
    raw = results[0].values_per_sec
    for r in results:
        r.pct_of_raw = 100.0 * r.values_per_sec / raw
    return results


def render(console: Console, results: list[Result], ff1: tuple[float, float], facts: dict[str, str],
           skipped: list[str], args: argparse.Namespace) -> list[str]:  # fmt: skip
    table = Table(
        title=f"Batch tokenize: best of {args.rounds} rounds of {args.values:,} values, "
        f"{args.batch} per call"
    )
    for name, justify in (("backend", "left"), ("method", "left"), ("values/s", "right"),
                          ("% of raw", "right"), ("CPU us/value", "right"),
                          ("seconds", "right")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in results:
        pct = f"{r.pct_of_raw:.0f} %" if r.pct_of_raw is not None else "-"
        cpu = f"{r.cpu_us_per_value:.1f}" if r.cpu_us_per_value is not None else "-"
        table.add_row(r.backend, r.method, f"{r.values_per_sec:,.0f}", pct, cpu, f"{r.seconds:.2f}")
    table.add_row("-", "FF1 encrypt, one value per call (1 core)", f"{ff1[0]:,.0f}", "-", "-", "-")
    table.add_row("-", "FF1 encrypt_many, 1,000 per call (1 core)", f"{ff1[1]:,.0f}", "-", "-", "-")
    console.print()
    console.print(table)
    common.print_machine(console, facts, [f"SQLAlchemy {facts['sqlalchemy']}"])
    common.print_lines(
        console, "Database", [facts[k] for k in ("sqlite", "postgresql") if k in facts]
    )
    for note in skipped:
        console.print(f"[yellow]Skipped:[/] {escape(note)}", highlight=False, soft_wrap=True)
    common.print_lines(console, "Note", NOTES)
    verdicts = []
    for r in results:
        if r.method.startswith("service"):
            ok = (r.pct_of_raw or 0) >= SERVICE_TARGET_PCT
            verdicts.append(
                f"{r.backend} {r.method}: {r.pct_of_raw:.0f} % of raw "
                f"(target >= {SERVICE_TARGET_PCT:.0f} %): {'met' if ok else 'NOT met'}"
            )
    ok = ff1[0] >= FF1_TARGET
    verdicts.append(
        f"FF1 one value per call: {ff1[0]:,.0f}/s (target >= {FF1_TARGET:,}/s per core): "
        f"{'met' if ok else 'NOT met'}"
    )
    common.print_lines(console, "Target", verdicts)
    return verdicts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--values", type=int, default=20_000, help="timed values per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per method; best counts")
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--ff1-values", type=int, default=200_000)
    parser.add_argument(
        "--pg-url", default=os.environ.get("STRONGROOM_BENCH_PG_URL", DEFAULT_PG_URL)
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, console: Console) -> int:
    load = common.load_average()
    with common.scratch_directory("tokenize-batch-", WORK_DIR) as tmp:
        backends: list[Backend] = [SQLiteBackend(tmp)]
        skipped: list[str] = []
        if args.no_postgres:
            skipped.append("PostgreSQL: --no-postgres")
        else:
            try:
                backends.append(PostgresBackend.probe(args.pg_url))
            except BenchError as exc:
                skipped.append(f"PostgreSQL: not reachable ({exc})")
        results: list[Result] = []
        for backend in backends:
            results += measure(backend, args, tmp, console)
    console.print("  FF1 ...")
    ff1 = ff1_rates(args.ff1_values)
    facts = common.machine_facts(load, sqlalchemy=sqlalchemy.__version__)
    for b in backends:
        facts[b.name.lower()] = b.facts()
    verdicts = render(console, results, ff1, facts, skipped, args)
    common.write_json(
        args.json,
        {
            "results": [asdict(r) for r in results],
            "ff1": {"single_per_sec": ff1[0], "batched_per_sec": ff1[1]},
            "machine": facts,
            "skipped": skipped,
            "targets": verdicts,
            "args": {k: str(v) for k, v in vars(args).items()},
        },
    )
    console.print(f"Results: {common.display_path(args.json)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
