"""What a scan reports: findings, skipped inputs, and the report that carries both.

A `Finding` never holds the secret it found: its message carries at most a redacted
preview (a few leading characters and the length), and its fingerprint is a one-way hash
that names the rule, the file and the matched value, so a suppression survives the line
moving but not the value changing.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["critical", "high", "medium", "low"]
Confidence = Literal["high", "medium", "low"]

SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
_FINGERPRINT_DOMAIN = b"strongroom-scan-fingerprint-v1\x00"


def fingerprint(scanner: str, rule_id: str, file: str, value: str | bytes) -> str:
    """A stable, one-way identifier of one finding, for baselines and suppressions.

    ``value`` is what the rule matched (the secret itself for the secret scanner); only
    its SHA-256 enters the result, so the fingerprint never contains it.
    """
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    digest = hashlib.sha256(_FINGERPRINT_DOMAIN)
    for part in (scanner.encode(), rule_id.encode(), file.encode("utf-8", "surrogateescape")):
        digest.update(len(part).to_bytes(4, "big") + part)
    digest.update(hashlib.sha256(raw).digest())
    return digest.hexdigest()[:32]


def redact(value: str, keep: int = 4) -> str:
    """A preview that cannot rebuild ``value``: its first characters, then its length."""
    if len(value) <= keep * 3:
        return f"{'*' * min(len(value), 8)} ({len(value)} chars)"
    return f"{value[:keep]}… ({len(value)} chars)"


@dataclass(frozen=True, slots=True)
class Finding:
    """One located finding. ``file`` is a POSIX path relative to the scanned root."""

    scanner: str
    rule_id: str
    file: str
    line: int
    column: int
    severity: Severity
    confidence: Confidence
    fingerprint: str
    message: str
    blocking: bool

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain JSON types, in a stable key order."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input the scan did not read, and why (binary, too large, a link, unreadable)."""

    file: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


@dataclass(slots=True)
class ScanReport:
    """What `scan_path` found: findings in file/line order, counts, and skipped inputs."""

    scanners: list[str]
    findings: list[Finding] = field(default_factory=list)
    files_scanned: int = 0
    bytes_scanned: int = 0
    errors: list[Skipped] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        """The findings that fail a scan."""
        return [finding for finding in self.findings if finding.blocking]

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON types."""
        return {
            "scanners": list(self.scanners),
            "files_scanned": self.files_scanned,
            "bytes_scanned": self.bytes_scanned,
            "findings": [finding.to_dict() for finding in self.findings],
            "blocking": len(self.blocking),
            "errors": [skipped.to_dict() for skipped in self.errors],
        }
