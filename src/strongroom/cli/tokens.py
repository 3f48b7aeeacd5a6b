"""``strongroom tokens``: token policies, key rotation, tokenize, detokenize, erase, purge,
shred.

Values and tokens are read from stdin or a file (one per line, or a JSON array with
``--json-input``), never from the command line, so they stay out of shell history and
process listings.
"""

from __future__ import annotations

import json as jsonlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from strongroom.cli.client import DEFAULT, AddrOption, Client, CliError, JsonOption, TokenOption
from strongroom.cli.output import console, emit_json, errors

app = typer.Typer(help="The tokenization vault.", no_args_is_help=True)

AppOption = Annotated[str, typer.Option("--app", help="The app the policy belongs to.")]
PolicyOption = Annotated[str, typer.Option("--policy", help="The token policy.")]
FileOption = Annotated[
    Path | None,
    typer.Option("--file", help="Read from this file instead of stdin.", show_default=False),
]
JsonInput = Annotated[
    bool, typer.Option("--json-input", help="The input is a JSON array of strings.")
]


def _items(file: Path | None, json_input: bool, what: str) -> list[str]:
    try:
        text = file.read_text(encoding="utf-8") if file is not None else sys.stdin.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the {what} ({type(exc).__name__})") from None
    if json_input:
        try:
            items = jsonlib.loads(text)
        except ValueError:
            raise CliError(f"the {what} are not a JSON array") from None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise CliError(f"the {what} must be a JSON array of strings")
        return items
    items = [line for line in text.splitlines() if line]
    if not items:
        raise CliError(f"no {what} given", f"pipe the {what} in, one per line, or use --file")
    return items


def _base(app_name: str) -> str:
    return f"/v1/apps/{app_name}/tokens"


@app.command("policy-create")
def policy_create(
    name: Annotated[str, typer.Option("--name", help="Policy name (the field).")],
    app_name: AppOption,
    scheme: Annotated[str, typer.Option("--scheme", help="opaque, fpe or mask.")],
    fmt: Annotated[str, typer.Option("--format", help="digits, card, ssn, email, text or custom.")],
    region: Annotated[str, typer.Option("--region", help="Data-residency region.")] = "default",
    data_class: Annotated[str, typer.Option("--data-class")] = "confidential",
    alphabet: Annotated[str | None, typer.Option("--alphabet", help="For custom.")] = None,
    deterministic: Annotated[bool, typer.Option("--deterministic", help="Opaque joins.")] = False,
    cipher: Annotated[str, typer.Option("--cipher", help="ff1 or ff3-1.")] = "ff1",
    vaultless: Annotated[bool, typer.Option("--vaultless", help="FPE without a vault.")] = False,
    keep_last: Annotated[int, typer.Option("--keep-last", min=0, max=8)] = 0,
    retention: Annotated[int | None, typer.Option("--retention-seconds", min=60)] = None,
    view: Annotated[
        list[str] | None,
        typer.Option("--view", help="SCOPE=plain|masked|redacted (repeat)."),
    ] = None,
    default_view: Annotated[str, typer.Option("--default-view")] = "masked",
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Declare a token policy for one field of an app."""
    body: dict[str, Any] = {
        "name": name,
        "region": region,
        "scheme": scheme,
        "format": fmt,
        "data_class": data_class,
        "deterministic": deterministic,
        "cipher": cipher,
        "vaulted": not vaultless,
        "keep_last": keep_last,
        "default_view": default_view,
    }
    if alphabet is not None:
        body["alphabet"] = alphabet
    if retention is not None:
        body["retention_seconds"] = retention
    if view:
        pairs = [v.rpartition("=") for v in view]
        if any(not scope or not sep for scope, sep, _ in pairs):
            raise CliError("--view takes SCOPE=VIEW")
        body["views"] = {scope: shown for scope, _, shown in pairs}
    with Client(addr, token) as client:
        made = client.post(f"{_base(app_name)}/policies", body)
    if json:
        emit_json(made)
        return
    console.print(
        f"policy {made['app']}/{made['name']}: {made['scheme']} {made['format']} "
        f"in region {made['region']}",
        highlight=False,
    )


@app.command("policy-rotate")
def policy_rotate(
    app_name: AppOption,
    policy: PolicyOption,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Make a new version of a policy's key (new values are sealed under it; tokens stay)."""
    with Client(addr, token) as client:
        made = client.post(f"{_base(app_name)}/policies/{policy}/rotate")
    if json:
        emit_json(made)
        return
    console.print(
        f"policy {app_name}/{policy}: key version {made['key_version']}; values sealed "
        "before still open (run `strongroom tokens rewrap` to move them)",
        highlight=False,
    )


@app.command()
def rewrap(
    app_name: AppOption,
    policy: PolicyOption,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=100_000, help="Values per call.")
    ] = 1000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Re-seal a policy's stored values under its newest key version.

    Works in batches, each one call; stopping and running it again carries on where it
    stopped (it is idempotent). Values that cannot be opened are left and reported.
    """
    moved = unreadable = 0
    with (
        Client(addr, token) as client,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=errors,
            transient=True,
            disable=quiet or json or not errors.is_terminal,
        ) as progress,
    ):
        task = progress.add_task(f"rewrap {app_name}/{policy}", total=None)
        while True:
            done = client.post(f"{_base(app_name)}/policies/{policy}/rewrap", {"limit": batch})
            moved += done["rewrapped"]
            unreadable = done["unreadable"]
            progress.update(task, completed=moved, total=moved + done["remaining"])
            if done["remaining"] == 0 or done["rewrapped"] == 0:
                break
    result = {
        "key_version": done["key_version"],
        "rewrapped": moved,
        "unreadable": unreadable,
        "remaining": done["remaining"],
    }
    if json:
        emit_json(result)
    else:
        console.print(
            f"policy {app_name}/{policy}: {moved} value(s) moved to key version "
            f"{done['key_version']}; {done['remaining']} left under older versions",
            highlight=False,
        )
    if done["remaining"]:
        raise CliError(
            f"{done['remaining']} value(s) could not be re-sealed",
            "they do not open under their recorded key version; see the audit trail",
        )


@app.command()
def tokenize(
    app_name: AppOption,
    policy: PolicyOption,
    file: FileOption = None,
    json_input: JsonInput = False,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key")] = None,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Tokenize values from stdin (or --file); prints one token per line, in order."""
    body: dict[str, Any] = {"values": _items(file, json_input, "values")}
    if idempotency_key:
        body["idempotency_key"] = idempotency_key
    with Client(addr, token) as client:
        tokens = client.post(f"{_base(app_name)}/{policy}/tokenize", body)["tokens"]
    if json:
        emit_json({"tokens": tokens})
        return
    sys.stdout.write("".join(t + "\n" for t in tokens))


