"""Field sealing throughput: the Strongroom SDK beside raw AES-GCM, Google Tink and AWS ESDK.

For 64 B, 1 KiB and 64 KiB values, measures seal and open operations per second (and MB/s
of plaintext) with a key that is already derived and cached, on one thread:

- raw AES-GCM: pyca/cryptography's `AESGCM` object made once, a fresh 12-byte nonce per
  call, the nonce stored before the ciphertext, the same associated data as the SDK's.
  This is the limit: any format does at least this work.
- Strongroom SDK, binary form: `FieldKey.seal_binary` / `open_bytes` (raw keystore key).
- Strongroom SDK, compact form: `FieldKey.seal_bytes` / `open_bytes` (the `srf1.` text).
- Google Tink: AEAD from the `AES256_GCM` key template, the context bytes as associated data.
- AWS Encryption SDK: raw AES keyring (256-bit wrapping key) through the Material Providers
  Library, the committing suite without signatures, the context as encryption context.

Needs `tink`, `aws-encryption-sdk` and `aws-cryptographic-material-providers`, which are
not project dependencies: `bench/run.sh` installs them into `bench/.work/fields-venv` and
runs this script there. A peer that is missing is skipped and said so.
Results also go to `bench/.work/fields_seal.json`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import common
from common import WORK_DIR, BenchError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from strongroom.sdk import Context, FieldKey

SIZES = [64, 1024, 65_536]
DEFAULT_JSON = WORK_DIR / "fields_seal.json"
CONTEXT = Context("crm", "42", "email")
CONTEXT_MAP = {"app": "crm", "record": "42", "field": "email"}
RAW = "raw AES-GCM (cryptography)"
SDK = "Strongroom SDK (binary)"
SDK_COMPACT = "Strongroom SDK (compact text)"
TINK = "Google Tink (AES256_GCM)"
ESDK = "AWS Encryption SDK (raw AES keyring)"
NOTES = [
    "One thread, keys derived and cached before timing; best of --repeat rounds of at least "
    "--seconds each, the peers interleaved in every round. MB/s counts plaintext bytes "
    "(1 MB = 10^6 bytes).",
    "The compact text form adds base64url (CPython's binascii), which dominates for large "
    "values; the binary form is what the 0.8x target is measured on.",
    "AWS ESDK uses AES_256_GCM_HKDF_SHA512_COMMIT_KEY (no ECDSA signature) with a fresh data "
    "key per message, as its design requires; the others reuse one key.",
]

Seal = Callable[[bytes], Any]
Open = Callable[[Any], bytes]


@dataclass
class Result:
    implementation: str
    size: int
    seal_ops: float
    open_ops: float

    @property
    def seal_mbps(self) -> float:
        return self.seal_ops * self.size / 1e6

    @property
    def open_mbps(self) -> float:
        return self.open_ops * self.size / 1e6


def raw_aesgcm() -> tuple[Seal, Open]:
    key = os.urandom(32)
    aead = AESGCM(key)
    sdk = FieldKey.from_raw_key(key, key_id="app:crm")
    aad = sdk._head + CONTEXT.aad  # the same associated data the SDK binds
    encrypt, decrypt, urandom = aead.encrypt, aead.decrypt, os.urandom

    def seal(value: bytes) -> bytes:
        nonce = urandom(12)
        return nonce + encrypt(nonce, value, aad)

    def open_(blob: bytes) -> bytes:
        return decrypt(blob[:12], blob[12:], aad)

    return seal, open_


def strongroom_binary() -> tuple[Seal, Open]:
    key = FieldKey.from_raw_key(os.urandom(32), key_id="app:crm")
    return (lambda v: key.seal_binary(v, CONTEXT)), (lambda s: key.open_bytes(s, CONTEXT))


def strongroom_compact() -> tuple[Seal, Open]:
    key = FieldKey.from_raw_key(os.urandom(32), key_id="app:crm")
    return (lambda v: key.seal_bytes(v, CONTEXT)), (lambda s: key.open_bytes(s, CONTEXT))


def tink_aead() -> tuple[Seal, Open]:
    import tink
    from tink import aead

    aead.register()
    primitive = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM).primitive(aead.Aead)
    aad = CONTEXT.aad
    return (lambda v: primitive.encrypt(v, aad)), (lambda c: primitive.decrypt(c, aad))


def aws_esdk() -> tuple[Seal, Open]:
    import aws_encryption_sdk
    from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
    from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
    from aws_cryptographic_material_providers.mpl.models import (
        AesWrappingAlg,
        CreateRawAesKeyringInput,
    )
    from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy

    mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    keyring = mpl.create_raw_aes_keyring(
        input=CreateRawAesKeyringInput(
            key_namespace="strongroom-bench",
            key_name="fields",
            wrapping_key=os.urandom(32),
            wrapping_alg=AesWrappingAlg.ALG_AES256_GCM_IV12_TAG16,
        )
    )
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    suite = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY

    def seal(value: bytes) -> bytes:
        ciphertext, _ = client.encrypt(
            source=value,
            keyring=keyring,
            encryption_context=CONTEXT_MAP,
            algorithm=suite,
            frame_length=65_536 + 1024,
        )
        return bytes(ciphertext)

    def open_(ciphertext: bytes) -> bytes:
        plaintext, _ = client.decrypt(source=ciphertext, keyring=keyring)
        return bytes(plaintext)

    return seal, open_


PEERS: list[tuple[str, Callable[[], tuple[Seal, Open]], str]] = [
    (RAW, raw_aesgcm, "cryptography"),
    (SDK, strongroom_binary, "strongroom"),
    (SDK_COMPACT, strongroom_compact, "strongroom"),
    (TINK, tink_aead, "tink"),
    (ESDK, aws_esdk, "aws-encryption-sdk"),
]


def rate(op: Callable[[Any], Any], inputs: list[Any], seconds: float) -> float:
    """Operations per second over one run of at least ``seconds``."""
    n = len(inputs)
    done = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        for item in inputs:
            op(item)
        done += n
        elapsed = time.perf_counter() - start
    return done / elapsed


def prepare(name: str, seal: Seal, open_: Open, size: int) -> tuple[list[bytes], list[Any]]:
    """Values of ``size`` bytes and their sealed forms, checked to round-trip."""
    values = [os.urandom(size) for _ in range(16)]
    sealed = [seal(v) for v in values]
    for value, blob in zip(values, sealed, strict=True):
        if open_(blob) != value:
            raise BenchError(f"{name}: a {size}-byte value did not round-trip")
    return values, sealed


def measure(
    peers: list[tuple[str, Seal, Open]], args: argparse.Namespace, console: Console
) -> list[Result]:
    """Every peer at every size; rounds interleave the peers so that a change in the
    machine's load hits them alike, and each keeps its best round."""
    out = []
    for size in SIZES:
        console.print(f"Measuring {_size(size)} values ...", highlight=False)
        inputs = {name: prepare(name, seal, open_, size) for name, seal, open_ in peers}
        best = {name: [0.0, 0.0] for name, _, _ in peers}
        for _ in range(args.repeat):
            for name, seal, open_ in peers:
                values, sealed = inputs[name]
                best[name][0] = max(best[name][0], rate(seal, values, args.seconds))
                best[name][1] = max(best[name][1], rate(open_, sealed, args.seconds))
        out += [Result(name, size, best[name][0], best[name][1]) for name, _, _ in peers]
    return out


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size // 1024} KiB"


