"""Tokenization calls of the Python SDK: ``Tokens(http, app).tokenize(policy, values)``.

Ships to micro apps: imports only ``httpx`` (and nothing from the server). ``http`` is an
``httpx.Client`` whose ``base_url`` is the Strongroom server and whose headers carry the
app's bearer token. Every failure is a `TokensError` carrying the server's problem type,
its detail and, for a refused batch, the per-item errors; none of them holds a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["Revealed", "Tokens", "TokensError"]


class TokensError(Exception):
    """A tokenization call failed. ``type`` is the problem URN; ``items`` the batch errors."""

    def __init__(self, status: int, type_: str, detail: str, items: list[dict[str, Any]]) -> None:
        super().__init__(f"{detail} (HTTP {status})")
        self.status = status
        self.type = type_
        self.detail = detail
        self.items = items

    @property
    def kind(self) -> str:
        """The last part of the problem type: ``invalid-token``, ``token-gone``, ..."""
        return self.type.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class Revealed:
    """A detokenized item: ``view`` is plain, masked or redacted; ``value`` None if redacted."""

    view: str
    value: str | None = field(default=None, repr=False)


class Tokens:
    """The tokenization vault, as one app sees it."""

    def __init__(self, http: httpx.Client, app: str) -> None:
        self._http = http
        self.app = app

    def _post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        try:
            response = self._http.post(
                f"/v1/apps/{self.app}/tokens/{path}", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise TokensError(0, "transport", type(exc).__name__, []) from None
        return _answer(response)

    def create_policy(self, name: str, **fields: Any) -> dict[str, Any]:
        """Declare a policy (``region``, ``scheme``, ``format`` and the optional fields)."""
        return dict(self._post("policies", {"name": name, **fields}))

    def policies(self) -> list[dict[str, Any]]:
        try:
            response = self._http.get(f"/v1/apps/{self.app}/tokens/policies")
        except httpx.HTTPError as exc:
            raise TokensError(0, "transport", type(exc).__name__, []) from None
        return list(_answer(response)["policies"])

    def tokenize(
        self, policy: str, values: Sequence[str], *, idempotency_key: str | None = None
    ) -> list[str]:
        """Tokens for ``values`` in order; all or nothing."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return list(self._post(f"{policy}/tokenize", {"values": list(values)}, headers)["tokens"])

    def tokenize_one(self, policy: str, value: str) -> str:
        return self.tokenize(policy, [value])[0]

    def detokenize(self, policy: str, tokens: Sequence[str], *, purpose: str) -> list[Revealed]:
        """The values behind ``tokens`` in the caller's view; ``purpose`` is audited."""
        body = {"tokens": list(tokens), "purpose": purpose}
        items = self._post(f"{policy}/detokenize", body)["items"]
        return [Revealed(item["view"], item["value"]) for item in items]

    def erase(self, policy: str, tokens: Sequence[str]) -> int:
        """Erase the values of ``tokens``; returns how many were erased now."""
        return int(self._post(f"{policy}/erase", {"tokens": list(tokens)})["count"])

    def shred_policy(self, policy: str) -> None:
        """Destroy the policy's keys: its values become unrecoverable."""
        self._post(f"policies/{policy}/shred")


def _answer(response: httpx.Response) -> Any:
    if response.status_code == 200:
        return response.json()
    try:
        problem = response.json()
        type_ = str(problem.get("type", ""))
        detail = str(problem.get("detail", "request failed"))
        items = list(problem.get("errors") or [])
    except (ValueError, AttributeError):
        type_, detail, items = "", f"HTTP {response.status_code}", []
    raise TokensError(response.status_code, type_, detail, items)
