"""Fixtures for the token broker: an unsealed node with OAuth clients and a test IdP."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from idp import Idp, IdTokenVerifier, running_idp

from strongroom.api.app import create_app
from strongroom.config import load_settings
from strongroom.identity.subjects import ACCESS_TOKEN_TYPE
from strongroom.node import Call, Node
from strongroom.store.models import AuditEvent

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
AT = ACCESS_TOKEN_TYPE
ISSUER = "http://127.0.0.1:8210"
APPROVED = {"crm": ["sys:read", "audit:*"], "hr": ["sys:read"], "signer": ["sys:read"]}


@dataclass
class Kit:
    """A ready node, its API client, the root token and registered OAuth clients."""

    node: Node
    client: TestClient
    root_token: str
    idp: Idp
    share: str
    secrets: dict[str, str] = field(default_factory=dict)

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.root_token}"}

    def mint(self, *scopes: str, subject: str = "alice", ttl: int = 300) -> str:
        resp = self.client.post(
            "/v1/auth/tokens",
            json={"subject": subject, "scopes": list(scopes), "ttl": ttl},
            headers=self.auth(),
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])

    def basic(self, client_id: str, secret: str | None = None) -> dict[str, str]:
        raw = f"{client_id}:{secret if secret is not None else self.secrets[client_id]}"
        return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}

    def exchange(
        self,
        subject_token: str,
        client: str = "crm",
        *,
        post: bool = False,
        headers: dict[str, str] | None = None,
        subject_token_type: str = AT,
        **params: Any,
    ) -> httpx.Response:
        form: dict[str, Any] = {
            "grant_type": GRANT,
            "subject_token": subject_token,
            "subject_token_type": subject_token_type,
            **params,
        }
        if post:
            form.update({"client_id": client, "client_secret": self.secrets[client]})
        all_headers = {**({} if post else self.basic(client)), **(headers or {})}
        return self.client.post("/v1/oauth/token", data=form, headers=all_headers)

    def events(self, action: str) -> list[dict[str, Any]]:
        with self.node.db.transaction(read_only=True) as session:
            rows = session.execute(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            ).scalars()
            return [
                {
                    "actor": r.actor,
                    "outcome": r.outcome,
                    "resource": r.resource,
                    "detail": json.loads(r.detail),
                }
                for r in rows
            ]

    def trail_text(self) -> str:
        with self.node.db.transaction(read_only=True) as session:
            rows = session.execute(sa.select(AuditEvent)).scalars()
            return "\n".join(f"{r.actor} {r.resource} {r.detail}" for r in rows)


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
            oauth_app_scopes=APPROVED,
            revocation_refresh_seconds=0.5,
            **overrides,
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
