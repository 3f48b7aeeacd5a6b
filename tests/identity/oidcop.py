"""A real OpenID provider (npm ``oidc-provider`` v9) on loopback, and a headless browser.

`OpenIdProvider` writes a config file (port, issuer, signing keys, one confidential
client, accounts), runs ``node provider.mjs`` in a process group of its own and waits for
it to listen. ``npm ci`` runs first when ``node_modules`` is missing, so a fresh clone
works. `Browser.sign_in` drives the provider's login and consent forms with plain HTTP and
returns the callback URL the provider redirects to.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from joserfc.jwk import KeySet, RSAKey

HERE = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "strongroom-test"
ACCOUNTS = {
    "alice": {"email": "alice@example.test", "groups": ["eng"]},
    "bob": {"email": "bob@example.test", "groups": ["platform"]},
    "carol": {"email": "carol@example.test", "groups": []},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_installed() -> None:
    """Install the provider's npm packages (pinned by package-lock.json) if missing."""
    if (HERE / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for the OpenID provider tests")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=300)


def new_keys(kid: str) -> KeySet:
    return KeySet(
        [RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})]
    )


class OpenIdProvider:
    """One provider process; `restart` swaps its signing keys (a key rotation)."""

    def __init__(self, workdir: Path, redirect_uris: list[str], client_secret: str) -> None:
        ensure_installed()
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_secret = client_secret
        self.redirect_uris = redirect_uris
        self.workdir = workdir
        self.keys = new_keys("key-1")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OpenIdProvider:
        config: dict[str, Any] = {
            "port": self.port,
            "issuer": self.issuer,
            "jwks": self.keys.as_dict(private=True),
            "client": {
                "client_id": CLIENT_ID,
                "client_secret": self.client_secret,
                "redirect_uris": self.redirect_uris,
            },
            "accounts": ACCOUNTS,
        }
        path = self.workdir / "op-config.json"
        path.write_text(json.dumps(config))
        with (self.workdir / "op.log").open("ab") as log:
            self.proc = subprocess.Popen(
                ["node", str(HERE / "provider.mjs"), str(path)],
                cwd=HERE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                env={**os.environ, "NODE_ENV": "development"},
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if b"listening" not in line:
            self.stop()
            raise RuntimeError("the OpenID provider did not start; see op.log")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(self.issuer + "/.well-known/openid-configuration", timeout=2)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the OpenID provider does not answer")

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        self.proc = None

    def restart(self, keys: KeySet) -> None:
        self.stop()
        self.keys = keys
        self.start()


_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


class Browser:
    """Follows the provider's redirects and fills its development login and consent forms."""

    def __init__(self, stop_at: str) -> None:
        self.stop_at = stop_at
        self.http = httpx.Client(follow_redirects=False, timeout=10)

    def sign_in(self, authorize_url: str, login: str, password: str = "pw") -> str:
        """The URL the provider finally sends the browser to (under ``stop_at``)."""
        url = authorize_url
        for _ in range(20):
            if url.startswith(self.stop_at):
                return url
            response = self.http.get(url)
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                continue
            match = _FORM_ACTION.search(response.text)
            if response.status_code != 200 or match is None:
                raise AssertionError(f"unexpected provider page {response.status_code}")
            action = urljoin(url, match.group(1).replace("&amp;", "&"))
            if 'name="login"' in response.text:
                form = {"prompt": "login", "login": login, "password": password}
            else:
                form = {"prompt": "consent"}
            posted = self.http.post(action, data=form)
            if not posted.is_redirect:
                raise AssertionError(f"the provider refused the form: {posted.status_code}")
            url = urljoin(action, posted.headers["location"])
        raise AssertionError("too many redirects at the provider")

    def close(self) -> None:
        self.http.close()
