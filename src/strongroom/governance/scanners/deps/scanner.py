"""The dependency scanner: manifests against the local OSV store and the banned list."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator

from strongroom.errors import AdvisoryDataError
from strongroom.governance.scanners.deps.manifests import Dependency, parser_for
from strongroom.governance.scanners.deps.osv import AdvisoryStore, normalise
from strongroom.governance.scanners.findings import Finding, Severity, Skipped, fingerprint
from strongroom.governance.scanners.limits import ScanLimits
from strongroom.governance.scanners.options import ScanOptions
from strongroom.governance.scanners.sources import SourceFile


class DepsScanner:
    """Finds vulnerable (OSV) and banned dependencies in manifests and lockfiles.

    Without an advisory store the banned list still applies, and ``notes`` says the
    advisories were not checked (`scan_path` puts that in ``ScanReport.errors``).
    """

    name = "deps"

    def __init__(self, options: ScanOptions, limits: ScanLimits | None = None) -> None:
        self.options = options
        self.limits = limits or ScanLimits()
        self.notes: list[Skipped] = []
        self.store: AdvisoryStore | None
        try:
            self.store = AdvisoryStore(options.advisory_path())
        except AdvisoryDataError as exc:
            self.store = None
            self.notes.append(Skipped("<advisories>", exc.detail))

    def scan(self, file: SourceFile) -> Iterator[Finding]:
        """Findings for ``file`` if it is a manifest; nothing for other files."""
        parse = parser_for(file.name)
        if parse is None:
            return
        try:
            text = file.read(self.limits.max_file_bytes).decode("utf-8")
            dependencies = list(parse(text))
        except (ValueError, TypeError, AttributeError, tomllib.TOMLDecodeError) as exc:
            # A manifest of the wrong shape (a list where a table belongs) lands here too.
            self.notes.append(Skipped(file.path, f"unparsable manifest: {type(exc).__name__}"))
            return
        for dependency in dependencies:
            yield from self._check(file.path, dependency)

    def _check(self, path: str, dep: Dependency) -> Iterator[Finding]:
        key = (dep.ecosystem, normalise(dep.ecosystem, dep.name))
        shown = f"{dep.name}@{dep.version}" if dep.version else dep.name
        reason = self.options.banned.get(key)
        if reason is not None:
            yield self._finding(
                path, dep, "banned-package", "critical", f"{shown} is banned: {reason}", shown
            )
        if self.store is None or dep.version is None:
            return
        try:
            advisories = self.store.affecting(dep.ecosystem, dep.name, dep.version)
        except ValueError:
            self.notes.append(Skipped(path, f"{shown}: version not understood"))
            return
        for advisory in advisories:
            message = f"{shown} is affected by {advisory.id}: {advisory.summary}".strip()
            yield self._finding(path, dep, advisory.id, advisory.severity, message, shown)

    def _finding(
        self, path: str, dep: Dependency, rule_id: str, severity: Severity, message: str, value: str
    ) -> Finding:
        return Finding(
            scanner=self.name,
            rule_id=rule_id,
            file=path,
            line=dep.line,
            column=1,
            severity=severity,
            confidence="high",
            fingerprint=fingerprint(self.name, rule_id, path, value),
            message=message[:400],
            blocking=severity in ("critical", "high"),
        )
