"""Fixtures for CLI tests against real server processes (helpers in tests/system)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HELPERS = str(Path(__file__).resolve().parent.parent / "system")
if _HELPERS not in sys.path:
    sys.path.insert(0, _HELPERS)

import serverproc  # noqa: E402


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[serverproc.Launcher]:
    """Starts servers; kills any still running when the test ends."""
    with serverproc.Launcher(tmp_path) as launcher:
        yield launcher
