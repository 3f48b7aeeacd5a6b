"""The dependency scan against a local OSV store built from real-format OSV records."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from strongroom.errors import AdvisoryDataError, UnsafeArchiveError
from strongroom.governance.scanners import ScanOptions, scan_path
from strongroom.governance.scanners.deps import AdvisoryStore, import_export
from strongroom.governance.scanners.deps.versions import in_range, pep440_key, semver_key

# Shaped like the records of OSV's PyPI and npm exports (trimmed, same fields).
PYSEC_REQUESTS: dict[str, Any] = {
    "id": "PYSEC-2018-28",
    "modified": "2021-06-10T06:51:31.916456Z",
    "published": "2018-10-09T00:29:00Z",
    "aliases": ["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"],
    "details": "The Requests package before 2.20.0 for Python sends an HTTP Authorization "
    "header to an http URI upon receiving a same-hostname https-to-http redirect.",
    "affected": [
        {
            "package": {"name": "requests", "ecosystem": "PyPI", "purl": "pkg:pypi/requests"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}],
            "versions": ["2.19.0", "2.19.1"],
        }
    ],
    "references": [{"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2018-18074"}],
}
GHSA_JINJA: dict[str, Any] = {
    "schema_version": "1.4.0",
    "id": "GHSA-h5c8-rqwp-cp95",
    "summary": "Jinja vulnerable to HTML attribute injection when passing user input as keys",
    "aliases": ["CVE-2024-22195"],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "Jinja2"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.3"}]}],
        }
    ],
    "database_specific": {"severity": "MODERATE", "github_reviewed": True},
}
GHSA_LODASH: dict[str, Any] = {
    "schema_version": "1.4.0",
    "id": "GHSA-jf85-cpcp-j695",
    "summary": "Prototype Pollution in lodash",
    "aliases": ["CVE-2019-10744"],
    "affected": [
        {
            "package": {"ecosystem": "npm", "name": "lodash"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.12"}]}],
        }
    ],
    "database_specific": {"severity": "CRITICAL", "cwe_ids": ["CWE-1321"]},
}
GHSA_MINIMIST: dict[str, Any] = {
    "id": "GHSA-xvch-5gv4-984h",
    "summary": "Prototype Pollution in minimist",
    "affected": [
        {
            "package": {"ecosystem": "npm", "name": "minimist"},
            "ranges": [
                {"type": "SEMVER", "events": [{"introduced": "0"}, {"last_affected": "0.2.3"}]},
                {"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.2.6"}]},
            ],
        }
    ],
    "database_specific": {"severity": "CRITICAL"},
}
WITHDRAWN: dict[str, Any] = {
    "id": "GHSA-wwww-wwww-wwww",
    "withdrawn": "2023-01-01T00:00:00Z",
    "summary": "withdrawn",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "flask"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
        }
    ],
}
MAVEN: dict[str, Any] = {
    "id": "GHSA-mmmm-mmmm-mmmm",
    "affected": [{"package": {"ecosystem": "Maven", "name": "org.x:y"}, "ranges": []}],
}
RECORDS = [PYSEC_REQUESTS, GHSA_JINJA, GHSA_LODASH, GHSA_MINIMIST, WITHDRAWN, MAVEN]


def export_zip(path: Path, records: list[dict[str, Any]] = RECORDS) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "advisories.sqlite"
    summary = import_export(export_zip(tmp_path / "all.zip"), path)
    assert (summary.records, summary.skipped) == (4, 2)
    assert summary.ecosystems == ("PyPI", "npm")
    return path


def app(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "app"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def found(root: Path, store: Path) -> list[tuple[str, str, int, str]]:
    report = scan_path(root, scanners=["deps"], options=ScanOptions(advisory_db=store))
    return [(f.file, f.rule_id, f.line, f.severity) for f in report.findings]


def test_requirements_and_pyproject(tmp_path: Path, store: Path) -> None:
    root = app(
        tmp_path,
        {
            "requirements.txt": "# pinned\nrequests==2.19.1  # old\njinja2>=3.0\nJinja2==3.1.2\n",
            "pyproject.toml": '[project]\nname = "x"\ndependencies = [\n  "requests==2.31.0",\n'
            '  "Jinja2 == 3.0.0",\n]\n',
        },
    )
    assert found(root, store) == [
        ("pyproject.toml", "GHSA-h5c8-rqwp-cp95", 5, "medium"),
        ("requirements.txt", "PYSEC-2018-28", 2, "high"),
        ("requirements.txt", "GHSA-h5c8-rqwp-cp95", 4, "medium"),
    ]


def test_poetry_and_uv_locks(tmp_path: Path, store: Path) -> None:
    lock = (
        '[[package]]\nname = "requests"\nversion = "{}"\n\n'
        '[[package]]\nname = "idna"\nversion = "3.7"\n'
    )
    root = app(
        tmp_path, {"poetry.lock": lock.format("2.18.4"), "sub/uv.lock": lock.format("2.32.3")}
    )
    assert found(root, store) == [("poetry.lock", "PYSEC-2018-28", 2, "high")]


def test_npm_manifest_and_lockfiles(tmp_path: Path, store: Path) -> None:
    lock_v3 = {
        "name": "web",
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "web"},
            "node_modules/lodash": {"version": "4.17.11"},
            "node_modules/a/node_modules/minimist": {"version": "0.2.3"},
            "node_modules/minimist": {"version": "1.2.6"},
        },
    }
    lock_v1 = {
        "lockfileVersion": 1,
        "dependencies": {
            "x": {"version": "1.0.0", "dependencies": {"minimist": {"version": "1.2.5"}}}
        },
    }
    root = app(
        tmp_path,
        {
            "web/package.json": json.dumps(
                {"dependencies": {"lodash": "4.17.4", "minimist": "^1.2.0"}}, indent=1
            ),
            "web/package-lock.json": json.dumps(lock_v3, indent=1),
            "old/package-lock.json": json.dumps(lock_v1, indent=1),
        },
    )
    assert [(f, r) for f, r, _, _ in found(root, store)] == [
        ("old/package-lock.json", "GHSA-xvch-5gv4-984h"),
        ("web/package-lock.json", "GHSA-jf85-cpcp-j695"),
        ("web/package-lock.json", "GHSA-xvch-5gv4-984h"),
        ("web/package.json", "GHSA-jf85-cpcp-j695"),
    ]


def test_banned_packages_apply_without_a_store(tmp_path: Path) -> None:
    root = app(tmp_path, {"requirements.txt": "jeIlyfish\nrequests==2.19.1\n"})
    report = scan_path(root, scanners=["deps"], options=ScanOptions(advisory_db=tmp_path / "none"))
    assert [(f.rule_id, f.line, f.blocking) for f in report.findings] == [
        ("banned-package", 1, True)
    ]
    assert any("no advisory store" in e.reason for e in report.errors)
    custom = ScanOptions(advisory_db=tmp_path / "none", banned={("PyPI", "requests"): "policy"})
    report = scan_path(root, scanners=["deps"], options=custom)
    assert [(f.rule_id, f.line) for f in report.findings] == [("banned-package", 2)]


def test_unparsable_manifest_is_reported_not_fatal(tmp_path: Path, store: Path) -> None:
    root = app(tmp_path, {"package.json": "{not json", "poetry.lock": "[[[bad"})
    report = scan_path(root, scanners=["deps"], options=ScanOptions(advisory_db=store))
    assert report.findings == []
    assert sorted(e.file for e in report.errors) == ["package.json", "poetry.lock"]


@pytest.mark.parametrize(
    ("version", "events", "ecosystem", "expected"),
    [
        ("2.19.1", [{"introduced": "0"}, {"fixed": "2.20.0"}], "PyPI", True),
        ("2.20.0", [{"introduced": "0"}, {"fixed": "2.20.0"}], "PyPI", False),
        ("2.20.0rc1", [{"introduced": "0"}, {"fixed": "2.20.0"}], "PyPI", True),
        ("1.0", [{"introduced": "1.0.0"}, {"fixed": "1.0.1"}], "PyPI", True),
        ("0.9", [{"introduced": "1.0"}, {"fixed": "2.0"}], "PyPI", False),
        ("1.5", [{"introduced": "1.0"}, {"last_affected": "1.5"}], "PyPI", True),
        ("1.5.post1", [{"introduced": "1.0"}, {"last_affected": "1.5"}], "PyPI", False),
        ("3.0", [{"introduced": "1.0"}, {"fixed": "2.0"}, {"introduced": "2.5"}], "PyPI", True),
        ("2.2", [{"introduced": "1.0"}, {"fixed": "2.0"}, {"introduced": "2.5"}], "PyPI", False),
        ("1.2.6-beta.1", [{"introduced": "0"}, {"fixed": "1.2.6"}], "npm", True),
        ("1.2.6", [{"introduced": "0"}, {"fixed": "1.2.6"}], "npm", False),
        ("1.2.10", [{"introduced": "0"}, {"fixed": "1.2.9"}], "npm", False),
        ("1.2.10", [{"introduced": "0"}, {"last_affected": "1.2.10"}], "npm", True),
        ("1.0.0-alpha", [{"introduced": "1.0.0-alpha.1"}], "npm", False),
    ],
)
def test_osv_range_semantics(
    version: str, events: list[dict[str, str]], ecosystem: str, expected: bool
) -> None:
    assert in_range(version, events, ecosystem) is expected


def test_semver_precedence_follows_the_spec() -> None:
    # The ordering example of SemVer 2.0.0, section 11.
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ]
    keys = [semver_key(v) for v in chain]
    assert keys == sorted(keys)
    assert semver_key("1.0.0+build.5") == semver_key("1.0.0")
    with pytest.raises(ValueError):
        semver_key("1.0")
    with pytest.raises(ValueError):
        pep440_key("not a version")


def test_bad_exports_leave_the_store_unchanged(tmp_path: Path, store: Path) -> None:
    before = store.read_bytes()
    (tmp_path / "junk.zip").write_bytes(b"junk")
    with pytest.raises(AdvisoryDataError, match="not a readable zip"):
        import_export(tmp_path / "junk.zip", store)
    with zipfile.ZipFile(tmp_path / "badjson.zip", "w") as archive:
        archive.writestr("a.json", json.dumps(PYSEC_REQUESTS))
        archive.writestr("b.json", "{oops")
    with pytest.raises(AdvisoryDataError, match=r"'b\.json' is not valid JSON"):
        import_export(tmp_path / "badjson.zip", store)
    with pytest.raises(AdvisoryDataError, match="no advisory for PyPI or npm"):
        import_export(export_zip(tmp_path / "maven.zip", [MAVEN]), store)
    with zipfile.ZipFile(tmp_path / "trav.zip", "w") as archive:
        archive.writestr("../x.json", json.dumps(PYSEC_REQUESTS))
    with pytest.raises(UnsafeArchiveError, match="path traversal"):
        import_export(tmp_path / "trav.zip", store)
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.json", '{"id": "x", "pad": "' + " " * 5_000_000 + '"}')
    with pytest.raises(UnsafeArchiveError, match="compression bomb"):
        import_export(tmp_path / "bomb.zip", store)
    assert store.read_bytes() == before
    assert not list(store.parent.glob("*.partial"))


def test_store_lookup(store: Path) -> None:
    advisories = AdvisoryStore(store)
    try:
        assert [a.id for a in advisories.affecting("PyPI", "Requests", "2.19.0")] == [
            "PYSEC-2018-28"
        ]
        assert advisories.affecting("PyPI", "flask", "1.0") == []  # withdrawn
        assert advisories.affecting("PyPI", "requests", "2.32.0") == []
    finally:
        advisories.close()
    with pytest.raises(AdvisoryDataError, match="no advisory store"):
        AdvisoryStore(store.parent / "missing.sqlite")


def test_imports_merge_by_ecosystem(tmp_path: Path) -> None:
    store = tmp_path / "advisories.sqlite"
    import_export(export_zip(tmp_path / "pypi.zip", [PYSEC_REQUESTS, GHSA_JINJA]), store)
    import_export(export_zip(tmp_path / "npm.zip", [GHSA_LODASH]), store)
    advisories = AdvisoryStore(store)
    try:
        assert [a.id for a in advisories.affecting("PyPI", "requests", "2.19.0")] == [
            "PYSEC-2018-28"
        ]
        assert [a.id for a in advisories.affecting("npm", "lodash", "4.17.11")] == [
            "GHSA-jf85-cpcp-j695"
        ]
    finally:
        advisories.close()
    # A newer PyPI export replaces PyPI only: the requests record is gone, lodash stays.
    import_export(export_zip(tmp_path / "pypi2.zip", [GHSA_JINJA]), store)
    advisories = AdvisoryStore(store)
    try:
        assert advisories.affecting("PyPI", "requests", "2.19.0") == []
        assert [a.id for a in advisories.affecting("npm", "lodash", "4.17.11")] == [
            "GHSA-jf85-cpcp-j695"
        ]
        assert advisories.count() == 2
    finally:
        advisories.close()
    store.write_bytes(b"not a database")
    with pytest.raises(AdvisoryDataError, match="unreadable"):
        import_export(export_zip(tmp_path / "pypi3.zip", [GHSA_JINJA]), store)
    assert store.read_bytes() == b"not a database"
