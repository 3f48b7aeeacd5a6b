"""Authenticated secret reads per second: Strongroom beside OpenBao KV v2 with a file audit device.

Starts Strongroom dev servers (one process, and ``--workers`` processes: one per core by
default) and a real OpenBao dev server on free loopback ports, each with fresh temporary
state. Strongroom stores one secret and mints a runtime token holding only
`secrets:read:bench/api-key`; OpenBao writes the same value to KV v2 at `secret/bench` and
records every request to a file audit device, declared in a config file passed with `-config`
(OpenBao 2.x takes audit devices only from its config). Both endpoints are then driven by
`wrk` with the same settings (32 connections by default), in ``--rounds`` (5) alternating
slices of ``--duration / --rounds`` seconds each, so that a change in the machine's speed
during the run reaches every server alike; the table ends with the ratios Strongroom /
OpenBao (the issue's is the one with ``--workers``), and the slices' ratios are printed
under it.
Results also go to `bench/.work/secrets_read.json`. Every server is always stopped and its
temporary directory removed, whatever happens.

Run it through `make bench` (or `bash bench/run.sh`), which installs wrk and OpenBao first.
The target (issue 5) is a ratio of at least 1.0; a missed target is printed, not an error.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import common
import httpx
import keys_rps as kr
from common import WORK_DIR, BenchError
from rich.console import Console
from rich.table import Table

DEFAULT_JSON = WORK_DIR / "secrets_read.json"
APP, NAME = "bench", "api-key"
TARGET_RATIO = 1.0
NOTES = [
    "Rounds: each server's seconds are measured in alternating slices (one server after "
    "the other, each round starting one server further on, a 1 s pause before each slice), "
    "so the machine's changes of speed during the run reach every server alike; a row adds "
    "up its slices, its p50 is their median and its p99 the worst slice's. `--rounds 1` "
    "measures each server in one go instead.",
    "Strongroom: the route is served from the HTTP protocol itself (no ASGI message exchange, "
    "framework routing or dependency resolution; docs/secrets.md); each read authenticates "
    "an Ed25519 access token (verified once, then from a "
    "cache keyed by its hash; revocation and kill switches checked on every read), checks the "
    "per-secret scope, and hands the read to the audit writer, which runs its one keyed SELECT "
    "and opens the value under the app's cached key inside the transaction that appends the "
    "read's audit event; the answer leaves only once that event is durable (SQLite WAL, "
    "synchronous=FULL: an fsync per commit, shared by the reads of one batch); uvicorn "
    "(uvloop + httptools).",
    "Strongroom with N workers (docs/workers.md): N such processes, each with its own "
    "listening socket on the port (SO_REUSEPORT), under a supervisor that holds the seal and "
    "is the one audit writer: a worker's event loop runs the keyed SELECTs of one loop "
    "iteration in one read-only transaction and sends their events to the supervisor as one "
    "batch over the worker's event channel (a socket pair the loop itself reads and writes); "
    "the answer leaves once the supervisor has committed it (the events of every worker share "
    "its commits).",
    "OpenBao: dev mode (inmem storage) with a file audit device, which writes each entry to "
    "the file without fsync; every core (Go runtime).",
    "Durability ceiling: every Strongroom answer waits for a commit, so with c connections "
    "reads/s stay below c / commit latency; the line above the table gives the fsync latency "
    "measured in Strongroom's data directory just before the run, and that bound.",
    "wrk runs on the same machine as the servers and competes with them for the same cores.",
]


def fsync_latency(directory: Path, rounds: int = 200) -> dict[str, float]:
    """Milliseconds per fsync of a 4 KiB append in ``directory`` (p50 and p90)."""
    path = directory / "fsync-probe"
    times: list[float] = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        block = b"\0" * 4096
        for _ in range(rounds):
            os.write(fd, block)
            started = time.perf_counter()
            os.fsync(fd)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    times.sort()
    return {"p50_ms": times[len(times) // 2], "p90_ms": times[len(times) * 9 // 10]}


def audit_config(tmp: Path) -> Path:
    """An OpenBao config file holding just a file audit device."""
    log = tmp / "bao-audit.log"
    path = tmp / "bao-audit.hcl"
    path.write_text(
        f'audit "file" "bench" {{\n  options {{\n    file_path = "{log.as_posix()}"\n  }}\n}}\n',
        encoding="utf-8",
    )
    return path


def start_openbao(bao: str, env: dict[str, str], tmp: Path, root: str) -> tuple[kr.Server, str]:
    port = kr.free_port(also_next=True)
    argv = [
        bao,
        "server",
        "-dev",
        f"-dev-root-token-id={root}",
        f"-dev-listen-address={kr.LOOPBACK}:{port}",
        "-dev-no-store-token",
        f"-config={audit_config(tmp)}",
    ]
    server = kr.start("OpenBao", argv, env, cwd=tmp)
    base = f"http://{kr.LOOPBACK}:{port}"
    kr.wait_healthy(server, f"{base}/v1/sys/health")
    return server, base


def check_audit_device(base: str, root: str, tmp: Path) -> None:
    """The file audit device is enabled and its log grows: the comparison is fair."""
    devices = httpx.get(f"{base}/v1/sys/audit", headers={"X-Vault-Token": root}, timeout=10).json()
    if not any(d.get("type") == "file" for d in devices.get("data", devices).values()):
        raise BenchError(f"OpenBao has no file audit device: {devices}")
    log = tmp / "bao-audit.log"
    if not log.exists() or log.stat().st_size == 0:
        raise BenchError("OpenBao's audit log is empty after the set-up requests")


def prepare_strongroom(base: str, root: str, value: str, min_ttl: float) -> str:
    """Store the secret with the root token; mint a runtime token that may read only it."""
    auth = {"Authorization": f"Bearer {root}"}
    put = httpx.put(
        f"{base}/v1/apps/{APP}/secrets/{NAME}", json={"value": value}, headers=auth, timeout=10
    )
    if put.status_code != 200:
        raise BenchError(f"storing the bench secret: HTTP {put.status_code}: {put.text}")
    body = {"subject": "bench-runtime", "scopes": [f"secrets:read:{APP}/{NAME}"], "ttl": 300}
    issued = httpx.post(f"{base}/v1/auth/tokens", json=body, headers=auth, timeout=10)
    if issued.status_code != 200:
        raise BenchError(f"minting the bench token: HTTP {issued.status_code}: {issued.text}")
    if issued.json()["expires_in"] < min_ttl:
        raise BenchError("the bench token would expire during the run: shorten --duration")
    token: str = issued.json()["access_token"]
    return token


def write_kv(base: str, root: str, value: str) -> None:
    kr.write_kv(base, root)  # waits for the secret/ mount, then writes a first version
    response = httpx.post(
        f"{base}/v1/secret/data/bench",
        json={"data": {"value": value}},
        headers={"X-Vault-Token": root},
        timeout=10,
    )
    if response.status_code not in (200, 204):
        raise BenchError(f"writing the KV secret: HTTP {response.status_code}: {response.text}")


def ceiling(connections: int, fsync: dict[str, float]) -> float:
    """Reads/s with every answer waiting for one commit of p50 fsync latency (no CPU cost)."""
    return connections / (fsync["p50_ms"] / 1000) if fsync["p50_ms"] > 0 else float("inf")


def ratio(results: list[kr.WrkResult]) -> float | None:
    """The issue's ratio: Strongroom as deployed here (the last Strongroom row, with
    ``--workers`` processes) over OpenBao (the last row)."""
    strongroom, openbao = results[-2].requests_per_sec, results[-1].requests_per_sec
    return None if openbao <= 0 else strongroom / openbao


def round_ratios(slices: list[list[float]]) -> list[float | None]:
    """`ratio` slice by slice: the compared Strongroom row over OpenBao in each round."""
    return [None if bao <= 0 else sr / bao for sr, bao in zip(slices[-2], slices[-1], strict=True)]


def render(
    console: Console,
    results: list[kr.WrkResult],
    facts: dict[str, str],
    args: argparse.Namespace,
    fsync: dict[str, float],
    slices: list[list[float]],
) -> None:
    seconds = max(1, round(args.duration / args.rounds))
    table = Table(
        title=(
            f"Authenticated secret reads, wrk -t{args.threads} -c{args.connections}, "
            f"{args.rounds} rounds of {seconds:g}s per target (after {args.warmup:g}s warm-up)"
        )
    )
    for column in ("target", "endpoint", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column in ("target", "endpoint") else "right")
    for r in results:
        table.add_row(
            r.target,
            r.endpoint,
            f"{r.requests_per_sec:,.0f}",
            kr.fmt_ms(r.latency_ms.get("p50")),
            kr.fmt_ms(r.latency_ms.get("p99")),
            kr.fmt_errors(r),
        )
    console.print()
    console.print(
        f"fsync in Strongroom's data directory: p50 {fsync['p50_ms']:.2f} ms, "
        f"p90 {fsync['p90_ms']:.2f} ms; durability ceiling at -c{args.connections}: "
        f"~{ceiling(args.connections, fsync):,.0f} reads/s",
        highlight=False,
    )
    console.print(table)
    found = ratio(results)
    if found is not None:
        verdict = "met" if found >= TARGET_RATIO else "MISSED"
        if len(results) > 2 and results[-1].requests_per_sec > 0:
            single = results[0].requests_per_sec / results[-1].requests_per_sec
            shown = f"Ratio Strongroom (one process) / OpenBao: {single:.2f}x"
            console.print(shown, highlight=False)
        console.print(
            f"Ratio {results[-2].target} / OpenBao: {found:.2f}x "
            f"(target >= {TARGET_RATIO:.1f}x: {verdict})",
            highlight=False,
        )
        by_round = ", ".join("-" if r is None else f"{r:.2f}x" for r in round_ratios(slices))
        console.print(f"  round by round: {by_round}", highlight=False)
    common.print_machine(
        console,
        facts,
        [f"Strongroom {facts['strongroom']}", f"OpenBao {facts['openbao']}", facts["wrk"]],
    )
    common.print_lines(console, "Note", NOTES)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per target (10)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="alternating slices each target's seconds are split into (5)",
    )
    parser.add_argument("--connections", type=int, default=32, help="open connections (32)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="Strongroom worker processes for the compared row (default: one per core; "
        "a one-process row is always measured too)",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (2)")
    parser.add_argument("--wrk-timeout", type=float, default=10.0, help="wrk timeout (10 s)")
    parser.add_argument("--bao", default=str(kr.DEFAULT_BAO), help="the bao executable")
    parser.add_argument("--wrk", default="wrk", help="the wrk executable")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where results go")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.connections < args.threads < 1:
        parser.error("--duration must be positive and --connections >= --threads >= 1")
    if not 1 <= args.workers <= 64:
        parser.error("--workers must be 1-64")
    if not 1 <= args.rounds <= args.duration:
        parser.error("--rounds must be 1 to --duration (slices are whole seconds)")
    return args


def run(args: argparse.Namespace, console: Console) -> int:
    if shutil.which(args.wrk) is None:
        raise BenchError(f"{args.wrk} not found: run `bash bench/run.sh`, which installs it")
    load = common.load_average()
    value = secrets.token_urlsafe(24)
    with (
        common.scratch_directory("strongroom-bench-secrets-") as tmp,
        kr.servers_stopped_at_exit() as started,
    ):
        env = kr.bao_env(tmp)
        bao_ver = kr.bao_version(args.bao, env)
        sr_root = secrets.token_urlsafe(32)
        fsync = fsync_latency(tmp)
        strongrooms: list[tuple[str, str]] = []  # (name, base URL)
        for workers in sorted({1, args.workers}):
            shown = "one process" if workers == 1 else f"{workers} workers"
            console.print(f"Starting Strongroom (dev mode, {shown}, fresh data dir) ...")
            strongroom, sr_base = kr.start_strongroom(tmp, sr_root, workers)
            started.append(strongroom)
            strongrooms.append((strongroom.name, sr_base))
        strongroom_ver = httpx.get(f"{sr_base}/v1/sys/health", timeout=5).json()["version"]
        console.print(f"Starting OpenBao {bao_ver} (dev mode, file audit device) ...")
        bao_root = secrets.token_urlsafe(24)
        openbao, bao_base = start_openbao(args.bao, env, tmp, bao_root)
        started.append(openbao)
        write_kv(bao_base, bao_root, value)
        check_audit_device(bao_base, bao_root, tmp)
        # Each server waits idle while the others are measured, so the total run is longer.
        ttl = (args.warmup + args.duration) * (len(strongrooms) + 1) + 30
        targets = [
            kr.Target(
                name,
                f"GET /v1/apps/{APP}/secrets/{NAME}/value",
                f"{base}/v1/apps/{APP}/secrets/{NAME}/value",
                {"Authorization": f"Bearer {prepare_strongroom(base, sr_root, value, ttl)}"},
            )
            for name, base in strongrooms
        ] + [
            kr.Target(
                f"OpenBao {bao_ver} (file audit)",
                "GET /v1/secret/data/bench",
                f"{bao_base}/v1/secret/data/bench",
                {"X-Vault-Token": bao_root},
            ),
        ]
        with httpx.Client(timeout=10.0) as client:
            for target in targets:
                kr.check_ok(client, target)
        console.print("Running wrk ...")
        results, slices = kr.measure_rounds(args, targets, tmp, console, args.rounds)
        for server in started:
            if server.proc.poll() is not None:
                raise BenchError(f"{server.name} died during the run:\n{server.log_tail()}")
    facts = kr.machine_facts(bao_ver, strongroom_ver, args.wrk, load)
    render(console, results, facts, args, fsync, slices)
    payload: dict[str, Any] = kr.json_payload(results, facts, args)
    payload.update(
        {
            "benchmark": "secrets_read",
            "notes": NOTES,
            "ratio": ratio(results),
            "rounds": args.rounds,
            "requests_per_sec_by_round": {
                r.target: rates for r, rates in zip(results, slices, strict=True)
            },
            "ratio_by_round": round_ratios(slices),
            "fsync": fsync,
            "durability_ceiling": ceiling(args.connections, fsync),
        }
    )
    common.write_json(args.json, payload)
    console.print(f"Results: {common.display_path(args.json)}")
    failed = [r for r in results if r.requests == 0 or r.non_2xx * 2 > r.requests]
    for r in failed:
        console.print(f"[bold red]FAILED:[/] {r.target}: {r.non_2xx} of {r.requests} not 2xx")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    return common.main(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
