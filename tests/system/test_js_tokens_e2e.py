"""The JavaScript tokenization client against a real server, on SQLite and PostgreSQL.

Python sets up the app's policies and mints one access token per role; Node runs
`sdk/js/testing/tokens-e2e.js` (tokens in its environment, the case on stdin), which
tokenizes, detokenizes and checks format preservation, masked views, a missing purpose, the
wrong scope, a bad batch, a forged token and the rate limit. Then the Python SDK
detokenizes the tokens the JS client made: interop both ways. Values are canaries that
must never reach the server's output or the audit trail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serverproc import Backend, Launcher, all_events, bearer, init_and_unseal, mint

from strongroom.sdk import Tokens

pytestmark = [
    pytest.mark.slow,
    # CI (.ci/run) sets STRONGROOM_REQUIRE_JS=1: there a missing runtime fails, not skips.
    pytest.mark.skipif(
        shutil.which("node") is None and os.environ.get("STRONGROOM_REQUIRE_JS") != "1",
        reason="node is not installed",
    ),
]

SCRIPT = Path(__file__).resolve().parents[2] / "sdk" / "js" / "testing" / "tokens-e2e.js"
APP = "shop"
BURST = 40
CANARY = "canary-js-7c1d"
CARDS = ["4242424242424242", "5555 5555 5555 4444", "4000-0566-5566-5556"]
EMAILS = [f"ada.{CANARY}@example.com", f"bob.{CANARY}@example.org", f"cyd.{CANARY}@example.net"]


@pytest.fixture
def http() -> Iterator[list[httpx.Client]]:
    opened: list[httpx.Client] = []
    yield opened
    for client in opened:
        client.close()


def _sdk(opened: list[httpx.Client], url: str, token: str) -> Tokens:
    client = httpx.Client(base_url=url, headers=bearer(token), timeout=30)
    opened.append(client)
    return Tokens(client, APP)


def _mint(url: str, root: str, subject: str, scopes: list[str]) -> str:
    resp = httpx.post(
        f"{url}/v1/auth/tokens",
        json={"subject": subject, "scopes": scopes, "ttl": 300},
        headers=bearer(root),
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def test_js_client_against_a_real_server(
    backend: Backend, launcher: Launcher, http: list[httpx.Client]
) -> None:
    node = shutil.which("node")
    assert node is not None, "STRONGROOM_REQUIRE_JS is set but node is not installed"
    server = launcher.start(
        env={
            **backend.env,
            "STRONGROOM_TOKEN_DETOKENIZE_BURST": str(BURST),
            "STRONGROOM_TOKEN_DETOKENIZE_RATE": "2",
        }
    )
    url = server.url
    _, root = init_and_unseal(url)
    admin = _sdk(http, url, mint(url, root, [f"tokens:admin:{APP}"])["access_token"])
    admin.create_policy("cards", region="default", scheme="fpe", format="card", keep_last=4)
    admin.create_policy(
        "emails", region="default", scheme="opaque", format="email", deterministic=True
    )

    tokenize = [f"tokens:tokenize:{APP}/cards", f"tokens:tokenize:{APP}/emails"]
    reveal = [
        f"tokens:{verb}:{APP}/{policy}"
        for verb in ("detokenize", "reveal")
        for policy in ("cards", "emails")
    ]
    tokens = {
        "SR_TOKENIZER": _mint(url, root, "ingest", tokenize),
        "SR_REVEALER": _mint(url, root, "support", reveal),
        "SR_ANALYST": _mint(url, root, "analyst", [f"tokens:detokenize:{APP}/cards"]),
        "SR_LIMITED": _mint(url, root, "bulk-reader", [f"tokens:detokenize:{APP}/cards"]),
    }
    python_side = _sdk(http, url, tokens["SR_TOKENIZER"])
    py_cards = python_side.tokenize("cards", CARDS)
    py_emails = python_side.tokenize("emails", EMAILS)
    case = {
        "app": APP,
        "cards": CARDS,
        "emails": EMAILS,
        "pyCards": py_cards,
        "pyEmails": py_emails,
        "canary": CANARY,
    }

    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "SR_"))}
    env.update(tokens, STRONGROOM_URL=url, SR_BURST=str(BURST))
    done = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(case),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    made = json.loads(done.stdout)

    # Interop: what the JS client made, the Python SDK opens (and the reverse ran in Node).
    support = _sdk(http, url, tokens["SR_REVEALER"])
    opened = support.detokenize("cards", made["cards"], purpose="python reads js")
    assert [(r.view, r.value) for r in opened] == [("plain", c) for c in CARDS]
    assert made["cards"] == py_cards  # an FPE token is a function of the value
    assert [r.value for r in support.detokenize("emails", made["emails"], purpose="x")] == EMAILS
    assert made["emails"] == py_emails

    # The JS calls are audited like any other, with their purposes, and no value anywhere.
    events = all_events(url, root)
    purposes = {e["detail"].get("purpose") for e in events if e["action"] == "tokens.detokenize"}
    assert {"js chargeback 17", "js reads python", "quarterly report"} <= purposes
    limited = [e for e in events if e["action"] == "tokens.detokenize" and e["outcome"] == "error"]
    assert any(e["detail"].get("error") == "rate-limited" for e in limited)
    dumped = json.dumps(events) + server.stdout() + server.stderr() + done.stderr
    for secret in [CANARY, *CARDS, *tokens.values(), *made["cards"], *made["emails"]]:
        assert secret not in dumped
