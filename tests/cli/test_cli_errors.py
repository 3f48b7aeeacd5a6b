"""How the ``strongroom`` command fails: usage errors, bad addresses, odd key purposes.

Every failure is short and has no traceback: usage errors print click's usage message and
exit 2, our own errors print ``Error:`` (and maybe ``Hint:``) and exit 1.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from serverproc import Launcher, ServerProcess, all_events, free_port, run_cli

from strongroom.cli.client import base_url
from strongroom.cli.operator import rotate_path

DEV_TOKEN = "dev-fixed-root-token-for-cli-error-tests"


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


def usage_error(result: subprocess.CompletedProcess[str]) -> str:
    """Assert click's usage error: exit 2, a usage line, a few lines, nothing on stdout."""
    no_traceback(result)
    assert result.returncode == 2, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    err = result.stderr.strip()
    assert err.startswith("Usage: strongroom"), err
    assert "Error" in err, err
    assert len(err.splitlines()) <= 8, err
    assert result.stdout == ""
    return err


def our_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """Assert one of our own errors: ``Error: ...`` (+ ``Hint: ...``), at most 3 lines."""
    no_traceback(result)
    assert result.returncode == code, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    err = result.stderr.strip()
    lines = err.splitlines()
    assert 1 <= len(lines) <= 3, err
    assert lines[0].startswith("Error: "), err
    assert all(line.startswith(("Error: ", "Hint: ")) for line in lines), err
    return err


# -- usage errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["token", "create"], "--subject"),
        (["status", "--bogus"], "--bogus"),
        (["operator", "init", "--shares", "0"], "--shares"),
        (["operator", "init", "--threshold", "many"], "--threshold"),
        (["audit", "tail", "-n", "5000"], "-n"),
        (["operator", "rotate"], "purpose"),
        (["no-such-command"], "no-such-command"),
    ],
)
def test_usage_errors_print_the_usage_message_and_exit_2(args: list[str], says: str) -> None:
    err = usage_error(run_cli(*args, addr=f"127.0.0.1:{free_port()}"))
    assert says in err


def test_help_still_exits_0() -> None:
    result = run_cli("operator", "--help")
    no_traceback(result)
    assert result.returncode == 0 and "rotate" in result.stdout


# -- our own errors ------------------------------------------------------------------------


def test_a_cli_error_prints_error_and_hint_and_exits_1() -> None:
    err = our_error(run_cli("operator", "init", "--shares", "2", "--threshold", "3"))
    assert err == "Error: --threshold cannot exceed --shares"
    err = our_error(run_cli("operator", "unseal", addr=f"127.0.0.1:{free_port()}"))
    assert err.splitlines() == [
        "Error: no terminal to prompt on",
        "Hint: pass the share with --share-stdin",
    ]


def test_markup_in_a_message_is_printed_as_is() -> None:
    err = our_error(run_cli("status", "--addr", "ftp://[bold]x[/]"))
    assert "ftp://[bold]x[/]" in err


@pytest.mark.parametrize(
    ("addr", "says"),
    [
        ("http://127.0.0.1:notaport", "Invalid port"),
        ("127.0.0.1:notaport", "Invalid port"),
        ("http://[::1", "Invalid port"),
        ("ftp://127.0.0.1:8200", "scheme"),
        ("http://", "no host"),
        ("http://xn--/", "invalid server address"),
        ("http://127.0.0.1:8200/\x7f", "non-printable"),
    ],
)
def test_an_invalid_address_is_a_short_error_naming_it(addr: str, says: str) -> None:
    for args in (["status", "--addr", addr], ["operator", "keys", "--token", "t"]):
        result = run_cli(*args, addr=None if "--addr" in args else addr)
        err = our_error(result)
        assert "invalid server address" in err and says in err, err
        assert "--addr or STRONGROOM_ADDR" in err


def test_a_token_that_cannot_be_sent_is_a_short_error() -> None:
    err = our_error(run_cli("operator", "keys", addr=f"127.0.0.1:{free_port()}", token="tök"))
    assert "token is malformed" in err and "tök" not in err


def test_base_url() -> None:
    assert base_url("127.0.0.1:8200") == "http://127.0.0.1:8200"
    assert base_url(" https://vault.example/ ") == "https://vault.example"
    assert base_url("http://") == "http://"


# -- the rotate path -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "path"),
    [
        ("barrier", "/v1/sys/keys/barrier/rotate"),
        ("token-signing", "/v1/sys/keys/token-signing/rotate"),
        ("../seal?x=", "/v1/sys/keys/..%2Fseal%3Fx%3D/rotate"),
        ("..", "/v1/sys/keys/%2E%2E/rotate"),
        (".", "/v1/sys/keys/%2E/rotate"),
        ("a/b#c d", "/v1/sys/keys/a%2Fb%23c%20d/rotate"),
        ("%2e%2e", "/v1/sys/keys/%252e%252e/rotate"),
    ],
)
def test_rotate_path_quotes_the_purpose_as_one_segment(purpose: str, path: str) -> None:
    assert rotate_path(purpose) == path
    # And the HTTP client sends it as it is: no dot segment is resolved away.
    request = httpx.Client(base_url="http://127.0.0.1:1").build_request("POST", path)
    assert request.url.raw_path.decode() == path


def _dev(launcher: Launcher, tmp_path: Path) -> ServerProcess:
    return launcher.start(
        "dev",
        "--data-dir",
        str(tmp_path / "dev-data"),
        env={"STRONGROOM_DEV_ROOT_TOKEN": DEV_TOKEN},
    )


@pytest.mark.slow
def test_rotate_cannot_reach_another_endpoint(launcher: Launcher, tmp_path: Path) -> None:
    server = _dev(launcher, tmp_path)
    for purpose in ("../seal?x=", "../../seal", "..", "barrier/../../../seal", "nope"):
        result = run_cli("operator", "rotate", purpose, addr=server.addr, token=DEV_TOKEN)
        state = httpx.get(server.url + "/v1/sys/seal-status").json()
        assert state["sealed"] is False, (purpose, state, result.stderr)
        err = our_error(result)
        assert "(HTTP 404)" in err, (purpose, err)
    actions = {e["action"] for e in all_events(server.url, DEV_TOKEN)}
    assert "sys.seal" not in actions
    err = our_error(run_cli("operator", "rotate", "", addr=server.addr, token=DEV_TOKEN))
    assert "give a key purpose" in err

    rotated = run_cli("operator", "rotate", "barrier", "--json", addr=server.addr, token=DEV_TOKEN)
    no_traceback(rotated)
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["version"] == 2


@pytest.mark.slow
def test_ctrl_c_exits_130_without_a_traceback(launcher: Launcher, tmp_path: Path) -> None:
    server = _dev(launcher, tmp_path)
    follow = launcher.cli_async(
        "audit", "tail", "-f", "--json", "--interval", "0.2", addr=server.addr, token=DEV_TOKEN
    )
    assert follow.proc.stdout is not None
    first = follow.proc.stdout.readline()  # the first page: the CLI is in its loop now
    assert first.startswith("["), first
    follow.proc.send_signal(signal.SIGINT)
    result = follow.result()
    no_traceback(result)
    assert result.returncode == 130, result.stderr
