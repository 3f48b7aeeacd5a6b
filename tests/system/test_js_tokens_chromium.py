"""The JavaScript tokenization client in headless Chromium against a real server.

The server sends no CORS headers, so the page is served as an app would serve it: one
loopback origin (started here) serves the module and forwards ``/v1/`` to the Strongroom
server. The page tokenizes and detokenizes through the client; the Python SDK then opens
what the page made, and the page opens what Python made.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverproc import Backend, Launcher, bearer, init_and_unseal, mint

from strongroom.sdk import Tokens

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
JS_DIR = Path(__file__).resolve().parents[2] / "sdk" / "js"
APP = "shop"
CARDS = ["4242424242424242", "5555 5555 5555 4444"]
# CI (.ci/run) sets STRONGROOM_REQUIRE_JS=1: there a missing runtime fails, not skips.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None and os.environ.get("STRONGROOM_REQUIRE_JS") != "1",
        reason="chromium is not installed",
    ),
]

PAGE_SCRIPT = """
async ({ token, cards, pyCards }) => {
  const { Tokens, TokensError } = await import('/strongroom-tokens.js');
  const tokens = new Tokens({ baseUrl: location.origin, app: 'shop', token: () => token });
  const made = await tokens.tokenize('cards', cards, { idempotencyKey: 'browser-1' });
  const again = await tokens.tokenize('cards', cards, { idempotencyKey: 'browser-1' });
  const shown = await tokens.detokenize('cards', pyCards, { purpose: 'browser check' });
  let refused = null;
  try {
    await tokens.detokenize('cards', pyCards, {});
  } catch (e) {
    refused = { isTokensError: e instanceof TokensError, kind: e.kind, status: e.status };
  }
  let forged = null;
  try {
    await tokens.detokenize('cards', ['12'], { purpose: 'browser check' });
  } catch (e) {
    forged = { kind: e.kind, status: e.status, message: e.message };
  }
  return {
    made, again, refused, forged,
    shown: shown.map((r) => [r.view, r.value]),
    printed: JSON.stringify(shown) + String(shown[0]),
  };
}
"""


class _Front(http.server.SimpleHTTPRequestHandler):
    """Static files from ``directory``; ``/v1/...`` forwarded to ``upstream``."""

    upstream = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        keep = ("authorization", "content-type", "idempotency-key", "accept")
        headers = {k: v for k, v in self.headers.items() if k.lower() in keep}
        answer = httpx.request(
            self.command, self.upstream + self.path, content=body, headers=headers, timeout=30
        )
        self.send_response(answer.status_code)
        for name in ("content-type", "retry-after"):
            if name in answer.headers:
                self.send_header(name, answer.headers[name])
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def do_GET(self) -> None:
        if self.path.startswith("/v1/"):
            self._forward()
        else:
            super().do_GET()

    def do_POST(self) -> None:
        self._forward()


@pytest.fixture
def front(tmp_path: Path) -> Iterator[tuple[type[_Front], str]]:
    root = tmp_path / "site"
    root.mkdir()
    shutil.copy(JS_DIR / "strongroom-tokens.js", root / "strongroom-tokens.js")
    (root / "index.html").write_text("<!doctype html><title>shop</title>\n")
    handler_class = type("Front", (_Front,), {})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler_class, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler_class, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_tokens_client_in_chromium(
    backend: Backend, launcher: Launcher, front: tuple[type[_Front], str]
) -> None:
    from playwright.sync_api import sync_playwright

    handler_class, origin = front
    server = launcher.start(env=backend.env)
    handler_class.upstream = server.url
    _, root = init_and_unseal(server.url)
    with httpx.Client(base_url=server.url, headers=bearer(root), timeout=30) as http:
        python_side = Tokens(http, APP)
        python_side.create_policy("cards", region="default", scheme="fpe", format="card")
        py_cards = python_side.tokenize("cards", CARDS)
        scopes = [f"tokens:{verb}:{APP}/cards" for verb in ("tokenize", "detokenize")]
        token = mint(server.url, root, scopes)["access_token"]

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                page = browser.new_page()
                page.goto(origin + "/index.html")
                got = page.evaluate(
                    PAGE_SCRIPT, {"token": token, "cards": CARDS, "pyCards": py_cards}
                )
                assert "Chrome/" in page.evaluate("() => navigator.userAgent")
            finally:
                browser.close()

        assert got["made"] == got["again"] == py_cards  # FPE: a function of the value
        assert got["shown"] == [
            ["masked", "****-****-****-4242"],
            ["masked", "****-****-****-4444"],
        ]
        assert "4242" not in got["printed"] and "masked" in got["printed"]
        assert got["refused"] == {"isTokensError": True, "kind": "invalid-argument", "status": 0}
        assert (got["forged"]["status"], got["forged"]["kind"]) == (400, "invalid-token")
        assert "'12'" not in got["forged"]["message"]
        opened = python_side.detokenize("cards", got["made"], purpose="python reads browser")
        assert [(r.view, r.value) for r in opened] == [("plain", c) for c in CARDS]
