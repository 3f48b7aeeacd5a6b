"""The detokenize baseline rule end to end: a real server on a socket, detokenize calls
through the API with an app-scoped token, the alert in the JSON-lines file, at a signed
webhook and in ``strongroom audit alerts``.

The server's clock is stepped by the test, so buckets are exact. Delivery is in order, so
a marker alert (any ``sys.keys.list``) shows that everything before it was evaluated:
"no alert" is asserted without waiting for time to pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from alert_support import REDIS_URL, Hook, StepClock, wait_for
from typer.testing import CliRunner

from strongroom.api.app import create_app
from strongroom.audit import alerts
from strongroom.config import Settings, load_settings
from strongroom.node import Call, Node

SECRET = "CANARY-webhook-secret-e2e"
CARDS = [f"4000{i:012d}" for i in range(40)]
BASE = "/v1/apps/shop/tokens"
RULES = [
    {
        "name": "detokenize-spike",
        "actions": ["tokens.detokenize"],
        "outcome": "success",
        "summary": "detokenize volume far above the app's baseline",
        "baseline": {
            "bucket_seconds": 60,
            "history_buckets": 10,
            "warmup_buckets": 3,
            "floor": 20,
            "factor": 3,
            "sigmas": 3,
        },
    },
    {"name": "marker", "actions": ["sys.keys.list"], "severity": "low"},
]


@dataclass
class Served:
    node: Node
    clock: StepClock
    url: str
    root: str
    alert_file: Path
    received: list[tuple[dict[str, str], bytes]]

    def http(self, token: str | None = None) -> httpx.Client:
        auth = {"Authorization": f"Bearer {token or self.root}"}
        return httpx.Client(base_url=self.url, headers=auth, timeout=30)

    def lines(self) -> list[dict[str, Any]]:
        if not self.alert_file.exists():
            return []
        return [json.loads(x) for x in self.alert_file.read_text().splitlines()]

    def hooked(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture(params=["local", "redis"])
def served(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path, receiver: Hook
) -> Iterator[Served]:
    """A server counting in its own memory, or in the real Redis (as replicas would)."""
    url, received = receiver
    shared: dict[str, str] = {}
    if request.param == "redis":
        shared = {
            "redis_url": REDIS_URL,
            "alert_redis_prefix": request.getfixturevalue("redis_prefix"),
        }
    configured = load_settings(
        database_url=settings.resolved_database_url,
        data_dir=tmp_path / "data",
        alert_rules=RULES,
        alert_webhook_url=url,
        alert_webhook_secret=SECRET,
        alert_file=tmp_path / "alerts.jsonl",
        **shared,
    )
    clock = StepClock()
    node = Node.open(configured, clock)
    done = node.initialize(Call("i"), 1, 1)
    node.unseal(Call("u"), done.result.shares[0])
    assert node.alerts.windows_state == ("shared" if shared else "local")
    config = uvicorn.Config(create_app(node), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Served(
        node, clock, f"http://127.0.0.1:{port}", done.root_token, tmp_path / "alerts.jsonl",
        received,
    )  # fmt: skip
    server.should_exit = True
    thread.join(timeout=10)
    node.close()


def _mark(s: Served, n: int) -> None:
    """Raise the n-th marker alert and wait until it is delivered everywhere."""
    with s.http() as http:
        assert http.get("/v1/sys/keys").status_code == 200

    def delivered() -> bool:
        return (
            sum(a["rule"] == "marker" for a in s.lines()) >= n
            and sum(a["rule"] == "marker" for a in s.hooked()) >= n
        )

    wait_for(delivered)


def _spikes(s: Served) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    in_file = [a for a in s.lines() if a["rule"] == "detokenize-spike"]
    at_hook = [a for a in s.hooked() if a["rule"] == "detokenize-spike"]
    return in_file, at_hook


def test_a_detokenize_spike_alerts_everywhere_and_normal_volume_does_not(
    served: Served,
) -> None:
    s = served
    with s.http() as http:
        made = http.post(
            f"{BASE}/policies",
            json={"name": "cards", "region": "default", "scheme": "opaque", "format": "card"},
        )
        assert made.status_code == 200, made.text
        tokenized = http.post(f"{BASE}/cards/tokenize", json={"values": CARDS})
        assert tokenized.status_code == 200, tokenized.text
        tokens: list[str] = tokenized.json()["tokens"]

    def detokenize(count: int) -> None:
        # A short-lived app token each time, as an app's runtime would hold.
        with s.http() as http:
            minted = http.post(
                "/v1/auth/tokens",
                json={"subject": "report-app", "scopes": ["tokens:detokenize:shop/cards"]},
            )
            assert minted.status_code == 200, minted.text
        with s.http(str(minted.json()["access_token"])) as http:
            resp = http.post(
                f"{BASE}/cards/detokenize",
                json={"tokens": tokens[:count], "purpose": "monthly report"},
            )
            assert resp.status_code == 200, resp.text
            assert len(resp.json()["items"]) == count

    # Normal volume: 8 values a minute for 6 minutes, then 8 again and a little more.
    for _ in range(6):
        detokenize(5)
        detokenize(3)
        s.clock.advance(60)
    detokenize(8)
    detokenize(16)  # 24 this minute: the limit is max(20, 8 x 3, 8 + 3 x 0) = 24
    _mark(s, 1)
    assert _spikes(s) == ([], [])

    # The spike: one value more is above the app's baseline; more of it fires no more.
    detokenize(1)
    detokenize(40)
    _mark(s, 2)
    assert s.node.alerts.windows_state != "fallback"
    in_file, at_hook = _spikes(s)
    assert len(in_file) == 1 and in_file == at_hook
    [alert] = in_file
    assert alert["detail"] == {
        "subject": "tokens/shop/cards",
        "count": 25,
        "bucket_start": "2026-01-01T00:06:00.000000Z",
        "bucket_seconds": 60,
        "baseline_mean": 8.0,
        "baseline_deviation": 0.0,
        "limit": 24.0,
    }
    assert alert["action"] == "tokens.detokenize" and alert["severity"] == "high"
    assert "tokens/shop/cards had 25 in 60 s (baseline mean 8.0" in alert["summary"]

    # The webhook body is signed with the configured secret.
    for headers, body in s.received:
        stamp, mac = headers["X-Strongroom-Signature"].split(",")
        t = stamp.removeprefix("t=")
        want = hmac.new(SECRET.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert mac == "v1=" + want

    # The stored alert is listed by the API and by `strongroom audit alerts`.
    wait_for(lambda: any(a.rule == "detokenize-spike" for a in alerts.recent(s.node.db, 10)))
    from strongroom.cli.main import app as cli

    shown = CliRunner().invoke(
        cli, ["audit", "alerts", "--json", "--addr", s.url, "--token", s.root], env={}
    )
    assert shown.exit_code == 0, shown.output
    listed = [a for a in json.loads(shown.output) if a["rule"] == "detokenize-spike"]
    assert len(listed) == 1 and listed[0]["summary"] == alert["summary"]
    # The table's width is the console's, fixed when it was made: widen it here so the
    # rule's name is not cut, whatever terminal (or none) the tests run under.
    from strongroom.cli import output

    with pytest.MonkeyPatch.context() as wide:
        wide.setattr(output.console, "width", 400)
        table = CliRunner().invoke(cli, ["audit", "alerts", "--addr", s.url, "--token", s.root])
    assert table.exit_code == 0 and "detokenize-spike" in table.output

    # Never a value or a token, in any output.
    outputs = [s.alert_file.read_text(), shown.output, table.output]
    outputs += [body.decode() for _, body in s.received]
    for text in outputs:
        assert SECRET not in text
        assert not any(card in text for card in CARDS)
        assert not any(token in text for token in tokens)
