"""Authenticated req/s: Strongroom `GET /v1/sys/keys` beside a real OpenBao dev server.

Starts a Strongroom dev server and an OpenBao dev server on free loopback ports, each with a
fresh temporary state, drives each endpoint with `wrk` using the same settings, and prints one
table side by side. Results also go to `bench/.work/keys_rps.json`. Both servers are always
stopped and their temporary directories removed, whatever happens.

Run it through `make bench` (or `bash bench/run.sh`), which installs wrk and OpenBao first.
No thresholds: this prints numbers, it does not judge them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import common
import httpx
from common import REPO_ROOT, WORK_DIR, BenchError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

DEFAULT_BAO = WORK_DIR / "openbao-venv" / "bin" / "bao"
DEFAULT_JSON = WORK_DIR / "keys_rps.json"
LOG_DIR = WORK_DIR / "logs"
LOOPBACK = "127.0.0.1"

NOTES = [
    "Strongroom answers each request only after its audit event is durable (SQLite WAL, "
    "synchronous=FULL; concurrent reads share one commit) and logs one JSON line per "
    "request; it runs as one uvicorn process (one Python interpreter).",
    "OpenBao dev mode keeps everything in memory (inmem storage), has no audit device "
    "enabled, and uses every core (Go runtime).",
    "wrk runs on the same machine as the servers and competes with them for the same cores.",
]

# Lua for wrk: remember the first non-2xx response of each thread and print one at the end.
CAPTURE_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
captured = nil
function response(status, headers, body)
  if captured == nil and (status < 200 or status >= 300) then
    local ctype = headers["Content-Type"] or headers["content-type"] or ""
    captured = tostring(status) .. " " .. ctype .. "\\n" .. (body or "")
  end
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local c = t:get("captured")
    if c ~= nil then
      io.write("\\n@@CAPTURED@@\\n" .. c .. "\\n@@END@@\\n")
      return
    end
  end
end
"""


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def log_tail(self, lines: int = 30) -> str:
        self.log_file.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Target:
    target: str
    endpoint: str
    url: str
    headers: dict[str, str]


@dataclass
class WrkResult:
    target: str
    endpoint: str
    url: str
    requests: int
    duration_s: float
    requests_per_sec: float
    latency_ms: dict[str, float]
    non_2xx: int
    socket_errors: dict[str, int]
    sample_error: str | None = None
    raw: str = field(default="", repr=False)

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())


# -- processes -----------------------------------------------------------------------------


def free_port(also_next: bool = False) -> int:
    """A TCP port on loopback that is free now (and port+1 too, if asked)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port: int = sock.getsockname()[1]
        if not also_next:
            return port
        if port < 65535:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((LOOPBACK, port + 1))
                except OSError:
                    continue
            return port
    raise BenchError("no free loopback port found")


def clean_env(drop_prefixes: tuple[str, ...]) -> dict[str, str]:
    """This process's environment without variables that would reconfigure a server."""
    return {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}


def start(name: str, argv: list[str], env: dict[str, str], cwd: Path) -> Server:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{name.lower()}.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stop() kills the whole group
    )
    return Server(name=name, proc=proc, log_path=log_path, log_file=log_file)


