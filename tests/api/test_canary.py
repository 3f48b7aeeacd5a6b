"""Canary values (shares, tokens, bogus credentials) never leak into events, logs or errors.

The test drives every route with real secrets and with canary strings in every place a
caller can put them, captures every log record, every response and the whole audit
table, and searches them all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from test_routes import api_operations

from strongroom.logs import JsonFormatter
from strongroom.node import Node

CANARIES = [
    "srs1-canaryshareaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "srr.CANARY-root-token-7f3a9c",
    "CANARYjwt.CANARYpayload.CANARYsig",
    "CANARY-body-value-51d2",
]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # httpx is the test's own client, logging the URLs the test chose to send.
        if not record.name.startswith("httpx"):
            self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[_Capture]:
    handler = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


def _audit_dump(node: Node) -> str:
    with node.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_events")).all()
    return "\n".join(
        " ".join(v.hex() if isinstance(v, bytes) else str(v) for v in row)
        + " "
        + row.entry.decode()
        for row in rows
    )


def _routes(client: TestClient) -> list[tuple[str, str]]:
    routes = [(m, p) for m, p, _ in api_operations(client)]
    assert len(routes) >= 11, "no routes found: the test would prove nothing"
    return routes


def test_no_secret_leaks_anywhere(client: TestClient, node: Node, captured: _Capture) -> None:
    responses: list[str] = []

    def keep(resp) -> None:  # type: ignore[no-untyped-def]
        responses.append(resp.text + " " + " ".join(f"{k}:{v}" for k, v in resp.headers.items()))

    init = client.post("/v1/sys/init", json={"shares": 3, "threshold": 2})
    shares, root = init.json()["shares"], init.json()["root_token"]
    # Canary and real-but-wrong shares while sealed.
    for bogus in CANARIES:
        keep(client.post("/v1/sys/unseal", json={"share": bogus}))
    for share in shares[:2]:
        keep(client.post("/v1/sys/unseal", json={"share": share}))
    minted = client.post(
        "/v1/auth/tokens",
        json={"subject": "svc", "scopes": ["sys:read", "audit:read", "tokens:create"]},
        headers={"Authorization": f"Bearer {root}"},
    )
    access = minted.json()["access_token"]
    secrets = [*shares, root, access]

    for method, path in _routes(client):
        for credential in [*CANARIES, root, access]:
            headers = {"Authorization": f"Bearer {credential}", "X-Request-Id": "canary-run"}
            for body in (
                None,
                {"share": CANARIES[0], "subject": "svc", "scopes": [CANARIES[3]]},
                {"subject": "svc", "unknown": CANARIES[3], "ttl": CANARIES[3]},
            ):
                if path in ("/v1/sys/init", "/v1/sys/seal"):
                    continue  # init is answered with secrets by design; seal would stop the run
                resp = client.request(
                    method, path, headers=headers, json=body, params={"actor": CANARIES[3]}
                )
                if path == "/v1/auth/tokens" and resp.status_code == 200:
                    continue  # a minted token is the intended answer
                keep(resp)
        # Tokens in the wrong place: a query string is never logged either.
        keep(client.get(path, params={"token": root, "access_token": access}))

    # A share that passes the checksum but is for another key, then the seal itself.
    keep(client.post("/v1/sys/seal", headers={"Authorization": f"Bearer {root}"}))
    keep(client.post("/v1/sys/unseal", json={"share": shares[2]}))

    haystacks = {
        "responses": "\n".join(responses),
        "logs": "\n".join(captured.lines),
        "audit": _audit_dump(node),
    }
    assert captured.lines, "the log capture saw nothing; the test would prove nothing"
    assert "sys.unseal" in haystacks["audit"]
    for where, hay in haystacks.items():
        for needle in [*secrets, *CANARIES]:
            assert needle not in hay, f"a secret leaked into {where}"
        # Also the distinctive body of each share (without its prefix) and token parts.
        for share in shares:
            assert share.removeprefix("srs1-")[:24] not in hay, f"a share leaked into {where}"
        assert access.split(".")[2] not in hay, f"a token signature leaked into {where}"
