"""Token exchanges and resource-side validations per second, beside raw Ed25519.

On a fresh SQLite node (initialised and unsealed, in a temporary directory under
`bench/.work/`), with one registered client (``client_secret_basic``):

- raw Ed25519 sign / verify: `cryptography` signing and verifying a message the size of an
  access token's signing input, one thread (the limit: every exchange signs once, every
  validation verifies once);
- token exchange: `Broker.exchange` (the service under `POST /v1/oauth/token`): client
  authentication, subject-token verification with its revocation check, scope narrowing,
  signing, and one durable audit event; run from ``--threads`` threads so the audit trail's
  group commit can share fsyncs, as concurrent requests do;
- exchange without its audit event: `TokenExchange.exchange` alone (subject verification,
  revocation check, scope narrowing, signing), one thread: the broker's own cost, to show
  how much of an exchange the durable audit event takes;
- validation: `Node.authenticate` on an exchanged token (what every API call does):
  signature, claims, and the revocation check (an in-memory lookup with bounded staleness),
  one thread.

Prints a table (per second, and % of the raw rate) and writes `bench/.work/token_exchange.json`.
The targets (exchange >= 25% of raw sign, validation >= 50% of raw verify) are judged under
the table but never change the exit code.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import common
import cryptography
from common import WORK_DIR, BenchError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from strongroom.call import Call
from strongroom.config import load_settings
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


def threaded_rate(fn: Callable[[], Any], seconds: float, threads: int) -> float:
    """Calls per second of ``fn`` from ``threads`` threads over about ``seconds``."""
    stop = threading.Event()
    counts = [0] * threads
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            while not stop.is_set():
                fn()
                counts[index] += 1
        except BaseException as exc:  # reported after the run
            errors.append(exc)
            stop.set()

    for _ in range(20):
        fn()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise BenchError(f"an exchange failed: {errors[0]!r}")
    return sum(counts) / elapsed


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
    raw_sign, raw_verify = results["raw_sign"], results["raw_verify"]
    exchange, validation = results["exchange"], results["validation"]
    table = Table("operation", "per second", "% of raw Ed25519", title="Token broker")
    table.add_row("raw Ed25519 sign (cryptography)", f"{raw_sign:,.0f}", "100.0")
    table.add_row(
        f"token exchange ({args.threads} threads, audited)",
        f"{exchange:,.0f}",
        f"{100 * exchange / raw_sign:.1f} of sign",
    )
    bare = results["exchange_unaudited"]
    table.add_row(
        "  exchange without its audit event (1 thread)",
        f"{bare:,.0f}",
        f"{100 * bare / raw_sign:.1f} of sign",
    )
    table.add_row("raw Ed25519 verify (cryptography)", f"{raw_verify:,.0f}", "100.0")
    table.add_row(
        "resource-side validation (+ revocation check)",
        f"{validation:,.0f}",
        f"{100 * validation / raw_verify:.1f} of verify",
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
            "every exchange verifies its subject token once (an Ed25519 verify costs about "
            f"{raw_sign / raw_verify:.1f} signs here) and signs once, then waits for its "
            "durable audit event (group commit)",
        ],
    )
    common.print_lines(
        console,
        "Target",
        [
            f"exchange >= {EXCHANGE_TARGET:.0f}% of raw sign: {exchange_share:.1f}% "
            + ("met" if exchange_share >= EXCHANGE_TARGET else "NOT met"),
            f"validation >= {VALIDATION_TARGET:.0f}% of raw verify: {validation_share:.1f}% "
            + ("met" if validation_share >= VALIDATION_TARGET else "NOT met"),
        ],
    )
    common.write_json(
        args.json,
        {"machine": facts, "threads": args.threads, "seconds": args.seconds, **results},
    )
    console.print(f"JSON: {common.display_path(args.json)}", highlight=False)
    return 0


def measure(node: Node, secret: str, args: argparse.Namespace) -> dict[str, float]:
    raw_key = Ed25519PrivateKey.generate()
    message = b"x" * 420
    signature = raw_key.sign(message)
    public = raw_key.public_key()
    raw_sign = rate(lambda: raw_key.sign(message), args.seconds)
    raw_verify = rate(lambda: public.verify(signature, message), args.seconds)

    subject = node.tokens.mint("alice", ["sys:read", "audit:read"], 900, client_id="root")
    form = {
        "grant_type": ["urn:ietf:params:oauth:grant-type:token-exchange"],
        "subject_token": [subject.access_token],
        "subject_token_type": [ACCESS_TOKEN_TYPE],
        "scope": ["sys:read"],
    }
    creds = ClientCredentials(basic=("bench-app", secret))
    call = Call("bench", "anonymous")

    def exchange() -> Any:
        return node.broker.exchange(call, form, creds, None)

    token = exchange().issued.access_token
    exchange_rate = threaded_rate(exchange, args.seconds, args.threads)
    unaudited = rate(lambda: node.broker.exchanger.exchange(form, "bench-app", None), args.seconds)

    def validate() -> Any:
        return node.authenticate(token)

    validation = rate(validate, args.seconds)
    return {
        "raw_sign": raw_sign,
        "raw_verify": raw_verify,
        "exchange": exchange_rate,
        "exchange_unaudited": unaudited,
        "validation": validation,
    }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--threads", type=int, default=8, help="exchange threads")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(common.main(run, parse(sys.argv[1:])))
