"""A node with two token regions: ``eu`` in a database of its own, ``us`` in the main one.

On PostgreSQL the ``eu`` database is a second schema, made and dropped here the way the
main conftest makes the first.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tokenize_support import MovableClock, Vaulted

from strongroom.call import Call
from strongroom.config import load_settings
from strongroom.node import Node

PG_URL = os.environ.get("STRONGROOM_TEST_DATABASE_URL")


def _pg_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def eu_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database on the same backend as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{(tmp_path / 'eu.db').as_posix()}"
        return
    assert PG_URL is not None
    schema = "t_eu_" + secrets.token_hex(6)
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def vaulted(database_url: str, eu_url: str, tmp_path: Path) -> Iterator[Vaulted]:
    settings = load_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        token_regions={"eu": {"database_url": eu_url}, "us": {}},
        token_max_batch=2000,
        token_detokenize_rate=10.0,
        token_detokenize_burst=5000,
    )
    clock = MovableClock()
    node = Node.open(settings, clock)
    done = node.initialize(Call("init"), shares=1, threshold=1)
    node.unseal(Call("unseal"), done.result.shares[0])
    yield Vaulted(node, clock, eu_url, database_url, Call("req-1", "alice"))
    node.close()
