"""Test support shared by many test modules (imported as ``support``; not a conftest)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from strongroom.node import Node


@dataclass
class Ready:
    """An initialised, unsealed node with its shares, root token and an API client."""

    node: Node
    client: TestClient
    shares: list[str]
    root_token: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.root_token}"}

    def mint(self, *scopes: str, subject: str = "alice", ttl: int = 60) -> str:
        resp = self.client.post(
            "/v1/auth/tokens",
            json={"subject": subject, "scopes": list(scopes), "ttl": ttl},
            headers=self.auth(),
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])
