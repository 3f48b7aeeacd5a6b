"""The keyword prefilter: one pass over a buffer finds every rule keyword.

With `hyperscan` installed (a PyPI wheel on x86-64 Linux) all keywords of all rules are
one compiled database scanned at gigabytes per second; without it, one Python regular
expression alternation does the same job more slowly. Both report, for each hit, the
keyword's index and the offset where the hit ends.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from typing import Any, Protocol

_hs: Any
try:
    _hs = importlib.import_module("hyperscan")
except ImportError:  # pragma: no cover - depends on the platform's wheels
    _hs = None


class Prefilter(Protocol):
    """Finds keyword hits in a buffer."""

    engine: str

    def hits(self, data: bytes) -> list[tuple[int, int]]:
        """``(keyword index, end offset)`` for every hit, in increasing offset order."""
        ...


class HyperscanPrefilter:
    """All keywords in one hyperscan block-mode database (case-insensitive)."""

    engine = "hyperscan"

    def __init__(self, expressions: Sequence[bytes]) -> None:
        if _hs is None:  # pragma: no cover
            raise RuntimeError("hyperscan is not installed")
        self._db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        self._db.compile(
            expressions=list(expressions),
            ids=list(range(len(expressions))),
            elements=len(expressions),
            flags=[_hs.HS_FLAG_CASELESS] * len(expressions),
        )
        self._scratch = _hs.Scratch(self._db)

    def hits(self, data: bytes) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []

        def on_match(index: int, _start: int, end: int, _flags: int, _ctx: Any) -> None:
            found.append((index, end))

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch)
        found.sort(key=lambda hit: hit[1])
        return found


class RegexPrefilter:
    """All keywords as one alternation of named groups (the portable fallback)."""

    engine = "re"

    def __init__(self, expressions: Sequence[bytes]) -> None:
        alternatives = b"|".join(b"(?P<k%d>%s)" % (i, e) for i, e in enumerate(expressions))
        self._pattern = re.compile(alternatives, re.IGNORECASE)

    def hits(self, data: bytes) -> list[tuple[int, int]]:
        found = []
        for match in self._pattern.finditer(data):
            name = match.lastgroup
            if name is not None:
                found.append((int(name[1:]), match.end()))
        return found


def build_prefilter(expressions: Sequence[bytes], engine: str | None = None) -> Prefilter:
    """The fastest prefilter available (``engine`` forces ``"hyperscan"`` or ``"re"``)."""
    if engine == "re" or (engine is None and _hs is None):
        return RegexPrefilter(expressions)
    return HyperscanPrefilter(expressions)
