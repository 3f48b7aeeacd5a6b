"""Seconds to verify a 1,000,000-event audit bundle, by the library and by the CLI.

Builds a bundle without any database, in a temporary directory under `bench/.work/`: event
entries are the canonical bytes `AuditRecord.entry_bytes()` gives for realistic events (a
sample of them is rebuilt through `AuditRecord` and compared byte for byte), each line is
`bundle.event_line`, the header is `bundle.header_line` with one checkpoint at the end,
signed as a C2SP note by a fresh Ed25519 key. Then it times:

- `bundle.verify` over the file opened in binary mode (line iteration), with that key's
  verifier key as the trusted key;
- the CLI end to end: `.venv/bin/strongroom audit verify FILE --trusted-key KEYFILE --json`
  (process start and imports included).

Prints one table and writes `bench/.work/audit_verify.json`; the bundle and key file are
always removed. The issue's target (under 30 s for 1M events) is judged, not enforced: the
exit code is 1 only when a step fails or a verification does not succeed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
from audit_append import BASE_TIME_US, sample_records
from common import WORK_DIR, BenchError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from strongroom import __version__
from strongroom.audit import bundle
from strongroom.audit.events import AuditRecord
from strongroom.clock import rfc3339
from strongroom.crypto import merkle, note

DEFAULT_JSON = WORK_DIR / "audit_verify.json"
ORIGIN = "bench.strongroom.example/audit"
TARGET_SECONDS = 30.0
TARGET_EVENTS = 1_000_000
DISTINCT = 4096  # records built through AuditRecord; every event varies time and request id
CHECK_EVERY = 9973  # events rebuilt through AuditRecord and compared byte for byte
WRITE_BATCH = 8192

NOTES = [
    "The bundle was just written, so it is read from the page cache: this measures hashing "
    "and parsing, not the disk.",
    "The CLI time includes starting Python and importing Strongroom (the start-up line above "
    "times `strongroom version`); its progress bar is off (--json).",
    "Each event's leaf hash is recomputed from its entry and compared as text, the tree is "
    "rebuilt from the leaves, and the root is checked against the signed checkpoint.",
]


@dataclasses.dataclass
class Built:
    path: Path
    key_file: Path
    events: int
    size_bytes: int
    root_hash: bytes
    seconds: float


# -- building the bundle -------------------------------------------------------------------


class Templates:
    """Canonical entries of real `AuditRecord`s with their time and request id left open.

    Both fields have a fixed width in every entry (RFC 3339 with microseconds, 24 hex
    digits), so filling them in keeps the bytes canonical: `check` proves it on a sample.
    """

    def __init__(self, records: list[AuditRecord]) -> None:
        self.records = records
        self.parts: list[bytes] = []
        for r in records:
            entry = r.entry_bytes().replace(b"%", b"%%")
            for value in (rfc3339(r.time_us), r.request_id):
                token = f'"{value}"'.encode()
                if entry.count(token) != 1:
                    raise BenchError("a sample entry does not hold its time or id exactly once")
            entry = entry.replace(f'"{rfc3339(r.time_us)}"'.encode(), b'"%s"', 1)
            entry = entry.replace(f'"{r.request_id}"'.encode(), b'"%s"', 1)
            if entry.index(b'"time":') < entry.index(b'"request_id":'):
                raise BenchError("unexpected member order in a canonical entry")
            self.parts.append(entry)

    def entry(self, i: int, time_text: bytes, request_id: bytes) -> bytes:
        # Members are sorted: request_id comes before time.
        return self.parts[i % len(self.parts)] % (request_id, time_text)

    def check(self, i: int, time_us: int, request_id: str, entry: bytes) -> None:
        base = self.records[i % len(self.records)]
        real = dataclasses.replace(base, time_us=time_us, request_id=request_id).entry_bytes()
        if real != entry:
            raise BenchError(f"event {i}: the generated entry differs from AuditRecord's")


class FastTime:
    """`rfc3339` for many nearby timestamps: the date is formatted once per day."""

    def __init__(self) -> None:
        self._day = -1
        self._prefix = ""

    def text(self, time_us: int) -> str:
        day, rest = divmod(time_us, 86_400_000_000)
        if day != self._day:
            moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)
            self._day, self._prefix = day, moment.strftime("%Y-%m-%dT")
        seconds, micros = divmod(rest, 1_000_000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        return f"{self._prefix}{hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}Z"


def build_bundle(tmp: Path, events: int, console: Console) -> Built:
    started = time.perf_counter()
    templates = Templates(sample_records(min(DISTINCT, events), seed=11))
    clock = FastTime()
    rng = random.Random(13)
    body = tmp / "events.part"
    frontier = merkle.Frontier.empty()
    leaf_hash, event_line = merkle.leaf_hash, bundle.event_line
    with body.open("wb") as out:
        lines: list[bytes] = []
        leaves: list[bytes] = []
        for i in range(events):
            time_us = BASE_TIME_US + i * 997 + rng.randrange(997)
            time_text = clock.text(time_us)
            request_id = f"{rng.getrandbits(96):024x}"
            entry = templates.entry(i, time_text.encode(), request_id.encode())
            if i % CHECK_EVERY == 0 or i == events - 1:
                if time_text != rfc3339(time_us):
                    raise BenchError(f"event {i}: the fast timestamp differs from rfc3339")
                templates.check(i, time_us, request_id, entry)
            leaf = leaf_hash(entry)
            leaves.append(leaf)
            lines.append(event_line(i, leaf, entry))
            if len(lines) >= WRITE_BATCH:
                out.writelines(lines)
                frontier = frontier.extend(leaves)
                lines, leaves = [], []
        out.writelines(lines)
        frontier = frontier.extend(leaves)

    key = Ed25519PrivateKey.generate()
    root = frontier.root()
    signed = note.sign(note.Checkpoint(ORIGIN, events, root).text(), ORIGIN, key)
    verifier = note.verifier_for(ORIGIN, key).encode()
    header = bundle.header_line(
        origin=ORIGIN,
        start=0,
        size=events,
        start_frontier=None,
        checkpoints=[signed],
        keys=[verifier],
    )
    path = tmp / "audit-bundle.jsonl"
    with path.open("wb") as out, body.open("rb") as source:
        out.write(header)
        shutil.copyfileobj(source, out, 1 << 20)
    body.unlink()
    key_file = tmp / "trusted-keys.txt"
    key_file.write_text(verifier + "\n", encoding="utf-8")
    seconds = time.perf_counter() - started
    console.print(
        f"  built {events:,} events, {path.stat().st_size / 1e6:,.1f} MB in {seconds:.1f}s",
        highlight=False,
    )
    return Built(path, key_file, events, path.stat().st_size, root, seconds)


# -- verifying -----------------------------------------------------------------------------


def verify_library(built: Built) -> float:
    trusted = [built.key_file.read_text(encoding="utf-8").strip()]
    started = time.perf_counter()
    with built.path.open("rb") as handle:
        report = bundle.verify(handle, trusted)
    seconds = time.perf_counter() - started
    if report.size != built.events or report.root_hash != built.root_hash:
        raise BenchError("the library verified a different tree than the one built")
    if report.keys_from_bundle:
        raise BenchError("the library used the bundle's own keys, not the trusted one")
    return seconds


def verify_cli(built: Built, timeout: float) -> float:
    argv = [
        common.strongroom_executable(),
        "audit",
        "verify",
        str(built.path),
        "--trusted-key",
        str(built.key_file),
        "--json",
    ]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(
            f"`strongroom audit verify` exited {done.returncode}: "
            f"{(done.stdout + done.stderr).strip()[:2000]}"
        )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise BenchError(f"`strongroom audit verify --json` printed: {done.stdout[:500]}") from None
    if report.get("verified") is not True or report.get("size") != built.events:
        raise BenchError(f"the CLI did not verify the bundle: {report}")
    if report.get("trusted_keys") != "given":
        raise BenchError("the CLI did not use the trusted key file")
    return seconds


def cli_startup() -> float:
    """Seconds for `strongroom version`: the CLI's fixed cost."""
    started = time.perf_counter()
    subprocess.run(
        [str(common.STRONGROOM_BIN), "version"], capture_output=True, timeout=120, check=False
    )
    return time.perf_counter() - started


