"""scim2-tester (an independent SCIM checker) against a running Strongroom server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx2
import pytest
import uvicorn
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server
from support import Ready

from identity.conftest import make_ready
from identity.oidcop import OpenIdProvider, free_port


@pytest.fixture
def server(database_url: str, tmp_path, idp: OpenIdProvider) -> Iterator[tuple[Ready, str]]:  # type: ignore[no-untyped-def]
    ready = make_ready(database_url, tmp_path, idp)
    port = free_port()
    config = uvicorn.Config(ready.client.app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield ready, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
    ready.client.__exit__(None, None, None)
    ready.node.close()


def test_scim2_tester_passes(server: tuple[Ready, str]) -> None:
    ready, url = server
    token = ready.mint("scim:provision", ttl=300)
    with httpx2.Client(
        base_url=f"{url}/scim/v2", headers={"Authorization": f"Bearer {token}"}
    ) as http:
        client = SyncSCIMClient(http)
        client.discover()
        results = check_server(client)
    failed = {r.title for r in results if r.status == Status.ERROR}
    assert len(results) > 60
    # A known, documented deviation (docs/identity.md): removing `active` deactivates
    # the user (fails closed) instead of unsetting the attribute. (A server-wide POST
    # /.search answers 501, which the tester accepts.)
    assert failed <= {"check_remove_attribute"}, failed
