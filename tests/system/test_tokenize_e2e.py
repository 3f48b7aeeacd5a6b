"""The source document's case study against a real server, on SQLite and PostgreSQL.

A marketing app stores customer e-mails (deterministic tokens, so its tables join on them)
and card numbers (format-preserving, last four kept) in an EU region with a database of its
own; analysts see masked cards; detokenizing needs the scope and a purpose; one customer is
erased; then the EU region is shredded. The app uses the Python SDK; the operator the CLI.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from serverproc import PG_URL, Backend, Launcher, all_events, bearer, init_and_unseal, mint, run_cli

from strongroom.sdk import Tokens, TokensError

pytestmark = pytest.mark.slow

CUSTOMERS = [
    ("ada.canary1@example.com", "4242424242424242"),
    ("bob.canary2@example.org", "5555 5555 5555 4444"),
    ("cyd.canary3@example.net", "4000-0566-5566-5556"),
]
ORDERS = [
    ("ada.canary1@example.com", 30),
    ("cyd.canary3@example.net", 12),
    ("ada.canary1@example.com", 5),
]


@pytest.fixture
def eu_url(backend: Backend, tmp_path: Path) -> Iterator[str]:
    if backend.name == "sqlite":
        yield f"sqlite:///{(tmp_path / 'eu.db').as_posix()}"
        return
    assert PG_URL is not None
    conninfo = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    schema = "t_eu_" + secrets.token_hex(6)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


_CLIENTS: list[httpx.Client] = []
_DBS: list[sqlite3.Connection] = []


def request_close(db: sqlite3.Connection) -> None:
    _DBS.append(db)


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()
    while _DBS:
        _DBS.pop().close()


def _sdk(url: str, token: str) -> Tokens:
    http = httpx.Client(base_url=url, headers=bearer(token), timeout=30)
    _CLIENTS.append(http)
    return Tokens(http, "marketing")


def test_marketing_case_study(
    backend: Backend, launcher: Launcher, eu_url: str, tmp_path: Path
) -> None:
    regions = json.dumps({"eu": {"database_url": eu_url}, "us": {}})
    server = launcher.start(env={**backend.env, "STRONGROOM_TOKEN_REGIONS": regions})
    url = server.url
    _, root = init_and_unseal(url)

    # The platform team declares the app's two tokenized fields.
    admin = mint(url, root, ["tokens:admin:marketing"])["access_token"]
    owner = _sdk(url, admin)
    owner.create_policy(
        "emails", region="eu", scheme="opaque", format="email", deterministic=True, data_class="pii"
    )
    made = run_cli(
        "tokens",
        "policy-create",
        "--app",
        "marketing",
        "--name",
        "cards",
        "--region",
        "eu",
        "--scheme",
        "fpe",
        "--format",
        "card",
        "--keep-last",
        "4",
        "--data-class",
        "pci",
        "--json",
        addr=url,
        token=admin,
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["views"] == {"tokens:reveal:marketing/cards": "plain"}

    # Ingest: the app tokenizes before anything reaches its own storage.
    ingest = _sdk(
        url,
        mint(url, root, ["tokens:tokenize:marketing/emails", "tokens:tokenize:marketing/cards"])[
            "access_token"
        ],
    )
    emails = ingest.tokenize("emails", [e for e, _ in CUSTOMERS], idempotency_key="crm-import-1")
    cards = ingest.tokenize("cards", [c for _, c in CUSTOMERS])
    assert (
        ingest.tokenize("emails", [e for e, _ in CUSTOMERS], idempotency_key="crm-import-1")
        == emails
    )
    order_tokens = ingest.tokenize("emails", [e for e, _ in ORDERS])
    app_db = sqlite3.connect(tmp_path / "marketing.db")
    request_close(app_db)
    app_db.execute("CREATE TABLE customers (email TEXT, card TEXT)")
    app_db.execute("CREATE TABLE orders (email TEXT, amount INTEGER)")
    app_db.executemany("INSERT INTO customers VALUES (?, ?)", list(zip(emails, cards, strict=True)))
    app_db.executemany(
        "INSERT INTO orders VALUES (?, ?)",
        [(t, a) for t, (_, a) in zip(order_tokens, ORDERS, strict=True)],
    )
    joined = app_db.execute(
        "SELECT c.card, SUM(o.amount) FROM customers c JOIN orders o ON o.email = c.email "
        "GROUP BY c.card ORDER BY 2 DESC"
    ).fetchall()
    assert [(card[-4:], total) for card, total in joined] == [("4242", 35), ("5556", 12)]
    for (_, card), token in zip(CUSTOMERS, cards, strict=True):
        assert token != card and len(token) == len(card) and token[-4:] == card[-4:]

    # Analysts see masked cards; the e-mail policy is not theirs at all.
    analyst_token = mint(url, root, ["tokens:detokenize:marketing/cards"])["access_token"]
    analyst = _sdk(url, analyst_token)
    shown = analyst.detokenize("cards", [card for card, _ in joined], purpose="quarterly report")
    assert [(r.view, r.value) for r in shown] == [
        ("masked", "****-****-****-4242"),
        ("masked", "****-****-****-5556"),
    ]
    with pytest.raises(TokensError) as denied:
        analyst.detokenize("emails", emails, purpose="curiosity")
    assert denied.value.status == 403
    no_purpose = httpx.post(
        f"{url}/v1/apps/marketing/tokens/cards/detokenize",
        json={"tokens": cards},
        headers=bearer(analyst_token),
    )
    assert no_purpose.status_code == 422

    # Support, with the reveal scope, sees the real address, through the CLI too.
    support = mint(
        url, root, ["tokens:detokenize:marketing/emails", "tokens:reveal:marketing/emails"]
    )["access_token"]
    revealed = run_cli(
        "tokens",
        "detokenize",
        "--app",
        "marketing",
        "--policy",
        "emails",
        "--purpose",
        "ticket 4711",
        stdin=emails[1] + "\n",
        addr=url,
        token=support,
    )
    assert revealed.returncode == 0 and revealed.stdout == CUSTOMERS[1][0] + "\n"

    # Bob asks to be forgotten.
    erased = run_cli(
        "tokens",
        "erase",
        "--app",
        "marketing",
        "--policy",
        "emails",
        "--json",
        stdin=emails[1] + "\n",
        addr=url,
        token=admin,
    )
    assert json.loads(erased.stdout) == {"count": 1}
    assert owner.erase("cards", [cards[1]]) == 1
    for policy, token in (("emails", emails[1]), ("cards", cards[1])):
        with pytest.raises(TokensError) as gone:
            _sdk(url, root).detokenize(policy, [token], purpose="dsar check")
        assert (gone.value.status, gone.value.kind) == (410, "token-gone")
    assert [r.value for r in _sdk(url, support).detokenize("emails", [emails[0]], purpose="t")] == [
        CUSTOMERS[0][0]
    ]

    # Foreign and forged tokens: clear errors, per item.
    with pytest.raises(TokensError) as forged:
        _sdk(url, root).detokenize(
            "emails", [emails[0], emails[0][:-4] + "AAAA", cards[0]], purpose="x"
        )
    assert forged.value.kind == "batch-failed"
    assert [i["index"] for i in forged.value.items] == [1, 2]

    # The EU region is shredded: nothing there can be read again, by anyone.
    shred = run_cli("tokens", "shred", "--region", "eu", "--yes", "--json", addr=url, token=root)
    assert shred.returncode == 0 and json.loads(shred.stdout)["policies"] == 2
    for policy, token in (("emails", emails[0]), ("cards", cards[0])):
        with pytest.raises(TokensError) as lost:
            _sdk(url, root).detokenize(policy, [token], purpose="after shred")
        assert (lost.value.status, lost.value.kind) == (410, "shredded")

    # One event per call, and no value or token anywhere in the trail or the server's output.
    events = all_events(url, root)
    detokenizes = [e for e in events if e["action"] == "tokens.detokenize"]
    assert {e["detail"].get("purpose") for e in detokenizes if e["outcome"] == "success"} >= {
        "quarterly report",
        "ticket 4711",
    }
    dump = json.dumps(events) + server.stdout() + server.stderr()
    for secret in [
        *[e for e, _ in CUSTOMERS],
        *[c for _, c in CUSTOMERS],
        *emails,
        *cards,
        "canary",
    ]:
        assert secret not in dump
