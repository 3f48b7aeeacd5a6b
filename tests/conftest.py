"""Shared fixtures: a database on every configured backend, nodes, and API clients.

Every test that takes ``database_url`` runs on SQLite, and on PostgreSQL too when
``STRONGROOM_TEST_DATABASE_URL`` names one (CI always does). Each PostgreSQL test gets a
schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from support import Ready

from strongroom.api.app import create_app
from strongroom.config import Settings, load_settings
from strongroom.node import Call, Node

PG_URL = os.environ.get("STRONGROOM_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
REPO_ROOT = Path(__file__).resolve().parent.parent
VECTORS = REPO_ROOT.parent / "shared" / "vectors"


def _pg_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'strongroom.db').as_posix()}"
        return
    assert PG_URL is not None
    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


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
