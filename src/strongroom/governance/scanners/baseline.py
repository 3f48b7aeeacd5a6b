"""Baselines: known findings, by fingerprint, that a later scan does not report again.

A baseline file is JSON: ``{"version": 1, "fingerprints": {"<fp>": "<rule id> in <file>"}}``
(the value is a reminder for a person; only the keys count). `write` records every finding
of a report; `apply` drops the findings a baseline names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from strongroom.errors import ScanError
from strongroom.governance.scanners.findings import ScanReport

BASELINE_VERSION = 1


def load(path: Path) -> frozenset[str]:
    """The fingerprints in the baseline file; `ScanError` if it is unreadable or malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScanError(f"cannot read the baseline {path.name}: {exc.strerror}") from None
    except ValueError:
        raise ScanError(f"the baseline {path.name} is not valid JSON") from None
    if not isinstance(data, dict):
        data = {}
    prints = data.get("fingerprints")
    if data.get("version") != BASELINE_VERSION or not isinstance(prints, dict):
        raise ScanError(f"the baseline {path.name} is not a version {BASELINE_VERSION} baseline")
    if not all(isinstance(key, str) for key in prints):
        raise ScanError(f"the baseline {path.name} has a non-string fingerprint")
    return frozenset(prints)


def apply(report: ScanReport, fingerprints: frozenset[str]) -> int:
    """Drop the findings whose fingerprint is in ``fingerprints``; how many were dropped."""
    kept = [finding for finding in report.findings if finding.fingerprint not in fingerprints]
    dropped = len(report.findings) - len(kept)
    report.findings = kept
    return dropped


def write(report: ScanReport, path: Path) -> None:
    """Write every finding of ``report`` to the baseline ``path`` (atomically)."""
    data = {
        "version": BASELINE_VERSION,
        "fingerprints": {
            finding.fingerprint: f"{finding.rule_id} in {finding.file}"
            for finding in report.findings
        },
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)
