"""``strongroom scan`` and ``strongroom advisories`` as real processes (no server needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from serverproc import run_cli

CANARY = "sk_live_nIHTLlYjG0cfJYQWtnjOzq84"
LODASH = {
    "id": "GHSA-jf85-cpcp-j695",
    "summary": "Prototype Pollution in lodash",
    "affected": [
        {
            "package": {"ecosystem": "npm", "name": "lodash"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.12"}]}],
        }
    ],
    "database_specific": {"severity": "CRITICAL"},
}


def no_canary(result: subprocess.CompletedProcess[str]) -> None:
    assert CANARY not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    root = tmp_path / "leaky"
    (root / "src").mkdir(parents=True)
    (root / "src" / "pay.py").write_text(
        f"import stripe\nstripe.api_key = '{CANARY}'\nrequests.get(u, verify=False)\n"
    )
    (root / "package.json").write_text(json.dumps({"dependencies": {"lodash": "4.17.4"}}))
    return root


def test_secrets_table_and_exit_codes(leaky: Path, tmp_path: Path) -> None:
    result = run_cli("scan", "secrets", str(leaky), env={"COLUMNS": "200"})
    no_canary(result)
    assert result.returncode == 1
    assert "stripe-live-key" in result.stdout and "src/pay.py:2:19" in result.stdout
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "a.py").write_text("print('hello')\n")
    result = run_cli("scan", "secrets", str(clean))
    assert result.returncode == 0, result.stderr
    assert "0 finding(s)" in result.stdout


def test_json_and_sarif(leaky: Path, tmp_path: Path) -> None:
    result = run_cli("scan", "secrets", str(leaky), "--json")
    no_canary(result)
    data = json.loads(result.stdout)
    assert [(f["rule_id"], f["file"], f["line"]) for f in data["findings"]] == [
        ("stripe-live-key", "src/pay.py", 2)
    ]
    assert data["blocking"] == 1 and data["files_scanned"] == 2
    out = tmp_path / "scan.sarif"
    result = run_cli("scan", "patterns", str(leaky), "--format", "sarif", "--output", str(out))
    assert result.returncode == 1 and result.stdout == ""
    sarif = json.loads(out.read_text())
    assert sarif["version"] == "2.1.0"
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["tls-verification-disabled"]


def test_baseline_suppresses_known_findings(leaky: Path, tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    result = run_cli("scan", "secrets", str(leaky), "--write-baseline", str(base))
    assert result.returncode == 0, result.stderr
    assert CANARY not in base.read_text()
    result = run_cli("scan", "secrets", str(leaky), "--baseline", str(base), "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["suppressed"] == 1
    (leaky / "src" / "pay.py").write_text(f"\n\n\nstripe.api_key = '{CANARY}'\n")
    assert run_cli("scan", "secrets", str(leaky), "--baseline", str(base)).returncode == 0
    (leaky / "src" / "other.py").write_text(f"k = '{CANARY}'\n")
    assert run_cli("scan", "secrets", str(leaky), "--baseline", str(base)).returncode == 1


def test_bad_input_is_a_short_error(tmp_path: Path) -> None:
    result = run_cli("scan", "secrets", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert result.stderr.startswith("Error: cannot read")
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as archive:
        archive.writestr("../../etc/x.py", "x = 1\n")
    result = run_cli("scan", "secrets", str(tmp_path / "evil.zip"))
    assert result.returncode == 2
    assert "path traversal" in result.stderr and "Traceback" not in result.stderr
    assert run_cli("scan", "secrets").returncode == 2
    (tmp_path / "b.json").write_text("[]")
    result = run_cli("scan", "secrets", str(tmp_path), "--baseline", str(tmp_path / "b.json"))
    assert result.returncode == 2 and "baseline" in result.stderr


def test_advisories_import_then_deps_scan(leaky: Path, tmp_path: Path) -> None:
    export = tmp_path / "npm-all.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("GHSA-jf85-cpcp-j695.json", json.dumps(LODASH))
    data_dir = tmp_path / "data"
    env = {"STRONGROOM_DATA_DIR": str(data_dir)}
    result = run_cli("advisories", "import", str(export), "--json", env=env)
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    assert (summary["records"], summary["ecosystems"]) == (1, ["npm"])
    status = json.loads(run_cli("advisories", "status", "--json", env=env).stdout)
    assert status["entries"] == 1
    result = run_cli("scan", "deps", str(leaky), "--json", env=env)
    assert result.returncode == 1
    findings = json.loads(result.stdout)["findings"]
    assert [(f["rule_id"], f["file"], f["severity"]) for f in findings] == [
        ("GHSA-jf85-cpcp-j695", "package.json", "critical")
    ]
    (tmp_path / "junk.zip").write_text("nope")
    result = run_cli("advisories", "import", str(tmp_path / "junk.zip"), env=env)
    assert result.returncode == 2 and result.stderr.startswith("Error:")
    assert json.loads(run_cli("advisories", "status", "--json", env=env).stdout)["entries"] == 1


def test_pre_commit_file_arguments(leaky: Path) -> None:
    files = [str(leaky / "src" / "pay.py"), str(leaky / "package.json")]
    result = run_cli("scan", "secrets", *files, "--json")
    no_canary(result)
    assert [f["file"] for f in json.loads(result.stdout)["findings"]] == [files[0]]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_staged_scans_the_index_not_the_work_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    (repo / "a.py").write_text(f"k = '{CANARY}'\n")
    (repo / "b.py").write_text("x = 1\n")
    git("add", "a.py", "b.py")
    (repo / "a.py").write_text("k = 'clean now, but the index still holds the key'\n")
    result = run_cli("scan", "secrets", "--staged", "--json", cwd=repo)
    no_canary(result)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [(f["file"], f["line"]) for f in report["findings"]] == [("a.py", 1)]
    assert report["files_scanned"] == 2
    git("add", "a.py")
    assert run_cli("scan", "secrets", "--staged", cwd=repo).returncode == 0
    result = run_cli("scan", "secrets", "--staged", cwd=tmp_path)
    assert result.returncode == 2 and "git" in result.stderr


def test_pre_commit_hook_definition() -> None:
    text = (Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml").read_text()
    assert "id: strongroom-secrets" in text
    assert "entry: strongroom scan secrets" in text
    assert sys.version_info >= (3, 11)
