"""``strongroom escrow``: recover an escrowed data key with M approvals.

``request`` makes a one-time X25519 (default) or RSA-OAEP-3072 (``--algorithm``) key
pair, keeps the private half (base64url: raw X25519, or PKCS#8 DER) in a file only the
caller can read, and sends the public half; ``release`` unwraps the released key with it
and writes the data key to a file (never to the terminal). See docs/key-recovery.md.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from strongroom.cli.client import DEFAULT, AddrOption, Client, CliError, JsonOption, TokenOption
from strongroom.cli.output import console, emit_json
from strongroom.crypto import keywrap, rsa_keywrap
from strongroom.errors import DecryptionError

app = typer.Typer(help="Key escrow: request, approve, deny, status, release.", no_args_is_help=True)

RequestId = Annotated[str, typer.Argument(help="The recovery request's id.")]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise CliError(f"{what} is not base64url") from None


def _write_secret(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable by its owner only; refuse to overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError(f"{path} exists; choose a new file") from None
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text + "\n")


def _show(view: dict[str, Any], json: bool) -> None:
    if json:
        emit_json(view)
        return
    console.print(
        f"request {view['id']}: {view['status']}, {view['approvals']} of {view['threshold']} "
        f"approvals (app {view['app']}, key {view['key_id']} v{view['key_version']})",
        highlight=False,
        soft_wrap=True,
    )


@app.command("request")
def request(
    deposit: Annotated[str, typer.Option("--deposit", help="The deposit to recover.")],
    private_key_out: Annotated[
        Path, typer.Option("--private-key-out", help="New file for the one-time private key.")
    ],
    algorithm: Annotated[
        str, typer.Option("--algorithm", help="x25519 or rsa-oaep-3072 (the one-time key).")
    ] = "x25519",
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Ask to recover your own escrowed key; keep the private key file for `release`."""
    if algorithm == "x25519":
        private = os.urandom(32)
        public = keywrap.public_key(private)
    elif algorithm == rsa_keywrap.ALGORITHM:
        private = rsa_keywrap.generate_private()
        public = rsa_keywrap.public_key(private)
    else:
        raise CliError("--algorithm must be x25519 or rsa-oaep-3072")
    _write_secret(private_key_out, _b64(private))
    body = {"deposit_id": deposit, "recipient_public_key": _b64(public)}
    try:
        with Client(addr, token) as client:
            view = client.post("/v1/escrow/requests", body)
    except CliError:
        private_key_out.unlink(missing_ok=True)
        raise
    _show(view, json)


@app.command("approve")
def approve(
    request_id: RequestId, addr: AddrOption = DEFAULT, token: TokenOption = None,
    json: JsonOption = False,
) -> None:  # fmt: skip
    """Approve someone else's recovery request."""
    with Client(addr, token) as client:
        _show(client.post(f"/v1/escrow/requests/{request_id}/approve"), json)


@app.command("deny")
def deny(
    request_id: RequestId, addr: AddrOption = DEFAULT, token: TokenOption = None,
    json: JsonOption = False,
) -> None:  # fmt: skip
    """Deny someone else's recovery request; it can no longer be released."""
    with Client(addr, token) as client:
        _show(client.post(f"/v1/escrow/requests/{request_id}/deny"), json)


@app.command("status")
def status(
    request_id: RequestId, addr: AddrOption = DEFAULT, token: TokenOption = None,
    json: JsonOption = False,
) -> None:  # fmt: skip
    """Where a recovery request stands."""
    with Client(addr, token) as client:
        _show(client.get(f"/v1/escrow/requests/{request_id}"), json)


@app.command("release")
def release(
    request_id: RequestId,
    private_key_file: Annotated[
        Path, typer.Option("--private-key-file", help="The file `request` wrote.")
    ],
    out: Annotated[Path, typer.Option("--out", help="New file for the data key (base64url).")],
    addr: AddrOption = DEFAULT,
    token: TokenOption = None,
    json: JsonOption = False,
) -> None:
    """Release an approved request: the data key goes to --out, readable by you only."""
    try:
        private = _unb64(private_key_file.read_text(encoding="ascii"), "the private key file")
    except OSError as exc:
        raise CliError(f"cannot read {private_key_file}: {exc.strerror}") from None
    if out.exists():
        raise CliError(f"{out} exists; choose a new file")
    with Client(addr, token) as client:
        view = client.post(f"/v1/escrow/requests/{request_id}/release")
    context = keywrap.escrow_context(view["app"], view["key_id"], view["key_version"])
    released = _unb64(view["wrapped"], "the released key")
    try:
        if len(private) == keywrap.POINT_BYTES:
            data_key = keywrap.unwrap(private, released, context)
        else:
            data_key = rsa_keywrap.unwrap(private, released, context)
    except DecryptionError:
        raise CliError("the released key does not open with this private key file") from None
    _write_secret(out, _b64(data_key))
    view.pop("wrapped", None)
    _show(view, json)
