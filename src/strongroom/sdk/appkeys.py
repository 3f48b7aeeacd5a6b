"""Fetching an app's field-encryption key from Strongroom with an access token.

The token must hold ``fields:app-key:<app>``. The key comes back over HTTPS once and is
kept only inside the returned `FieldKey` handle (HKDF-SHA256 derives the field keys).
"""

from __future__ import annotations

import base64
import binascii

import httpx

from strongroom.sdk.escrow import EscrowError
from strongroom.sdk.fields import FieldKey

__all__ = ["fetch_app_key"]


def fetch_app_key(
    app: str,
    *,
    token: str,
    base_url: str = "",
    version: int | None = None,
    client: httpx.Client | None = None,
) -> FieldKey:
    """A `FieldKey` on the app's key (the newest version unless ``version`` is given).

    Values sealed with it carry key id ``app:<app>`` and the app key's version, so after a
    rotation old values are opened by fetching their version. Raises `EscrowError` (the
    SDK's HTTP error) if the server refuses.
    """
    owned = client is None
    http = client or httpx.Client(base_url=base_url, timeout=30.0)
    try:
        params = {} if version is None else {"version": str(version)}
        response = http.get(
            f"/v1/fields/apps/{app}/key",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        if owned:
            http.close()
    if response.status_code >= 400:
        try:
            problem = response.json()
            message = f"{problem.get('title', '')}: {problem.get('detail', '')}"
        except ValueError:
            message = f"HTTP {response.status_code}"
        raise EscrowError(response.status_code, message)
    body = response.json()
    try:
        key = base64.urlsafe_b64decode(body["key"] + "=" * (-len(body["key"]) % 4))
    except (binascii.Error, KeyError, TypeError, ValueError):
        raise EscrowError(response.status_code, "the server sent no usable key") from None
    return FieldKey.from_app_key(key, key_id=body["key_id"], key_version=body["version"])
