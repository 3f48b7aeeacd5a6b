"""``strongroom secrets``: store, rotate and revoke an app's secrets; never show them.

Values come only from standard input or a file (``--file``), never from the command line,
where other users of the machine could see them. There is no command that prints a value:
people write secrets, runtime identities read them (``strongroom run``, the SDK).
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from strongroom.cli.client import DEFAULT, AddrOption, Client, CliError, JsonOption, TokenOption
from strongroom.cli.output import console, emit_json

app = typer.Typer(help="Managed secrets: write-only for people.", no_args_is_help=True)

AppArg = Annotated[str, typer.Argument(help="The app the secret belongs to.")]
NameArg = Annotated[str, typer.Argument(help="The secret's name.")]
FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file", help="Read the value from this file (else standard input).", dir_okay=False
    ),
]
CasOption = Annotated[
    int | None,
    typer.Option("--cas", min=0, help="Write only if the current version is N (0: new)."),
]
MAX_INPUT = 1_048_576


def _path(app_name: str, name: str | None = None) -> str:
    base = f"/v1/apps/{quote(app_name, safe='')}/secrets"
    return base if name is None else f"{base}/{quote(name, safe='')}"


def read_value(file: Path | None) -> str:
    """The value from ``file`` or standard input (hidden prompt on a terminal).

    One trailing newline is dropped, so ``echo value | strongroom secrets put`` stores
    ``value``. `CliError` if it is empty, too large or not UTF-8.
    """
    if file is not None:
        try:
            raw = file.read_bytes()[: MAX_INPUT + 1]
        except OSError as exc:
            raise CliError(f"cannot read {file}: {exc.strerror}") from None
    elif sys.stdin.isatty():
        raw = getpass.getpass("Secret value (hidden): ").encode()
    else:
        raw = sys.stdin.buffer.read(MAX_INPUT + 1)
    if len(raw) > MAX_INPUT:
        raise CliError("the value is larger than 1 MiB")
    raw = raw.removesuffix(b"\n").removesuffix(b"\r")
    if not raw:
        raise CliError("the value is empty", "pipe it on standard input or give --file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError("the value is not UTF-8 text", "base64-encode binary values") from None


def _tags(tags: list[str] | None) -> dict[str, str] | None:
    if not tags:
        return None
    out = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep:
            raise CliError("a tag is KEY=VALUE", "e.g. --tag env=prod")
        out[key] = value
    return out


def _show(meta: dict[str, Any], json: bool) -> None:
    if json:
        emit_json(meta)
        return
    state = "deleted" if meta["deleted"] else "REVOKED" if meta["disabled"] else "active"
    console.print(f"{meta['ref']}  version {meta['current_version']}  {state}", highlight=False)
    for key in ("owner", "description", "data_class", "rotation_period_s", "expires", "due"):
        if meta.get(key) not in (None, ""):
            console.print(f"  {key}: {meta[key]}", highlight=False, soft_wrap=True)
    if meta["tags"]:
        tags = ", ".join(f"{k}={v}" for k, v in sorted(meta["tags"].items()))
        console.print(f"  tags: {tags}", highlight=False)
    versions = ", ".join(
        f"{v['version']}{' (destroyed)' if v['destroyed'] else ''}" for v in meta["versions"]
    )
    console.print(f"  versions: {versions}", highlight=False)


def _table(found: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for column in ("secret", "version", "state", "owner", "data class", "due"):
        table.add_column(column)
    for m in found:
        state = "deleted" if m["deleted"] else "REVOKED" if m["disabled"] else "active"
        table.add_row(
            m["id"], str(m["current_version"]), state, m["owner"], m["data_class"], m["due"] or ""
        )
    console.print(table)


@app.command()
def put(
    app_name: AppArg,
    name: NameArg,
    file: FileOption = None,
    cas: CasOption = None,
    owner: Annotated[str | None, typer.Option(help="Who answers for it.")] = None,
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="KEY=VALUE (repeat).")] = None,
    data_class: Annotated[
        str | None, typer.Option(help="public, internal, confidential or restricted.")
    ] = None,
    rotation_days: Annotated[
        int | None, typer.Option(min=1, help="Remind when it is older than this.")
    ] = None,
    expires: Annotated[str | None, typer.Option(help="RFC 3339 expiry time.")] = None,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Store a new version of a secret (value from standard input or --file)."""
    body: dict[str, Any] = {"value": read_value(file)}
    extra = {
        "cas": cas,
        "owner": owner,
        "description": description,
        "tags": _tags(tag),
        "data_class": data_class,
        "rotation_period_s": None if rotation_days is None else rotation_days * 86_400,
        "expires": expires,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    with Client(addr, token) as client:
        meta = client.request("PUT", _path(app_name, name), json=body).json()
    _show(meta, json)


@app.command("list")
def list_command(
    app_name: AppArg,
    deleted: Annotated[bool, typer.Option("--deleted", help="Include deleted ones.")] = False,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """The app's secrets you may see: names and metadata, never values."""
    with Client(addr, token) as client:
        found = client.get(_path(app_name), params={"include_deleted": deleted})["secrets"]
    if json:
        emit_json(found)
    else:
        _table(found, f"Secrets of {app_name}")


@app.command()
def meta(
    app_name: AppArg,
    name: NameArg,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """A secret's metadata and versions."""
    with Client(addr, token) as client:
        _show(client.get(_path(app_name, name)), json)


@app.command()
def rotate(
    app_name: AppArg,
    name: NameArg,
    generate: Annotated[
        str | None, typer.Option(help="Generate the value: 'password' or 'key'.")
    ] = None,
    length: Annotated[int, typer.Option(help="Characters (password) or bytes (key).")] = 32,
    symbols: Annotated[bool, typer.Option(help="Passwords include symbols.")] = True,
    file: FileOption = None,
    cas: CasOption = None,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """A new version: generated (--generate), or read from standard input / --file."""
    body: dict[str, Any] = {}
    if generate is not None:
        if generate not in ("password", "key"):
            raise CliError("--generate is 'password' or 'key'")
        body["generate"] = {"kind": generate, "length": length, "symbols": symbols}
    else:
        body["value"] = read_value(file)
    if cas is not None:
        body["cas"] = cas
    with Client(addr, token) as client:
        _show(client.post(_path(app_name, name) + "/rotate", body), json)


@app.command()
def revoke(
    app_name: AppArg,
    name: NameArg,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Disable a secret for every reader at once (a new version enables it again)."""
    with Client(addr, token) as client:
        _show(client.post(_path(app_name, name) + "/revoke"), json)


@app.command()
def destroy(
    app_name: AppArg,
    name: NameArg,
    version: Annotated[int, typer.Option("--version", min=1, help="The version to erase.")],
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Erase one version's value for good."""
    with Client(addr, token) as client:
        _show(client.post(_path(app_name, name) + "/destroy", {"version": version}), json)


@app.command()
def delete(
    app_name: AppArg,
    name: NameArg,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Soft-delete a secret (undelete brings it back)."""
    with Client(addr, token) as client:
        _show(client.request("DELETE", _path(app_name, name)).json(), json)


@app.command()
def undelete(
    app_name: AppArg,
    name: NameArg,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Bring a soft-deleted secret back."""
    with Client(addr, token) as client:
        _show(client.post(_path(app_name, name) + "/undelete"), json)


@app.command()
def due(
    app_name: Annotated[str | None, typer.Option("--app", help="Only this app.")] = None,
    within_days: Annotated[int, typer.Option(min=0, help="Also what falls due this soon.")] = 0,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Secrets past (or near) their rotation period or expiry."""
    params: dict[str, Any] = {"within": within_days * 86_400}
    if app_name is not None:
        params["app"] = app_name
    with Client(addr, token) as client:
        found = client.get("/v1/secrets/due", params=params)["secrets"]
    if json:
        emit_json(found)
    else:
        _table(found, "Secrets due for rotation")


@app.command("disable-all")
def disable_all(
    app_name: AppArg,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: every reader loses access.")] = False,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Emergency: revoke every secret of the app in one call."""
    if not yes:
        raise CliError("this revokes every secret of the app", "add --yes to confirm")
    with Client(addr, token) as client:
        out = client.post(f"/v1/apps/{quote(app_name, safe='')}/disable-all")
    if json:
        emit_json(out)
    else:
        console.print(f"revoked {out['disabled']} secret(s) of {out['app']}", highlight=False)