# -- report --------------------------------------------------------------------------------


def render(console: Console, row: dict[str, Any], facts: dict[str, str]) -> str:
    table = Table(title=f"Offline verification of a {row['events']:,}-event audit bundle")
    table.add_column("events", justify="right")
    table.add_column("file size", justify="right")
    table.add_column("seconds (library)", justify="right")
    table.add_column("seconds (CLI)", justify="right")
    table.add_column("events/s (library)", justify="right")
    table.add_column("target", justify="right")
    table.add_row(
        f"{row['events']:,}",
        f"{row['size_bytes'] / 1e6:,.1f} MB",
        f"{row['library_seconds']:.2f}",
        f"{row['cli_seconds']:.2f}",
        f"{row['library_events_per_sec']:,.0f}",
        f"< {TARGET_SECONDS:.0f} s",
    )
    console.print()
    console.print(table)
    common.print_machine(console, facts, [f"Strongroom {facts['strongroom']}"])
    console.print(
        f"Bundle: mean line {row['size_bytes'] / row['events']:.0f} bytes, built in "
        f"{row['build_seconds']:.1f}s; CLI start-up (`strongroom version`) "
        f"{row['cli_startup_seconds']:.2f}s",
        highlight=False,
        soft_wrap=True,
    )
    common.print_lines(console, "Note", NOTES)
    verdict = judge(row)
    common.print_lines(console, "Target", [verdict])
    return verdict


