"""The ``strongroom`` command: errors explain themselves in a line or two, no traceback."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from strongroom import __version__
from strongroom.cli import (
    advisories,
    audit,
    audit_bundle,
    clients,
    escrow,
    fields,
    operator,
    review,
    run,
    scan,
    secrets,
    serve,
    token,
    tokens,
)
from strongroom.cli import app as app_cli
from strongroom.cli.client import CliError
from strongroom.cli.output import errors
from strongroom.errors import StrongroomError

app = typer.Typer(
    name="strongroom",
    help="Strongroom: secure storage for micro apps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("server")(serve.server)
app.command("dev")(serve.dev)
app.command("status")(operator.status_command)
app.add_typer(operator.app, name="operator")
app.add_typer(token.app, name="token")
app.add_typer(clients.app, name="clients", no_args_is_help=True)
audit_bundle.register(audit.app)
app.add_typer(audit.app, name="audit")
app.add_typer(secrets.app, name="secrets")
app.command("run")(run.run)
app.add_typer(tokens.app, name="tokens")
app.add_typer(scan.app, name="scan")
app.add_typer(advisories.app, name="advisories")
app.add_typer(app_cli.app, name="app")
app.add_typer(review.app, name="review")
app.add_typer(fields.app, name="fields")
app.add_typer(escrow.app, name="escrow")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point: run the app and turn known errors into short messages.

    Typer runs in standalone mode, so usage errors (a missing or unknown option, a value
    out of range) print the usual short usage message and exit 2, whichever click it
    bundles; our own errors reach this function and print in a line or two, exit 1.
    """
    try:
        app()
    except CliError as exc:
        errors.print(f"[red]Error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
        if exc.hint:
            errors.print(f"Hint: {escape(exc.hint)}", highlight=False, soft_wrap=True)
        sys.exit(exc.code)
    except StrongroomError as exc:
        errors.print(f"[red]Error:[/] {escape(exc.detail)}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
