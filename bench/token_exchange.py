"""Token exchanges and resource-side validations per second, beside raw Ed25519.

On a fresh SQLite node (initialised and unsealed, in a temporary directory under
`bench/.work/`), with one registered client (``client_secret_basic``):

- raw Ed25519 sign / verify: `cryptography` signing and verifying a message the size of an
  access token's signing input, one thread (the issue's reference: every exchange signs
  once, every validation verifies once); and the same with libsodium through PyNaCl, which
  Strongroom signs and verifies tokens with (`strongroom.crypto.ed25519`, ADR 12);
- token exchange: `Broker.exchange` (the service under `POST /v1/oauth/token`): client
  authentication, subject-token verification with its revocation check, scope narrowing,
  signing, and one durable audit event (written by the audit appender process, as the
  server does by default); run from ``--concurrency`` coroutines on one event loop so the
  audit trail's group commit can share fsyncs, as concurrent requests do. Two rows: the
  *mixed* one, on which the target is judged: one exchange in five (``--first-seen``,
  20%) presents a subject token never presented before, whose signature is verified, and
  the others tokens presented already, which the verified-token cache holds (a fixed
  share, whatever the speed; the tokens are distinct, one user each); and the *warm* one
  (``--warm-subjects`` tokens each exchanged once before the measurement, then again: a
  backend exchanging a user's sign-in token for another audience; no signature check,
  revocation still checked). Each row prints its share of first-seen subject tokens;
- exchange without its audit event: `TokenExchange.exchange` alone (subject verification,
  revocation check, scope narrowing, signing), one thread: the broker's own cost, to show
  how much of an exchange the durable audit event takes;
- validation: `Node.authenticate` on an exchanged token (what every API call does):
  signature, claims, and the revocation check (an in-memory lookup with bounded staleness),
  one thread.

The machine's speed moves within seconds, so the rates compared are taken in turns: the
raw rates in ``--rounds`` alternating slices, and each service row in ``--rounds``
slices, each after a slice of raw `cryptography` signing of the same length; the raw sign
rate every row is divided by is the mean of all those slices.

Prints a table (per second, and % of the raw rate) and writes `bench/.work/token_exchange.json`.
Under the table, the service rows' CPU time per exchange (the whole process, and the event
loop's thread alone) and how much of the time the loop was busy: a loop idle for a large
share of the run is waiting for group commits, not short of CPU.
The targets (exchange >= 25% of raw sign, validation >= 50% of raw verify) are judged under
the table but never change the exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import common
import cryptography
import httpx
import keys_rps
from common import WORK_DIR, BenchError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from strongroom.call import Call
from strongroom.config import load_settings
from strongroom.crypto import ed25519
from strongroom.identity.clients import ClientCredentials
from strongroom.identity.subjects import ACCESS_TOKEN_TYPE
from strongroom.node import Node

DEFAULT_JSON = WORK_DIR / "token_exchange.json"
EXCHANGE_TARGET = 25.0
VALIDATION_TARGET = 50.0


def rate(fn: Callable[[], Any], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``, from one thread."""
    for _ in range(50):
        fn()
    done, started = 0, time.perf_counter()
    while True:
        for _ in range(100):
            fn()
        done += 100
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def open_node(tmp: Path) -> tuple[Node, str, str]:
    settings = load_settings(
        database_url=f"sqlite:///{(tmp / 'strongroom.db').as_posix()}",
        data_dir=tmp / "data",
        addr="127.0.0.1:8210",
        oauth_default_app_scopes=["sys:read", "audit:read"],
    )
    node = Node.open(settings)
    done = node.initialize(Call("bench"), shares=1, threshold=1)
    node.unseal(Call("bench"), done.result.shares[0])
    secret = node.broker.create_client(Call("bench"), "bench-app", "client_secret_basic", None)
    if secret is None:
        raise BenchError("no client secret was generated")
    return node, done.root_token, secret


