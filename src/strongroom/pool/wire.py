"""Messages between a supervisor and its workers: length-prefixed JSON on a socket pair.

A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON: an object with
``op`` (a request or a push, with an ``id`` when it wants an answer) or ``re`` (the answer
to the request with that id, holding ``ok`` or ``error``). Errors cross as the name of a
`StrongroomError` class and its detail, so a worker raises what the supervisor raised.
Bytes (keys, shares) travel as base64; the socket pair is private to the two processes.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
from collections.abc import Iterator, Sequence
from typing import Any

from strongroom import errors
from strongroom.audit.events import AuditRecord
from strongroom.errors import StrongroomError

MAX_FRAME = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


class WireError(StrongroomError):
    """The other process broke the protocol or went away."""

    status = 503
    slug = "supervisor-unavailable"
    title = "Supervisor unavailable"


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    if len(body) > MAX_FRAME:
        raise WireError("message too large")
    return _HEADER.pack(len(body)) + body


def length(header: bytes) -> int:
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise WireError("frame too large")
    return int(size)


def parse(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except ValueError:
        raise WireError("unreadable message") from None
    if not isinstance(message, dict):
        raise WireError("unreadable message")
    return message


def take(inbox: bytearray) -> Iterator[dict[str, Any]]:
    """The whole messages at the start of ``inbox`` (bytes as they arrived, for readers
    that do not block), each removed from it as it is given; `WireError` if one is bad."""
    while len(inbox) >= _HEADER.size:
        end = _HEADER.size + length(bytes(inbox[: _HEADER.size]))
        if len(inbox) < end:
            return
        message = parse(bytes(inbox[_HEADER.size : end]))
        del inbox[:end]
        yield message


def recv(sock: socket.socket) -> dict[str, Any] | None:
    """The next message from a blocking socket; None at end of stream."""
    header = _recv_exact(sock, _HEADER.size)
    if header is None:
        return None
    body = _recv_exact(sock, length(header))
    if body is None:
        raise WireError("stream ended inside a message")
    return parse(body)


def _recv_exact(sock: socket.socket, count: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < count:
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            if chunks:
                raise WireError("stream ended inside a message")
            return None
        chunks += chunk
    return bytes(chunks)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise WireError("expected base64 text")
    return base64.b64decode(text, validate=True)


def error_of(exc: BaseException) -> dict[str, Any]:
    """An error as it crosses: a Strongroom error by class, anything else as internal."""
    if isinstance(exc, StrongroomError):
        return {"class": type(exc).__name__, "detail": exc.detail, "extra": exc.extra}
    return {"class": "StrongroomError", "detail": "internal error", "extra": {}}


def exception_of(error: object) -> StrongroomError:
    """The error that crossed (only `StrongroomError` classes are rebuilt)."""
    if not isinstance(error, dict):
        return WireError("unreadable error")
    kind = getattr(errors, str(error.get("class")), None)
    if not (isinstance(kind, type) and issubclass(kind, StrongroomError)):
        kind = StrongroomError
    detail = str(error.get("detail", ""))
    extra = error.get("extra")
    try:
        return kind(detail, extra=extra if isinstance(extra, dict) else None)
    except TypeError:  # a class with its own constructor
        try:
            return kind(detail)
        except TypeError:
            return StrongroomError(detail)


def records_out(records: Sequence[AuditRecord]) -> list[list[Any]]:
    return [
        [r.time_us, r.request_id, r.actor, r.action, r.resource, r.outcome, r.detail]
        for r in records
    ]


def records_in(rows: object) -> list[AuditRecord]:
    if not isinstance(rows, list):
        raise WireError("expected a list of events")
    try:
        return [AuditRecord(*row) for row in rows]
    except TypeError:
        raise WireError("unreadable event") from None


Epoch = tuple[str, str, int]


def revocation_out(token_ids: Sequence[str], epoch: Epoch | None) -> dict[str, Any]:
    return {"ids": list(token_ids), "epoch": list(epoch) if epoch is not None else None}


def revocation_in(message: dict[str, Any]) -> tuple[list[str], Epoch | None]:
    ids, epoch = message.get("ids"), message.get("epoch")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise WireError("unreadable revocation")
    if epoch is None:
        return ids, None
    if (
        not isinstance(epoch, list)
        or len(epoch) != 3
        or not isinstance(epoch[0], str)
        or not isinstance(epoch[1], str)
        or not isinstance(epoch[2], int)
    ):
        raise WireError("unreadable revocation")
    return ids, (epoch[0], epoch[1], epoch[2])
