"""Fixtures for identity tests: a real OpenID provider and a node configured to use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import Ready

from identity.oidcop import CLIENT_ID, OpenIdProvider
from strongroom.api.app import create_app
from strongroom.config import load_settings
from strongroom.node import Call, Node

BASE = "https://testserver"
CLIENT_SECRET = "canary-client-secret-7f3a9"
REDIRECTS = [f"{BASE}/v1/auth/oidc/corp/callback", f"{BASE}/bff/notes/callback"]


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIdProvider]:
    op = OpenIdProvider(tmp_path_factory.mktemp("op"), REDIRECTS, CLIENT_SECRET).start()
    yield op
    op.stop()


def identity_settings(idp: OpenIdProvider, **extra: Any) -> dict[str, Any]:
    return {
        "dev": True,
        "issuer": BASE,
        "oidc_providers": [
            {
                "name": "corp",
                "issuer": idp.issuer,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "scopes": ["openid", "email", "groups"],
                "group_roles": {"platform": ["admin"], "eng": ["app-owner"]},
            }
        ],
        "oidc_return_origins": ["https://notes.example.test"],
        "bff_apps": [{"name": "notes", "provider": "corp", "scopes": ["sys:read", "audit:read"]}],
        **extra,
    }


def make_ready(database_url: str, tmp_path: Path, idp: OpenIdProvider, **extra: Any) -> Ready:
    settings = load_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        addr="127.0.0.1:8210",
        **identity_settings(idp, **extra),
    )
    node = Node.open(settings)
    client = TestClient(create_app(node), base_url=BASE, raise_server_exceptions=False)
    client.__enter__()
    done = node.initialize(Call("test-init"), shares=1, threshold=1)
    node.unseal(Call("test-unseal"), done.result.shares[0])
    return Ready(node, client, list(done.result.shares), done.root_token)


@pytest.fixture
def sr(database_url: str, tmp_path: Path, idp: OpenIdProvider) -> Iterator[Ready]:
    """An unsealed dev-mode node whose provider ``corp`` is the real OpenID provider."""
    ready = make_ready(database_url, tmp_path, idp)
    yield ready
    ready.client.__exit__(None, None, None)
    ready.node.close()


@pytest.fixture
def sr_scim(database_url: str, tmp_path: Path, idp: OpenIdProvider) -> Iterator[Ready]:
    """Like ``sr`` with SCIM enforced: only provisioned, active users sign in."""
    ready = make_ready(
        database_url, tmp_path, idp, scim_enabled=True, scim_group_roles={"reviewers": ["reviewer"]}
    )
    yield ready
    ready.client.__exit__(None, None, None)
    ready.node.close()
