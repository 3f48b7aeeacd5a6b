"""Shared fixtures: a database on every configured backend, nodes, and API clients.

Every test that takes ``database_url`` runs on SQLite, and on PostgreSQL too when
``STRONGROOM_TEST_DATABASE_URL`` names one (CI always does). Each PostgreSQL test gets a
schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from support import Ready

from strongroom.api.app import create_app
from strongroom.config import Settings, load_settings
from strongroom.node import Call, Node
from strongroom.store import migrate
from strongroom.store.engine import Database

PG_URL = os.environ.get("STRONGROOM_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
REPO_ROOT = Path(__file__).resolve().parent.parent
VECTORS = REPO_ROOT.parent / "shared" / "vectors"


def _pg_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store migrated once per session, for `database_url` to copy."""
    path = tmp_path_factory.mktemp("template") / "strongroom.db"
    database = Database.from_url(f"sqlite:///{path.as_posix()}")
    try:
        migrate.upgrade(database.engine)
    finally:
        database.dispose()
    return path


#: (statement, parameters, executemany) as the migrations sent them to PostgreSQL.
Recorded = list[tuple[str, Any, bool]]


def _pg_schema(script: Recorded | None = None) -> Iterator[str]:
    """A schema of its own on the test server (dropped afterwards); ``script`` replayed in it."""
    assert PG_URL is not None
    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    if script:
        conninfo = _pg_conninfo(PG_URL)
        with (
            psycopg.connect(conninfo, options=f"-csearch_path={schema}") as conn,
            conn.cursor() as cur,
        ):
            for statement, parameters, many in script:
                if many:
                    cur.executemany(statement, parameters)
                else:
                    cur.execute(statement, parameters or None)
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def pg_migration_script() -> Iterator[Recorded]:
    """What migrating an empty PostgreSQL schema sends, recorded once per session for
    `database_url` to replay in each test's schema (Alembic's own work, loading and
    rendering every script, costs far more than the statements)."""
    if PG_URL is None:
        yield []
        return
    recorded: Recorded = []

    def record(*args: Any) -> None:
        _conn, _cursor, statement, parameters, _context, many = args
        recorded.append((statement, parameters, many))

    for url in _pg_schema():
        database = Database.from_url(url)
        sa.event.listen(database.engine, "before_cursor_execute", record)
        try:
            migrate.upgrade(database.engine)
        finally:
            database.dispose()
    yield recorded


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_migration_script: Recorded,
) -> Iterator[str]:
    """A fresh database URL on each backend, for a node to open.

    Each starts migrated to the newest revision, as a node would leave it (a node opening
    it applies nothing): SQLite's is a copy of a store migrated once per session, and
    PostgreSQL's a schema of its own where the statements of one real migration are
    replayed. Tests of the migrations themselves take `empty_database_url`.
    """
    if request.param == "sqlite":
        path = tmp_path / "strongroom.db"
        shutil.copyfile(sqlite_template, path)
        path.chmod(0o600)
        yield f"sqlite:///{path.as_posix()}"
        return
    yield from _pg_schema(pg_migration_script)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend: no schema at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'strongroom.db').as_posix()}"
        return
    yield from _pg_schema()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=database_url, data_dir=tmp_path / "data", addr="127.0.0.1:8210"
    )


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    n = Node.open(settings)
    yield n
    n.close()


@pytest.fixture
def client(node: Node) -> Iterator[TestClient]:
    with TestClient(create_app(node), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def ready(node: Node, client: TestClient) -> Ready:
    """Initialised with 5 shares, threshold 3, and unsealed."""
    done = node.initialize(Call("test-init"), shares=5, threshold=3)
    for share in done.result.shares[:3]:
        node.unseal(Call("test-unseal"), share)
    return Ready(node, client, list(done.result.shares), done.root_token)