def run(args: argparse.Namespace, console: Console) -> int:
    load = common.load_average()
    with common.scratch_directory("token-exchange-", WORK_DIR) as tmp:
        node, _root, secret = open_node(tmp)
        try:
            results = measure(node, secret, args)
        finally:
            node.close()
        http = None if args.no_http else http_rate(tmp, args)
    raw_sign, raw_verify = results["raw_sign"], results["raw_verify"]
    exchange, validation = results["exchange"], results["validation_first_sight"]
    repeated = results["validation"]
    table = Table("operation", "per second", "% of raw Ed25519", title="Token broker")
    table.add_row("raw Ed25519 sign (cryptography)", f"{raw_sign:,.0f}", "100.0")
    sodium_sign, sodium_verify = results["raw_sign_sodium"], results["raw_verify_sodium"]
    table.add_row(
        "  raw Ed25519 sign (libsodium, what Strongroom signs with)",
        f"{sodium_sign:,.0f}",
        f"{100 * sodium_sign / raw_sign:.1f} of sign",
    )
    mixed_seen = first_seen_share(results)
    table.add_row(
        f"token exchange (service, {args.concurrency} concurrent, audited; "
        f"{mixed_seen:.0f}% first-seen subjects)",
        f"{exchange:,.0f}",
        f"{100 * exchange / raw_sign:.1f} of sign",
    )
    warm = results["warm"]
    table.add_row(
        f"  warm subjects (each exchanged before; {first_seen_share(warm):.0f}% first-seen)",
        f"{warm['exchange']:,.0f}",
        f"{100 * warm['exchange'] / raw_sign:.1f} of sign",
    )
    if http is not None:
        per_s = http["requests_per_sec"]
        table.add_row(
            f"token exchange (HTTP, wrk {args.connections} connections, audited)",
            f"{per_s:,.0f}",
            f"{100 * per_s / raw_sign:.1f} of sign",
        )
        results["exchange_http"] = per_s
    bare = results["exchange_unaudited"]
    table.add_row(
        "  exchange without its audit event (1 thread)",
        f"{bare:,.0f}",
        f"{100 * bare / raw_sign:.1f} of sign",
    )
    table.add_row("raw Ed25519 verify (cryptography)", f"{raw_verify:,.0f}", "100.0")
    table.add_row(
        "  raw Ed25519 verify (libsodium, what Strongroom verifies with)",
        f"{sodium_verify:,.0f}",
        f"{100 * sodium_verify / raw_verify:.1f} of verify",
    )
    table.add_row(
        "resource-side validation, each token first seen (+ revocation check)",
        f"{validation:,.0f}",
        f"{100 * validation / raw_verify:.1f} of verify",
    )
    table.add_row(
        "  the same token again (verified-token cache + revocation check)",
        f"{repeated:,.0f}",
        f"{100 * repeated / raw_verify:.1f} of verify",
    )
    console.print(table)
    facts = common.machine_facts(load, cryptography=cryptography.__version__)
    common.print_machine(console, facts, [f"cryptography {cryptography.__version__}", "SQLite"])
    exchange_share = 100 * exchange / raw_sign
    validation_share = 100 * validation / raw_verify
    common.print_lines(
        console,
        "Note",
        [
            "every exchange signs once and waits for its durable audit event (group commit); "
            "a subject token seen for the first time is also verified once. Strongroom signs "
            "and verifies with libsodium (ADR 12): its sign and verify alone would cap "
            "first-seen exchanges at "
            f"{100 / (raw_sign / sodium_sign + raw_sign / sodium_verify):.1f}% of "
            "cryptography's raw sign rate, and every exchange at "
            f"{100 * sodium_sign / raw_sign:.1f}%. The target stays judged against "
            "cryptography's rate, the issue's reference; against libsodium's own sign rate "
            f"the mixed row is {100 * exchange / sodium_sign:.1f}%",
            f"rates taken in turns: the raw rates in {args.rounds} alternating slices, and "
            f"each service row in {args.rounds} slices, each right after a slice of raw "
            "cryptography signing; the raw sign rate above is the mean of those "
            f"{len(results['raw_sign_by_slice'])} slices ("
            + ", ".join(f"{r:,.0f}" for r in results["raw_sign_by_slice"])
            + "/s)",
            "the service row runs its coroutines on uvloop, as the server does; an exchange "
            "whose client, revocation snapshot and approved scopes are in memory runs on the "
            "event loop, others in a worker thread",
            f"service row (mixed): {results['exchanges_measured']:,} exchanges, "
            f"{results['exchanges_first_seen']:,} of them with a subject token seen for the "
            f"first time; CPU per exchange {results['exchange_cpu_us']:.0f} µs in the process "
            f"(its audit writer thread included), of which "
            f"{results['exchange_loop_cpu_us']:.0f} µs on the event loop, which ran "
            f"{100 * results['exchange_loop_busy']:.0f}% of the time (the rest, its coroutines "
            "were all waiting for their events' group commit, or the machine's other load had "
            "the CPU: wall-clock rates move with that load, CPU figures much less); and "
            f"{results['exchange_appender_cpu_us']:.0f} µs in the audit appender process, on "
            "the other core (it writes the events' batches). By slice: "
            + ", ".join(
                f"{r:,.0f}/s (loop busy {100 * b:.0f}%)"
                for r, b in zip(
                    results["exchange_by_slice"],
                    results["exchange_loop_busy_by_slice"],
                    strict=True,
                )
            ),
            f"warm row: {warm['exchanges_measured']:,} exchanges of {args.warm_subjects:,} "
            f"subject tokens each exchanged once before (as a backend exchanges a user's "
            f"token again, for another audience), {warm['exchanges_first_seen']:,} first seen; "
            f"CPU per exchange {warm['exchange_cpu_us']:.0f} µs in the process, "
            f"{warm['exchange_loop_cpu_us']:.0f} µs on the loop (busy "
            f"{100 * warm['exchange_loop_busy']:.0f}%), "
            f"{warm['exchange_appender_cpu_us']:.0f} µs in the audit appender process. "
            "The target is judged on the mixed row, "
            "as before; the warm row shows the exchange without a signature check",
            "the mixed row's subject tokens are distinct (one user each); one exchange in "
            f"{round(100 / args.first_seen)} presents one for the first time, the others one "
            "presented before, which the verified-token cache remembers (keyed by its hash; "
            "revocation is still checked), so they skip the signature check; the first-seen "
            "validation row shows the uncached cost",
        ]
        + ([] if http is not None else ["HTTP not measured (--no-http, or wrk is missing)"]),
    )
    common.print_lines(
        console,
        "Target",
        [
            f"exchange >= {EXCHANGE_TARGET:.0f}% of raw sign (mixed row): {exchange_share:.1f}% "
            + ("met" if exchange_share >= EXCHANGE_TARGET else "NOT met")
            + f" (warm subjects: {100 * warm['exchange'] / raw_sign:.1f}%)",
            f"validation >= {VALIDATION_TARGET:.0f}% of raw verify: {validation_share:.1f}% "
            + ("met" if validation_share >= VALIDATION_TARGET else "NOT met"),
        ],
    )
    common.write_json(
        args.json,
        {
            "machine": facts,
            "concurrency": args.concurrency,
            "connections": args.connections,
            "seconds": args.seconds,
            **results,
            "http": http,
        },
    )
    console.print(f"JSON: {common.display_path(args.json)}", highlight=False)
    return 0


