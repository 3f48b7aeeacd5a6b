"""End to end against a real dev server: store, inject with `strongroom run`, rotate, revoke."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from serverproc import Launcher, ServerProcess, bearer, run_cli

DEV_TOKEN = "dev-root-secrets-cli-0f3b"
CANARY = "CANARY-cli-secret-6d1f0a"
CHECK = (
    "import os, sys; "
    "ok = os.environ.get('API_KEY') == sys.argv[1] and 'STRONGROOM_TOKEN' not in os.environ; "
    "sys.exit(int(sys.argv[2]) if ok else 99)"
)


def _dev(launcher: Launcher, tmp_path: Path) -> ServerProcess:
    return launcher.start(
        "dev",
        "--data-dir",
        str(tmp_path / "data"),
        env={"STRONGROOM_DEV_ROOT_TOKEN": DEV_TOKEN},
    )


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def test_store_run_rotate_revoke(launcher: Launcher, tmp_path: Path) -> None:
    server = _dev(launcher, tmp_path)
    outputs: list[str] = []

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, addr=server.url, token=DEV_TOKEN, stdin=stdin)
        outputs.append(result.stdout + result.stderr)
        return result

    # Values come from standard input or a file, never argv; a trailing newline is dropped.
    stored = json.loads(
        _ok(cli("secrets", "put", "crm", "api-key", "--json", stdin=CANARY + "\n")).stdout
    )
    assert stored["current_version"] == 1
    value_file = tmp_path / "value.txt"
    value_file.write_text("other-value-1")
    _ok(cli("secrets", "put", "crm", "other", "--file", str(value_file), "--rotation-days", "30"))
    listed = json.loads(_ok(cli("secrets", "list", "crm", "--json")).stdout)
    assert [s["name"] for s in listed] == ["api-key", "other"]
    assert "api-key" in _ok(cli("secrets", "meta", "crm", "api-key")).stdout
    # There is no command that prints a value back.
    assert cli("secrets", "get", "crm", "api-key").returncode == 2

    # `run` injects the value with a short-lived token; the exit status passes through.
    run = cli(
        "run",
        "--app",
        "crm",
        "--map",
        "API_KEY=api-key",
        "--",
        sys.executable,
        "-c",
        CHECK,
        CANARY,
        "7",
    )
    assert run.returncode == 7, run.stderr
    # Without --map every readable secret goes in under its upper-cased name.
    every = cli(
        "run",
        "--app",
        "crm",
        "--",
        sys.executable,
        "-c",
        "import os, sys; sys.exit(0 if os.environ.get('OTHER') == 'other-value-1' else 5)",
    )
    assert every.returncode == 0, every.stderr

    # Rotation: the next run sees the new version.
    rotated = json.loads(
        _ok(cli("secrets", "rotate", "crm", "api-key", "--generate", "password", "--json")).stdout
    )
    assert rotated["current_version"] == 2
    stale = cli(
        "run",
        "--app",
        "crm",
        "--map",
        "API_KEY=api-key",
        "--",
        sys.executable,
        "-c",
        CHECK,
        CANARY,
        "0",
    )
    assert stale.returncode == 99

    # Revoke stops it at once.
    _ok(cli("secrets", "revoke", "crm", "api-key"))
    refused = cli("run", "--app", "crm", "--map", "API_KEY=api-key", "--", "true")
    assert refused.returncode == 1 and "revoked" in refused.stderr

    # Bad input: no value, bad map, missing command, unconfirmed emergency.
    assert cli("secrets", "put", "crm", "empty", stdin="").returncode == 1
    assert cli("run", "--app", "crm", "--map", "1BAD=x", "--", "true").returncode == 1
    missing = cli("run", "--app", "crm", "--map", "O=other", "--", "no-such-command-xyz")
    assert missing.returncode == 127
    assert cli("secrets", "disable-all", "crm").returncode == 1
    assert '"disabled": 1' in _ok(cli("secrets", "disable-all", "crm", "--yes", "--json")).stdout
    due = json.loads(_ok(cli("secrets", "due", "--within-days", "31", "--json")).stdout)
    assert [s["name"] for s in due] == ["other"]
    _ok(cli("secrets", "destroy", "crm", "api-key", "--version", "1"))
    _ok(cli("secrets", "delete", "crm", "other"))
    _ok(cli("secrets", "undelete", "crm", "other"))

    # The value never shows in any output, and the audit trail names ids and versions only.
    events = httpx.get(
        server.url + "/v1/audit/events?limit=1000", headers=bearer(DEV_TOKEN)
    ).json()["events"]
    reads = [e for e in events if e["action"] == "secrets.read" and e["outcome"] == "success"]
    assert {(e["detail"]["secret"], e["detail"]["version"]) for e in reads} >= {
        ("crm/api-key", 1),
        ("crm/api-key", 2),
    }
    everything = "\n".join(outputs) + json.dumps(events) + server.stdout() + server.stderr()
    assert CANARY not in everything


class _Upstream(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[str]


class _Echo(BaseHTTPRequestHandler):
    server: _Upstream

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.server.seen.append(auth)
        body = json.dumps({"you_sent": auth}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_connector_call_through_a_running_server(launcher: Launcher, tmp_path: Path) -> None:
    upstream = _Upstream(("127.0.0.1", 0), _Echo)
    upstream.seen = []
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    try:
        config = tmp_path / "strongroom.toml"
        config.write_text(
            'egress_allowlist = { crm = ["127.0.0.1"] }\n'
            'egress_allow_private = ["127.0.0.1/32"]\n'
            "[[connectors]]\n"
            'name = "crm-api"\napp = "crm"\ntemplate = "bearer"\n'
            f'base_url = "http://127.0.0.1:{upstream.server_address[1]}/api"\n'
            'secret = "sr://secrets/crm/api-key"\n'
        )
        server = launcher.start(
            "dev",
            "--data-dir",
            str(tmp_path / "data"),
            "--config",
            str(config),
            env={"STRONGROOM_DEV_ROOT_TOKEN": DEV_TOKEN},
        )
        _ok(
            run_cli(
                "secrets", "put", "crm", "api-key", addr=server.url, token=DEV_TOKEN, stdin=CANARY
            )
        )
        minted = httpx.post(
            server.url + "/v1/auth/tokens",
            json={"subject": "crm-app", "scopes": ["connectors:call:crm-api"], "ttl": 60},
            headers=bearer(DEV_TOKEN),
        ).json()["access_token"]

        def call() -> httpx.Response:
            return httpx.post(
                server.url + "/v1/connectors/crm-api/request",
                json={"method": "GET", "path": "/orders?page=1"},
                headers=bearer(minted),
            )

        first = call()
        assert first.status_code == 200, first.text
        assert upstream.seen == [f"Bearer {CANARY}"]
        assert CANARY not in first.text and first.json()["secret_version"] == 1
        _ok(
            run_cli(
                "secrets",
                "rotate",
                "crm",
                "api-key",
                "--generate",
                "key",
                addr=server.url,
                token=DEV_TOKEN,
            )
        )
        second = call()
        assert second.json()["secret_version"] == 2
        assert upstream.seen[-1] != upstream.seen[0]
        assert upstream.seen[-1].removeprefix("Bearer ") not in second.text
        _ok(run_cli("secrets", "revoke", "crm", "api-key", addr=server.url, token=DEV_TOKEN))
        assert call().status_code == 423
        assert len(upstream.seen) == 2
        assert CANARY not in server.stdout() + server.stderr()
    finally:
        upstream.shutdown()
        upstream.server_close()
        thread.join(timeout=5)
