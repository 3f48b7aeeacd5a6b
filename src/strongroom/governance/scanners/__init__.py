"""Pre-flight scans of an app's source: secrets, dependencies, insecure patterns.

`scan_path` is the one entry point for a folder or an archive: it walks a directory, a
file or a zip/tar archive (never following links, skipping binaries and oversized files,
refusing unsafe archives) and runs the chosen scanners over each file. `scan_paths` does
the same for several paths (the pre-commit hook's file list), `scan_sources` for files
from elsewhere (the git index). Every scanner implements `Scanner`; `REGISTRY` maps names
to factories. Nothing here needs a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path, PurePath

from strongroom.errors import ScanError
from strongroom.governance.scanners.findings import (
    SEVERITIES,
    Confidence,
    Finding,
    ScanReport,
    Severity,
    Skipped,
)
from strongroom.governance.scanners.limits import ScanLimits
from strongroom.governance.scanners.options import ScanOptions
from strongroom.governance.scanners.registry import REGISTRY, Scanner, build
from strongroom.governance.scanners.sources import Item, SourceFile, iter_sources

__all__ = [
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

Progress = Callable[[int], None]


def scan_path(
    path: Path,
    *,
    scanners: Sequence[str] | None = None,
    limits: ScanLimits | None = None,
    options: ScanOptions | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Run ``scanners`` (default: all) over ``path``: a directory, a file, or an archive.

    Finding paths are relative to ``path`` (a single file is named by its own name).
    ``progress`` is called with the size of each file once it is scanned. Raises
    `ScanError` for a missing path, a link as the root, an unknown scanner, or too many
    files/bytes; `UnsafeArchiveError` for an archive with traversal, links or a bomb.
    """
    limits = limits or ScanLimits()
    return scan_sources(
        iter_sources(Path(path), limits),
        scanners=scanners,
        limits=limits,
        options=options,
        progress=progress,
    )


def scan_paths(
    paths: Sequence[Path],
    *,
    scanners: Sequence[str] | None = None,
    limits: ScanLimits | None = None,
    options: ScanOptions | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Like `scan_path` for several paths; findings are named by the path as given."""
    if len(paths) == 1:
        return scan_path(
            paths[0], scanners=scanners, limits=limits, options=options, progress=progress
        )
    limits = limits or ScanLimits()
    return scan_sources(
        _labelled(paths, limits),
        scanners=scanners,
        limits=limits,
        options=options,
        progress=progress,
    )


def _labelled(paths: Sequence[Path], limits: ScanLimits) -> Iterator[Item]:
    for path in paths:
        label = PurePath(path).as_posix()
        is_dir = Path(path).is_dir()
        for item in iter_sources(Path(path), limits):
            inner = item.path if isinstance(item, SourceFile) else item.file
            rel = f"{label.rstrip('/')}/{inner}" if is_dir else label
            yield item.renamed(rel) if isinstance(item, SourceFile) else Skipped(rel, item.reason)


def scan_sources(
    sources: Iterable[Item],
    *,
    scanners: Sequence[str] | None = None,
    limits: ScanLimits | None = None,
    options: ScanOptions | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Run ``scanners`` over already-opened ``sources`` (files, or skips to report)."""
    limits = limits or ScanLimits()
    chosen = build(scanners, limits, options or ScanOptions())
    report = ScanReport(scanners=[scanner.name for scanner in chosen])
    for item in sources:
        if isinstance(item, Skipped):
            report.errors.append(item)
            continue
        report.files_scanned += 1
        report.bytes_scanned += item.size
        if report.files_scanned > limits.max_files:
            raise ScanError(f"more than {limits.max_files} files to scan")
        if report.bytes_scanned > limits.max_total_bytes:
            raise ScanError(f"more than {limits.max_total_bytes} bytes to scan")
        for scanner in chosen:
            report.findings.extend(scanner.scan(item))
        if progress is not None:
            progress(item.size)
    for scanner in chosen:
        report.errors.extend(getattr(scanner, "notes", ()))
    report.findings.sort(key=lambda f: (f.file, f.line, f.column, f.scanner, f.rule_id))
    return report
