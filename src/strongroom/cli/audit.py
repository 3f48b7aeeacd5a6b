"""``strongroom audit``: read the audit trail."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from strongroom.cli.client import DEFAULT, AddrOption, Client, JsonOption, TokenOption
from strongroom.cli.output import console, emit_json

app = typer.Typer(help="Read the audit trail.", no_args_is_help=True)


def _table(events: list[dict[str, Any]]) -> Table:
    table = Table("#", "Time", "Actor", "Action", "Resource", "Outcome", "Request")
    for e in events:
        colour = {"success": "green", "denied": "yellow"}.get(e["outcome"], "red")
        table.add_row(
            str(e["index"]),
            e["time"],
            e["actor"],
            e["action"],
            e["resource"],
            f"[{colour}]{e['outcome']}[/]",
            e["request_id"],
        )
    return table


@app.command()
def tail(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, max=1000, help="How many.")] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Exact, or prefix*.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="RFC 3339 time.")] = None,
    interval: Annotated[float, typer.Option("--interval", min=0.2)] = 2.0,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Print the newest events (and, with --follow, new ones as they come)."""
    filters = {k: v for k, v in {"actor": actor, "action": action, "since": since}.items() if v}
    with Client(addr, token) as client:
        page = client.get("/v1/audit/events", params={"order": "desc", "limit": n, **filters})
        events = list(reversed(page["events"]))
        _show(events, json)
        last = events[-1]["index"] if events else -1
        while follow:
            time.sleep(interval)
            page = client.get("/v1/audit/events", params={"after": last, "limit": 1000, **filters})
            if page["events"]:
                _show(page["events"], json)
                last = page["events"][-1]["index"]


def _show(events: list[dict[str, Any]], json: bool) -> None:
    if json:
        emit_json(events)
    elif events:
        console.print(_table(events))


@app.command("hash")
def hash_value(
    value: Annotated[
        str, typer.Argument(help="The value to look for; '-' reads it from standard input.")
    ],
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Print the HMACs a sensitive value (an e-mail, a record id) has in the trail."""
    if value == "-":
        value = sys.stdin.readline().rstrip("\n")
    with Client(addr, token) as client:
        result = client.post("/v1/audit/hash", {"value": value})
    if json:
        emit_json(result)
        return
    for digest in result["hmacs"]:
        typer.echo(digest)


@app.command("alerts")
def list_alerts(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, max=1000, help="How many.")] = 20,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Show the newest alerts raised over the audit stream."""
    with Client(addr, token) as client:
        result = client.get("/v1/audit/alerts", params={"limit": n})
    if json:
        emit_json(result["alerts"])
        return
    table = Table("Time", "Severity", "Rule", "Summary", "Actor", "Request")
    for a in result["alerts"]:
        table.add_row(
            a["time"], a["severity"], a["rule"], a["summary"], a["actor"], a["request_id"]
        )
    console.print(table)
