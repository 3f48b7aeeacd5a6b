"""SARIF 2.1.0 output, for code-scanning interfaces.

One run per scanner (each is its own ``tool.driver``), results located by artifact URI
(relative to the scanned root, ``%SRCROOT%``), line and column, with the fingerprint in
``partialFingerprints`` so a code-scanning service tracks a finding across commits.
"""

from __future__ import annotations

from typing import Any

from strongroom import __version__
from strongroom.governance.scanners.findings import Finding, ScanReport

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def to_sarif(report: ScanReport) -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log (a JSON-ready dict)."""
    runs = []
    for scanner in report.scanners:
        findings = [f for f in report.findings if f.scanner == scanner]
        runs.append(_run(scanner, findings, report))
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": runs}


def _run(scanner: str, findings: list[Finding], report: ScanReport) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    for finding in findings:
        rules.setdefault(
            finding.rule_id,
            {
                "id": finding.rule_id,
                "shortDescription": {"text": finding.message.split(":", 1)[0][:200]},
                "defaultConfiguration": {"level": _LEVEL[finding.severity]},
                "properties": {
                    "security-severity": _SECURITY_SEVERITY[finding.severity],
                    "tags": ["security", scanner],
                },
            },
        )
    order = {rule_id: index for index, rule_id in enumerate(rules)}
    return {
        "tool": {
            "driver": {
                "name": f"strongroom-{scanner}",
                "version": __version__,
                "rules": list(rules.values()),
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///"}},
        "results": [_result(finding, order[finding.rule_id]) for finding in findings],
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {
                        "level": "note",
                        "message": {"text": f"skipped: {skipped.reason}"},
                        "locations": [
                            {"physicalLocation": {"artifactLocation": {"uri": skipped.file}}}
                        ],
                    }
                    for skipped in report.errors
                ],
            }
        ],
    }


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": finding.file, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": finding.line, "startColumn": finding.column},
                }
            }
        ],
        "partialFingerprints": {"strongroom/v1": finding.fingerprint},
        "properties": {
            "severity": finding.severity,
            "confidence": finding.confidence,
            "blocking": finding.blocking,
        },
    }
