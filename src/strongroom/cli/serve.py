"""``strongroom server`` and ``strongroom dev``.

The server stack is imported only when one of these commands runs, so client commands
start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file.", show_default=False)
]
ServeAddr = Annotated[
    str | None,
    typer.Option(
        "--addr", help="Listen on host:port (default 127.0.0.1:8210).", show_default=False
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Server processes sharing the port (default 1; docs/workers.md).",
        show_default=False,
    ),
]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the SQLite file lives.", show_default=False)
]


def server(config: ConfigOption = None, addr: ServeAddr = None, workers: Workers = None) -> None:
    """Run a Strongroom server. It starts sealed: unseal it with `strongroom operator unseal`."""
    from strongroom.cli.runner import run_server
    from strongroom.config import load_settings

    settings = load_settings(config, addr=addr, workers=workers)

    run_server(settings)


def dev(
    config: ConfigOption = None,
    addr: ServeAddr = None,
    data_dir: DataDir = None,
    workers: Workers = None,
) -> None:
    """Run a self-unsealing dev server on SQLite. Never for real data."""
    from strongroom.cli.runner import run_dev
    from strongroom.config import load_settings

    settings = load_settings(config, dev=True, addr=addr, data_dir=data_dir, workers=workers)

    run_dev(settings)
