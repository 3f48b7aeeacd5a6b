"""``strongroom token``: mint access tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from strongroom.cli.client import DEFAULT, AddrOption, Client, JsonOption, TokenOption
from strongroom.cli.output import console, emit_json

app = typer.Typer(help="Mint short-lived access tokens.", no_args_is_help=True)


@app.command()
def create(
    subject: Annotated[str, typer.Option("--subject", help="Who the token is for.")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="A scope to grant (repeat).")
    ] = None,
    ttl: Annotated[int | None, typer.Option("--ttl", min=1, help="Seconds to live.")] = None,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Mint an access token with the given scopes (only scopes your own token holds)."""
    body: dict[str, object] = {"subject": subject, "scopes": scope or []}
    if ttl is not None:
        body["ttl"] = ttl
    with Client(addr, token) as client:
        result = client.post("/v1/auth/tokens", body)
    if json:
        emit_json({"access_token": result["access_token"], "expires_in": result["expires_in"]})
        return
    console.print(result["access_token"], highlight=False, soft_wrap=True)
    console.print(
        f"expires in {result['expires_in']}s; scopes: {result['scope'] or '(none)'}",
        style="dim",
        highlight=False,
    )
