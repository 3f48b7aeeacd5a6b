"""``strongroom audit export|verify|checkpoint|keys``: the tamper-evident trail.

`verify` runs offline: it needs the bundle and, ideally, the log's verifier key obtained
out of band (``strongroom audit keys`` once, kept somewhere the server cannot change).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

from strongroom.audit import bundle
from strongroom.cli.client import DEFAULT, AddrOption, Client, CliError, JsonOption, TokenOption
from strongroom.cli.output import console, emit_json, errors
from strongroom.errors import BundleError


def register(app: typer.Typer) -> None:
    """Add these commands to the ``audit`` command group."""
    app.command("export")(export)
    app.command("verify")(verify)
    app.command("checkpoint")(checkpoint)
    app.command("keys")(keys)


def export(
    out: Annotated[Path, typer.Option("--out", help="Bundle file to write.")],
    since: Annotated[int, typer.Option("--since", min=0, help="First event index.")] = 0,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Write a self-contained, verifiable bundle of the audit trail."""
    partial = out.with_name(out.name + ".partial")
    written = 0
    try:
        with (
            Client(addr, token, timeout=300) as client,
            client.stream("GET", "/v1/audit/export", params={"since": since}) as response,
            partial.open("wb") as handle,
            _progress(json) as progress,
        ):
            task = progress.add_task("exporting", total=None)
            for chunk in response.iter_bytes():
                handle.write(chunk)
                written += len(chunk)
                progress.update(task, completed=written)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out)
    if json:
        emit_json({"out": str(out), "bytes": written})
    else:
        console.print(f"Wrote {written} bytes to {out}", highlight=False)


def verify(
    bundle_file: Annotated[Path, typer.Argument(help="A bundle written by `audit export`.")],
    trusted_key: Annotated[
        Path | None,
        typer.Option("--trusted-key", help="File of verifier keys (one per line) you trust."),
    ] = None,
    previous_checkpoint: Annotated[
        Path | None,
        typer.Option("--previous-checkpoint", help="A signed checkpoint saved earlier."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Verify a bundle offline: every event, every checkpoint, and consistency."""
    keys = _read_keys(trusted_key) if trusted_key else None
    previous = _read_text(previous_checkpoint) if previous_checkpoint else None
    try:
        size = bundle_file.stat().st_size
        with bundle_file.open("rb") as handle, _progress(json) as progress:
            task = progress.add_task("verifying", total=size)
            report = bundle.verify(
                _lines(handle),
                keys,
                previous,
                progress=lambda _: progress.update(task, completed=handle.tell()),
            )
    except OSError as exc:
        raise CliError(f"cannot read {bundle_file}: {exc.strerror}") from None
    except BundleError as exc:
        if json:
            emit_json({"verified": False, "error": exc.detail, **exc.extra})
            raise typer.Exit(1) from None
        raise CliError(f"NOT VERIFIED: {exc.detail}") from None
    if json:
        emit_json(report.as_json())
        return
    console.print(
        f"[green]Verified[/] events {report.start}..{report.size - 1} of {report.origin}: "
        f"{len(report.checkpoints)} signed checkpoint(s), root "
        f"{report.as_json()['root_hash']}",
        highlight=False,
    )
    if report.previous_checkpoint is not None:
        console.print(
            f"Consistent with the previous checkpoint at size {report.previous_checkpoint}."
        )
    if report.keys_from_bundle:
        errors.print(
            "[yellow]Warning:[/] checked with the keys inside the bundle; pass --trusted-key"
            " to prove who signed it."
        )


def checkpoint(
    out: Annotated[Path | None, typer.Option("--out", help="Also save it to this file.")] = None,
    addr: AddrOption = DEFAULT,
) -> None:
    """Print the newest signed checkpoint (save it to check the next export against)."""
    with Client(addr) as client:
        text = client.request("GET", "/v1/audit/checkpoint").text
    if out is not None:
        out.write_text(text, encoding="utf-8")
    typer.echo(text, nl=False)


def keys(addr: AddrOption = DEFAULT, json: JsonOption = False) -> None:
    """Print the checkpoint verifier keys, one per line (save them as --trusted-key)."""
    with Client(addr) as client:
        result = client.get("/v1/audit/keys")
    if json:
        emit_json(result)
    else:
        for key in result["keys"]:
            typer.echo(key)


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    yield from handle


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {type(exc).__name__}") from None


def _read_keys(path: Path) -> list[str]:
    lines = [line.strip() for line in _read_text(path).splitlines()]
    found = [line for line in lines if line and not line.startswith("#")]
    if not found:
        raise CliError(f"{path} holds no verifier key")
    return found


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TransferSpeedColumn(),
        console=errors,
        transient=True,
        disable=quiet or not errors.is_terminal,
    )
