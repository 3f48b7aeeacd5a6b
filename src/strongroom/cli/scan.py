"""``strongroom scan secrets|deps|patterns PATH...``: one pre-flight scanner, offline.

The scanners are imported when a scan runs, so other commands do not pay for compiling the
rules.

Exit status: 0 when nothing blocking was found, 1 when a blocking finding remains (after
the baseline), 2 when the scan could not run (a missing path, an unsafe archive).
"""

from __future__ import annotations

import json as jsonlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from strongroom.cli.client import CliError
from strongroom.cli.output import console, emit_json, errors
from strongroom.errors import ScanError

if TYPE_CHECKING:
    from strongroom.governance.scanners import ScanOptions, ScanReport

app = typer.Typer(help="Pre-flight scans of an app's source (offline, no server).")

_PROGRESS_FROM_BYTES = 32 * 1024 * 1024


class Format(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


PathsArg = Annotated[
    list[Path] | None,
    typer.Argument(help="Folders, files or zip/tar archives to scan.", show_default=False),
]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
BaselineOption = Annotated[
    Path | None,
    typer.Option("--baseline", help="Drop findings whose fingerprints this file lists."),
]
WriteBaseline = Annotated[
    Path | None,
    typer.Option("--write-baseline", help="Record every finding here, then exit 0."),
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the JSON/SARIF here, not stdout.")
]


@app.command("secrets")
def secrets(
    paths: PathsArg = None,
    staged: Annotated[
        bool, typer.Option("--staged", help="Scan the files staged in the git index.")
    ] = False,
    fmt: FormatOption = Format.table,
    json: JsonFlag = False,
    baseline: BaselineOption = None,
    write_baseline: WriteBaseline = None,
    output: OutputOption = None,
) -> None:
    """Find credentials: cloud, VCS, payment, chat, e-mail and AI keys, private keys..."""
    from strongroom.governance.scanners.options import ScanOptions

    _run("secrets", paths, staged, fmt, json, baseline, write_baseline, output, ScanOptions())


@app.command("deps")
def deps(
    paths: PathsArg = None,
    fmt: FormatOption = Format.table,
    json: JsonFlag = False,
    baseline: BaselineOption = None,
    write_baseline: WriteBaseline = None,
    output: OutputOption = None,
    advisories: Annotated[
        Path | None, typer.Option("--advisories", help="The advisory store to use.")
    ] = None,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", envvar="STRONGROOM_DATA_DIR", help="Data directory.")
    ] = Path(".strongroom"),
) -> None:
    """Find vulnerable (OSV) and banned packages in manifests and lockfiles."""
    from strongroom.governance.scanners.options import ADVISORY_DB_NAME, ScanOptions

    options = ScanOptions(advisory_db=advisories or data_dir / ADVISORY_DB_NAME)
    _run("deps", paths, False, fmt, json, baseline, write_baseline, output, options)


@app.command("patterns")
def patterns(
    paths: PathsArg = None,
    fmt: FormatOption = Format.table,
    json: JsonFlag = False,
    baseline: BaselineOption = None,
    write_baseline: WriteBaseline = None,
    output: OutputOption = None,
    sensitive_host: Annotated[
        list[str] | None,
        typer.Option("--sensitive-host", help="Add a host apps must not call directly."),
    ] = None,
) -> None:
    """Find insecure patterns: tokens in web storage, http://, TLS off, eval, CORS *..."""
    from strongroom.governance.scanners.options import ScanOptions

    options = ScanOptions()
    if sensitive_host:
        options = ScanOptions(sensitive_hosts=(*options.sensitive_hosts, *sensitive_host))
    _run("patterns", paths, False, fmt, json, baseline, write_baseline, output, options)


def _run(
    scanner: str,
    paths: list[Path] | None,
    staged: bool,
    fmt: Format,
    json: bool,
    baseline: Path | None,
    write_baseline: Path | None,
    output: Path | None,
    options: ScanOptions,
) -> None:
    from strongroom.governance.scanners import baseline as baselines
    from strongroom.governance.scanners import scan_paths, scan_sources
    from strongroom.governance.scanners.limits import ScanLimits
    from strongroom.governance.scanners.staged import staged_sources

    if json:
        fmt = Format.json
    if staged == bool(paths):
        raise CliError("give PATH... or --staged (one of them)", code=2)
    limits = ScanLimits()
    try:
        known = baselines.load(baseline) if baseline else frozenset()
        with _progress(paths or [], fmt is Format.table) as advance:
            if staged:
                report = scan_sources(
                    staged_sources(Path.cwd(), limits),
                    scanners=[scanner],
                    limits=limits,
                    options=options,
                )
            else:
                report = scan_paths(
                    paths or [],
                    scanners=[scanner],
                    limits=limits,
                    options=options,
                    progress=advance,
                )
    except ScanError as exc:
        raise CliError(exc.detail, code=2) from None
    suppressed = baselines.apply(report, known)
    if write_baseline is not None:
        baselines.write(report, write_baseline)
        errors.print(f"Wrote {len(report.findings)} fingerprint(s) to {write_baseline}")
        return
    _emit(report, fmt, output, suppressed)
    if report.blocking:
        raise typer.Exit(1)


def _emit(report: ScanReport, fmt: Format, output: Path | None, suppressed: int) -> None:
    from strongroom.governance.scanners.sarif import to_sarif

    if fmt is Format.table:
        _table(report, suppressed)
        return
    data = (
        to_sarif(report) if fmt is Format.sarif else {**report.to_dict(), "suppressed": suppressed}
    )
    if output is None:
        emit_json(data)
    else:
        output.write_text(jsonlib.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _table(report: ScanReport, suppressed: int) -> None:
    if report.findings:
        table = Table(title=f"{', '.join(report.scanners)} findings", title_justify="left")
        for column in ("severity", "rule", "location", "message", "blocking"):
            table.add_column(column, overflow="fold")
        for finding in report.findings:
            colour = {"critical": "red", "high": "red", "medium": "yellow"}.get(
                finding.severity, "cyan"
            )
            table.add_row(
                f"[{colour}]{finding.severity}[/]",
                escape(finding.rule_id),
                escape(f"{finding.file}:{finding.line}:{finding.column}"),
                escape(finding.message),
                "yes" if finding.blocking else "no",
            )
        console.print(table)
    skipped = [e for e in report.errors if e.reason not in ("binary",)]
    for entry in skipped[:20]:
        errors.print(f"[yellow]skipped[/] {escape(entry.file)}: {escape(entry.reason)}")
    if len(skipped) > 20:
        errors.print(f"... and {len(skipped) - 20} more skipped")
    console.print(
        f"{report.files_scanned} file(s), {report.bytes_scanned} bytes scanned; "
        f"{len(report.findings)} finding(s), {len(report.blocking)} blocking"
        + (f", {suppressed} suppressed by the baseline" if suppressed else ""),
        highlight=False,
    )


@contextmanager
def _progress(paths: list[Path], enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not enabled or not errors.is_terminal:
        yield None
        return
    total = sum(_tree_size(path) for path in paths)
    if total < _PROGRESS_FROM_BYTES:
        yield None
        return
    with Progress(
        TextColumn("scanning"),
        BarColumn(),
        TransferSpeedColumn(),
        console=errors,
        transient=True,
    ) as progress:
        task = progress.add_task("scan", total=total)
        yield lambda size: progress.advance(task, size)


def _tree_size(path: Path) -> int:
    if not path.is_dir():
        return path.stat().st_size if path.is_file() else 0
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total
