"""The JavaScript SDK under Node: its own `node --test` suite, and interop both ways."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from jsinterop import JS_DIR, build_round, check_round

NODE = shutil.which("node")
# CI (.ci/run) sets STRONGROOM_REQUIRE_JS=1: there a missing runtime fails rather than skips.
pytestmark = pytest.mark.skipif(
    NODE is None and os.environ.get("STRONGROOM_REQUIRE_JS") != "1",
    reason="node is not installed",
)


def _node_major() -> int:
    assert NODE is not None
    out = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().lstrip("v").split(".")[0])


def test_node_is_recent_enough() -> None:
    assert _node_major() >= 20


def test_node_test_suite_passes() -> None:
    """`node --test` over sdk/js/test: unit tests and the shared vectors, byte for byte."""
    assert NODE is not None
    tests = sorted(str(p.relative_to(JS_DIR)) for p in (JS_DIR / "test").glob("*.test.js"))
    assert len(tests) >= 2
    result = subprocess.run(
        [NODE, "--test", *tests],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout


def test_interop_python_and_node_both_ways() -> None:
    assert NODE is not None
    rnd = build_round()
    result = subprocess.run(
        [NODE, str(JS_DIR / "testing" / "interop-cli.js")],
        input=json.dumps(rnd.request),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    check_round(rnd, json.loads(result.stdout))
