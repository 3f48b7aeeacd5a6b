"""The scanner interface and the explicit name -> factory registry.

No import-time registration and no process-global mutable table: `REGISTRY` is a frozen
mapping built here, and a caller wanting another set passes its own to `build`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Protocol

from strongroom.errors import ScanError
from strongroom.governance.scanners.deps import DepsScanner
from strongroom.governance.scanners.findings import Finding
from strongroom.governance.scanners.limits import ScanLimits
from strongroom.governance.scanners.options import ScanOptions
from strongroom.governance.scanners.patterns import PatternsScanner
from strongroom.governance.scanners.secrets import SecretsScanner
from strongroom.governance.scanners.sources import SourceFile


class Scanner(Protocol):
    """One pre-flight scanner: a name, and the findings in one file."""

    name: str

    def scan(self, file: SourceFile) -> Iterator[Finding]:
        """Every finding in ``file``. Raises nothing for bad content: it reports or skips."""
        ...


Factory = Callable[[ScanLimits, ScanOptions], Scanner]


def _secrets(limits: ScanLimits, options: ScanOptions) -> Scanner:
    return SecretsScanner(limits=limits)


def _deps(limits: ScanLimits, options: ScanOptions) -> Scanner:
    return DepsScanner(options, limits)


def _patterns(limits: ScanLimits, options: ScanOptions) -> Scanner:
    return PatternsScanner(options.sensitive_hosts)


REGISTRY: Mapping[str, Factory] = MappingProxyType(
    {"secrets": _secrets, "deps": _deps, "patterns": _patterns}
)


def build(
    names: Sequence[str] | None,
    limits: ScanLimits,
    options: ScanOptions,
    registry: Mapping[str, Factory] = REGISTRY,
) -> list[Scanner]:
    """The scanners named (all of ``registry`` when ``None``); `ScanError` for an unknown one."""
    chosen = list(registry) if names is None else list(dict.fromkeys(names))
    if not chosen:
        raise ScanError("no scanner chosen")
    unknown = [name for name in chosen if name not in registry]
    if unknown:
        raise ScanError(f"unknown scanner {unknown[0]!r}; known: {', '.join(sorted(registry))}")
    return [registry[name](limits, options) for name in chosen]
