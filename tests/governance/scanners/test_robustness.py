"""Arbitrary input never crashes a scanner, and manifests of the wrong shape are reported."""

from __future__ import annotations

import io
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.governance.scanners import ScanLimits, ScanOptions, SourceFile, scan_path
from strongroom.governance.scanners.deps import DepsScanner
from strongroom.governance.scanners.patterns import PatternsScanner
from strongroom.governance.scanners.secrets import SecretsScanner

SECRETS = SecretsScanner(limits=ScanLimits(chunk_bytes=65_536))
PATTERNS = PatternsScanner()
DEPS = DepsScanner(ScanOptions(advisory_db=Path("/nonexistent/advisories.sqlite")))
NOISE = st.binary(max_size=4096) | st.text(
    alphabet=st.sampled_from(list("ghp_skliveAKIA=:'\"/\n -----BEGIN eyJ.@xoxb0123456789")),
    max_size=4096,
).map(lambda text: text.encode())


def source(name: str, data: bytes) -> SourceFile:
    return SourceFile(name, len(data), lambda: io.BytesIO(data))


@settings(max_examples=150, deadline=None)
@given(NOISE)
def test_scanners_survive_noise(data: bytes) -> None:
    for name in ("a.py", "a.js", "package.json", "requirements.txt", "poetry.lock"):
        file = source(name, data)
        for finding in [*SECRETS.scan(file), *PATTERNS.scan(file), *DEPS.scan(file)]:
            assert finding.line >= 1 and finding.column >= 1


def test_manifests_of_the_wrong_shape(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": ["lodash"]}))
    (tmp_path / "package-lock.json").write_text(json.dumps([1, 2]))
    (tmp_path / "pyproject.toml").write_text('project = "x"\n')
    (tmp_path / "requirements.txt").write_bytes(b"\xff\xfe not utf-8\n")
    report = scan_path(
        tmp_path, scanners=["deps"], options=ScanOptions(advisory_db=tmp_path / "none")
    )
    assert report.findings == []
    reasons = {e.file: e.reason for e in report.errors}
    assert set(reasons) == {
        "<advisories>",
        "package.json",
        "package-lock.json",
        "pyproject.toml",
        "requirements.txt",
    }
    assert all(r.startswith("unparsable manifest") for f, r in reasons.items() if f[0] != "<")
