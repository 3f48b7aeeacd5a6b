"""``strongroom operator``: init, unseal, seal, rotate."""

from __future__ import annotations

import sys
from typing import Annotated
from urllib.parse import quote

import typer
from rich.table import Table

from strongroom.cli.client import DEFAULT, AddrOption, Client, CliError, JsonOption, TokenOption
from strongroom.cli.output import console, emit_json, errors

app = typer.Typer(help="Initialise, unseal, seal and rotate keys.", no_args_is_help=True)


@app.command()
def init(
    shares: Annotated[int, typer.Option("--shares", min=1, max=32, help="Key shares to make.")] = 5,
    threshold: Annotated[
        int, typer.Option("--threshold", min=1, max=32, help="Shares needed.")
    ] = 3,
    addr: AddrOption = DEFAULT,
    json: JsonOption = False,
) -> None:
    """Create the root key, split it into shares, and print them and a root token ONCE."""
    if threshold > shares:
        raise CliError("--threshold cannot exceed --shares")
    with Client(addr) as client:
        result = client.post("/v1/sys/init", {"shares": shares, "threshold": threshold})
    if json:
        emit_json(result)
        return
    for i, share in enumerate(result["shares"], start=1):
        console.print(f"Unseal key share {i}: {share}", highlight=False, soft_wrap=True)
    console.print(f"\nInitial root token: {result['root_token']}", highlight=False, soft_wrap=True)
    console.print(
        f"\nThe server is sealed. {result['threshold']} of {len(result['shares'])} shares"
        " unseal it."
        "\nGive each share to a different person and store them apart: they are not shown again."
        "\nUse the root token to mint scoped tokens, then keep it offline.",
        highlight=False,
    )


def _status_table(status: dict[str, object]) -> Table:
    table = Table(show_header=False, box=None)
    for key in ("initialized", "sealed", "threshold", "shares", "progress", "version"):
        table.add_row(key.capitalize(), str(status.get(key)))
    return table


@app.command()
def unseal(
    share_stdin: Annotated[
        bool, typer.Option("--share-stdin", help="Read the share from standard input.")
    ] = False,
    reset: Annotated[bool, typer.Option("--reset", help="Discard shares given so far.")] = False,
    addr: AddrOption = DEFAULT,
    json: JsonOption = False,
) -> None:
    """Give one key share. Repeat with different shares until the threshold is reached."""
    if reset:
        body: dict[str, object] = {"reset": True}
    else:
        if share_stdin:
            share = sys.stdin.readline().strip()
        elif sys.stdin.isatty():
            share = typer.prompt("Unseal key share", hide_input=True).strip()
        else:
            raise CliError("no terminal to prompt on", "pass the share with --share-stdin")
        if not share:
            raise CliError("no key share given")
        body = {"share": share}
    with Client(addr) as client:
        status = client.post("/v1/sys/unseal", body)
    if json:
        emit_json(status)
        return
    console.print(_status_table(status))
    if status["sealed"]:
        errors.print(f"Unseal progress: {status['progress']} of {status['threshold']}")
    else:
        console.print("[green]Unsealed.[/]")


@app.command()
def seal(addr: AddrOption = DEFAULT, token: TokenOption = None, json: JsonOption = False) -> None:
    """Seal the server: every key leaves memory; it answers 503 until unsealed."""
    with Client(addr, token) as client:
        status = client.post("/v1/sys/seal")
    if json:
        emit_json(status)
    else:
        console.print("Sealed.")


def rotate_path(purpose: str) -> str:
    """The rotate endpoint of ``purpose``, quoted as one path segment.

    Slashes, ``?`` and ``#`` are escaped, and so are the dot segments ``.`` and ``..``
    (which clients would otherwise resolve), so no purpose can reach another endpoint.
    """
    segment = quote(purpose, safe="")
    if segment in {".", ".."}:
        segment = segment.replace(".", "%2E")
    return f"/v1/sys/keys/{segment}/rotate"


@app.command()
def rotate(
    purpose: Annotated[
        str,
        typer.Argument(
            help="barrier | token-signing | audit-hmac | audit-signing | tokenize"
            " | manifest-signing | oauth-hmac | escrow | field-app-keys"
        ),
    ],
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Add a new version of a key; older versions keep decrypting and verifying."""
    if not purpose.strip():
        raise CliError("give a key purpose", "list them: strongroom operator keys")
    with Client(addr, token) as client:
        key = client.post(rotate_path(purpose))
    if json:
        emit_json(key)
    else:
        console.print(f"Rotated {key['purpose']}: version {key['version']} is now current.")


@app.command()
def keys(addr: AddrOption = DEFAULT, token: TokenOption = None, json: JsonOption = False) -> None:
    """List key versions (metadata only)."""
    with Client(addr, token) as client:
        result = client.get("/v1/sys/keys")
    if json:
        emit_json(result)
        return
    table = Table("Purpose", "Version", "Algorithm", "Created", "Current")
    for key in result["keys"]:
        table.add_row(
            key["purpose"],
            str(key["version"]),
            key["algorithm"],
            key["created"],
            "yes" if key["current"] else "",
        )
    console.print(table)


def status_command(addr: AddrOption = DEFAULT, json: JsonOption = False) -> None:
    """Show whether the server is initialised and sealed, and unseal progress."""
    with Client(addr) as client:
        status = client.get("/v1/sys/seal-status")
    if json:
        emit_json(status)
    else:
        console.print(_status_table(status))
