"""The JavaScript SDK in headless Chromium (Debian's package, driven by Playwright).

The module is served from a loopback HTTP server started here (loopback is a secure
context, so Web Crypto is available); the page imports it and runs the shared vectors and
an interop round with the Python SDK.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsinterop import JS_DIR, REPO_ROOT, build_round, check_round

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VECTORS = json.loads(
    (REPO_ROOT / "tests" / "vectors" / "fields" / "vectors.json").read_text(encoding="utf-8")
)
# CI (.ci/run) sets STRONGROOM_REQUIRE_JS=1: there a missing runtime fails rather than skips.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("STRONGROOM_REQUIRE_JS") != "1",
    reason="chromium is not installed",
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A loopback server for the module and its test helpers only."""
    root: Path = tmp_path_factory.mktemp("js")
    shutil.copy(JS_DIR / "strongroom-fields.js", root / "strongroom-fields.js")
    shutil.copytree(JS_DIR / "testing", root / "testing")
    (root / "index.html").write_text("<!doctype html><title>strongroom</title>\n")
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def page(origin: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            tab = browser.new_page()
            tab.goto(origin + "/index.html")
            assert tab.evaluate("() => window.isSecureContext && !!crypto.subtle")
            yield tab
        finally:
            browser.close()


def test_vectors_pass_byte_for_byte_in_chromium(page: Any) -> None:
    result = page.evaluate(
        "async (v) => (await import('/testing/vectors.js')).runVectors(v)", VECTORS
    )
    assert result["failures"] == []
    assert len(result["passed"]) + len(result["skipped"]) == len(VECTORS["valid"]) + len(
        VECTORS["invalid"]
    )
    assert all("chacha" in n or "argon2id" in n for n in result["skipped"])
    assert len(result["passed"]) >= 35


def test_interop_python_and_chromium_both_ways(page: Any) -> None:
    rnd = build_round()
    answer = page.evaluate(
        "async (r) => (await import('/testing/interop.js')).runInterop(r)", rnd.request
    )
    check_round(rnd, answer)


def test_user_agent_is_chromium(page: Any) -> None:
    assert "Chrome/" in page.evaluate("() => navigator.userAgent")
