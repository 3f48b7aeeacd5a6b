"""Printing for people (Rich) and for machines (``--json``)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console()
errors = Console(stderr=True)


def emit_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout, for scripts."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()
