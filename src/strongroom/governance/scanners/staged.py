"""The files staged in a git repository's index, read from the index (not the work tree).

Used by ``strongroom scan secrets --staged``: what is about to be committed is what is
scanned, even if the work tree has changed since ``git add``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from strongroom.errors import ScanError
from strongroom.governance.scanners.findings import Skipped
from strongroom.governance.scanners.limits import ScanLimits
from strongroom.governance.scanners.sources import Item, memory_source


def _git(repo: Path, *args: str) -> bytes:
    git = shutil.which("git")
    if git is None:
        raise ScanError("git is not installed; --staged needs it")
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [git, "-C", str(repo), *args], capture_output=True, check=False, timeout=120
    )
    if result.returncode != 0:
        reason = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ScanError(f"git {args[0]} failed: {reason[0] if reason else 'no output'}")
    return result.stdout


def staged_sources(repo: Path, limits: ScanLimits) -> Iterator[Item]:
    """Every added, copied or modified file in the index of the repository at ``repo``.

    Raises `ScanError` if ``repo`` is not in a git work tree or git fails.
    """
    names = _git(repo, "diff", "--cached", "--name-only", "--diff-filter=ACM", "-z")
    for raw in names.split(b"\x00"):
        if not raw:
            continue
        name = raw.decode("utf-8", "surrogateescape")
        size = int(_git(repo, "cat-file", "-s", f":{name}").strip() or 0)
        if size > limits.max_file_bytes:
            yield Skipped(name, f"larger than {limits.max_file_bytes} bytes")
            continue
        yield memory_source(name, _git(repo, "show", f":{name}"), limits)
