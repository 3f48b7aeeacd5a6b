"""``strongroom app``: write, check, submit, follow and verify an app's manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from strongroom.cli.client import DEFAULT, AddrOption, Client, CliError, JsonOption, TokenOption
from strongroom.cli.output import console, emit_json
from strongroom.errors import EnvelopeError

if TYPE_CHECKING:
    from strongroom.governance.manifest import ManifestError

# The governance modules (YAML, JSON Schema, the keyring) are imported by the commands that
# use them: every other command starts without them.

app = typer.Typer(help="App manifests: init, check, submit, status, verify.", no_args_is_help=True)
MANIFEST = "strongroom.yaml"
MAX_FINDINGS_FILE = 16 * 1024 * 1024

STARTER = """\
# strongroom.yaml: what this app is and what it needs. Schema: GET /v1/schemas/manifest,
# documented in docs/manifest.md. Submit with `strongroom app submit`.
apiVersion: strongroom/v1
name: {name}
owner: {owner}
description: A new micro app.
# preview apps run on mock data only; production apps need sso.enabled: true.
environment: preview
region: eu
sso:
  enabled: true
# Ask for named resources only; sensitive scopes (pii, pci, phi, secrets) need a review.
scopes:
  - mock:read:customers
# Every field the app stores, with its data class and protection
# (encrypt-client | tokenize | none; pii/pci/phi classes may not use none).
fields:
  - name: display_name
    data_class: public.profile
    protection: none
# connectors:
#   - name: crm
#     secret: sr://secrets/{name}/crm-api-key
#     domain: api.hubspot.com
egress: []
retention: {{}}
"""

PathArg = Annotated[Path, typer.Argument(help="The app's folder (holding strongroom.yaml).")]
FindingsOption = Annotated[
    Path | None,
    typer.Option(
        "--findings",
        help='Scan findings as JSON (a list, or {"findings": [...]}) instead of scanning.',
    ),
]


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write strongroom.yaml.")] = Path(),
    name: Annotated[str | None, typer.Option("--name", help="App id (default: folder)")] = None,
    owner: Annotated[str, typer.Option("--owner", help="Accountable person.")] = "you@example.com",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a starter strongroom.yaml that passes the default policy as it stands."""
    target = directory / MANIFEST
    if target.exists() and not force:
        raise CliError(f"{target} already exists", "use --force to overwrite it")
    app_name = name or directory.resolve().name.lower().replace("_", "-")
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(STARTER.format(name=app_name, owner=owner), encoding="utf-8")
    console.print(f"wrote {escape(str(target))}", highlight=False)


def _manifest_text(path: Path) -> tuple[str, Path]:
    file = path / MANIFEST if path.is_dir() else path
    try:
        return file.read_text(encoding="utf-8"), file
    except FileNotFoundError:
        raise CliError(f"no {MANIFEST} at {file}", "write one: strongroom app init") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {file} ({type(exc).__name__})") from None


