"""Helpers for the token broker tests: a ready node with OAuth clients (`Kit`)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from identity.broker.idp import Idp
from strongroom.identity.subjects import ACCESS_TOKEN_TYPE
from strongroom.node import Node
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