@app.command()
def detokenize(
    app_name: AppOption,
    policy: PolicyOption,
    purpose: Annotated[str, typer.Option("--purpose", help="Why (recorded in the audit trail).")],
    file: FileOption = None,
    json_input: JsonInput = False,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Detokenize tokens from stdin (or --file); prints what your view allows, in order."""
    body = {"tokens": _items(file, json_input, "tokens"), "purpose": purpose}
    with Client(addr, token) as client:
        items = client.post(f"{_base(app_name)}/{policy}/detokenize", body)["items"]
    if json:
        emit_json({"items": items})
        return
    sys.stdout.write("".join((i["value"] or "[redacted]") + "\n" for i in items))


@app.command()
def erase(
    app_name: AppOption,
    policy: PolicyOption,
    file: FileOption = None,
    json_input: JsonInput = False,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Erase the values of the tokens on stdin (right to erasure); the tokens dangle."""
    body = {"tokens": _items(file, json_input, "tokens")}
    with Client(addr, token) as client:
        count = client.post(f"{_base(app_name)}/{policy}/erase", body)["count"]
    if json:
        emit_json({"count": count})
        return
    console.print(f"erased {count} value(s)", highlight=False)


@app.command()
def purge(addr: AddrOption = DEFAULT, token: TokenOption = None, json: JsonOption = False) -> None:
    """Purge every value past its policy's retention now."""
    with Client(addr, token) as client:
        count = client.post("/v1/tokens/purge")["count"]
    if json:
        emit_json({"count": count})
        return
    console.print(f"purged {count} expired value(s)", highlight=False)


@app.command()
def shred(
    app_name: Annotated[str | None, typer.Option("--app")] = None,
    policy: Annotated[str | None, typer.Option("--policy")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Shred a whole region.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Crypto-shred a policy (--app and --policy) or a region (--region). Irreversible."""
    if (region is None) == (app_name is None or policy is None) or (
        region and (app_name or policy)
    ):
        raise CliError("give either --app and --policy, or --region")
    if not yes:
        raise CliError("shredding destroys keys for good", "add --yes to confirm")
    with Client(addr, token) as client:
        if region is not None:
            result = client.post(f"/v1/tokens/regions/{region}/shred")
            what = f"region {region} ({result['policies']} policies)"
        else:
            result = client.post(f"{_base(str(app_name))}/policies/{policy}/shred")
            what = f"policy {app_name}/{policy}"
    if json:
        emit_json(result)
        return
    console.print(f"shredded {what}: its values are unrecoverable", highlight=False)
