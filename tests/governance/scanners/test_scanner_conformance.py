"""One conformance suite that every registered scanner passes, and the pinned public API."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

import strongroom.governance.scanners as scanners
from strongroom.governance.scanners import REGISTRY, ScanLimits, ScanOptions, SourceFile

CANARY = "sk_live_nIHTLlYjG0cfJYQWtnjOzq84"
# One input each scanner has something to say about.
SAMPLES = {
    "secrets": ("app/settings.py", f"STRIPE = '{CANARY}'\n"),
    "patterns": ("app/pay.py", f"# {CANARY}\nrequests.get(u, verify=False)\n"),
    "deps": ("requirements.txt", f"jeIlyfish==0.1  # {CANARY}\n"),
}


def source(path: str, text: str) -> SourceFile:
    data = text.encode()
    return SourceFile(path, len(data), lambda: io.BytesIO(data))


@pytest.fixture(params=sorted(REGISTRY))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def build(name: str, tmp_path: Path) -> scanners.Scanner:
    return REGISTRY[name](ScanLimits(), ScanOptions(advisory_db=tmp_path / "none.sqlite"))


def test_every_registered_scanner_is_sampled() -> None:
    assert set(SAMPLES) == set(REGISTRY)


def test_name_matches_the_registry(name: str, tmp_path: Path) -> None:
    assert build(name, tmp_path).name == name


def test_empty_and_unrelated_files_yield_nothing(name: str, tmp_path: Path) -> None:
    scanner = build(name, tmp_path)
    assert list(scanner.scan(source("empty.py", ""))) == []
    assert list(scanner.scan(source("notes.txt", "nothing to see\n"))) == []


def test_findings_are_well_formed_and_never_hold_the_value(name: str, tmp_path: Path) -> None:
    scanner = build(name, tmp_path)
    path, text = SAMPLES[name]
    first = list(scanner.scan(source(path, text)))
    assert first, "the sample must produce a finding"
    assert first == list(scanner.scan(source(path, text)))  # deterministic
    for finding in first:
        assert finding.scanner == name and finding.file == path
        assert 1 <= finding.line <= text.count("\n") + 1 and finding.column >= 1
        assert finding.severity in scanners.SEVERITIES
        assert finding.confidence in ("high", "medium", "low")
        assert re.fullmatch(r"[0-9a-f]{32}", finding.fingerprint)
        dumped = json.dumps(finding.to_dict())
        assert CANARY not in dumped and CANARY not in repr(finding)
        assert finding.blocking is (finding.severity in ("critical", "high"))


def test_public_surface_is_pinned() -> None:
    assert scanners.__all__ == [
        "REGISTRY",
        "SEVERITIES",
        "Confidence",
        "Finding",
        "ScanLimits",
        "ScanOptions",
        "ScanReport",
        "Scanner",
        "Severity",
        "Skipped",
        "SourceFile",
        "scan_path",
        "scan_paths",
        "scan_sources",
    ]
