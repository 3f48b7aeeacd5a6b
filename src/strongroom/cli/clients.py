"""``strongroom clients``: register, list and delete OAuth clients (micro apps)."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from strongroom.cli.client import DEFAULT, AddrOption, Client, CliError, JsonOption, TokenOption
from strongroom.cli.output import console, emit_json
from strongroom.clock import rfc3339

app = typer.Typer(help="Register the OAuth clients (micro apps) that exchange tokens.")

METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")


def _jwks(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        return jsonlib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the JWKS file ({type(exc).__name__})") from None


@app.command()
def create(
    client_id: Annotated[str, typer.Argument(help="The app's name, used as client_id.")],
    auth: Annotated[
        str,
        typer.Option("--auth", help="client_secret_basic | client_secret_post | private_key_jwt"),
    ] = "client_secret_basic",
    jwks_file: Annotated[
        Path | None,
        typer.Option("--jwks-file", help="The client's public JWK Set (private_key_jwt)."),
    ] = None,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Register a client; a generated secret is printed once, never again."""
    if auth not in METHODS:
        raise CliError("--auth must be one of " + ", ".join(METHODS))
    body = {"client_id": client_id, "auth_method": auth, "jwks": _jwks(jwks_file)}
    with Client(addr, token) as client:
        result = client.post("/v1/oauth/clients", body, ok=(201,))
    if json:
        emit_json(result)
        return
    console.print(f"client {result['client_id']} ({result['auth_method']})", highlight=False)
    if result.get("client_secret"):
        console.print(result["client_secret"], highlight=False, soft_wrap=True)
        console.print(
            "the secret is shown only now: store it in the app's secret store", style="dim"
        )


@app.command("list")
def list_clients(
    addr: AddrOption = DEFAULT, token: TokenOption = None, json: JsonOption = False
) -> None:
    """Every registered client (never a secret)."""
    with Client(addr, token) as client:
        clients = client.get("/v1/oauth/clients")
    if json:
        emit_json(clients)
        return
    table = Table("Client", "Authentication", "Created")
    for c in clients:
        table.add_row(c["client_id"], c["auth_method"], rfc3339(c["created_us"]))
    console.print(table)


@app.command()
def delete(
    client_id: Annotated[str, typer.Argument(help="The client to remove.")],
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Remove a client: it can no longer authenticate."""
    with Client(addr, token) as client:
        client.request("DELETE", f"/v1/oauth/clients/{client_id}", ok=(204,))
    if json:
        emit_json({"deleted": client_id})
        return
    console.print(f"deleted client {client_id}", highlight=False)
