"""Running the API server: heavy imports live here, loaded only by `serve` commands."""

from __future__ import annotations

import asyncio
import importlib
import signal
import threading
from collections.abc import Callable

import uvicorn

from strongroom import devmode, logs
from strongroom.api.app import create_app
from strongroom.api.serving import uvicorn_config
from strongroom.cli.output import console, errors
from strongroom.config import Settings, split_addr
from strongroom.errors import ConfigError
from strongroom.node import Node
from strongroom.pool.supervisor import Supervisor, listen


def _stop_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:  # not on every platform (see pyproject.toml)
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _serve(settings: Settings, node: Node) -> None:
    host, port = split_addr(settings.addr)
    if settings.workers > 1:
        _supervise(settings, node, host, port)
        return
    app = create_app(node)
    node.start_checkpointer()
    node.start_token_purger()
    config = uvicorn_config(app, settings, host=host, port=port)
    # uvicorn drains requests on SIGTERM, then restores the previous handler and raises
    # the signal again; with the default handler the process would die by the signal
    # (status 143) before the node is closed. Make a requested stop a clean exit instead.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_cleanly)
    try:
        uvicorn.Server(config).run()
    finally:
        node.close()


def _supervise(settings: Settings, node: Node, host: str, port: int) -> None:
    """Serve with ``settings.workers`` processes; this one keeps the seal and the trail."""
    try:
        listeners = listen(host, port, settings.workers)
    except OSError as exc:
        node.close()
        raise ConfigError(f"cannot listen on {settings.addr}: {exc.strerror}") from None
    node.start_checkpointer()
    node.start_token_purger()
    errors.print(f"Serving with {settings.workers} worker processes")
    try:
        # On uvloop where there is one, as uvicorn runs the workers: the supervisor's loop
        # handles every event of every worker.
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            code = runner.run(Supervisor(settings, node, listeners).run())
    finally:
        for listener in listeners:
            listener.close()
        node.close()
    if code:
        raise SystemExit(code)


def run_server(settings: Settings) -> None:
    """Open the node (sealed) and serve until stopped."""
    logs.configure(settings.log_level)
    node = Node.open(settings)
    status = node.status()
    state = "sealed" if status.initialized else "not initialised (run: strongroom operator init)"
    errors.print(f"Strongroom listening on {settings.url}: {state}")
    _serve(settings, node)


def run_dev(settings: Settings) -> None:
    """Open the node, initialise and unseal it from the dev key, print the banner, serve."""
    logs.configure(settings.log_level)
    node = Node.open(settings)
    session = devmode.bootstrap(node)
    console.print(f"[bold red]WARNING![/] {devmode.WARNING}", highlight=False)
    console.print(f"URL:        {settings.url}", highlight=False)
    console.print(f"Root token: {session.root_token}", highlight=False, soft_wrap=True)
    console.print(f"Data:       {settings.data_dir}", highlight=False)
    console.print(
        f"\n  export STRONGROOM_ADDR='{settings.url}'\n"
        f"  export STRONGROOM_TOKEN='{session.root_token}'\n",
        highlight=False,
        soft_wrap=True,
    )
    console.file.flush()
    _serve(settings, node)