FORM_BASE = {
    "grant_type": ["urn:ietf:params:oauth:grant-type:token-exchange"],
    "subject_token_type": [ACCESS_TOKEN_TYPE],
    "scope": ["sys:read"],
}


def first_seen_share(row: dict[str, Any]) -> float:
    """The percentage of a service row's exchanges whose subject token was first seen."""
    return 100 * row["exchanges_first_seen"] / max(row["exchanges_measured"], 1)


def subject_tokens(node: Node, count: int) -> list[str]:
    """``count`` distinct subject tokens, each for its own user (nothing is reused warm)."""
    return [
        node.tokens.mint(
            f"user-{i}", ["sys:read", "audit:read"], 900, client_id="root"
        ).access_token
        for i in range(count)
    ]


class Subjects:
    """Subject tokens handed out across the slices of a row (`async_slice`): one exchange
    in every ``every`` presents a token never presented before (while any is left), the
    others the tokens presented already, in turn. So the share of first-seen subjects does
    not depend on how fast the exchanges run. With ``every`` 0, every token is presented
    before any is presented again (the warm row, whose warm-up presents them all)."""

    def __init__(self, tokens: list[str], every: int = 0) -> None:
        self.fresh = list(reversed(tokens))
        self.seen: list[str] = []
        self.every = every
        self.count = 0
        self.position = 0
        #: Exchanges that presented a token for the first time.
        self.first_seen = 0

    def form(self) -> dict[str, list[str]]:
        self.count += 1
        if self.fresh and (not self.seen or not self.every or self.count % self.every == 0):
            token = self.fresh.pop()
            self.seen.append(token)
            self.first_seen += 1
        else:
            self.position = (self.position + 1) % len(self.seen)
            token = self.seen[self.position]
        return {**FORM_BASE, "subject_token": [token]}


