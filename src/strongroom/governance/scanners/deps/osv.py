"""The local OSV advisory store: import an OSV export zip, look packages up offline.

OSV publishes one zip per ecosystem (``PyPI/all.zip``, ``npm/all.zip``) holding one JSON
record per advisory (the OSV schema). `import_export` reads such a zip with bounds (member
count, sizes, compression ratio, no traversal), keeps the ``affected`` entries of the
ecosystems the scanner understands, and writes a SQLite file that replaces the old one
atomically (the export's ecosystems replace the same ecosystems in the store).
`AdvisoryStore` answers "which advisories affect name@version".
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strongroom.errors import AdvisoryDataError, UnsafeArchiveError
from strongroom.governance.scanners.deps.versions import KEYS, in_range
from strongroom.governance.scanners.findings import Severity
from strongroom.governance.scanners.sources import checked_member_name

ECOSYSTEMS = tuple(KEYS)
MAX_MEMBERS = 2_000_000
MAX_RECORD_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 8 * 1024 * 1024 * 1024
MAX_RATIO = 200
_SCHEMA = """
CREATE TABLE advisory (
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    summary TEXT NOT NULL,
    severity TEXT NOT NULL,
    affected TEXT NOT NULL,
    PRIMARY KEY (ecosystem, name, id)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_SEVERITY: dict[str, Severity] = {
    "CRITICAL": "critical",
    "HIGH": "high",
    "MODERATE": "medium",
    "MEDIUM": "medium",
    "LOW": "low",
}


def normalise(ecosystem: str, name: str) -> str:
    """The name as the ecosystem compares it (PEP 503 for PyPI, lower case for npm)."""
    if ecosystem == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name.lower()


@dataclass(frozen=True, slots=True)
class Advisory:
    """One advisory that affects a package version."""

    id: str
    summary: str
    severity: Severity


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What `import_export` wrote."""

    records: int
    packages: int
    skipped: int
    ecosystems: tuple[str, ...]


def import_export(archive: Path, store: Path) -> ImportSummary:
    """Import an OSV export zip into the SQLite file ``store`` (replaced atomically).

    The export's ecosystems replace the same ecosystems in the store; others stay (import
    PyPI's zip, then npm's, and both are there; a newer PyPI zip replaces only PyPI).
    Raises `AdvisoryDataError` if the file is not a zip or holds no usable record, a record
    is not valid JSON of the OSV shape, or the existing store is unreadable;
    `UnsafeArchiveError` for traversal or a bomb. On any error the store is left unchanged.
    """
    try:
        zipped = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        raise AdvisoryDataError(f"{archive.name} is not a readable zip: {exc}") from None
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = store.with_name(store.name + ".partial")
    partial.unlink(missing_ok=True)
    records = skipped = 0
    names: set[tuple[str, str]] = set()
    replaced: set[str] = set()
    try:
        if store.is_file():
            shutil.copyfile(store, partial)
        with zipped, contextlib.closing(sqlite3.connect(partial)) as db:
            try:
                if not store.is_file():
                    db.executescript(_SCHEMA)
                db.execute("SELECT count(*) FROM advisory").fetchone()
            except sqlite3.Error as exc:
                raise AdvisoryDataError(f"the store {store.name} is unreadable: {exc}") from None
            for member, record in _records(zipped):
                rows = list(_rows(member, record))
                if not rows:
                    skipped += 1
                    continue
                records += 1
                for ecosystem in {row[0] for row in rows} - replaced:
                    db.execute("DELETE FROM advisory WHERE ecosystem = ?", (ecosystem,))
                    replaced.add(ecosystem)
                db.executemany("INSERT OR REPLACE INTO advisory VALUES (?, ?, ?, ?, ?, ?)", rows)
                names.update((row[0], row[1]) for row in rows)
            if records == 0:
                raise AdvisoryDataError(
                    f"{archive.name} holds no advisory for {' or '.join(ECOSYSTEMS)}"
                )
            for ecosystem in replaced:
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    (f"source:{ecosystem}", archive.name),
                )
            db.commit()
        os.replace(partial, store)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return ImportSummary(records, len(names), skipped, tuple(sorted(replaced)))


def _records(zipped: zipfile.ZipFile) -> Iterator[tuple[str, dict[str, Any]]]:
    members = zipped.infolist()
    if len(members) > MAX_MEMBERS:
        raise UnsafeArchiveError(f"the export has more than {MAX_MEMBERS} members")
    total = 0
    for member in members:
        name = checked_member_name(member.filename)
        if member.is_dir() or not name.endswith(".json"):
            continue
        total += member.file_size
        if member.file_size > MAX_RECORD_BYTES or total > MAX_TOTAL_BYTES:
            raise UnsafeArchiveError(f"export member {name!r} is larger than allowed")
        if member.file_size > 1024 * 1024 and member.file_size > MAX_RATIO * max(
            member.compress_size, 1
        ):
            raise UnsafeArchiveError(f"export member {name!r} is a compression bomb")
        with zipped.open(member) as handle:
            data = handle.read(member.file_size + 1)
        try:
            record = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise AdvisoryDataError(f"export member {name!r} is not valid JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise AdvisoryDataError(f"export member {name!r} is not an OSV record (no id)")
        yield name, record


def _rows(member: str, record: dict[str, Any]) -> Iterator[tuple[str, str, str, str, str, str]]:
    if record.get("withdrawn"):
        return
    affected = record.get("affected", [])
    if not isinstance(affected, list):
        raise AdvisoryDataError(f"export member {member!r}: 'affected' is not a list")
    severity = _severity(record)
    summary = str(record.get("summary") or record.get("details") or "")[:300]
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in affected:
        package = entry.get("package") if isinstance(entry, dict) else None
        if not isinstance(package, dict):
            continue
        ecosystem, name = package.get("ecosystem"), package.get("name")
        if ecosystem not in ECOSYSTEMS or not isinstance(name, str):
            continue
        kept = {
            "ranges": [r for r in entry.get("ranges", []) if isinstance(r, dict)],
            "versions": [v for v in entry.get("versions", []) if isinstance(v, str)],
        }
        grouped.setdefault((ecosystem, normalise(ecosystem, name)), []).append(kept)
    for (ecosystem, name), entries in grouped.items():
        yield ecosystem, name, record["id"], summary, severity, json.dumps(entries)


def _severity(record: dict[str, Any]) -> Severity:
    specific = record.get("database_specific")
    if isinstance(specific, dict):
        found = _SEVERITY.get(str(specific.get("severity", "")).upper())
        if found:
            return found
    # Unknown severity fails closed: a known vulnerability blocks until triaged.
    return "high"


class AdvisoryStore:
    """Read-only look-ups in a store written by `import_export`."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise AdvisoryDataError(
                f"no advisory store at {path}; run `strongroom advisories import FILE.zip`"
            )
        try:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            self._db.execute("SELECT count(*) FROM advisory").fetchone()
        except sqlite3.Error as exc:
            raise AdvisoryDataError(
                f"the advisory store {path.name} is unreadable: {exc}"
            ) from None

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def count(self) -> int:
        """How many (package, advisory) rows the store holds."""
        return int(self._db.execute("SELECT count(*) FROM advisory").fetchone()[0])

    def affecting(self, ecosystem: str, name: str, version: str) -> list[Advisory]:
        """The advisories affecting ``name`` at ``version``; `ValueError` for a bad version."""
        rows = self._db.execute(
            "SELECT id, summary, severity, affected FROM advisory WHERE ecosystem=? AND name=?",
            (ecosystem, normalise(ecosystem, name)),
        ).fetchall()
        found = []
        for advisory_id, summary, severity, affected in rows:
            if any(_affects(entry, version, ecosystem) for entry in json.loads(affected)):
                found.append(
                    Advisory(advisory_id, summary, _SEVERITY.get(severity.upper(), "high"))
                )
        return found


def _affects(entry: dict[str, Any], version: str, ecosystem: str) -> bool:
    if version in entry["versions"]:
        return True
    for affected_range in entry["ranges"]:
        if affected_range.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        events = [e for e in affected_range.get("events", []) if isinstance(e, dict)]
        if in_range(version, events, ecosystem):
            return True
    return False