def render(
    console: Console, results: list[Result], facts: dict[str, str], skipped: list[str]
) -> list[str]:
    raw = {r.size: r for r in results if r.implementation == RAW}
    table = Table(title="Field sealing throughput (one thread, cached key)")
    for column in ("implementation", "size"):
        table.add_column(column)
    for column in ("seal ops/s", "seal MB/s", "open ops/s", "open MB/s", "seal/raw", "open/raw"):
        table.add_column(column, justify="right")
    for size in SIZES:
        for r in (r for r in results if r.size == size):
            base = raw[size]
            table.add_row(
                r.implementation,
                _size(size),
                f"{r.seal_ops:,.0f}",
                f"{r.seal_mbps:,.1f}",
                f"{r.open_ops:,.0f}",
                f"{r.open_mbps:,.1f}",
                f"{r.seal_ops / base.seal_ops:.2f}x",
                f"{r.open_ops / base.open_ops:.2f}x",
            )
    console.print()
    console.print(table)
    software = [f"{k} {facts[k]}" for k in ("cryptography", "tink", "aws-encryption-sdk")]
    common.print_machine(console, facts, software)
    for note in skipped:
        console.print(f"[yellow]Skipped:[/] {escape(note)}", highlight=False, soft_wrap=True)
    common.print_lines(console, "Note", NOTES)
    verdicts = judge(results)
    common.print_lines(console, "Target", verdicts)
    return verdicts


def judge(results: list[Result]) -> list[str]:
    by = {(r.implementation, r.size): r for r in results}
    sdk, raw = by.get((SDK, 1024)), by.get((RAW, 1024))
    if sdk is None or raw is None:
        return ["not judged: the SDK or raw AES-GCM did not run"]
    out = []
    for op in ("seal", "open"):
        ratio = getattr(sdk, f"{op}_ops") / getattr(raw, f"{op}_ops")
        verdict = "met" if ratio >= 0.8 else "MISSED"
        out.append(f"SDK {op} at 1 KiB >= 0.8x raw AES-GCM: {ratio:.2f}x ({verdict})")
    for peer in (TINK, ESDK):
        for size in SIZES:
            other = by.get((peer, size))
            if other is None:
                out.append(f"faster than {peer}: not judged (skipped)")
                break
            this = by[(SDK, size)]
            faster = this.seal_ops > other.seal_ops and this.open_ops > other.open_ops
            if not faster:
                out.append(f"faster than {peer} at {_size(size)}: MISSED")
                break
        else:
            out.append(f"faster than {peer} at every size, seal and open: met")
    return out


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=0.25, help="per run (0.25)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds, best kept (5)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where results go")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.repeat < 1:
        parser.error("--seconds must be positive and --repeat at least 1")
    return args


def run(args: argparse.Namespace, console: Console) -> int:
    load = common.load_average()
    skipped: list[str] = []
    peers: list[tuple[str, Seal, Open]] = []
    for name, make, package in PEERS:
        try:
            peers.append((name, *make()))
        except ImportError as exc:
            if package in ("cryptography", "strongroom"):
                raise BenchError(f"{name}: {exc}") from None
            skipped.append(f"{name}: {exc} (run through bench/run.sh)")
    results = measure(peers, args, console)
    facts = common.machine_facts(
        load,
        cryptography=_version("cryptography"),
        tink=_version("tink"),
        **{"aws-encryption-sdk": _version("aws-encryption-sdk")},
    )
    verdicts = render(console, results, facts, skipped)
    payload = {
        "machine": facts,
        "results": [
            asdict(r) | {"seal_mbps": r.seal_mbps, "open_mbps": r.open_mbps} for r in results
        ],
        "skipped": skipped,
        "targets": verdicts,
        "settings": {"seconds": args.seconds, "repeat": args.repeat},
    }
    common.write_json(args.json, payload)
    console.print(f"Results: {common.display_path(args.json)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
