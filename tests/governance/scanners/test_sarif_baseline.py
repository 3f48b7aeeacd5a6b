"""SARIF 2.1.0 structure, baselines, and the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strongroom.errors import ScanError
from strongroom.governance.scanners import REGISTRY, ScanReport, scan_path
from strongroom.governance.scanners import baseline as baselines
from strongroom.governance.scanners.sarif import to_sarif

CANARY = "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"


@pytest.fixture
def report(tmp_path: Path) -> ScanReport:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ci.sh").write_text(f"export GH={CANARY}\ncurl 'http://ci.corp.io/x'\n")
    (tmp_path / "src" / "blob.bin").write_bytes(b"\0\0")
    return scan_path(tmp_path, scanners=["secrets", "patterns"])


def test_sarif_has_the_required_structure(report: ScanReport) -> None:
    log = json.loads(json.dumps(to_sarif(report)))
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    assert [run["tool"]["driver"]["name"] for run in log["runs"]] == [
        "strongroom-secrets",
        "strongroom-patterns",
    ]
    results = []
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        rule_ids = [rule["id"] for rule in driver["rules"]]
        assert len(rule_ids) == len(set(rule_ids))
        for rule in driver["rules"]:
            assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
            float(rule["properties"]["security-severity"])
        for result in run["results"]:
            assert rule_ids[result["ruleIndex"]] == result["ruleId"]
            assert result["level"] in ("error", "warning", "note", "none")
            assert isinstance(result["message"]["text"], str) and result["message"]["text"]
            (location,) = result["locations"]
            physical = location["physicalLocation"]
            assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
            assert physical["region"]["startLine"] >= 1
            assert physical["region"]["startColumn"] >= 1
            assert len(result["partialFingerprints"]["strongroom/v1"]) == 32
            results.append((result["ruleId"], physical["artifactLocation"]["uri"]))
        notes = run["invocations"][0]["toolExecutionNotifications"]
        assert {
            n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes
        } == {"src/blob.bin"}
    assert results == [
        ("github-token", "src/ci.sh"),
        ("plain-http-endpoint", "src/ci.sh"),
    ]
    assert CANARY not in json.dumps(log)


def test_baseline_round_trip(report: ScanReport, tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    baselines.write(report, path)
    known = baselines.load(path)
    assert known == {f.fingerprint for f in report.findings}
    assert CANARY not in path.read_text()
    assert baselines.apply(report, known) == 2
    assert report.findings == []


@pytest.mark.parametrize(
    "text", ["{", "[]", '{"version": 2, "fingerprints": {}}', '{"version": 1, "fingerprints": []}']
)
def test_bad_baseline_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "b.json").write_text(text)
    with pytest.raises(ScanError, match="baseline"):
        baselines.load(tmp_path / "b.json")


def test_registry_is_explicit_and_frozen() -> None:
    assert sorted(REGISTRY) == ["deps", "patterns", "secrets"]
    with pytest.raises(TypeError):
        REGISTRY["x"] = REGISTRY["secrets"]  # type: ignore[index]
