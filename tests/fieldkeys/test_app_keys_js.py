"""The JavaScript SDK fetches an app key from a real server process; Python opens its values."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

_HELPERS = str(Path(__file__).resolve().parent.parent / "system")
if _HELPERS not in sys.path:
    sys.path.insert(0, _HELPERS)

import serverproc  # noqa: E402

from strongroom.sdk import fetch_app_key  # noqa: E402

NODE = shutil.which("node")
MODULE = Path(__file__).resolve().parents[2] / "sdk" / "js" / "strongroom-fields.js"
DEV_TOKEN = "dev-fixed-root-token-for-app-key-js-tests"
CTX = {"app": "crm", "record": "7", "field": "name"}
pytestmark = pytest.mark.skipif(
    NODE is None and os.environ.get("STRONGROOM_REQUIRE_JS") != "1",
    reason="node is not installed",
)

SCRIPT = """
import { fetchAppKey } from %(module)s;
const [baseUrl, token, sealedByPython] = process.argv.slice(1);
const ctx = %(ctx)s;
const key = await fetchAppKey('crm', { token, baseUrl });
const opened = await key.open(sealedByPython, ctx);
const sealed = await key.seal('Zoë from Node', ctx);
let refused = '';
try {
  await fetchAppKey('hr', { token, baseUrl });
} catch (e) {
  refused = e.name + ': ' + e.message;
}
const version = key.keyVersion;
process.stdout.write(JSON.stringify({ opened, sealed, refused, keyId: key.keyId, version }));
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[serverproc.ServerProcess]:
    with serverproc.Launcher(tmp_path) as launcher:
        yield launcher.start(
            "dev", "--data-dir", str(tmp_path / "data"),
            env={"STRONGROOM_DEV_ROOT_TOKEN": DEV_TOKEN},
        )  # fmt: skip


def test_node_fetches_the_app_key_and_interoperates_with_python(
    server: serverproc.ServerProcess,
) -> None:
    assert NODE is not None
    minted = httpx.post(
        server.url + "/v1/auth/tokens",
        json={"subject": "crm-web", "scopes": ["fields:app-key:crm"], "ttl": 120},
        headers={"Authorization": f"Bearer {DEV_TOKEN}"},
    )
    assert minted.status_code == 200, minted.text
    token = minted.json()["access_token"]
    with httpx.Client(base_url=server.url) as http:
        python_key = fetch_app_key("crm", token=token, client=http)
    sealed = python_key.seal("Zoë from Python", CTX)
    script = SCRIPT % {"module": json.dumps(MODULE.as_uri()), "ctx": json.dumps(CTX)}
    result = subprocess.run(
        [NODE, "--input-type=module", "-e", script, server.url, token, sealed],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert out["opened"] == "Zoë from Python"
    assert python_key.open(out["sealed"], CTX) == "Zoë from Node"
    assert out["keyId"] == "app:crm" and out["version"] == 1
    assert out["refused"].startswith("FieldError") and "403" in out["refused"]
    assert token not in result.stdout + result.stderr
