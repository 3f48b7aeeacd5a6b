"""``strongroom run``: start a command with an app's secrets in its environment.

The secrets are fetched with a short-lived token minted for just those secrets (when the
caller's token may mint; otherwise the caller's token must itself be a runtime token
holding ``secrets:read:<app>/<name>``), placed in the child's environment, and the
command replaces this process, so its exit status is the command's own. Values are never
written to disk or the terminal; the caller's token is not passed on.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any
from urllib.parse import quote

import typer

from strongroom.cli.client import DEFAULT, AddrOption, Client, CliError, TokenOption

_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RUN_TOKEN_TTL = 60


def env_name(secret: str) -> str:
    """The default variable for a secret: upper case, ``-`` and ``.`` as ``_``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", secret).upper()


def parse_maps(maps: list[str]) -> dict[str, str]:
    """``ENV=name`` pairs as {ENV: name}; `CliError` if one is malformed."""
    out: dict[str, str] = {}
    for item in maps:
        var, sep, name = item.partition("=")
        if not sep or not _ENV.fullmatch(var) or not name:
            raise CliError("--map is ENV_VAR=secret-name", "e.g. --map API_KEY=api-key")
        out[var] = name
    return out


def _runtime_token(client: Client, app: str, names: list[str]) -> str | None:
    """A token for exactly these secrets, or None if the caller may not mint one."""
    scopes = [f"secrets:read:{app}/{n}" for n in names]
    body = {"subject": f"run:{app}", "scopes": scopes, "ttl": RUN_TOKEN_TTL}
    response = client.request("POST", "/v1/auth/tokens", json=body, ok=(200, 400, 403))
    if response.status_code != 200:
        return None
    token: str = response.json()["access_token"]
    return token


def fetch(addr: str, token: str | None, app: str, mapping: dict[str, str]) -> dict[str, str]:
    """{ENV: value} for the mapping (every readable secret of the app if it is empty)."""
    base = f"/v1/apps/{quote(app, safe='')}/secrets"
    with Client(addr, token) as client:
        if not mapping:
            listed: list[dict[str, Any]] = client.get(base)["secrets"]
            mapping = {env_name(s["name"]): s["name"] for s in listed if not s["disabled"]}
            if not mapping:
                raise CliError(f"app {app} has no secrets you may read")
        runtime = _runtime_token(client, app, sorted(set(mapping.values())))
    values = {}
    with Client(addr, runtime or token) as reader:
        for var, name in mapping.items():
            found = reader.get(f"{base}/{quote(name, safe='')}/value")
            values[var] = str(found["value"])
    return values


def run(
    command: Annotated[list[str], typer.Argument(help="The command and its arguments (after --).")],
    app: Annotated[str, typer.Option("--app", help="Whose secrets to inject.")],
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="ENV_VAR=secret-name (repeat); default: every secret."),
    ] = None,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
) -> None:
    """Run COMMAND with the app's secrets as environment variables; exit with its status."""
    values = fetch(addr, token, app, parse_maps(map_ or []))
    env = {k: v for k, v in os.environ.items() if k != "STRONGROOM_TOKEN"}
    env.update(values)
    try:
        os.execvpe(command[0], command, env)  # noqa: S606 - the caller's own command
    except OSError as exc:
        raise CliError(f"cannot run {command[0]}: {exc.strerror}", code=127) from None
