"""Real Strongroom server processes for end-to-end tests: start, wait, stop, run the CLI.

Every process runs the venv's ``strongroom`` in a session (process group) of its own, on a
free loopback port, with its output in files under the test's temporary directory. A
`Launcher` remembers what it started and kills whatever is still running when the test
ends, however it ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

# The venv's console script sits next to its interpreter (don't resolve the symlink).
STRONGROOM = Path(sys.executable).parent / "strongroom"
PG_URL = os.environ.get("STRONGROOM_TEST_DATABASE_URL")
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
CLI_TIMEOUT = 60.0


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment minus every ``STRONGROOM_*`` variable, plus ``extra``.

    ``COLUMNS`` is fixed so Rich wraps output the same way everywhere.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env["COLUMNS"] = "100"
    env.update(extra or {})
    return env


class ServerProcess:
    """One ``strongroom server`` / ``strongroom dev`` process."""

    def __init__(
        self, args: Sequence[str], *, port: int, env: Mapping[str, str], workdir: Path, name: str
    ) -> None:
        self.args = [str(STRONGROOM), *args]
        self.port = port
        self.addr = f"{HOST}:{port}"
        self.url = f"http://{self.addr}"
        self.env = clean_env(env)
        self.workdir = workdir
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def describe(self) -> str:
        rc = None if self.proc is None else self.proc.poll()
        return f"{self.args[1:]} rc={rc}\n--- stdout\n{self.stdout()}\n--- stderr\n{self.stderr()}"

    def wait_ready(self, timeout: float = START_TIMEOUT) -> ServerProcess:
        """Wait until the health endpoint answers at all (200, 501 or 503)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise AssertionError(f"server exited before answering:\n{self.describe()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/v1/sys/health", timeout=2).status_code in (200, 501, 503):
                    return self
            time.sleep(0.05)
        raise AssertionError(f"server did not answer within {timeout}s:\n{self.describe()}")

    def send(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Signal the server and wait; SIGKILL its whole group if it does not exit in time."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"server ignored signal {sig} for {timeout}s:\n{self.describe()}"
                ) from None
        return self.proc.returncode

    def kill(self) -> int:
        """SIGKILL the process group (no chance to clean up) and reap the process."""
        assert self.proc is not None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(STOP_TIMEOUT)


class Launcher:
    """Starts servers for one test and kills any still running when it is closed."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._started: list[ServerProcess] = []
        self._clis: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(
        self,
        command: str = "server",
        *args: str,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        addr_flag: bool = True,
        ready: bool = True,
    ) -> ServerProcess:
        """Run ``strongroom <command> [--addr 127.0.0.1:PORT] <args>`` and wait for it."""
        port = port or free_port()
        argv = [command, *(["--addr", f"{HOST}:{port}"] if addr_flag else []), *args]
        name = f"{command}-{len(self._started)}"
        server = ServerProcess(argv, port=port, env=env or {}, workdir=self.workdir, name=name)
        self._started.append(server.start())
        return server.wait_ready() if ready else server

    def cli_async(self, *args: str, addr: str | None = None, token: str | None = None) -> Cli:
        """Start ``strongroom <args>`` in the background; `Cli.result` waits for it."""
        proc = subprocess.Popen(
            [str(STRONGROOM), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_cli_env(addr, token, None),
        )
        self._clis.append(proc)
        return Cli(proc)

    def close(self) -> None:
        for server in self._started:
            if server.proc is not None:
                server.kill()
        for proc in self._clis:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=STOP_TIMEOUT)


@dataclass
class Cli:
    """A CLI process running in the background."""

    proc: subprocess.Popen[str]

    def result(self, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
        stdout, stderr = self.proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, stdout, stderr)


def _cli_env(addr: str | None, token: str | None, env: Mapping[str, str] | None) -> dict[str, str]:
    extra = dict(env or {})
    if addr is not None:
        extra["STRONGROOM_ADDR"] = addr
    if token is not None:
        extra["STRONGROOM_TOKEN"] = token
    return clean_env(extra)


def run_cli(
    *args: str,
    addr: str | None = None,
    token: str | None = None,
    stdin: str = "",
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = CLI_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``strongroom <args>``; ``addr`` and ``token`` go in through the environment."""
    return subprocess.run(
        [str(STRONGROOM), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_cli_env(addr, token, env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


# -- HTTP helpers ------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def initialize(url: str, shares: int = 1, threshold: int = 1) -> tuple[list[str], str]:
    """Initialise over HTTP; return the shares and the root token."""
    resp = httpx.post(f"{url}/v1/sys/init", json={"shares": shares, "threshold": threshold})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return list(body["shares"]), str(body["root_token"])


def unseal(url: str, shares: Sequence[str]) -> None:
    """Give shares until the server says it is unsealed."""
    for share in shares:
        resp = httpx.post(f"{url}/v1/sys/unseal", json={"share": share})
        assert resp.status_code == 200, resp.text
        if not resp.json()["sealed"]:
            return
    raise AssertionError("the shares given did not unseal the server")


def init_and_unseal(url: str, shares: int = 1, threshold: int = 1) -> tuple[list[str], str]:
    given, root = initialize(url, shares, threshold)
    unseal(url, given[:threshold])
    return given, root


def mint(url: str, token: str, scopes: Sequence[str], ttl: int = 120) -> dict[str, Any]:
    resp = httpx.post(
        f"{url}/v1/auth/tokens",
        json={"subject": "tester", "scopes": list(scopes), "ttl": ttl},
        headers=bearer(token),
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def all_events(url: str, token: str, page: int = 500) -> list[dict[str, Any]]:
    """Every audit event, oldest first, following the ``after`` cursor page by page."""
    events: list[dict[str, Any]] = []
    after = -1
    with httpx.Client(base_url=url, headers=bearer(token), timeout=30) as client:
        while True:
            resp = client.get("/v1/audit/events", params={"after": after, "limit": page})
            assert resp.status_code == 200, resp.text
            body = resp.json()
            events.extend(body["events"])
            if body["next"] is None:
                return events
            after = body["next"]


def assert_contiguous(events: Sequence[Mapping[str, Any]]) -> None:
    """Audit indexes run 0..size-1 with no gap and no repeat."""
    indexes = [int(e["index"]) for e in events]
    assert indexes == list(range(len(indexes))), _first_gap(indexes)


def _first_gap(indexes: Sequence[int]) -> str:
    for expected, got in enumerate(indexes):
        if expected != got:
            return f"audit index {expected} expected, got {got} (of {len(indexes)})"
    return "no gap"


# -- backends ----------------------------------------------------------------------------


@dataclass
class Backend:
    """Where a server keeps its data: the environment that says so, and the SQLite file."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    sqlite_file: Path | None = None


def sqlite_backend(data_dir: Path) -> Backend:
    return Backend("sqlite", {"STRONGROOM_DATA_DIR": str(data_dir)}, data_dir / "strongroom.db")


@contextlib.contextmanager
def postgres_backend(data_dir: Path) -> Iterator[Backend]:
    """A private schema on the test PostgreSQL, dropped afterwards (stop servers first)."""
    assert PG_URL is not None
    conninfo = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        yield Backend(
            "postgresql", {"STRONGROOM_DATA_DIR": str(data_dir), "STRONGROOM_DATABASE_URL": url}
        )
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