def appender_cpu(node: Node) -> float:
    """CPU seconds the node's audit appender process has used (0 without one)."""
    appender = node.committer.appender
    pid = appender.pid if appender is not None else None
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def async_slice(
    node: Node,
    creds: ClientCredentials,
    subjects: Subjects,
    seconds: float,
    concurrency: int,
    warm_up: int = 0,
) -> dict[str, float]:
    """Exchanges through `Broker.exchange_async` for about ``seconds``, from
    ``concurrency`` coroutines on one event loop (as the API's token endpoint runs them),
    each with the next subject of ``subjects`` (which carries on from the slice before).
    ``warm_up`` exchanges first, unmeasured.

    Returns the exchanges done, the wall time, the CPU time of the whole process (the
    audit writer included) and of the event loop's thread: the loop is idle for the rest
    of the wall time, every coroutine waiting for its event's group commit."""
    call = Call("bench", "anonymous")

    async def main() -> dict[str, float]:
        for _ in range(warm_up):
            await node.broker.exchange_async(call, subjects.form(), creds, None)
        stop = time.perf_counter() + seconds
        done = [0]

        async def worker() -> None:
            while time.perf_counter() < stop:
                await node.broker.exchange_async(call, subjects.form(), creds, None)
                done[0] += 1

        cpu, loop_cpu = time.process_time(), time.thread_time()
        child_cpu = appender_cpu(node)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {
            "done": done[0],
            "wall": time.perf_counter() - started,
            "cpu": time.process_time() - cpu,
            "loop_cpu": time.thread_time() - loop_cpu,
            "appender_cpu": appender_cpu(node) - child_cpu,
        }

    return common.run_loop(main())


def interleaved_row(
    node: Node,
    creds: ClientCredentials,
    tokens: list[str],
    args: argparse.Namespace,
    sign: Callable[[], Any],
    signs: list[float],
    *,
    warm: bool,
) -> dict[str, float]:
    """A service row measured in ``args.rounds`` slices, each after a slice of raw
    ``sign`` calls of the same length (their rates go to ``signs``, per slice): the
    machine's changes of speed during the row reach both alike.

    ``warm``: every subject is exchanged once before the measurement (so each is in the
    verified-token cache, and none is seen for the first time while measuring); else
    only the first 20 are, and each later one is new until the list wraps."""
    every = 0 if warm else round(100 / args.first_seen)
    subjects = Subjects(tokens, every)
    share = args.seconds / args.rounds
    totals = dict.fromkeys(("done", "wall", "cpu", "loop_cpu", "appender_cpu"), 0.0)
    # The warm-up alone (a slice of no seconds).
    async_slice(node, creds, subjects, 0.0, args.concurrency, len(tokens) if warm else 20)
    if any(node.tokens.cached(t) is None for t in subjects.seen):
        raise BenchError("a subject token of the warm-up is not in the verified-token cache")
    before = subjects.first_seen
    slices: list[float] = []
    busy: list[float] = []
    for _ in range(args.rounds):
        signs.append(rate(sign, share))
        part = async_slice(node, creds, subjects, share, args.concurrency)
        for key in totals:
            totals[key] += part[key]
        slices.append(part["done"] / part["wall"])
        busy.append(part["loop_cpu"] / part["wall"])
    done = int(totals["done"])
    if not warm and not subjects.fresh:
        raise BenchError(f"--subjects {len(tokens)} ran out: give more")
    return {
        "exchange": done / totals["wall"],
        "exchanges_measured": done,
        # Each token the row presented for the first time was first seen by the broker
        # too: the verified-token cache holds only what the broker verified.
        "exchanges_first_seen": subjects.first_seen - before,
        "exchange_cpu_us": 1e6 * totals["cpu"] / max(done, 1),
        "exchange_loop_cpu_us": 1e6 * totals["loop_cpu"] / max(done, 1),
        "exchange_appender_cpu_us": 1e6 * totals["appender_cpu"] / max(done, 1),
        "exchange_loop_busy": totals["loop_cpu"] / totals["wall"],
        "exchange_by_slice": slices,
        "exchange_loop_busy_by_slice": busy,
    }


