"""The supervisor/worker protocol: frames, errors that cross, events that cross."""

from __future__ import annotations

import socket
import struct

import pytest

from strongroom.audit.events import AuditRecord
from strongroom.errors import (
    AuditError,
    DpopProofError,
    ShareError,
    StrongroomError,
    UnsealFailedError,
)
from strongroom.pool import wire
from strongroom.pool.wire import WireError


def test_a_frame_crosses_a_socket_pair_intact() -> None:
    a, b = socket.socketpair()
    with a, b:
        message = {"op": "unseal", "id": 7, "share": "é" * 3, "n": [1, None, True]}
        a.sendall(wire.frame(message) + wire.frame({"re": 7, "ok": True}))
        assert wire.recv(b) == message
        assert wire.recv(b) == {"re": 7, "ok": True}
        a.close()
        assert wire.recv(b) is None  # end of stream between messages


def test_a_stream_cut_inside_a_message_is_an_error() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(wire.frame({"op": "status", "id": 1})[:-3])
        a.close()
        with pytest.raises(WireError, match="inside a message"):
            wire.recv(b)


def test_oversized_and_unreadable_frames_are_refused() -> None:
    with pytest.raises(WireError, match="too large"):
        wire.length(struct.pack(">I", wire.MAX_FRAME + 1))
    with pytest.raises(WireError, match="unreadable"):
        wire.parse(b"\xff not json")
    with pytest.raises(WireError, match="unreadable"):
        wire.parse(b"[1, 2]")  # a message is an object
    with pytest.raises(WireError, match="too large"):
        wire.frame({"blob": "x" * (wire.MAX_FRAME + 1)})


@pytest.mark.parametrize(
    "error",
    [ShareError("that share was given already"), UnsealFailedError("reset"), AuditError()],
)
def test_strongroom_errors_cross_as_themselves(error: StrongroomError) -> None:
    crossed = wire.exception_of(wire.error_of(error))
    assert type(crossed) is type(error)
    assert crossed.detail == error.detail


def test_other_errors_cross_as_internal_without_their_text() -> None:
    crossed = wire.exception_of(wire.error_of(RuntimeError("secret-canary-123")))
    assert type(crossed) is StrongroomError
    assert "secret-canary-123" not in crossed.detail
    # A name that is not a Strongroom error class is never looked up as one.
    forged = wire.exception_of({"class": "Path", "detail": "x"})
    assert type(forged) is StrongroomError
    assert isinstance(wire.exception_of("nonsense"), WireError)


def test_an_error_class_with_its_own_constructor_is_rebuilt() -> None:
    crossed = wire.exception_of({"class": "DpopProofError", "detail": "invalid_dpop_proof"})
    assert isinstance(crossed, DpopProofError)


def test_events_cross_with_the_same_canonical_entry() -> None:
    record = AuditRecord(
        1_767_225_600_000_001,
        "req-1",
        "alice",
        "secrets.read",
        "secrets/crm/api",
        "success",
        {"version": 3, "scopes": ["a", "b"], "ok": True, "none": None, "text": "é\x7f"},
    )
    (back,) = wire.records_in(wire.parse(wire.frame({"e": wire.records_out([record])})[4:])["e"])
    assert back.entry_bytes() == record.entry_bytes()
    assert back.detail_json() == record.detail_json()
    with pytest.raises(WireError):
        wire.records_in("not a list")
    with pytest.raises(WireError):
        wire.records_in([[1, 2]])


def test_revocations_cross_and_bad_ones_are_refused() -> None:
    ids, epoch = wire.revocation_in(wire.revocation_out(["j1", "j2"], ("user", "bob", 17)))
    assert (ids, epoch) == (["j1", "j2"], ("user", "bob", 17))
    assert wire.revocation_in(wire.revocation_out([], None)) == ([], None)
    for bad in ({"ids": "j1"}, {"ids": [1]}, {"ids": [], "epoch": ["user", "bob"]}):
        with pytest.raises(WireError):
            wire.revocation_in(bad)


def test_take_gives_whole_messages_and_leaves_the_rest() -> None:
    first, second = wire.frame({"id": 1}), wire.frame({"id": 2, "events": [[1, "r"]]})
    inbox = bytearray(first + second[:5])
    assert list(wire.take(inbox)) == [{"id": 1}]
    assert bytes(inbox) == second[:5]  # a partial message waits for the rest
    inbox += second[5:]
    assert list(wire.take(inbox)) == [{"id": 2, "events": [[1, "r"]]}]
    assert inbox == bytearray()
    with pytest.raises(WireError):
        list(wire.take(bytearray(b"\xff\xff\xff\xff")))  # over the size limit
    with pytest.raises(WireError):
        list(wire.take(bytearray(b"\x00\x00\x00\x02[]")))  # not an object
