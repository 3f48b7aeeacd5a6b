"""``strongroom advisories import|status``: the local OSV store the dependency scan reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from strongroom.cli.client import CliError, JsonOption
from strongroom.cli.output import console, emit_json
from strongroom.errors import ScanError

app = typer.Typer(help="The local OSV advisory store (offline dependency scans).")

DataDirOption = Annotated[
    Path,
    typer.Option("--data-dir", envvar="STRONGROOM_DATA_DIR", help="Where the store lives."),
]


@app.command("import")
def import_command(
    archive: Annotated[Path, typer.Argument(help="An OSV export zip, e.g. PyPI's all.zip.")],
    data_dir: DataDirOption = Path(".strongroom"),
    json: JsonOption = False,
) -> None:
    """Import an OSV export (one JSON record per advisory, zipped).

    The export's ecosystems replace the same ecosystems in the store; others stay.
    """
    from strongroom.governance.scanners.deps import import_export
    from strongroom.governance.scanners.options import ADVISORY_DB_NAME

    store = data_dir / ADVISORY_DB_NAME
    try:
        summary = import_export(archive, store)
    except ScanError as exc:
        raise CliError(exc.detail, code=2) from None
    if json:
        emit_json(
            {
                "store": str(store),
                "records": summary.records,
                "packages": summary.packages,
                "skipped": summary.skipped,
                "ecosystems": list(summary.ecosystems),
            }
        )
        return
    console.print(
        f"Imported {summary.records} advisories for {summary.packages} package(s) "
        f"({', '.join(summary.ecosystems)}, replacing their earlier advisories) into {store}; "
        f"{summary.skipped} record(s) "
        "skipped (withdrawn or other ecosystems).",
        highlight=False,
    )


@app.command("status")
def status_command(data_dir: DataDirOption = Path(".strongroom"), json: JsonOption = False) -> None:
    """Say whether a store exists and how many package advisories it holds."""
    from strongroom.governance.scanners.deps import AdvisoryStore
    from strongroom.governance.scanners.options import ADVISORY_DB_NAME

    store_path = data_dir / ADVISORY_DB_NAME
    try:
        store = AdvisoryStore(store_path)
    except ScanError as exc:
        raise CliError(exc.detail, code=2) from None
    try:
        count = store.count()
    finally:
        store.close()
    if json:
        emit_json({"store": str(store_path), "entries": count})
    else:
        console.print(f"{store_path}: {count} package advisory entries", highlight=False)