def judge(row: dict[str, Any]) -> str:
    """The issue's target, scaled to the events run (it is stated for 1,000,000)."""
    events = row["events"]
    worst = max(row["library_seconds"], row["cli_seconds"])
    if events == TARGET_EVENTS:
        ok = worst < TARGET_SECONDS
        return (
            f"1,000,000 events in under {TARGET_SECONDS:.0f} s: library "
            f"{row['library_seconds']:.1f} s, CLI {row['cli_seconds']:.1f} s "
            f"({'met' if ok else 'MISSED'})"
        )
    projected = row["library_seconds"] * TARGET_EVENTS / events
    return (
        f"not judged ({events:,} events, not 1,000,000); the library's rate projects "
        f"{projected:.1f} s for 1,000,000"
    )


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--events", type=int, default=TARGET_EVENTS, help="events in the bundle (1000000)"
    )
    parser.add_argument(
        "--cli-timeout", type=float, default=600.0, help="seconds before the CLI run fails (600)"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where results go")
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be positive")
    return args


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        return measure(args, console)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"timed out: {exc}") from None


def measure(args: argparse.Namespace, console: Console) -> int:
    load = common.load_average()
    # Under bench/.work, beside the other benchmarks' files, not in a tmpfs /tmp that the
    # bundle (about 330 bytes an event) could fill.
    with common.scratch_directory("audit-verify-", WORK_DIR) as tmp:
        console.print(f"Building a {args.events:,}-event bundle ...")
        built = build_bundle(tmp, args.events, console)
        console.print("Verifying with bundle.verify ...")
        library = verify_library(built)
        console.print("Verifying with `strongroom audit verify` ...")
        cli = verify_cli(built, args.cli_timeout)
        startup = cli_startup()
    row = {
        "events": built.events,
        "size_bytes": built.size_bytes,
        "build_seconds": round(built.seconds, 3),
        "library_seconds": round(library, 3),
        "cli_seconds": round(cli, 3),
        "cli_startup_seconds": round(startup, 3),
        "library_events_per_sec": round(built.events / library, 1),
        "cli_events_per_sec": round(built.events / cli, 1),
        "target_seconds": TARGET_SECONDS,
    }
    facts = common.machine_facts(load, strongroom=__version__)
    verdict = render(console, row, facts)
    payload = {
        "benchmark": "audit_verify",
        "settings": {"events": args.events},
        "machine": facts,
        "notes": NOTES,
        "target": verdict,
        "results": [row],
    }
    common.write_json(args.json, payload)
    console.print(f"Results: {common.display_path(args.json)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
