"""Key escrow from the client: deposit a data key, recover it after M approvals.

The data key is wrapped on the client to the app's escrow public key (X25519 or
RSA-OAEP-3072, whichever the server names for the app), so Strongroom stores it wrapped;
a recovery is released wrapped to a one-time X25519 or RSA-OAEP-3072 key that only the
requesting owner's `Recovery` object holds. See `docs/key-recovery.md`.

Errors: `EscrowError` for an HTTP problem (its message is the server's problem title and
detail, never a key); `DecryptionError` if a released key does not unwrap.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx

from strongroom.crypto import keywrap, rsa_keywrap

__all__ = ["EscrowClient", "EscrowError", "Recovery"]


class EscrowError(Exception):
    """The server refused an escrow call; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Recovery:
    """A recovery request and the one-time private key its release is wrapped to."""

    id: str
    deposit_id: str
    app: str
    key_id: str
    key_version: int
    _private: bytes = field(repr=False)
    algorithm: str = "x25519"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a recovery holds a private key and cannot be pickled")


class EscrowClient:
    """Calls Strongroom's escrow API with an access token.

    Pass ``client`` to reuse an `httpx.Client` (its base URL is used); otherwise one is
    made for ``base_url``. The token is sent as a bearer token and never printed.
    """

    def __init__(
        self, base_url: str = "", token: str = "", *, client: httpx.Client | None = None
    ) -> None:
        self._client = client or httpx.Client(base_url=base_url, timeout=30.0)
        self._headers = {"Authorization": f"Bearer {token}"}

    def __repr__(self) -> str:
        return "EscrowClient(<token redacted>)"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._client.request(method, path, json=body, headers=self._headers)
        if response.status_code >= 400:
            try:
                problem = response.json()
                message = f"{problem.get('title', '')}: {problem.get('detail', '')}"
            except ValueError:
                message = f"HTTP {response.status_code}"
            raise EscrowError(response.status_code, message)
        return response.json()

    def deposit(self, *, app: str, key_id: str, key_version: int, data_key: bytes) -> str:
        """Wrap ``data_key`` to the app's escrow key and deposit it; the deposit id."""
        public = self._call("GET", f"/v1/escrow/public-key?app={app}")
        context = keywrap.escrow_context(app, key_id, key_version)
        algorithm = public.get("algorithm", "x25519")
        if algorithm == rsa_keywrap.ALGORITHM:
            wrapped = rsa_keywrap.wrap(
                _unb64(public["public_key"]), data_key, context, version=public["version"]
            )
        elif algorithm == "x25519":
            wrapped = keywrap.wrap(_unb64(public["public_key"]), data_key, context)
        else:
            raise EscrowError(0, "the server names an escrow algorithm this SDK does not know")
        body = {
            "app": app,
            "key_id": key_id,
            "key_version": key_version,
            "escrow_version": public["version"],
            "wrapped": _b64(wrapped),
        }
        return str(self._call("POST", "/v1/escrow/deposits", body)["id"])

    def request_recovery(self, deposit_id: str, *, algorithm: str = "x25519") -> Recovery:
        """Ask to recover one's own deposit; keep the returned object for `release`.

        ``algorithm`` is that of the one-time key the release is wrapped to: ``x25519``
        or ``rsa-oaep-3072``; `ValueError` for any other."""
        if algorithm == "x25519":
            private = os.urandom(32)
            public = keywrap.public_key(private)
        elif algorithm == rsa_keywrap.ALGORITHM:
            private = rsa_keywrap.generate_private()
            public = rsa_keywrap.public_key(private)
        else:
            raise ValueError("algorithm must be x25519 or rsa-oaep-3072")
        body = {"deposit_id": deposit_id, "recipient_public_key": _b64(public)}
        out = self._call("POST", "/v1/escrow/requests", body)
        return Recovery(
            out["id"], out["deposit_id"], out["app"], out["key_id"], out["key_version"], private,
            algorithm,
        )  # fmt: skip

    def status(self, request_id: str) -> dict[str, Any]:
        """Where a request stands: status, approvals, threshold."""
        return dict(self._call("GET", f"/v1/escrow/requests/{request_id}"))

    def approve(self, request_id: str) -> dict[str, Any]:
        """Approve someone else's request (needs ``escrow:approve``)."""
        return dict(self._call("POST", f"/v1/escrow/requests/{request_id}/approve"))

    def deny(self, request_id: str) -> dict[str, Any]:
        """Deny someone else's request (needs ``escrow:approve``)."""
        return dict(self._call("POST", f"/v1/escrow/requests/{request_id}/deny"))

    def release(self, recovery: Recovery) -> bytes:
        """The recovered data key, once approved; `DecryptionError` if it does not unwrap."""
        out = self._call("POST", f"/v1/escrow/requests/{recovery.id}/release")
        context = keywrap.escrow_context(recovery.app, recovery.key_id, recovery.key_version)
        if recovery.algorithm == rsa_keywrap.ALGORITHM:
            return rsa_keywrap.unwrap(recovery._private, _unb64(out["wrapped"]), context)
        return keywrap.unwrap(recovery._private, _unb64(out["wrapped"]), context)
