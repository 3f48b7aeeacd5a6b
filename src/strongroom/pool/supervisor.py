"""The supervisor of a server with several worker processes.

It owns the listening sockets and the server's node: the store (migrated), the seal and
its one unseal progress, the audit writer, the alert rules and the background jobs
(checkpoints, purges). It serves no HTTP itself. It starts ``workers`` processes, each
handed a listening socket of its own on the server's port (`listen`) and one end of two
private socket pairs (the link and the event channel), and answers them there:

- ``hello``: the settings (so every worker runs with exactly the supervisor's);
- ``join``: the worker is ready; if the server is unsealed it is opened first (``open``);
- ``status``, ``init``, ``unseal``, ``reset``, ``seal``: the seal operations, run here
  one at a time and recorded here. When an unseal opens the server every worker is
  opened before the answer goes back; when the server is sealed every worker drops its
  keys before the answer goes back, and one that does not answer in time is killed;
- ``audit``: a batch of events from a worker's threads, appended by this process's group
  commit (the events of every worker share its transactions), answered with each one's
  index or error. The events of a worker's coroutines come the same way over a second
  socket pair, its event channel (`strongroom.pool.events`), which its event loop serves;
- ``observe``: an event a worker committed with its own change, for the alert rules;
- ``revoked``: a worker committed a revocation or kill switch; every other worker applies
  it before the answer goes back, so the revoked token is dead on all of them at once.

A worker that dies is started again (a worker failing at start, again and again, stops
the server). SIGTERM or SIGINT stop the workers (each drains its requests) and then the
supervisor. If the supervisor dies, its workers see the socket pair close and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import pickle
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from strongroom.call import Call
from strongroom.coalescing import CoalescingTransport
from strongroom.config import Settings
from strongroom.errors import AuditError, StrongroomError
from strongroom.node import Node
from strongroom.pool import wire
from strongroom.pool.wire import WireError

log = logging.getLogger("strongroom.pool")

#: How long a worker has to open or seal itself when told to.
PUSH_SECONDS = 30.0
#: A worker that exits sooner than this after starting counts as failing to start.
QUICK_EXIT_SECONDS = 5.0
#: After this many quick exits in a row the server stops instead of trying again.
MAX_QUICK_EXITS = 5


class _EventChannel(asyncio.Protocol):
    """The supervisor's end of a worker's event channel (`strongroom.pool.events`).

    Frames are parsed as they arrive and each batch is queued for the group commit at
    once (no task per batch); answers written in one loop iteration leave together
    (`CoalescingTransport`).
    """

    def __init__(
        self,
        on_batch: Callable[[dict[str, Any]], None],
        on_broken: Callable[[WireError], None],
    ) -> None:
        self._on_batch = on_batch
        self._on_broken = on_broken
        self._inbox = bytearray()
        self.transport: CoalescingTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raw: asyncio.Transport = transport  # type: ignore[assignment]
        self.transport = CoalescingTransport(raw, asyncio.get_running_loop())

    def data_received(self, data: bytes) -> None:
        self._inbox += data
        try:
            for message in wire.take(self._inbox):
                self._on_batch(message)
        except WireError as exc:
            self._inbox.clear()
            self._on_broken(exc)

    def answer(self, message: dict[str, Any]) -> None:
        if self.transport is not None:
            self.transport.write(wire.frame(message))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@dataclass(eq=False)
class _Worker:
    slot: int
    process: asyncio.subprocess.Process
    writer: asyncio.StreamWriter
    started: float
    events: _EventChannel = field(init=False)
    joined: bool = False
    pushes: dict[int, asyncio.Future[Any]] = field(default_factory=dict)

    def send(self, message: dict[str, Any]) -> None:
        if not self.writer.is_closing():
            self.writer.write(wire.frame(message))


class Supervisor:
    """Runs the workers of one server until stopped."""

    def __init__(self, settings: Settings, node: Node, listeners: list[socket.socket]) -> None:
        if len(listeners) != settings.workers:
            raise ValueError("one listening socket per worker")
        self.settings = settings
        self.node = node
        self.listeners = listeners
        self._workers: dict[int, _Worker] = {}
        self._seal_lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._stopping = asyncio.Event()
        self._quick_exits = 0
        self._failed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self) -> int:
        """Start the workers, serve them until a stop signal; the exit status."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        try:
            for slot in range(self.settings.workers):
                await self._spawn(slot)
            await self._stopping.wait()
        finally:
            await self._stop_workers()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        return 1 if self._failed else 0

    # -- processes ----------------------------------------------------------------------

    async def _spawn(self, slot: int) -> None:
        ours, theirs = socket.socketpair()
        events, their_events = socket.socketpair()
        try:
            fds = (self.listeners[slot].fileno(), theirs.fileno(), their_events.fileno())
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "strongroom.pool.worker",
                *map(str, fds),
                pass_fds=fds,
                # Its own session: a Ctrl-C in the terminal reaches the supervisor only,
                # which then stops each worker once, gracefully.
                start_new_session=True,
            )
        finally:
            theirs.close()
            their_events.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        worker = _Worker(slot, process, writer, time.monotonic())
        worker.events = _EventChannel(
            lambda message: self._batch(worker, message), lambda exc: self._broken(worker, exc)
        )
        loop = asyncio.get_running_loop()
        await loop.create_unix_connection(lambda: worker.events, sock=events)
        self._workers[slot] = worker
        self._task(self._serve(worker, reader))
        self._task(self._watch(worker))
        log.info("worker %d started (pid %d)", slot, process.pid)

    def _task(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, worker: _Worker) -> None:
        code = await worker.process.wait()
        worker.joined = False
        worker.writer.close()
        worker.events.close()
        for future in worker.pushes.values():
            if not future.done():
                future.set_result(None)  # a dead worker holds no keys
        if self._workers.get(worker.slot) is worker:
            del self._workers[worker.slot]
        if self._stopping.is_set():
            return
        quick = time.monotonic() - worker.started < QUICK_EXIT_SECONDS
        self._quick_exits = self._quick_exits + 1 if quick else 0
        log.error("worker %d (pid %d) exited with %s", worker.slot, worker.process.pid, code)
        if self._quick_exits >= MAX_QUICK_EXITS:
            log.critical("workers keep failing at start: stopping the server")
            self._failed = True
            self._stopping.set()
            return
        await asyncio.sleep(min(5.0, 0.2 * 2**self._quick_exits) if quick else 0.0)
        if not self._stopping.is_set():
            await self._spawn(worker.slot)

    async def _stop_workers(self) -> None:
        self._stopping.set()
        workers = list(self._workers.values())
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGTERM)
        grace = self.settings.shutdown_grace_seconds + 10
        waits = [asyncio.wait_for(w.process.wait(), grace) for w in workers]
        for worker, outcome in zip(
            workers, await asyncio.gather(*waits, return_exceptions=True), strict=True
        ):
            if isinstance(outcome, BaseException):
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await worker.process.wait()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- messages -----------------------------------------------------------------------

    async def _serve(self, worker: _Worker, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                try:
                    header = await reader.readexactly(4)
                except asyncio.IncompleteReadError:
                    return  # the worker is gone; _watch restarts it
                message = wire.parse(await reader.readexactly(wire.length(header)))
                if "re" in message:
                    future = worker.pushes.pop(message["re"], None)
                    if future is not None and not future.done():
                        future.set_result(message)
                elif message.get("op") == "observe":
                    self._observe(message)
                else:
                    self._task(self._answer(worker, message))
        except (WireError, asyncio.IncompleteReadError, OSError) as exc:
            self._broken(worker, exc)

    def _batch(self, worker: _Worker, message: dict[str, Any]) -> None:
        """A batch from the worker's event channel: queued for the group commit now, and
        answered once every event of it is durable (or refused)."""
        ident = message.get("id")
        try:
            records = wire.records_in(message.get("events"))
        except WireError as exc:
            worker.events.answer({"re": ident, "error": wire.error_of(exc)})
            return
        waiters: list[asyncio.Future[int] | AuditError] = []
        for record in records:
            try:
                waiters.append(self.node.committer.append_async(record))
            except AuditError as exc:  # refused at once (it cannot be encoded)
                waiters.append(exc)
        pending = [w for w in waiters if not isinstance(w, AuditError)]

        def answer(_: object = None) -> None:
            worker.events.answer({"re": ident, "ok": [_answer_of(w) for w in waiters]})

        if not pending:
            answer()
            return
        asyncio.gather(*pending, return_exceptions=True).add_done_callback(answer)

    def _broken(self, worker: _Worker, exc: Exception) -> None:
        log.error("worker %d broke the protocol (%s): stopping it", worker.slot, exc)
        with contextlib.suppress(ProcessLookupError):
            worker.process.kill()

    def _observe(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(WireError):
            for record in wire.records_in([message.get("event")]):
                self.node.committer.notify(record)

    async def _answer(self, worker: _Worker, message: dict[str, Any]) -> None:
        op = message.get("op")
        reply: dict[str, Any] = {"re": message.get("id")}
        try:
            handler = _HANDLERS.get(str(op))
            if handler is None:
                raise WireError(f"unknown request {op!r}")
            reply["ok"] = await handler(self, worker, message)
        except Exception as exc:  # every failure is the caller's answer
            if not isinstance(exc, StrongroomError):
                log.exception("request %r from worker %d failed", op, worker.slot)
            reply["error"] = wire.error_of(exc)
        worker.send(reply)

    async def _blocking(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def _hello(self, worker: _Worker, message: dict[str, Any]) -> Any:
        return {"settings": wire.b64(pickle.dumps(self.settings))}

    async def _join(self, worker: _Worker, message: dict[str, Any]) -> Any:
        async with self._seal_lock:
            if not self.node.seal_manager.sealed:
                handover = self.node.seal_manager.keyring().handover()
                await self._push([worker], "open", key=wire.b64(handover))
            worker.joined = True
        return True

    async def _status(self, worker: _Worker, message: dict[str, Any]) -> Any:
        return asdict(await self._blocking(self.node.status))

    async def _init(self, worker: _Worker, message: dict[str, Any]) -> Any:
        async with self._seal_lock:
            done = await self._blocking(
                self.node.initialize,
                _call(message),
                _int(message, "shares"),
                _int(message, "threshold"),
            )
        return {
            "shares": done.result.shares,
            "threshold": done.result.threshold,
            "root_token": done.root_token,
        }

    async def _unseal(self, worker: _Worker, message: dict[str, Any]) -> Any:
        share = message.get("share")
        if not isinstance(share, str):
            raise WireError("unseal needs a share")
        async with self._seal_lock:
            was_sealed = self.node.seal_manager.sealed
            status = await self._blocking(self.node.unseal, _call(message), share)
            if was_sealed and not status.sealed:
                handover = self.node.seal_manager.keyring().handover()
                await self._push(self._joined(), "open", key=wire.b64(handover))
        return asdict(status)

    async def _reset(self, worker: _Worker, message: dict[str, Any]) -> Any:
        async with self._seal_lock:
            return asdict(await self._blocking(self.node.reset_unseal, _call(message)))

    async def _seal(self, worker: _Worker, message: dict[str, Any]) -> Any:
        async with self._seal_lock:
            try:
                await self._blocking(self.node.seal, _call(message))
            finally:
                # Sealing only removes access: every worker drops its keys even if the
                # event could not be recorded (the caller then gets that error).
                await self._push(self._joined(), "seal")
        return True

    async def _revoked(self, worker: _Worker, message: dict[str, Any]) -> Any:
        ids, epoch = wire.revocation_in(message)
        self.node.broker.revocations.learned(ids, epoch)
        others = [w for w in self._joined() if w is not worker]
        await self._push(others, "revoked", **wire.revocation_out(ids, epoch))
        return True

    async def _audit(self, worker: _Worker, message: dict[str, Any]) -> Any:
        return await self._append(message.get("events"))

    async def _append(self, events: object) -> list[int | dict[str, Any]]:
        """Append a batch of a worker's events; each one's index, or its error."""
        records = wire.records_in(events)
        committer = self.node.committer
        waiters: list[asyncio.Future[int] | AuditError] = []
        for record in records:
            try:
                # Queued in this loop iteration: the whole batch joins one group commit.
                waiters.append(committer.append_async(record))
            except AuditError as exc:  # refused at once (it cannot be encoded)
                waiters.append(exc)
        answers: list[int | dict[str, Any]] = []
        for waiter in waiters:
            try:
                if isinstance(waiter, AuditError):
                    raise waiter
                answers.append(int(await waiter))
            except AuditError as exc:
                answers.append(wire.error_of(exc))
        return answers

    # -- pushes -------------------------------------------------------------------------

    def _joined(self) -> list[_Worker]:
        return [w for w in self._workers.values() if w.joined]

    async def _push(self, workers: list[_Worker], op: str, **fields: Any) -> None:
        """Tell ``workers`` to open or seal and wait for each; kill any that fails to."""
        waits = []
        for worker in workers:
            ident = next(self._ids)
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            worker.pushes[ident] = future
            worker.send({"op": op, "id": ident, **fields})
            waits.append(asyncio.wait_for(future, PUSH_SECONDS))
        answers = await asyncio.gather(*waits, return_exceptions=True)
        for worker, answer in zip(workers, answers, strict=True):
            if answer is None or (isinstance(answer, dict) and "ok" in answer):
                continue
            # A worker that cannot follow the seal state must not serve: it is restarted
            # and joins again, getting the state of the moment.
            log.error("worker %d did not %s: restarting it", worker.slot, op)
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
            worker.joined = False


def _answer_of(waiter: asyncio.Future[int] | AuditError) -> int | dict[str, Any]:
    """An event's index, or its error as it crosses."""
    if isinstance(waiter, AuditError):
        return wire.error_of(waiter)
    if waiter.cancelled():
        return wire.error_of(AuditError())
    error = waiter.exception()
    if error is not None:
        return wire.error_of(error if isinstance(error, AuditError) else AuditError())
    return int(waiter.result())


def _call(message: dict[str, Any]) -> Call:
    fields = message.get("call")
    if not isinstance(fields, dict):
        raise WireError("missing caller")
    return Call(str(fields.get("request_id", "")), str(fields.get("actor", "")))


def _int(message: dict[str, Any], name: str) -> int:
    value = message.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"{name} must be an integer")
    return value


_HANDLERS = {
    "hello": Supervisor._hello,
    "join": Supervisor._join,
    "status": Supervisor._status,
    "init": Supervisor._init,
    "unseal": Supervisor._unseal,
    "reset": Supervisor._reset,
    "seal": Supervisor._seal,
    "audit": Supervisor._audit,
    "revoked": Supervisor._revoked,
}


def listen(host: str, port: int, count: int, backlog: int = 2048) -> list[socket.socket]:
    """One listening socket per worker, all on ``host:port`` (``SO_REUSEPORT``): the
    kernel spreads new connections over them. A worker's socket stays open here while the
    worker is replaced, so connections made meanwhile wait for the new one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, sockets[0].getsockname()[1] if sockets[1:] else port))
            sock.listen(backlog)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets
