"""A worker's link to its supervisor, against a scripted supervisor on a socket pair."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from strongroom.audit.events import AuditRecord
from strongroom.errors import AuditError, ShareError
from strongroom.pool import wire
from strongroom.pool.link import Link, LinkSink
from strongroom.pool.wire import WireError


class Supervisor:
    """The other end: answers requests with ``answer`` and can push."""

    def __init__(self, sock: socket.socket, answer: Callable[[dict[str, Any]], Any]) -> None:
        self.sock = sock
        self.answer = answer
        self.seen: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # the test closed this end
            self._serve()

    def _serve(self) -> None:
        while (message := wire.recv(self.sock)) is not None:
            if "re" in message:
                self.answers.append(message)
                continue
            self.seen.append(message)
            if "id" not in message:
                continue
            try:
                reply = {"re": message["id"], "ok": self.answer(message)}
            except ShareError as exc:
                reply = {"re": message["id"], "error": wire.error_of(exc)}
            self.sock.sendall(wire.frame(reply))

    def push(self, message: dict[str, Any]) -> None:
        self.sock.sendall(wire.frame(message))


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def _refuse_shares(message: dict[str, Any]) -> Any:
    if message["op"] == "unseal":
        raise ShareError("this key share was already given")
    return {"echo": message["op"]}


def test_calls_get_their_answers_and_errors(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    Supervisor(theirs, _refuse_shares)
    link = Link(ours)
    link.start()
    assert link.call("status") == {"echo": "status"}
    with pytest.raises(ShareError, match="already given"):
        link.call("unseal", share="x")
    link.cast("observe", event=[1])


def test_pushes_run_in_order_and_are_answered(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    sup = Supervisor(theirs, lambda m: None)
    done: list[str] = []

    def on_push(op: str, message: dict[str, Any]) -> None:
        if op == "bad":
            raise ShareError("cannot")
        done.append(op)

    link = Link(ours)
    link.on_push = on_push
    link.start()
    for ident, op in enumerate(("open", "bad", "seal"), start=1):
        sup.push({"op": op, "id": ident})
    link.call("status")  # answered after the pushes: they were read first
    assert done == ["open", "seal"]
    for _ in range(100):
        if len(sup.answers) == 3:
            break
        threading.Event().wait(0.01)
    assert [a["re"] for a in sup.answers] == [1, 2, 3]
    assert "ok" in sup.answers[0] and "error" in sup.answers[1] and "ok" in sup.answers[2]


def test_a_lost_supervisor_fails_pending_and_later_calls(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    lost = threading.Event()
    link = Link(ours)
    link.on_lost = lost.set
    link.start()
    errors: list[BaseException] = []

    def waiting() -> None:
        try:
            link.call("status", timeout=30)
        except BaseException as exc:
            errors.append(exc)

    caller = threading.Thread(target=waiting)
    caller.start()
    wire.recv(theirs)  # the request arrived; the supervisor dies without answering
    theirs.close()
    caller.join(timeout=10)
    assert lost.wait(10)
    assert len(errors) == 1 and isinstance(errors[0], WireError)
    with pytest.raises(WireError, match="gone"):
        link.call("status")


def test_the_sink_maps_each_events_outcome(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair

    def audit(message: dict[str, Any]) -> Any:
        return [5, {"class": "AuditError", "detail": "refused"}]

    Supervisor(theirs, audit)
    link = Link(ours)
    link.start()
    records = [AuditRecord(1, "r", "a", "x.y", "z", "success") for _ in range(2)]
    outcomes = LinkSink(link).append(records)
    assert outcomes[0] == 5 and isinstance(outcomes[1], AuditError)
    theirs.close()
    for _ in range(200):
        try:
            LinkSink(link).append(records)
        except AuditError:
            break
        threading.Event().wait(0.01)
    else:
        pytest.fail("a gone supervisor did not fail the append")
