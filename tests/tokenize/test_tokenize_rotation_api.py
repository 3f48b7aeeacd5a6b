"""Key rotation and rewrap over HTTP (scopes, problems) and through ``strongroom tokens``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from support import Ready

_HELPERS = str(Path(__file__).resolve().parent.parent / "system")
if _HELPERS not in sys.path:
    sys.path.insert(0, _HELPERS)

import serverproc  # noqa: E402

BASE = "/v1/apps/shop/tokens"
ROOT = "dev-fixed-root-token-for-tokens-rotation-tests"


def _post(ready: Ready, path: str, body: Any = None, token: str | None = None) -> Any:
    return ready.client.post(f"{BASE}{path}", json=body, headers=ready.auth(token))


def test_rotate_and_rewrap_routes(ready: Ready) -> None:
    made = _post(ready, "/policies", {"name": "mail", "region": "default", "scheme": "opaque",
                                     "format": "email", "deterministic": True})  # fmt: skip
    assert made.status_code == 200, made.text
    old = _post(ready, "/mail/tokenize", {"values": ["a@x.com", "b@x.com"]}).json()["tokens"]
    rotated = _post(ready, "/policies/mail/rotate")
    assert rotated.status_code == 200 and rotated.json() == {"key_version": 2}
    new = _post(ready, "/mail/tokenize", {"values": ["c@x.com", "a@x.com"]}).json()["tokens"]
    assert new[1] == old[0]
    ask = {"tokens": old + new[:1], "purpose": "after rotation"}
    shown = _post(ready, "/mail/detokenize", ask).json()["items"]
    assert [i["value"] for i in shown] == ["a@x.com", "b@x.com", "c@x.com"]
    first = _post(ready, "/policies/mail/rewrap", {"limit": 1})
    assert first.json() == {"key_version": 2, "rewrapped": 1, "unreadable": 0, "remaining": 1}
    rest = _post(ready, "/policies/mail/rewrap")  # no body: the default batch
    assert rest.json() == {"key_version": 2, "rewrapped": 1, "unreadable": 0, "remaining": 0}
    assert [i["value"] for i in _post(ready, "/mail/detokenize", ask).json()["items"]] == [
        "a@x.com",
        "b@x.com",
        "c@x.com",
    ]
    # Only the app's admin scope rotates; other scopes are refused and nothing changes.
    writer = ready.mint("tokens:tokenize:shop/mail", "tokens:detokenize:shop/mail")
    for path in ("/policies/mail/rotate", "/policies/mail/rewrap"):
        assert _post(ready, path, token=writer).status_code == 403
    assert ready.client.post(f"{BASE}/policies/mail/rotate").status_code == 401
    assert _post(ready, "/policies/mail/rotate").json() == {"key_version": 3}


def test_rotation_problems(ready: Ready) -> None:
    made = _post(ready, "/policies", {"name": "cards", "region": "default", "scheme": "fpe",
                                     "format": "card", "vaulted": False})  # fmt: skip
    assert made.status_code == 200, made.text
    refused = _post(ready, "/policies/cards/rotate")
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "vaultless" in refused.json()["detail"]
    assert _post(ready, "/policies/nope/rotate").status_code == 404
    assert _post(ready, "/policies/cards/rewrap", {"limit": 0}).status_code == 422
    assert _post(ready, "/policies/cards/rewrap", {"limit": 5, "x": 1}).status_code == 422


@pytest.mark.slow
def test_policy_rotate_and_rewrap_commands(tmp_path: Path) -> None:
    with serverproc.Launcher(tmp_path) as launcher:
        server = launcher.start(
            "dev", "--data-dir", str(tmp_path / "data"), env={"STRONGROOM_DEV_ROOT_TOKEN": ROOT}
        )

        def cli(*args: str, stdin: str = "") -> tuple[int, str, str]:
            done = serverproc.run_cli("tokens", *args, addr=server.addr, token=ROOT, stdin=stdin)
            return done.returncode, done.stdout, done.stderr

        code, _, err = cli("policy-create", "--app", "shop", "--name", "notes",
                           "--scheme", "opaque", "--format", "text")  # fmt: skip
        assert code == 0, err
        values = [f"note {i}" for i in range(5)]
        code, out, err = cli("tokenize", "--app", "shop", "--policy", "notes",
                             stdin="\n".join(values))  # fmt: skip
        assert code == 0, err
        tokens = out.splitlines()
        code, out, err = cli("policy-rotate", "--app", "shop", "--policy", "notes")
        assert code == 0 and "key version 2" in out, err
        code, out, err = cli("policy-rotate", "--app", "shop", "--policy", "notes", "--json")
        assert code == 0 and json.loads(out) == {"key_version": 3}, err
        code, out, err = cli("rewrap", "--app", "shop", "--policy", "notes", "--batch", "2",
                             "--json")  # fmt: skip
        assert code == 0, err
        assert json.loads(out) == {"key_version": 3, "rewrapped": 5, "unreadable": 0,
                                   "remaining": 0}  # fmt: skip
        code, out, err = cli("rewrap", "--app", "shop", "--policy", "notes")
        assert code == 0 and "0 value(s) moved to key version 3; 0 left" in out, err
        code, out, err = cli("detokenize", "--app", "shop", "--policy", "notes",
                             "--purpose", "check", stdin="\n".join(tokens))  # fmt: skip
        assert code == 0 and out.splitlines() == values, err
        code, _, err = cli("policy-rotate", "--app", "shop", "--policy", "nope")
        assert code == 1 and "no such token policy" in err
