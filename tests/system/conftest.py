"""Fixtures for end-to-end tests of real server processes (helpers in serverproc.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HELPERS = str(Path(__file__).resolve().parent)
if _HELPERS not in sys.path:
    sys.path.insert(0, _HELPERS)

import serverproc  # noqa: E402


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[serverproc.Launcher]:
    """Starts servers; kills any still running when the test ends."""
    with serverproc.Launcher(tmp_path) as launcher:
        yield launcher


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, launcher: serverproc.Launcher
) -> Iterator[serverproc.Backend]:
    """An empty store on each backend; PostgreSQL only with STRONGROOM_TEST_DATABASE_URL."""
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        yield serverproc.sqlite_backend(data_dir)
        return
    if serverproc.PG_URL is None:
        pytest.skip("STRONGROOM_TEST_DATABASE_URL is not set")
    with serverproc.postgres_backend(data_dir) as backend:
        yield backend
        launcher.close()  # no server may hold the schema while it is dropped
