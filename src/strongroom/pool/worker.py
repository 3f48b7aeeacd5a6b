"""One worker process of a supervised server: ``python -m strongroom.pool.worker LISTEN LINK
EVENTS``.

Started by the supervisor only, with three inherited file descriptors: the listening socket
and its ends of the two private socket pairs (the link, and the event channel that its
event loop uses for the audit events of requests). It takes the settings from the supervisor, builds
its node (the supervisor as its seal authority and audit writer), joins (opened first if
the server is unsealed) and serves the API on the shared socket until told to stop, or
until the supervisor is gone.
"""

from __future__ import annotations

import pickle
import socket
import sys
from typing import Any

import uvicorn

from strongroom import logs
from strongroom.api.app import create_app
from strongroom.api.serving import uvicorn_config
from strongroom.audit.relay import RelayedCommitter
from strongroom.config import Settings
from strongroom.node import Node
from strongroom.pool import wire
from strongroom.pool.events import EventChannel
from strongroom.pool.link import Link, LinkLeader, LinkSink
from strongroom.pool.wire import WireError
from strongroom.store.engine import Database


def _on_push(node: Node, op: str, message: dict[str, Any]) -> None:
    if op == "open":
        node.adopt_keyring(wire.unb64(message.get("key")))
    elif op == "seal":
        node.drop_keys()
    elif op == "revoked":
        ids, epoch = wire.revocation_in(message)
        node.broker.revocations.learned(ids, epoch)
    else:
        raise WireError(f"unknown push {op!r}")


def serve(listen_fd: int, link_fd: int, events_fd: int) -> None:
    link = Link(socket.socket(fileno=link_fd))
    link.start()
    channel = EventChannel(socket.socket(fileno=events_fd))
    settings = pickle.loads(wire.unb64(link.call("hello")["settings"]))  # noqa: S301 - our parent
    if not isinstance(settings, Settings):
        raise WireError("the supervisor sent no settings")
    logs.configure(settings.log_level)
    database = Database.from_url(settings.resolved_database_url)
    node = Node(
        settings,
        database,
        committer=RelayedCommitter(database, LinkSink(link), loop_sink=channel),
        leader=LinkLeader(link),
    )
    try:
        link.on_push = lambda op, message: _on_push(node, op, message)
        node.broker.revocations.shared = lambda ids, epoch: link.call(
            "revoked", **wire.revocation_out(ids, epoch)
        )
        app = create_app(node)
        config = uvicorn_config(app, settings)
        server = uvicorn.Server(config)

        def lost() -> None:
            server.should_exit = True  # the supervisor is gone: drain and stop

        link.on_lost = lost
        link.call("join")
        server.run(sockets=[socket.socket(fileno=listen_fd)])
    finally:
        node.close()
        channel.close()
        link.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or not all(a.isdigit() for a in args):
        print(
            "strongroom.pool.worker is started by `strongroom server --workers N`", file=sys.stderr
        )
        return 2
    serve(int(args[0]), int(args[1]), int(args[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
