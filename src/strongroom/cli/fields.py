"""``strongroom fields``: seal and open field values locally with a passphrase.

Nothing here talks to a server. The passphrase comes from an environment variable named
by ``--passphrase-env`` and the value from stdin, never from argv. ``open`` takes a sealed
field (compact or JSON form) or a legacy ``{"ct", "iv", "salt"}`` record.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Annotated, Any, Literal

import typer

from strongroom.cli.client import CliError, JsonOption
from strongroom.cli.output import emit_json
from strongroom.sdk import (
    DecryptionError,
    FieldError,
    FieldKey,
    is_legacy,
    open_legacy,
    open_with_passphrase,
)

app = typer.Typer(
    help="Seal and open field values locally (client-side field encryption).",
    no_args_is_help=True,
)

MAX_INPUT = 4 << 20
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
PassphraseEnv = Annotated[
    str,
    typer.Option(
        "--passphrase-env",
        metavar="VAR",
        help="Name of the environment variable holding the passphrase.",
    ),
]
ContextOption = Annotated[
    list[str] | None,
    typer.Option(
        "--context",
        metavar="K=V",
        help="Context part: app=..., record=..., field=... (all three; repeat).",
    ),
]


def _passphrase(var: str) -> str:
    if not _ENV_NAME.fullmatch(var):
        # Not echoed: someone may have typed the passphrase itself here.
        raise CliError(
            "--passphrase-env takes the name of an environment variable",
            "export the passphrase in a variable and pass its name, e.g. --passphrase-env PW",
        )
    value = os.environ.get(var)
    if not value:
        raise CliError(
            f"environment variable {var} is not set or empty",
            "export the passphrase in it; it is never read from the command line",
        )
    return value


def _context(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or key not in ("app", "record", "field"):
            raise CliError(f"bad --context {key or pair!r}: use app=..., record=... or field=...")
        if key in out:
            raise CliError(f"--context {key} given twice")
        out[key] = value
    missing = [k for k in ("app", "record", "field") if k not in out]
    if missing:
        raise CliError(
            f"--context lacks {', '.join(missing)}",
            "a sealed field is bound to app, record and field: give all three",
        )
    return out


def _stdin() -> str:
    data = sys.stdin.buffer.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise CliError(f"stdin is larger than {MAX_INPUT} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError("stdin is not UTF-8 text") from None


@app.command("seal")
def seal(
    passphrase_env: PassphraseEnv,
    context: ContextOption = None,
    key_id: Annotated[str, typer.Option("--key-id", help="Key id to record.")] = "passphrase",
    key_version: Annotated[int, typer.Option("--key-version", min=0)] = 1,
    kdf: Annotated[
        Literal["PBKDF2-HMAC-SHA256", "Argon2id"], typer.Option("--kdf", help="Key derivation.")
    ] = "PBKDF2-HMAC-SHA256",
    iterations: Annotated[int, typer.Option("--iterations", help="PBKDF2 iterations.")] = 600_000,
    algorithm: Annotated[
        Literal["AES-256-GCM", "ChaCha20-Poly1305"], typer.Option("--algorithm")
    ] = "AES-256-GCM",
    json_form: Annotated[
        bool, typer.Option("--json-form", help="Print the JSON form, not the compact one.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Seal the text on stdin (one trailing newline dropped) for the given context."""
    ctx = _context(context)
    value = _stdin()
    value = value.removesuffix("\n")
    try:
        key = FieldKey.from_passphrase(
            _passphrase(passphrase_env),
            key_id=key_id,
            key_version=key_version,
            kdf=kdf,
            iterations=iterations,
            algorithm=algorithm,
        )
        result: Any = key.seal_json(value, ctx) if json_form else key.seal(value, ctx)
    except FieldError as exc:
        raise CliError(exc.detail) from None
    if json:
        emit_json({"sealed": result})
    elif json_form:
        sys.stdout.write(_dumps(result) + "\n")
    else:
        sys.stdout.write(result + "\n")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@app.command("open")
def open_(
    passphrase_env: PassphraseEnv,
    context: ContextOption = None,
    iterations: Annotated[
        int, typer.Option("--iterations", help="PBKDF2 iterations of a legacy record.")
    ] = 100_000,
    json: JsonOption = False,
) -> None:
    """Print the plaintext of the sealed field or legacy record on stdin."""
    text = _stdin().strip()
    value: Any = text
    if text.startswith("{"):
        try:
            value = json_loads(text)
        except ValueError:
            raise CliError("stdin is neither a sealed field nor JSON") from None
    passphrase = _passphrase(passphrase_env)
    try:
        if is_legacy(value):
            plaintext = open_legacy(value, passphrase, iterations=iterations)
        else:
            plaintext = open_with_passphrase(value, passphrase, _context(context))
    except DecryptionError:
        raise CliError(
            "Decryption failed.",
            "check the passphrase, the context (app, record, field) and the value",
        ) from None
    if json:
        emit_json({"plaintext": plaintext})
    else:
        sys.stdout.write(plaintext + "\n")


def json_loads(text: str) -> Any:
    """JSON from stdin, refusing duplicate keys and constants such as NaN."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            raise ValueError("duplicate key")
        return out

    def no_constants(name: str) -> Any:
        raise ValueError(name)

    return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
