"""The hot route served straight from the HTTP protocol: the same answers as through the
application, byte for byte but the date, over a real uvicorn on loopback; and everything
else still through the application."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from support import Ready, uvicorn_on_loopback
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from strongroom.api import http_protocol
from strongroom.api.http_protocol import DirectRoute
from strongroom.call import Call

BASE = "/v1/apps/crm/secrets"
CANARY = "CANARY-direct-5b0e19"
TEMPLATE = "/v1/apps/{app}/secrets/{name}/value"


@pytest.fixture
def served(ready: Ready) -> Iterator[int]:
    """``ready``'s application behind a real uvicorn with Strongroom's protocol."""
    with uvicorn_on_loopback(ready.client.app, ready.node.settings) as port:
        yield port


@pytest.fixture
def reader(ready: Ready) -> str:
    put = ready.client.put(f"{BASE}/api-key", json={"value": CANARY}, headers=ready.auth())
    assert put.status_code == 200, put.text
    return ready.mint("secrets:read:crm/api-key", subject="crm-runtime")


def _request(path: str, token: str | None, request_id: str, extra: str = "") -> bytes:
    auth = f"authorization: Bearer {token}\r\n" if token else ""
    return (
        f"GET {path} HTTP/1.1\r\nhost: x\r\nx-request-id: {request_id}\r\n{auth}{extra}\r\n"
    ).encode()


def _answers(data: bytes) -> list[tuple[bytes, list[tuple[bytes, bytes]], bytes]]:
    """Split raw HTTP/1.1 answers (each with a content-length) into head, headers, body."""
    found = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        headers = [tuple(line.split(b": ", 1)) for line in lines[1:]]
        length = int(dict(headers)[b"content-length"])  # type: ignore[arg-type]
        found.append((lines[0], headers, rest[:length]))  # type: ignore[arg-type]
        data = rest[length:]
    return found


def _exchange(port: int, raw: bytes, answers: int = 1) -> tuple[bytes, bool]:
    """Send ``raw``; the bytes of ``answers`` answers, and whether the server then closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while len(_safe_answers(data)) < answers:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        sock.settimeout(0.5)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        return data, closed


def _safe_answers(data: bytes) -> list[Any]:
    try:
        return _answers(data)
    except (KeyError, ValueError):
        return []


def _through_the_application(ready: Ready, path: str, token: str | None, request_id: str) -> Any:
    headers = {"x-request-id": request_id, **(ready.auth(token) if token else {})}
    return ready.client.get(path, headers=headers)


@pytest.mark.parametrize(
    ("path", "who", "status"),
    [
        (f"{BASE}/api-key/value", "reader", 200),
        (f"{BASE}/api-key/value?version=1", "reader", 200),
        (f"{BASE}/api-key/value?version=x", "reader", 422),
        (f"{BASE}/api-key/value?version=7", "reader", 404),
        (f"{BASE}/other/value", "reader", 403),
        (f"{BASE}/api-key/value", "nobody", 401),
        (f"{BASE}/api-key/value", "forged", 401),
    ],
)
def test_the_direct_path_answers_as_the_application_does(
    ready: Ready, reader: str, served: int, path: str, who: str, status: int
) -> None:
    token = {"reader": reader, "nobody": None, "forged": reader[:-4] + "AAAA"}[who]
    raw, closed = _exchange(served, _request(path, token, f"direct-{status}"))
    [(line, headers, body)] = _answers(raw)
    assert not closed
    asgi = _through_the_application(ready, path, token, f"direct-{status}")
    assert asgi.status_code == status
    assert line + b"\r\n" == STATUS_LINE[status]  # as uvicorn writes any answer's
    assert body == asgi.content
    names = [name for name, _ in headers]
    assert names[0] == b"date" and names.count(b"date") == 1
    # The same headers, values and order as uvicorn writes the application's answer.
    assert [(k.decode(), v.decode()) for k, v in headers[1:]] == list(asgi.headers.items())
    assert dict(headers)[b"x-request-id"] == f"direct-{status}".encode()
    if status == 200:
        assert json.loads(body)["value"] == CANARY
    else:
        assert CANARY.encode() not in raw


def test_direct_answers_are_counted_logged_and_audited(
    ready: Ready, reader: str, served: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="strongroom.http"):
        _exchange(served, _request(f"{BASE}/api-key/value", reader, "direct-seen"))
    [line] = [r for r in caplog.records if getattr(r, "request_id", None) == "direct-seen"]
    assert (line.__dict__["route"], line.__dict__["status"]) == (TEMPLATE, 200)
    assert line.__dict__["actor"] is not None
    metrics = ready.client.get("/v1/sys/metrics", headers=ready.auth()).text
    assert f'route="{TEMPLATE}",status="200"' in metrics
    events = ready.client.get(
        "/v1/audit/events", headers=ready.auth(), params={"limit": 1000}
    ).json()["events"]
    mine = [e for e in events if e["request_id"] == "direct-seen"]
    assert [(e["action"], e["outcome"]) for e in mine] == [("secrets.read", "success")]


