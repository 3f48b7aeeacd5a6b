"""A worker's end of the socket pair to its supervisor.

`Link` sends requests and waits for their answers (any thread may call), and runs the
supervisor's pushes ("open" with the keyring key, "seal") on its reader thread, in the
order they were sent, answering each once it is done. `LinkLeader` and `LinkSink` are
what the worker's node uses: its seal authority and its audit writer.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from strongroom.audit.events import AuditRecord
from strongroom.call import Call
from strongroom.errors import AuditError
from strongroom.kms.seal import InitResult, SealStatus
from strongroom.node import Initialized
from strongroom.pool import wire
from strongroom.pool.wire import WireError

log = logging.getLogger("strongroom.pool")

#: How long a seal operation may take in the supervisor (it waits for every worker).
CALL_SECONDS = 60.0
#: How long a batch of events may take: the supervisor's writer takes it within its
#: timeout, then commits within the store's lock timeout (see `GroupCommitter`).
AUDIT_SECONDS = 75.0

Push = Callable[[str, dict[str, Any]], None]


class Link:
    """Requests to the supervisor and its pushes, over one connected socket. Thread-safe."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._ids = itertools.count(1)
        self._lost = False
        #: Runs each push (on the reader thread); what it raises is the push's answer.
        self.on_push: Push | None = None
        #: Called once when the supervisor is gone (the worker should stop).
        self.on_lost: Callable[[], None] | None = None
        self._reader = threading.Thread(target=self._read, name="strongroom-link", daemon=True)

    def start(self) -> None:
        self._reader.start()

    def close(self) -> None:
        # shutdown() wakes the reader blocked in recv; close() alone would not.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def call(self, op: str, timeout: float = CALL_SECONDS, **fields: Any) -> Any:
        """Send a request and return its answer; its error raised, or `WireError`."""
        future: Future[Any] = Future()
        with self._lock:
            if self._lost:
                raise WireError("the supervisor is gone")
            ident = next(self._ids)
            self._pending[ident] = future
        try:
            self._send({"op": op, "id": ident, **fields})
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise WireError("the supervisor did not answer in time") from None
        finally:
            with self._lock:
                self._pending.pop(ident, None)

    def cast(self, op: str, **fields: Any) -> None:
        """Send a message that has no answer; lost quietly if the supervisor is gone."""
        with contextlib.suppress(WireError):
            self._send({"op": op, **fields})

    def _send(self, message: dict[str, Any]) -> None:
        data = wire.frame(message)
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError:
            raise WireError("the supervisor is gone") from None

    def _read(self) -> None:
        try:
            while (message := wire.recv(self._sock)) is not None:
                if "re" in message:
                    self._answered(message)
                else:
                    self._pushed(message)
        except (OSError, WireError) as exc:
            log.warning("link to the supervisor failed: %s", type(exc).__name__)
        finally:
            self._gone()

    def _answered(self, message: dict[str, Any]) -> None:
        with self._lock:
            future = self._pending.get(message["re"])
        if future is None or future.done():
            return  # its caller gave up
        if "error" in message:
            future.set_exception(wire.exception_of(message["error"]))
        else:
            future.set_result(message.get("ok"))

    def _pushed(self, message: dict[str, Any]) -> None:
        answer: dict[str, Any] = {"re": message.get("id")}
        try:
            if self.on_push is None:
                raise WireError("not ready")
            self.on_push(str(message.get("op")), message)
            answer["ok"] = True
        except Exception as exc:  # answered, not raised: the supervisor decides
            log.error("push %r failed: %s", message.get("op"), type(exc).__name__)
            answer["error"] = wire.error_of(exc)
        self._send(answer)

    def _gone(self) -> None:
        with self._lock:
            self._lost = True
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(WireError("the supervisor is gone"))
        if self.on_lost is not None:
            self.on_lost()


def call_out(call: Call) -> dict[str, str]:
    return {"request_id": call.request_id, "actor": call.actor}


def status_in(fields: Any) -> SealStatus:
    if not isinstance(fields, dict):
        raise WireError("unreadable seal status")
    return SealStatus(**fields)


class LinkLeader:
    """The supervisor as a worker node's seal authority (`strongroom.node.SealLeader`)."""

    def __init__(self, link: Link) -> None:
        self._link = link

    def status(self) -> SealStatus:
        return status_in(self._link.call("status"))

    def initialize(self, call: Call, shares: int, threshold: int) -> Initialized:
        done = self._link.call("init", call=call_out(call), shares=shares, threshold=threshold)
        result = InitResult(shares=list(done["shares"]), threshold=int(done["threshold"]))
        return Initialized(result, str(done["root_token"]))

    def unseal(self, call: Call, share: str) -> SealStatus:
        return status_in(self._link.call("unseal", call=call_out(call), share=share))

    def reset_unseal(self, call: Call) -> SealStatus:
        return status_in(self._link.call("reset", call=call_out(call)))

    def seal(self, call: Call) -> None:
        self._link.call("seal", call=call_out(call))


class LinkSink:
    """The supervisor's audit writer as a worker's committer reaches it (`EventSink`)."""

    def __init__(self, link: Link) -> None:
        self._link = link

    def append(self, records: Sequence[AuditRecord]) -> list[int | AuditError]:
        try:
            answer = self._link.call("audit", AUDIT_SECONDS, events=wire.records_out(records))
        except WireError:
            raise AuditError("the audit trail could not record this request") from None
        if not isinstance(answer, list):
            raise AuditError("the audit trail could not record this request")
        return [
            item if isinstance(item, int) else AuditError(str(item.get("detail", "")))
            for item in answer
        ]

    def observe(self, record: AuditRecord) -> None:
        self._link.cast("observe", event=wire.records_out([record])[0])
