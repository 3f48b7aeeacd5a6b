"""``strongroom review``: list submissions and approve or deny them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from strongroom.cli.client import DEFAULT, AddrOption, Client, JsonOption, TokenOption
from strongroom.cli.output import console, emit_json

app = typer.Typer(help="Review app submissions (never your own).", no_args_is_help=True)
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")]


@app.command("list")
def list_reviews(
    status: Annotated[str, typer.Option("--status", help="pending, approved, denied...")] = (
        "pending"
    ),
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json_out: JsonOption = False,
) -> None:
    """List submissions in a status (pending by default), newest first."""
    with Client(addr, token) as client:
        body = client.get("/v1/reviews", params={"status": status})
    if json_out:
        emit_json(body["submissions"])
        return
    table = Table("Submission", "App", "Submitter", "Scopes", "Needs review because")
    for s in body["submissions"]:
        table.add_row(
            s["id"],
            escape(s["app"]),
            escape(s["submitter"]),
            escape(", ".join(s["scopes"])),
            escape("; ".join(s["decision"].get("review", []))),
        )
    console.print(table)


def _decide(verb: str, ident: str, reason: str, addr: str, token: str | None, json: bool) -> None:
    with Client(addr, token) as client:
        body = client.post(f"/v1/reviews/{ident}/{verb}", {"reason": reason})
    if json:
        emit_json(body)
        return
    console.print(f"{body['id']} ({escape(body['app'])}): [bold]{body['status']}[/]")


@app.command()
def approve(
    ident: Annotated[str, typer.Argument(help="The submission id.")],
    reason: ReasonOption,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json_out: JsonOption = False,
) -> None:
    """Approve a pending submission: Strongroom signs its manifest."""
    _decide("approve", ident, reason, addr, token, json_out)


@app.command()
def deny(
    ident: Annotated[str, typer.Argument(help="The submission id.")],
    reason: ReasonOption,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json_out: JsonOption = False,
) -> None:
    """Deny a pending submission."""
    _decide("deny", ident, reason, addr, token, json_out)
