"""Fixtures for the token broker: an unsealed node with OAuth clients and a test IdP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from identity.broker.brokerkit import APPROVED, Kit
from identity.broker.idp import Idp, IdTokenVerifier, running_idp
from strongroom.api.app import create_app
from strongroom.config import load_settings
from strongroom.node import Call, Node


@pytest.fixture(scope="session")
def idp() -> Iterator[Idp]:
    with running_idp() as provider:
        yield provider


@pytest.fixture
def make_kit(database_url: str, tmp_path: Path, idp: Idp) -> Iterator[Callable[..., Kit]]:
    """Build an unsealed node with clients crm (basic), hr (post); settings overridable."""
    opened: list[tuple[Node, TestClient]] = []
    kits: list[Kit] = []

    def make(**overrides: Any) -> Kit:
        settings = load_settings(
            database_url=database_url,
            data_dir=tmp_path / f"data{len(opened)}",
            addr="127.0.0.1:8210",
            **{"oauth_app_scopes": APPROVED, "revocation_refresh_seconds": 0.5, **overrides},
        )
        node = Node.open(settings)
        client = TestClient(create_app(node), raise_server_exceptions=False)
        client.__enter__()
        opened.append((node, client))
        node.broker.subjects.register(IdTokenVerifier(idp))
        if not kits:
            done = node.initialize(Call("t-init"), shares=1, threshold=1)
            share = done.result.shares[0]
            node.unseal(Call("t-unseal"), share)
            kit = Kit(node, client, done.root_token, idp, share)
            for name, method in (("crm", "client_secret_basic"), ("hr", "client_secret_post")):
                resp = client.post(
                    "/v1/oauth/clients",
                    json={"client_id": name, "auth_method": method},
                    headers=kit.auth(),
                )
                assert resp.status_code == 201, resp.text
                kit.secrets[name] = resp.json()["client_secret"]
        else:
            # Another replica on the same database: unsealed with the same share.
            first = kits[0]
            node.unseal(Call("t-unseal"), first.share)
            kit = Kit(node, client, first.root_token, idp, first.share, dict(first.secrets))
        kits.append(kit)
        return kit

    yield make
    for node, client in reversed(opened):
        client.__exit__(None, None, None)
        node.close()


@pytest.fixture
def kit(make_kit: Callable[..., Kit]) -> Kit:
    return make_kit()
