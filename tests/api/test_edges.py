"""Edges of the HTTP surface: odd methods, huge cursors, control characters, HEAD, slashes,
and the audit trail of metrics reads."""

from __future__ import annotations

import random
import re
import string
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import Ready

from strongroom.api import metrics as metrics_module
from strongroom.api.app import create_app
from strongroom.config import load_settings
from strongroom.node import Call, Node

PROBLEM = "application/problem+json"


def _problem(resp: Any, status: int, slug: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM, resp.text
    body = dict(resp.json())
    assert body["type"] == f"urn:strongroom:problem:{slug}", body
    assert body["status"] == status
    return body


def _series(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def _events(ready: Ready, **params: Any) -> list[dict[str, Any]]:
    resp = ready.client.get(
        "/v1/audit/events", headers=ready.auth(), params={"limit": 1000, **params}
    )
    assert resp.status_code == 200, resp.text
    return list(resp.json()["events"])


# -- metrics labels ------------------------------------------------------------------------


def test_method_label_keeps_the_standard_methods_and_folds_the_rest() -> None:
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        assert metrics_module.method_label(method) == method
    for method in ("get", "TRACE", "CONNECT", "PROPFIND", "X" * 500, ""):
        assert metrics_module.method_label(method) == "OTHER"


def test_random_methods_add_at_most_one_series(ready: Ready) -> None:
    rng = random.Random(1234)
    for _ in range(50):
        method = "X" + "".join(rng.choices(string.ascii_uppercase, k=12))
        resp = ready.client.request(method, "/v1/sys/health")
        assert resp.status_code == 405, (method, resp.status_code)
    text = ready.client.get("/v1/sys/metrics", headers=ready.auth()).text
    counters = _series(text, "strongroom_http_requests_total")
    others = [line for line in counters if 'method="OTHER"' in line]
    assert len(others) == 1, others
    assert others[0].endswith(" 50.0"), others
    assert not [line for line in counters if re.search(r'method="X[A-Z]{12}"', line)]
    buckets = _series(text, "strongroom_http_request_duration_seconds_count")
    assert len([line for line in buckets if 'method="OTHER"' in line]) == 1


# -- audit query bounds --------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"after": "100000000000000000000"},
        {"after": str(2**63)},
        {"limit": "100000000000000000000"},
        {"after": "-100000000000000000000"},
    ],
)
def test_huge_cursor_or_limit_is_a_validation_problem(ready: Ready, params: dict[str, str]) -> None:
    resp = ready.client.get("/v1/audit/events", headers=ready.auth(), params=params)
    _problem(resp, 422, "validation-failed")


def test_largest_cursor_is_an_empty_page(ready: Ready) -> None:
    resp = ready.client.get("/v1/audit/events", headers=ready.auth(), params={"after": 2**62})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"events": [], "next": None}


@pytest.mark.parametrize("field", ["actor", "action"])
@pytest.mark.parametrize("bad", ["a\x00b", "\x00", "root\nforged", "x\x1by", "x\x7f", "x\x85"])
def test_control_characters_in_filters_are_refused(ready: Ready, field: str, bad: str) -> None:
    resp = ready.client.get("/v1/audit/events", headers=ready.auth(), params={field: bad})
    body = _problem(resp, 400, "invalid-request")
    assert field in body["detail"]
    assert bad not in body["detail"]


def test_ordinary_filters_still_work(ready: Ready) -> None:
    ready.client.get("/v1/sys/keys", headers=ready.auth())
    events = _events(ready, action="sys.keys.*")
    assert events and all(e["action"].startswith("sys.keys.") for e in events)
    assert _events(ready, actor="nobody at all é") == []


# -- HEAD and trailing slashes -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/sys/health", "/v1/sys/seal-status"])
def test_head_answers_like_get_in_every_state(client: TestClient, node: Node, path: str) -> None:
    def same() -> int:
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code, (path, head.status_code, got.status_code)
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["cache-control"] == "no-store"
        return head.status_code

    assert same() == (501 if path.endswith("health") else 200)
    done = node.initialize(Call("t"), shares=1, threshold=1)
    assert same() == (503 if path.endswith("health") else 200)
    node.unseal(Call("t"), done.result.shares[0])
    assert same() == 200


def test_head_is_not_advertised_twice_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/sys/health"]) == {"get"}
    assert set(paths["/v1/sys/seal-status"]) == {"get"}


@pytest.mark.parametrize(
    "path", ["/v1/sys/health/", "/v1/sys/seal-status/", "/v1/audit/events/", "/v1/sys/keys/"]
)
def test_a_trailing_slash_is_a_plain_404(ready: Ready, path: str) -> None:
    resp = ready.client.get(
        path, headers={**ready.auth(), "Host": "evil.example"}, follow_redirects=False
    )
    assert "location" not in resp.headers
    _problem(resp, 404, "not-found")


# -- metrics reads are audited -------------------------------------------------------------


def test_an_authenticated_metrics_read_is_audited(ready: Ready) -> None:
    resp = ready.client.get(
        "/v1/sys/metrics", headers={**ready.auth(), "X-Request-Id": "metrics-read-1"}
    )
    assert resp.status_code == 200, resp.text
    reads = [e for e in _events(ready) if e["request_id"] == "metrics-read-1"]
    assert len(reads) == 1, reads
    event = reads[0]
    assert event["action"] == "sys.metrics.read"
    assert event["outcome"] == "success"
    assert event["resource"] == "sys/metrics"
    assert event["actor"] not in ("", "anonymous")


def test_a_refused_metrics_read_is_audited_under_the_same_action(ready: Ready) -> None:
    weak = ready.mint("audit:read")
    resp = ready.client.get(
        "/v1/sys/metrics", headers={**ready.auth(weak), "X-Request-Id": "metrics-read-2"}
    )
    assert resp.status_code == 403
    reads = [e for e in _events(ready) if e["request_id"] == "metrics-read-2"]
    assert [(e["action"], e["outcome"]) for e in reads] == [("sys.metrics.read", "denied")]


def test_open_metrics_record_nothing(database_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        addr="127.0.0.1:8210",
        metrics_unauthenticated=True,
    )
    node = Node.open(settings)
    try:
        with TestClient(create_app(node), raise_server_exceptions=False) as client:
            done = node.initialize(Call("t"), shares=1, threshold=1)
            node.unseal(Call("t"), done.result.shares[0])
            ready = Ready(node, client, list(done.result.shares), done.root_token)
            before = len(_events(ready))
            assert client.get("/v1/sys/metrics").status_code == 200
            assert client.get("/v1/sys/metrics", headers=ready.auth()).status_code == 200
            events = _events(ready)
            # Only the first listing's own event was added in between.
            assert len(events) == before + 1
            assert not [e for e in events if e["action"].startswith("sys.metrics")]
    finally:
        node.close()


def test_request_ids_are_unique_and_well_formed_and_a_given_one_is_kept(ready: Ready) -> None:
    seen = [ready.client.get("/v1/sys/health").headers["x-request-id"] for _ in range(50)]
    assert len(set(seen)) == len(seen)
    assert all(re.fullmatch(r"[0-9a-f]{24}", rid) for rid in seen)
    kept = ready.client.get("/v1/sys/health", headers={"X-Request-Id": "mine-1"})
    assert kept.headers["x-request-id"] == "mine-1"
    # One that does not fit the pattern is replaced, never echoed.
    odd = ready.client.get("/v1/sys/health", headers={"X-Request-Id": "bad id\x7f"})
    assert re.fullmatch(r"[0-9a-f]{24}", odd.headers["x-request-id"])