def stop(server: Server, grace: float = 10.0) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it lingers."""
    pgid = server.proc.pid  # start_new_session: the leader's pid is the group id
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        server.proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        server.proc.wait(timeout=grace)
    # Anything else left in the group (there should be nothing) goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    server.log_file.close()


def wait_healthy(server: Server, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise BenchError(
                    f"{server.name} exited with code {server.proc.returncode} while starting:\n"
                    f"{server.log_tail()}"
                )
            try:
                response = client.get(url)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.2)
    raise BenchError(
        f"{server.name} not healthy after {timeout:.0f}s ({last}):\n{server.log_tail()}"
    )


# -- wrk -----------------------------------------------------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_UNIT_S = {unit: ms / 1000.0 for unit, ms in _UNIT_MS.items()}


def parse_wrk(out: str) -> dict[str, Any]:
    """The numbers of one `wrk --latency` run, from its text output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", out, re.M)
    if rps is None or total is None:
        raise BenchError(f"could not parse wrk output:\n{out}")
    latency = {
        f"p{pct}": round(float(value) * _UNIT_MS[unit], 3)
        for pct, value, unit in re.findall(
            r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M
        )
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    if sock is not None:
        socket_errors = dict(zip(socket_errors, map(int, sock.groups()), strict=True))
    return {
        "requests": int(total.group(1)),
        "duration_s": round(float(total.group(2)) * _UNIT_S[total.group(3)], 3),
        "requests_per_sec": float(rps.group(1)),
        "latency_ms": latency,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": socket_errors,
    }


def wrk_argv(args: argparse.Namespace, target: Target, seconds: float) -> list[str]:
    argv = [
        args.wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        f"--timeout={args.wrk_timeout:g}s",
        "--latency",
    ]
    for name, value in target.headers.items():
        argv += ["-H", f"{name}: {value}"]
    return argv


def run_wrk(argv: list[str], seconds: float) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    return done.stdout


def capture_error(args: argparse.Namespace, target: Target, tmp: Path) -> str | None:
    """Re-run the same load briefly with a Lua hook that keeps one non-2xx response."""
    script = tmp / "capture.lua"
    script.write_text(CAPTURE_LUA, encoding="utf-8")
    seconds = min(args.duration, 5.0)
    out = run_wrk([*wrk_argv(args, target, seconds), "-s", str(script), target.url], seconds)
    found = re.search(r"@@CAPTURED@@\n(.*?)\n@@END@@", out, re.S)
    return found.group(1)[:2000] if found else None


def measure(args: argparse.Namespace, target: Target, tmp: Path, console: Console) -> WrkResult:
    if args.warmup > 0:
        console.print(f"  warm-up {args.warmup:g}s: {target.target} {target.endpoint}")
        run_wrk([*wrk_argv(args, target, args.warmup), target.url], args.warmup)
    console.print(f"  measure {args.duration:g}s: {target.target} {target.endpoint}")
    out = run_wrk([*wrk_argv(args, target, args.duration), target.url], args.duration)
    result = WrkResult(
        target=target.target, endpoint=target.endpoint, url=target.url, raw=out, **parse_wrk(out)
    )
    if result.non_2xx:
        console.print(f"  [yellow]{result.non_2xx} non-2xx responses: capturing one[/]")
        result.sample_error = capture_error(args, target, tmp) or "(not reproduced in re-run)"
    return result


#: The pause before each slice of `measure_rounds`.
SLICE_PAUSE_SECONDS = 1.0


def measure_rounds(
    args: argparse.Namespace, targets: list[Target], tmp: Path, console: Console, rounds: int
) -> tuple[list[WrkResult], list[list[float]]]:
    """Every target measured in ``rounds`` alternating slices of ``args.duration / rounds``
    seconds (whole seconds, at least one), after one warm-up each: A, B, C, then B, C, A,
    then C, A, B... each slice after a pause of `SLICE_PAUSE_SECONDS`, so a change in the
    machine's speed during the run reaches all of them alike, where back-to-back runs of
    ``args.duration`` each would give it to one.

    A target's result adds up its slices (requests over seconds); its latency
    percentiles are the slices' medians, except p99, the worst slice's. Also returns each
    target's requests per second slice by slice."""
    seconds = max(1, round(args.duration / rounds))
    for target in targets:
        if args.warmup > 0:
            console.print(f"  warm-up {args.warmup:g}s: {target.target} {target.endpoint}")
            run_wrk([*wrk_argv(args, target, args.warmup), target.url], args.warmup)
    parts: list[list[WrkResult]] = [[] for _ in targets]
    for number in range(rounds):
        # Each round starts one target further on, so that no target always follows the
        # same one (whose leftover work, if any, would always fall on it), and each slice
        # starts after a pause that lets the previous server go quiet.
        order = [(number + k) % len(targets) for k in range(len(targets))]
        names = ", ".join(targets[i].target for i in order)
        console.print(f"  round {number + 1} of {rounds}, {seconds:g}s each: {names}")
        for index in order:
            target, done = targets[index], parts[index]
            time.sleep(SLICE_PAUSE_SECONDS)
            out = run_wrk([*wrk_argv(args, target, seconds), target.url], seconds)
            done.append(
                WrkResult(
                    target=target.target,
                    endpoint=target.endpoint,
                    url=target.url,
                    raw=out,
                    **parse_wrk(out),
                )
            )
    results = []
    for target, done in zip(targets, parts, strict=True):
        result = _combined(target, done)
        if result.non_2xx:
            console.print(f"  [yellow]{result.non_2xx} non-2xx responses: capturing one[/]")
            result.sample_error = capture_error(args, target, tmp) or "(not reproduced in re-run)"
        results.append(result)
    return results, [[r.requests_per_sec for r in done] for done in parts]


def _combined(target: Target, parts: list[WrkResult]) -> WrkResult:
    """One target's slices as one result (see `measure_rounds`)."""
    requests = sum(r.requests for r in parts)
    seconds = sum(r.duration_s for r in parts)
    latency: dict[str, float] = {}
    for name in ("p50", "p75", "p90"):
        found = [r.latency_ms[name] for r in parts if name in r.latency_ms]
        if found:
            latency[name] = statistics.median(found)
    worst = [r.latency_ms["p99"] for r in parts if "p99" in r.latency_ms]
    if worst:
        latency["p99"] = max(worst)
    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    for r in parts:
        for name, count in r.socket_errors.items():
            socket_errors[name] = socket_errors.get(name, 0) + count
    return WrkResult(
        target=target.target,
        endpoint=target.endpoint,
        url=target.url,
        requests=requests,
        duration_s=round(seconds, 3),
        requests_per_sec=requests / seconds if seconds > 0 else 0.0,
        latency_ms=latency,
        non_2xx=sum(r.non_2xx for r in parts),
        socket_errors=socket_errors,
        raw="\n".join(r.raw for r in parts),
    )


# -- set-up of each server -----------------------------------------------------------------


def check_ok(client: httpx.Client, target: Target) -> None:
    """One request before the load: a wrong token fails here, not as 100% non-2xx."""
    response = client.get(target.url, headers=target.headers)
    if response.status_code != 200:
        raise BenchError(
            f"{target.target} {target.endpoint} answered {response.status_code} "
            f"before any load: {response.text[:500]}"
        )


def start_strongroom(tmp: Path, root_token: str, workers: int = 1) -> tuple[Server, str]:
    """A Strongroom dev server on a free port, with its own data directory in ``tmp``;
    ``workers`` above 1 serves from that many processes (`strongroom dev --workers`)."""
    strongroom = common.strongroom_executable()
    port = free_port()
    env = clean_env(("STRONGROOM_",))
    env["STRONGROOM_DEV_ROOT_TOKEN"] = root_token
    data = "strongroom-data" if workers == 1 else f"strongroom-data-{workers}w"
    argv = [strongroom, "dev", "--addr", f"{LOOPBACK}:{port}", "--data-dir", str(tmp / data)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    name = "Strongroom" if workers == 1 else f"Strongroom ({workers} workers)"
    server = start(name, argv, env, cwd=tmp)
    base = f"http://{LOOPBACK}:{port}"
    wait_healthy(server, f"{base}/v1/sys/health")
    return server, base


def mint_token(base: str, root_token: str, min_ttl: float) -> str:
    body = {"subject": "bench", "scopes": ["sys:read"], "ttl": 300}
    response = httpx.post(
        f"{base}/v1/auth/tokens",
        json=body,
        headers={"Authorization": f"Bearer {root_token}"},
        timeout=10.0,
    )
    if response.status_code != 200:
        raise BenchError(f"minting the bench token: HTTP {response.status_code}: {response.text}")
    issued = response.json()
    if issued.get("expires_in", 0) < min_ttl:
        raise BenchError(
            f"the bench token lives {issued.get('expires_in')}s, less than the {min_ttl:.0f}s "
            "the Strongroom run needs: use a shorter --duration/--warmup"
        )
    token: str = issued["access_token"]
    return token


def bao_env(tmp: Path) -> dict[str, str]:
    env = clean_env(("BAO_", "VAULT_"))
    home = tmp / "bao-home"  # so nothing lands in the user's home (~/.vault-token etc.)
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    return env


def bao_version(bao: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [bao, "version"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    found = re.search(r"OpenBao (v\S+)", done.stdout)
    if done.returncode != 0 or found is None:
        raise BenchError(f"`{bao} version` failed: {done.stderr.strip() or done.stdout.strip()}")
    return found.group(1)


def start_openbao(bao: str, env: dict[str, str], tmp: Path, root_token: str) -> tuple[Server, str]:
    # Dev mode listens on the given address and on port+1 (cluster listener), stores
    # everything in memory, mounts KV v2 at secret/ and starts unsealed.
    port = free_port(also_next=True)
    argv = [
        bao,
        "server",
        "-dev",
        f"-dev-root-token-id={root_token}",
        f"-dev-listen-address={LOOPBACK}:{port}",
        "-dev-no-store-token",
    ]
    server = start("OpenBao", argv, env, cwd=tmp)
    base = f"http://{LOOPBACK}:{port}"
    wait_healthy(server, f"{base}/v1/sys/health")
    return server, base


def write_kv(base: str, root_token: str) -> None:
    secret = {"data": {"username": "bench", "password": secrets.token_urlsafe(24)}}
    headers = {"X-Vault-Token": root_token}
    deadline = time.monotonic() + 30
    while True:  # the secret/ mount can lag /sys/health by a moment
        response = httpx.post(
            f"{base}/v1/secret/data/bench", json=secret, headers=headers, timeout=10.0
        )
        if response.status_code in (200, 204):
            return
        if time.monotonic() > deadline:
            raise BenchError(f"writing the KV secret: HTTP {response.status_code}: {response.text}")
        time.sleep(0.3)


# -- report --------------------------------------------------------------------------------


def machine_facts(bao_ver: str, strongroom_ver: str, wrk: str, load: str) -> dict[str, str]:
    wrk_out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    wrk_line = (wrk_out.stdout or wrk_out.stderr).splitlines()
    return common.machine_facts(
        load,
        strongroom=strongroom_ver,
        openbao=bao_ver,
        wrk=wrk_line[0].split(" [")[0] if wrk_line else "unknown",
    )


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def fmt_errors(result: WrkResult) -> str:
    if result.errors == 0:
        return "0"
    parts = [f"{result.non_2xx} non-2xx"] if result.non_2xx else []
    parts += [f"{n} {kind}" for kind, n in result.socket_errors.items() if n]
    return f"{result.errors} ({', '.join(parts)})"


def render(
    console: Console, results: list[WrkResult], facts: dict[str, str], args: argparse.Namespace
) -> None:
    table = Table(
        title=(
            f"Authenticated GET, wrk -t{args.threads} -c{args.connections} "
            f"-d{args.duration:g}s (after {args.warmup:g}s warm-up)"
        )
    )
    table.add_column("target")
    table.add_column("endpoint")
    table.add_column("req/s", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("errors", justify="right")
    for r in results:
        table.add_row(
            r.target,
            r.endpoint,
            f"{r.requests_per_sec:,.0f}",
            fmt_ms(r.latency_ms.get("p50")),
            fmt_ms(r.latency_ms.get("p99")),
            fmt_errors(r),
        )
    console.print()
    console.print(table)
    common.print_machine(
        console,
        facts,
        [f"Strongroom {facts['strongroom']}", f"OpenBao {facts['openbao']}", facts["wrk"]],
    )
    common.print_lines(console, "Note", NOTES)
    for r in results:
        if r.sample_error:
            console.print(
                f"[yellow]{r.target} {r.endpoint}: one non-2xx response:[/]\n"
                f"{escape(r.sample_error)}",
                highlight=False,
            )


def json_payload(
    results: list[WrkResult], facts: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    return {
        "benchmark": "keys_rps",
        "settings": {
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "wrk_timeout_s": args.wrk_timeout,
        },
        "machine": facts,
        "notes": NOTES,
        "results": [
            {**{k: v for k, v in asdict(r).items() if k != "raw"}, "errors": r.errors}
            for r in results
        ],
    }


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per target (10)")
    parser.add_argument("--connections", type=int, default=16, help="open connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (2)")
    parser.add_argument(
        "--wrk-timeout", type=float, default=10.0, help="seconds before wrk counts a timeout (10)"
    )
    parser.add_argument("--bao", default=str(DEFAULT_BAO), help="the bao executable")
    parser.add_argument("--wrk", default="wrk", help="the wrk executable")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where results go")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.connections < 1 or args.threads < 1:
        parser.error("--duration and --connections/--threads must be positive")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads (wrk needs one per thread)")
    return args


@contextlib.contextmanager
def servers_stopped_at_exit() -> Iterator[list[Server]]:
    started: list[Server] = []
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield started
    finally:
        for server in reversed(started):
            stop(server)
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace, console: Console) -> int:
    if shutil.which(args.wrk) is None:
        raise BenchError(f"{args.wrk} not found: run `bash bench/run.sh`, which installs it")
    # Other work on the machine skews every number: record how busy it was before we started.
    load = common.load_average()
    with (
        common.scratch_directory("strongroom-bench-") as tmp,
        servers_stopped_at_exit() as started,
    ):
        env = bao_env(tmp)
        bao_ver = bao_version(args.bao, env)

        console.print("Starting Strongroom (dev mode, fresh data dir) ...")
        sr_root = secrets.token_urlsafe(32)
        strongroom, sr_base = start_strongroom(tmp, sr_root)
        started.append(strongroom)
        strongroom_ver = httpx.get(f"{sr_base}/v1/sys/health", timeout=5).json()["version"]

        console.print(f"Starting OpenBao {bao_ver} (dev mode, in memory) ...")
        bao_root = secrets.token_urlsafe(24)
        openbao, bao_base = start_openbao(args.bao, env, tmp, bao_root)
        started.append(openbao)
        write_kv(bao_base, bao_root)

        # Minted last, so it still lives at the end of the Strongroom run.
        access = mint_token(sr_base, sr_root, min_ttl=args.warmup + args.duration + 30)
        targets = [
            Target(
                "Strongroom",
                "GET /v1/sys/keys",
                f"{sr_base}/v1/sys/keys",
                {"Authorization": f"Bearer {access}"},
            ),
            Target(
                f"OpenBao {bao_ver}",
                "GET /v1/sys/mounts",
                f"{bao_base}/v1/sys/mounts",
                {"X-Vault-Token": bao_root},
            ),
            Target(
                f"OpenBao {bao_ver}",
                "GET /v1/secret/data/bench",
                f"{bao_base}/v1/secret/data/bench",
                {"X-Vault-Token": bao_root},
            ),
        ]
        with httpx.Client(timeout=10.0) as client:
            for target in targets:
                check_ok(client, target)

        console.print("Running wrk ...")
        results = [measure(args, target, tmp, console) for target in targets]
        for server in started:
            if server.proc.poll() is not None:
                raise BenchError(f"{server.name} died during the run:\n{server.log_tail()}")

    facts = machine_facts(bao_ver, strongroom_ver, args.wrk, load)
    render(console, results, facts, args)
    common.write_json(args.json, json_payload(results, facts, args))
    console.print(
        f"Results: {common.display_path(args.json)}; server logs: {LOG_DIR.relative_to(REPO_ROOT)}/"
    )

    failed = [r for r in results if r.requests == 0 or r.non_2xx * 2 > r.requests]
    if failed:
        for r in failed:
            console.print(
                f"[bold red]FAILED:[/] {r.target} {r.endpoint}: {r.non_2xx} of {r.requests} "
                "responses were not 2xx: the numbers above measure errors, not the endpoint "
                "(is the token accepted?)"
            )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