LUA = """\
local bodies = {}
for line in io.lines(%(path)s) do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = %(basic)s
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, "/v1/oauth/token", nil, bodies[i])
end
"""


def wait_listening(server: keys_rps.Server, url: str, timeout: float = 60.0) -> None:
    """Until the server answers its health check (uninitialised is an answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(f"the server exited while starting:\n{server.log_tail()}")
        try:
            if httpx.get(url, timeout=2).status_code in (200, 501, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise BenchError(f"the server did not start:\n{server.log_tail()}")


def http_rate(tmp: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """Exchanges per second through ``POST /v1/oauth/token`` of a `strongroom server`
    (one uvicorn process on loopback, SQLite), driven by wrk with ``args.connections``
    connections, each request with its own subject token. None when wrk is missing."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    port = keys_rps.free_port()
    env = keys_rps.clean_env(("STRONGROOM_",))
    env.update(
        {
            "STRONGROOM_DATA_DIR": str(tmp / "http-data"),
            "STRONGROOM_DATABASE_URL": f"sqlite:///{(tmp / 'http.db').as_posix()}",
            "STRONGROOM_LOG_LEVEL": "warning",
            "STRONGROOM_OAUTH_DEFAULT_APP_SCOPES": json.dumps(["sys:read", "audit:read"]),
        }
    )
    argv = [common.strongroom_executable(), "server", "--addr", f"127.0.0.1:{port}"]
    server = keys_rps.start("strongroom-token-exchange", argv, env, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_listening(server, f"{base}/v1/sys/health")
        with httpx.Client(base_url=base, timeout=30) as client:
            body = client.post("/v1/sys/init", json={"shares": 1, "threshold": 1}).json()
            client.post("/v1/sys/unseal", json={"share": body["shares"][0]}).raise_for_status()
            client.headers["Authorization"] = f"Bearer {body['root_token']}"
            made = client.post(
                "/v1/oauth/clients",
                json={"client_id": "bench-app", "auth_method": "client_secret_basic"},
            )
            made.raise_for_status()
            secret = made.json()["client_secret"]
            lines = []
            for i in range(args.http_subjects):
                minted = client.post(
                    "/v1/auth/tokens",
                    json={"subject": f"user-{i}", "scopes": ["sys:read", "audit:read"], "ttl": 300},
                )
                minted.raise_for_status()
                form = {**{k: v[0] for k, v in FORM_BASE.items()}}
                form["subject_token"] = minted.json()["access_token"]
                lines.append(urlencode(form))
        bodies = tmp / "bodies.txt"
        bodies.write_text("\n".join(lines) + "\n", encoding="ascii")
        basic = "Basic " + base64.b64encode(f"bench-app:{secret}".encode()).decode()
        script = tmp / "exchange.lua"
        script.write_text(
            LUA % {"path": json.dumps(str(bodies)), "basic": json.dumps(basic)}, encoding="utf-8"
        )
        argv = [wrk, "-t1", f"-c{args.connections}", f"-d{args.seconds:g}s", "--latency"]
        argv += ["-s", str(script), base]
        result = keys_rps.parse_wrk(keys_rps.run_wrk(argv, args.seconds))
    finally:
        keys_rps.stop(server)
    if result["non_2xx"] or sum(result["socket_errors"].values()):
        raise BenchError(f"token exchange over HTTP failed: {result}")
    return result


def measure(node: Node, secret: str, args: argparse.Namespace) -> dict[str, Any]:
    raw_key = Ed25519PrivateKey.generate()
    message = b"x" * 420
    signature = raw_key.sign(message)
    public = raw_key.public_key()
    sodium = ed25519.SigningKey(raw_key.private_bytes_raw())

    def sign() -> Any:
        return raw_key.sign(message)

    # The raw rates in alternating slices (cryptography, then libsodium, then again), as
    # the machine's speed moves within seconds; cryptography's raw sign rate is measured
    # again beside every slice of the service rows. The rate the rows are divided by is
    # the mean of all its slices.
    share = args.seconds / args.rounds
    signs: list[float] = []
    sodium_signs, verifies, sodium_verifies = [], [], []
    for _ in range(args.rounds):
        signs.append(rate(sign, share))
        sodium_signs.append(rate(lambda: sodium.sign(message), share))
        verifies.append(rate(lambda: public.verify(signature, message), share))
        sodium_verifies.append(
            rate(lambda: ed25519.verify(sodium.public, signature, message), share)
        )

    subjects = subject_tokens(node, args.subjects)
    creds = ClientCredentials(basic=("bench-app", secret))
    service = interleaved_row(node, creds, subjects, args, sign, signs, warm=False)
    # Others than the mixed row's, so that row's first-seen count stays exact.
    warm_subjects = subject_tokens(node, args.warm_subjects)
    warm = interleaved_row(node, creds, warm_subjects, args, sign, signs, warm=True)
    position = [0]

    def bare() -> Any:  # subject tokens the warm row presented: in the cache
        position[0] = (position[0] + 1) % len(warm_subjects)
        form = {**FORM_BASE, "subject_token": [warm_subjects[position[0]]]}
        return node.broker.exchanger.exchange(form, "bench-app", None)

    token = bare().issued.access_token
    unaudited = rate(bare, args.seconds)

    def validate() -> Any:
        return node.authenticate(token)

    validation = rate(validate, args.seconds)
    # Each token seen for the first time: a full signature check, no cache hit.
    fresh = [bare().issued.access_token for _ in range(4000)]
    start = time.perf_counter()
    for each in fresh:
        node.authenticate(each)
    first_sight = len(fresh) / (time.perf_counter() - start)
    return {
        "validation_first_sight": first_sight,
        "raw_sign": statistics.mean(signs),
        "raw_sign_by_slice": signs,
        "raw_verify": statistics.mean(verifies),
        "raw_sign_sodium": statistics.mean(sodium_signs),
        "raw_verify_sodium": statistics.mean(sodium_verifies),
        **service,
        "warm": warm,
        "exchange_unaudited": unaudited,
        "validation": validation,
    }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument(
        "--rounds", type=int, default=5, help="slices the raw rates and service rows take turns in"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent exchanges")
    parser.add_argument(
        "--subjects", type=int, default=12000, help="distinct subject tokens (mixed row)"
    )
    parser.add_argument(
        "--first-seen",
        type=float,
        default=20.0,
        help="percent of the mixed row's exchanges presenting a subject token first",
    )
    parser.add_argument(
        "--warm-subjects", type=int, default=1000, help="subject tokens exchanged again"
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (HTTP)")
    parser.add_argument("--http-subjects", type=int, default=1000, help="subjects for HTTP")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurement")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be at least 1 and --seconds positive")
    return args


if __name__ == "__main__":
    sys.exit(common.main(run, parse(sys.argv[1:])))
