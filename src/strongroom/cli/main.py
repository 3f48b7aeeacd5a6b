"""The ``strongroom`` command: errors explain themselves in a line or two, no traceback."""

from __future__ import annotations

import sys

import click
import typer

from strongroom import __version__
from strongroom.cli import audit, operator, serve, token
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
app.add_typer(audit.app, name="audit")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point: run the app and turn known errors into short messages."""
    try:
        app(standalone_mode=False)
    except CliError as exc:
        errors.print(f"[red]Error:[/] {exc.message}", highlight=False)
        if exc.hint:
            errors.print(f"Hint: {exc.hint}", highlight=False)
        sys.exit(exc.code)
    except StrongroomError as exc:
        errors.print(f"[red]Error:[/] {exc.detail}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
