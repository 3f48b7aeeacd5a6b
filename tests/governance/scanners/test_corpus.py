"""The labelled corpus of the benchmark, as a regression guard on both prefilter engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strongroom.governance.scanners import ScanLimits, Skipped, SourceFile, scan_path, scan_paths
from strongroom.governance.scanners.secrets import SecretsScanner
from strongroom.governance.scanners.sources import iter_sources

CORPUS = Path(__file__).resolve().parents[3] / "bench" / "corpus" / "secrets"


def corpus_hits(engine: str) -> set[tuple[str, int, str]]:
    scanner = SecretsScanner(engine=engine)
    found = set()
    for item in iter_sources(CORPUS / "files", ScanLimits()):
        assert isinstance(item, SourceFile)
        found.update((f.file, f.line, f.rule_id) for f in scanner.scan(item))
    return found


def test_both_engines_agree_and_meet_the_targets() -> None:
    labels = json.loads((CORPUS / "labels.json").read_text())
    truth = {(name, line) for name, lines in labels.items() for line in lines}
    hyperscan, fallback = corpus_hits("hyperscan"), corpus_hits("re")
    assert hyperscan == fallback
    found = {(name, line) for name, line, _ in hyperscan}
    assert len(truth) >= 100
    assert len(found & truth) / len(truth) >= 0.95
    assert len(found & truth) / len(found) >= 0.95


def test_scan_paths_names_findings_by_the_path_given(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.py").write_text("k = 'sk_live_nIHTLlYjG0cfJYQWtnjOzq84'\n")
    (tmp_path / "b.env").write_text("GITHUB_TOKEN=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\n")
    (tmp_path / "d" / "x.bin").write_bytes(b"\0")
    seen: list[int] = []
    report = scan_paths(
        [tmp_path / "d", tmp_path / "b.env"], scanners=["secrets"], progress=seen.append
    )
    prefix = tmp_path.as_posix()
    assert [(f.file, f.rule_id) for f in report.findings] == [
        (f"{prefix}/b.env", "github-token"),
        (f"{prefix}/d/a.py", "stripe-live-key"),
    ]
    assert report.errors == [Skipped(f"{prefix}/d/x.bin", "binary")]
    assert sum(seen) == report.bytes_scanned > 0


@pytest.mark.parametrize(
    "bad", [{"max_file_bytes": 0}, {"chunk_bytes": 1024}, {"archive_max_ratio": -1}]
)
def test_limits_refuse_nonsense(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="ScanLimits"):
        ScanLimits(**bad)


def test_total_bounds_stop_the_scan(tmp_path: Path) -> None:
    from strongroom.errors import ScanError

    for i in range(5):
        (tmp_path / f"{i}.txt").write_text("x" * 100)
    with pytest.raises(ScanError, match="more than 3 files"):
        scan_path(tmp_path, limits=ScanLimits(max_files=3))
    with pytest.raises(ScanError, match="more than 250 bytes"):
        scan_path(tmp_path, limits=ScanLimits(max_total_bytes=250))