def test_pipelined_reads_answer_in_order_and_close_when_asked(
    ready: Ready, reader: str, served: int
) -> None:
    path = f"{BASE}/api-key/value"
    raw = (
        _request(path, reader, "pipe-1")
        + _request(path, None, "pipe-2")
        + _request(path, reader, "pipe-3", "connection: close\r\n")
    )
    data, closed = _exchange(served, raw, answers=3)
    answers = _answers(data)
    assert [dict(h)[b"x-request-id"] for _, h, _ in answers] == [b"pipe-1", b"pipe-2", b"pipe-3"]
    assert [line.split(b" ")[1] for line, _, _ in answers] == [b"200", b"401", b"200"]
    assert dict(answers[2][1])[b"connection"] == b"close"
    assert b"connection" not in dict(answers[0][1])
    assert closed


def test_an_http_1_0_read_gets_its_answer_and_the_connection_closes(
    reader: str, served: int
) -> None:
    raw = _request(f"{BASE}/api-key/value", reader, "old-client").replace(b"HTTP/1.1", b"HTTP/1.0")
    data, closed = _exchange(served, raw)
    [(line, headers, body)] = _answers(data)
    assert line.startswith(b"HTTP/1.1 200") and json.loads(body)["value"] == CANARY
    assert dict(headers)[b"connection"] == b"close"
    assert closed


def test_a_sealed_node_answers_503_on_the_direct_path(
    ready: Ready, reader: str, served: int
) -> None:
    ready.node.seal(Call("test-seal"))
    data, _ = _exchange(served, _request(f"{BASE}/api-key/value", reader, "sealed"))
    [(line, headers, body)] = _answers(data)
    assert line.startswith(b"HTTP/1.1 503")
    assert dict(headers)[b"content-type"] == b"application/problem+json"
    assert json.loads(body)["request_id"] == "sealed"


def test_other_requests_go_through_the_application(
    ready: Ready, reader: str, served: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    serve = http_protocol._serve

    async def spy(cycle: Any, direct: DirectRoute, params: dict[str, Any]) -> None:
        taken.append(cycle.scope["path"])
        await serve(cycle, direct, params)

    monkeypatch.setattr(http_protocol, "_serve", spy)
    path = f"{BASE}/api-key/value"
    head = f"HEAD {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {reader}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", served), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 ")
    _exchange(served, _request("/v1/sys/health", None, "health"))
    _exchange(served, _request(path, reader, "hot"))
    assert taken == [path]


class _Cycle:
    """What `_write` uses of uvicorn's request-response cycle."""

    def __init__(self, keep_alive: bool = True) -> None:
        self.default_headers = [(b"date", b"today")]
        self.keep_alive = keep_alive
        self.disconnected = False
        self.flow = type("Flow", (), {"write_paused": False})()
        self.written: list[bytes] = []
        self.closed = False
        self.completed = 0
        self.message_event = asyncio.Event()
        self.response_started = self.response_complete = False
        self.waiting_for_100_continue = True
        self.transport = self

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def on_response(self) -> None:
        self.completed += 1


def _write(cycle: _Cycle, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    asyncio.run(http_protocol._write(cycle, status, headers, body))  # type: ignore[arg-type]


def test_a_whole_answer_is_one_write_and_completes_the_cycle() -> None:
    cycle = _Cycle()
    _write(cycle, 200, [(b"Content-Length", b"2"), (b"x-a", b"b")], b"{}")
    assert cycle.written == [
        b"HTTP/1.1 200 OK\r\ndate: today\r\ncontent-length: 2\r\nx-a: b\r\n\r\n{}"
    ]
    assert (cycle.response_complete, cycle.completed, cycle.closed) == (True, 1, False)
    assert cycle.message_event.is_set() and not cycle.waiting_for_100_continue


def test_an_answer_that_says_close_closes_once_and_says_it_once() -> None:
    cycle = _Cycle()
    _write(cycle, 200, [(b"content-length", b"0"), (b"connection", b"Keep, Close")], b"")
    assert cycle.written[0].count(b"connection:") == 1 and cycle.closed
    ended = _Cycle(keep_alive=False)
    _write(ended, 204, [], b"")
    assert ended.written == [b"HTTP/1.1 204 No Content\r\ndate: today\r\nconnection: close\r\n\r\n"]
    assert ended.closed


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-length", b"5")],
        [(b"x-bad", b"one\r\ntwo")],
        [(b"bad name", b"x")],
    ],
)
def test_a_bad_answer_is_refused_and_nothing_written(headers: list[tuple[bytes, bytes]]) -> None:
    cycle = _Cycle()
    with pytest.raises(RuntimeError):
        _write(cycle, 200, headers, b"{}")
    assert cycle.written == [] and cycle.completed == 0


def test_a_disconnected_client_gets_nothing() -> None:
    cycle = _Cycle()
    cycle.disconnected = True
    _write(cycle, 200, [], b"{}")
    assert cycle.written == [] and cycle.completed == 0
