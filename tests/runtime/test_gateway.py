"""The connector gateway against a real HTTP upstream on loopback (allowlisted explicitly)."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from support import Ready

from strongroom.api.app import create_app
from strongroom.config import load_settings
from strongroom.errors import EgressDeniedError
from strongroom.node import Call, Node
from strongroom.runtime.egress import EgressPolicy

CANARY = "CANARY-gateway-secret-73ab19"
CANARY2 = "CANARY-gateway-rotated-0c44e2"


class Upstream(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[dict[str, str]]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the gateway hangs up on /hang and /big by design


class Handler(BaseHTTPRequestHandler):
    server: Upstream

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        headers = dict(self.headers.items())
        self.server.seen.append({"path": self.path, "body": body, **headers})
        auth = headers.get("Authorization", "") + headers.get("X-API-Key", "")
        if self.path.startswith("/echo"):
            out = json.dumps({"method": self.command, "path": self.path, "headers": headers})
            self._reply(200, out.encode(), {"X-Echo": auth, "Content-Type": "application/json"})
        elif self.path == "/gzip":
            self._reply(200, gzip.compress(auth.encode()), {"Content-Encoding": "gzip"})
        elif self.path == "/redirect-away":
            self._reply(302, b"", {"Location": "http://203.0.113.5/steal"})
        elif self.path == "/redirect-same":
            self._reply(302, b"", {"Location": "/echo"})
        elif self.path == "/big":
            self._reply(200, b"x" * 200_000)
        elif self.path == "/hang":
            time.sleep(4)
            self._reply(200, b"late")
        else:
            self._reply(404, b"no")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream(("127.0.0.1", 0), Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def gw(database_url: str, tmp_path: Path, upstream: Upstream) -> Iterator[Ready]:
    base = f"http://127.0.0.1:{upstream.server_address[1]}"
    settings = load_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        connectors=[
            {
                "name": "crm-api",
                "app": "crm",
                "template": "bearer",
                "base_url": base,
                "secret": "sr://secrets/crm/api-key",
            },
            {
                "name": "crm-header",
                "app": "crm",
                "template": "header",
                "base_url": base + "/echo",
                "secret": "sr://secrets/crm/api-key",
                "header": "X-API-Key",
            },
            {
                "name": "crm-basic",
                "app": "crm",
                "template": "basic",
                "base_url": base,
                "secret": "sr://secrets/crm/api-key",
                "username": "svc",
            },
            {
                "name": "hr-api",
                "app": "hr",
                "template": "bearer",
                "base_url": base,
                "secret": "sr://secrets/hr/key",
            },
        ],
        egress_allowlist={"crm": ["127.0.0.1"]},
        egress_allow_private=["127.0.0.1/32"],
        gateway_timeout_seconds=2.0,  # wide of the fast cases, short of /hang
        gateway_max_response_bytes=65_536,
    )
    node = Node.open(settings)
    with TestClient(create_app(node), raise_server_exceptions=False) as client:
        done = node.initialize(Call("t"), shares=1, threshold=1)
        node.unseal(Call("t"), done.result.shares[0])
        ready = Ready(node, client, list(done.result.shares), done.root_token)
        ready.client.put(
            "/v1/apps/crm/secrets/api-key", json={"value": CANARY}, headers=ready.auth()
        ).raise_for_status()
        ready.client.put(
            "/v1/apps/hr/secrets/key", json={"value": "hr-value-1"}, headers=ready.auth()
        ).raise_for_status()
        yield ready
    node.close()


def _call(ready: Ready, token: str, connector: str, **body: object):  # type: ignore[no-untyped-def]
    return ready.client.post(
        f"/v1/connectors/{connector}/request", json=body, headers=ready.auth(token)
    )


def _events(ready: Ready) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    with ready.node.db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, outcome, detail FROM audit_events ORDER BY seq")
        ).all()
    return [(a, o, json.loads(d)) for a, o, d in rows if a == "connectors.request"]


def test_call_injects_the_secret_and_strips_it_from_the_answer(
    gw: Ready, upstream: Upstream
) -> None:
    app_token = gw.mint("connectors:call:crm-api", subject="crm-app")
    resp = _call(
        gw,
        app_token,
        "crm-api",
        method="POST",
        path="/echo?x=1",
        body="hello",
        headers={"X-Trace": "t1"},
    )
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["status"] == 200 and out["secret_version"] == 1
    # The upstream got the secret; the app got none of it back.
    assert upstream.seen[-1]["Authorization"] == f"Bearer {CANARY}"
    assert upstream.seen[-1]["X-Trace"] == "t1" and upstream.seen[-1]["body"] == "hello"
    assert upstream.seen[-1]["path"] == "/echo?x=1"
    assert CANARY not in resp.text
    assert "[REDACTED]" in out["body"]
    assert ("X-Echo", "Bearer [REDACTED]") in [tuple(h) for h in out["headers"]]
    # A compressed answer is decoded before the secret is stripped.
    zipped = _call(gw, app_token, "crm-api", path="/gzip")
    assert zipped.json()["body"] == "Bearer [REDACTED]"
    event = _events(gw)[-1]
    assert event[1] == "success"
    assert event[2]["secret"] == "crm/api-key" and event[2]["version"] == 1
    assert event[2]["status"] == 200 and event[2]["host"] == "127.0.0.1"


def test_header_and_basic_templates(gw: Ready, upstream: Upstream) -> None:
    token = gw.mint("connectors:call:crm-header", "connectors:call:crm-basic")
    resp = _call(gw, token, "crm-header", path="/")
    assert resp.status_code == 200, resp.text
    assert upstream.seen[-1]["X-API-Key"] == CANARY
    assert CANARY not in resp.text
    basic = _call(gw, token, "crm-basic", path="/echo")
    pair = base64.b64encode(f"svc:{CANARY}".encode()).decode()
    assert upstream.seen[-1]["Authorization"] == f"Basic {pair}"
    assert pair not in basic.text and CANARY not in basic.text


def test_rotation_is_used_next_and_revoke_stops_at_once(gw: Ready, upstream: Upstream) -> None:
    token = gw.mint("connectors:call:crm-api")
    gw.client.post(
        "/v1/apps/crm/secrets/api-key/rotate", json={"value": CANARY2}, headers=gw.auth()
    ).raise_for_status()
    resp = _call(gw, token, "crm-api", path="/echo")
    assert resp.json()["secret_version"] == 2
    assert upstream.seen[-1]["Authorization"] == f"Bearer {CANARY2}"
    assert CANARY2 not in resp.text
    gw.client.post("/v1/apps/crm/secrets/api-key/revoke", headers=gw.auth()).raise_for_status()
    calls = len(upstream.seen)
    refused = _call(gw, token, "crm-api", path="/echo")
    assert refused.status_code == 423
    assert len(upstream.seen) == calls


def test_egress_and_upstream_misbehaviour(gw: Ready, upstream: Upstream) -> None:
    token = gw.mint("connectors:call:crm-api", "connectors:call:hr-api")
    # hr's allowlist is empty: nothing leaves for it.
    denied = _call(gw, token, "hr-api", path="/echo")
    assert denied.status_code == 403 and denied.json()["type"].endswith("egress-denied")
    cases = [
        ({"path": "/redirect-away"}, 502),
        ({"path": "/big"}, 502),
        ({"path": "/hang"}, 504),
        ({"path": "//evil.example/x"}, 400),
        ({"path": "/a/../../etc"}, 400),
        ({"path": "/a/..%2f..%2fetc"}, 400),
        ({"path": "/a/%2e%2e/etc"}, 400),
        ({"path": "http://evil.example/"}, 400),
        ({"path": "/echo", "headers": {"Authorization": "mine"}}, 400),
        ({"path": "/echo", "headers": {"Host": "evil.example"}}, 400),
        ({"path": "/echo", "method": "TRACE"}, 422),
    ]
    for body, status in cases:
        resp = _call(gw, token, "crm-api", **body)
        assert resp.status_code == status, (body, resp.text)
        assert CANARY not in resp.text
    same = _call(gw, token, "crm-api", path="/redirect-same")
    assert same.json()["status"] == 302
    assert _call(gw, token, "missing", path="/").status_code == 403
    assert (
        gw.client.post(
            "/v1/connectors/crm-api/request",
            json={"path": "/"},
            headers=gw.auth(gw.mint("sys:read")),
        ).status_code
        == 403
    )
    outcomes = [o for _, o, _ in _events(gw)]
    assert outcomes.count("denied") >= 1 and outcomes.count("error") >= 5
    # Nothing the upstream saw came from a refused path.
    assert not any("evil" in s.get("path", "") or "etc" in s.get("path", "") for s in upstream.seen)


def test_policy_resolves_once_and_refuses_private_addresses() -> None:
    answers = {"api.example.com": ["93.184.216.34"], "rebind.example.com": ["10.0.0.7"]}
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers.get(host, [])

    policy = EgressPolicy(
        {"crm": ["api.example.com", "rebind.example.com", "127.0.0.1", "nowhere.example"]},
        resolver=resolver,
    )
    assert policy.address("crm", "api.example.com", 443) == "93.184.216.34"
    assert asked == ["api.example.com"]
    for host in ("rebind.example.com", "127.0.0.1", "nowhere.example"):
        with pytest.raises(EgressDeniedError):
            policy.address("crm", host, 443)
    with pytest.raises(EgressDeniedError):
        policy.address("crm", "API.example.com.evil", 443)
    with pytest.raises(EgressDeniedError):
        policy.address("hr", "api.example.com", 443)
    for literal in ("169.254.169.254", "::1", "::ffff:10.0.0.1", "192.168.1.1", "0.0.0.0"):
        strict = EgressPolicy({"crm": [literal]}, resolver=resolver)
        with pytest.raises(EgressDeniedError):
            strict.address("crm", literal, 80)
    allowed = EgressPolicy({"crm": ["10.1.2.3"]}, ["10.1.0.0/16"], resolver=resolver)
    assert allowed.address("crm", "10.1.2.3", 80) == "10.1.2.3"


def test_secret_never_leaks_into_logs_or_audit(gw: Ready, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = gw.mint("connectors:call:crm-api")
    for path in ("/echo", "/big", "/hang", "/redirect-away", "/gzip"):
        _call(gw, token, "crm-api", path=path)
    with gw.node.db.engine.connect() as conn:
        dump = "\n".join(str(r) for r in conn.execute(text("SELECT * FROM audit_events")).all())
    assert CANARY not in dump and CANARY not in caplog.text
