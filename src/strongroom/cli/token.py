"""``strongroom token``: mint access tokens, revoke them, trip kill switches."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from strongroom.cli.client import DEFAULT, AddrOption, Client, CliError, JsonOption, TokenOption
from strongroom.cli.output import console, emit_json
from strongroom.clock import rfc3339

app = typer.Typer(help="Mint, revoke and kill short-lived access tokens.", no_args_is_help=True)


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


@app.command()
def revoke(
    jti: Annotated[
        list[str] | None, typer.Option("--jti", help="A token id (jti) to revoke (repeat).")
    ] = None,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token to revoke from stdin.")
    ] = False,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Revoke tokens (and everything exchanged from them) by jti, or a token from stdin."""
    if bool(jti) == token_stdin:
        raise CliError("give --jti JTI (repeatable) or --token-stdin")
    with Client(addr, token) as client:
        if token_stdin:
            value = sys.stdin.readline().strip()
            if not value:
                raise CliError("no token on stdin")
            client.request("POST", "/v1/oauth/revoke", form={"token": value})
            revoked: dict[str, Any] = {"revoked": "token from stdin"}
        else:
            client.request("POST", "/v1/auth/revocations", json={"token_ids": jti}, ok=(204,))
            revoked = {"revoked": jti}
    if json:
        emit_json(revoked)
        return
    console.print("revoked; tokens exchanged from it die too", highlight=False)


def _kill(kind: str, name: str, addr: str, token: str | None, json: bool) -> None:
    with Client(addr, token) as client:
        result = client.post("/v1/auth/kill-switches", {"kind": kind, "name": name})
    if json:
        emit_json(result)
        return
    console.print(
        f"every token of {kind} {name} issued until {rfc3339(result['epoch'] * 1_000_000)} is dead",
        highlight=False,
    )


@app.command("kill-user")
def kill_user(
    subject: Annotated[str, typer.Argument(help="The user (token subject).")],
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Kill switch: every token of this user issued until now stops working."""
    _kill("user", subject, addr, token, json)


@app.command("kill-app")
def kill_app(
    client_id: Annotated[str, typer.Argument(help="The app (OAuth client id).")],
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Kill switch: every token issued to this app until now stops working."""
    _kill("app", client_id, addr, token, json)
