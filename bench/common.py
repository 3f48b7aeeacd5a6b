"""What the benchmark scripts in this folder share: paths, machine facts, report lines, JSON.

The scripts are run as `python bench/<script>.py`, so this folder is first on `sys.path` and
they import this module as `common`. It does not measure anything itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"
STRONGROOM_BIN = REPO_ROOT / ".venv" / "bin" / "strongroom"


class BenchError(Exception):
    """A benchmark step failed; the message says which and why."""


# -- the machine ---------------------------------------------------------------------------


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on the event loop the server uses: uvloop where it is installed (as
    uvicorn picks it), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def load_average() -> str:
    """The 1-minute load average, two decimals: how busy the machine is before a run."""
    return f"{os.getloadavg()[0]:.2f}"


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows, else "unknown"."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return cpu or platform.processor() or "unknown"


def machine_facts(load: str, **versions: str) -> dict[str, str]:
    """Cores, CPU, Python, the given ``versions`` (in their order), OS and ``load``."""
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu_name(),
        "python": platform.python_version(),
        **versions,
        "os": platform.platform(),
        "loadavg_at_start": load,
    }


def strongroom_executable() -> str:
    """The project venv's `strongroom` command; `BenchError` if the venv lacks it."""
    if not STRONGROOM_BIN.exists():
        raise BenchError("no .venv/bin/strongroom: run `make bench` to create the venv")
    return str(STRONGROOM_BIN)


@contextlib.contextmanager
def scratch_directory(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """A new temporary directory (under ``parent`` if given), removed with all it holds."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- report --------------------------------------------------------------------------------


def print_machine(console: Console, facts: dict[str, str], software: Sequence[str]) -> None:
    """The `Machine:` line under a table; ``software`` are the versions worth naming."""
    console.print(
        f"Machine: nproc={facts['nproc']} ({facts['cpu']}), Python {facts['python']}, "
        f"{', '.join(software)}, 1-min load average before the run {facts['loadavg_at_start']}",
        highlight=False,
        soft_wrap=True,
    )


def print_lines(console: Console, label: str, lines: Iterable[str]) -> None:
    """One `label: line` under a table for each of ``lines`` (notes, targets, databases)."""
    for line in lines:
        console.print(f"{label}: {line}", highlight=False, soft_wrap=True)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """``payload`` as indented JSON at ``path``, creating its folder if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def display_path(path: Path) -> Path:
    """``path`` as the report shows it: relative to the repository if inside it."""
    shown = path.resolve()
    with contextlib.suppress(ValueError):
        shown = shown.relative_to(REPO_ROOT)
    return shown


# -- main ----------------------------------------------------------------------------------


def main(run: Callable[[argparse.Namespace, Console], int], args: argparse.Namespace) -> int:
    """``run`` with a console 120 wide unless on a terminal; a `BenchError` is one red line."""
    console = Console(width=None if sys.stdout.isatty() else 120)
    try:
        return run(args, console)
    except BenchError as exc:
        console.print(f"[bold red]bench failed:[/] {escape(str(exc))}", highlight=False)
        return 1