def _findings(path: Path, findings_file: Path | None) -> list[dict[str, Any]]:
    from strongroom.governance import preflight

    if findings_file is None:
        root = path if path.is_dir() else path.parent
        return preflight.scan(root)
    try:
        if findings_file.stat().st_size > MAX_FINDINGS_FILE:
            raise CliError(f"{findings_file} is larger than 16 MiB")
        loaded = json.loads(findings_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(
            f"cannot read findings from {findings_file} ({type(exc).__name__})"
        ) from None
    if isinstance(loaded, dict):
        loaded = loaded.get("findings")
    return preflight.validate_findings(loaded)


def _show_manifest_errors(exc: ManifestError, file: Path) -> None:
    for err in exc.extra.get("errors", []):
        where = f"{err['field']}: " if err["field"] else ""
        console.print(
            f"[red]error[/] {escape(str(file))}:{err['line']}:{err['column']}: "
            f"{escape(where + err['message'])}",
            highlight=False,
            soft_wrap=True,
        )


def _show_decision(decision: dict[str, Any], file: Path) -> None:
    table = Table("", "Where", "Message")
    for kind, colour in (("deny", "red"), ("warn", "yellow")):
        for m in decision.get(kind, []):
            where = f"{file.name}:{m['line']}" if m.get("line") else "-"
            if m.get("field"):
                where += f" ({m['field']})"
            table.add_row(f"[{colour}]{kind}[/]", escape(where), escape(m["msg"]))
    if table.row_count:
        console.print(table)
    for reason in decision.get("review", []):
        console.print(f"[cyan]needs review[/]: {escape(reason)}", highlight=False, soft_wrap=True)


@app.command()
def check(
    path: PathArg = Path(),
    findings: FindingsOption = None,
    policy_dir: Annotated[
        list[Path] | None,
        typer.Option("--policy-dir", help="An organisation policy directory (repeat)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Scan the app and run the policy locally (no server). Exit 1 if it would be denied."""
    from strongroom.governance import policy, preflight
    from strongroom.governance.manifest import ManifestError

    text, file = _manifest_text(path)
    found = _findings(path, findings)
    bundle = policy.load_bundle(policy.default_directories(policy_dir or []))
    try:
        result = preflight.check(text, found, bundle, source=file.name)
    except ManifestError as exc:
        if json_out:
            emit_json({"allowed": False, "errors": exc.extra.get("errors", [])})
        else:
            _show_manifest_errors(exc, file)
        raise typer.Exit(1) from None
    out = result.as_json()
    if json_out:
        emit_json({**out, "findings": len(found)})
    else:
        _show_decision(out, file)
        verdict = "[green]passes[/]" if result.allowed else "[red]denied[/]"
        console.print(f"{escape(result.manifest.name)}: policy {verdict}", highlight=False)
    if not result.allowed:
        raise typer.Exit(1)


@app.command()
def submit(
    path: PathArg = Path(),
    findings: FindingsOption = None,
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json_out: JsonOption = False,
) -> None:
    """Scan the app and submit its manifest. Exit 1 if the policy rejects it."""
    text, file = _manifest_text(path)
    found = _findings(path, findings)
    with Client(addr, token) as client:
        response = client.request(
            "POST", "/v1/apps", json={"manifest": text, "findings": found}, ok=(200, 422)
        )
    body = response.json()
    if response.status_code == 422:
        if json_out:
            emit_json(body)
        else:
            console.print(f"[red]Error:[/] {escape(str(body.get('detail')))}", highlight=False)
            for err in body.get("errors", []):
                loc = f"{file.name}:{err.get('line')}" if err.get("line") else err.get("loc", "")
                where = f"{err['field']}: " if err.get("field") else ""
                said = where + str(err.get("message") or err.get("msg"))
                console.print(
                    f"  {escape(str(loc))}: {escape(said)}", highlight=False, soft_wrap=True
                )
        raise typer.Exit(1)
    if json_out:
        emit_json(body)
    else:
        _show_decision(body["decision"], file)
        console.print(f"submission {body['id']}: [bold]{body['status']}[/]", highlight=False)
    if body["status"] == "rejected":
        raise typer.Exit(1)


@app.command()
def status(
    name: Annotated[str, typer.Argument(help="The app's name.")],
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show an app's approved scopes and its newest submissions."""
    with Client(addr, token) as client:
        body = client.get(f"/v1/apps/{name}")
    if json_out:
        emit_json(body)
        return
    scopes = ", ".join(body["approved_scopes"]) or "(none approved)"
    console.print(f"{escape(body['name'])} (owner {escape(body['owner'])}): {escape(scopes)}")
    table = Table("Submission", "Status", "Created", "Reviewer", "Reason")
    for s in body["submissions"]:
        table.add_row(s["id"], s["status"], s["created"], s["reviewer"] or "", s["reason"] or "")
    console.print(table)


@app.command()
def manifest(
    name: Annotated[str, typer.Argument(help="The app's name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the envelope here.")],
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
) -> None:
    """Download the app's approved, signed manifest (a DSSE envelope)."""
    with Client(addr, token) as client:
        body = client.get(f"/v1/apps/{name}/manifest")
    out.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    console.print(f"wrote {escape(str(out))}", highlight=False)


@app.command()
def keys(
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the newest key (PEM) here.")],
    addr: AddrOption = DEFAULT,
) -> None:
    """Download the newest manifest verification key (public, PEM)."""
    with Client(addr) as client:
        body = client.get("/v1/manifest-keys")
    newest = body["keys"][0]
    out.write_text(newest["pem"], encoding="utf-8")
    console.print(f"wrote {escape(str(out))} ({newest['keyid']})", highlight=False)


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="A signed manifest (DSSE envelope JSON).")],
    key: Annotated[Path, typer.Option("--key", help="The Ed25519 public key (PEM).")],
    json_out: JsonOption = False,
) -> None:
    """Check a signed manifest offline against a public key. Exit 1 if it does not verify."""
    from strongroom.crypto import dsse
    from strongroom.governance import signing

    try:
        envelope = dsse.Envelope.from_bytes(file.read_bytes())
        public = signing.load_public_key(key.read_bytes())
        signed = signing.verify(envelope, {"key": public})
    except OSError as exc:
        raise CliError(f"cannot read a file ({type(exc).__name__})") from None
    except EnvelopeError as exc:
        if json_out:
            emit_json({"verified": False, "error": exc.detail})
        else:
            console.print(f"[red]NOT VERIFIED[/]: {escape(exc.detail)}", highlight=False)
        raise typer.Exit(1) from None
    summary = {
        "verified": True,
        "app": signed["app"],
        "submission": signed["submission"],
        "digest": signed["digest"],
        "scopes": signed["scopes"],
        "approved_by": signed["approved_by"],
        "approved_at": signed["approved_at"],
    }
    if json_out:
        emit_json(summary)
        return
    console.print(
        f"[green]verified[/]: {escape(signed['app'])} approved by {escape(signed['approved_by'])}"
        f" at {signed['approved_at']}; scopes: {escape(', '.join(signed['scopes']) or '(none)')}",
        highlight=False,
    )
