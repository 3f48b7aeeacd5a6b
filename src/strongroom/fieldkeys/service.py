"""App keys for client-side field encryption, handed to holders of the app's scope.

An app key is HKDF-SHA256 of the keyring's ``field-app-keys`` key (a version of it) with
the app's name as info; clients derive their field keys from it (`FieldKey.from_app_key`,
HKDF again with a per-handle salt). No app key is stored. Rotating the purpose makes new
app keys; every old version can still be fetched by number to open old values.

Who holds ``fields:app-key:<app>`` can open every field that app sealed under its app
key; Strongroom itself can derive them while unsealed. Apps that must keep Strongroom out
entirely use passphrase or keystore keys instead (docs/sdk.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.clock import Clock
from strongroom.crypto.kdf import hkdf_sha256
from strongroom.errors import DecryptionError, InvalidRequestError, NotFoundError
from strongroom.kms.keyring import Keyring

PURPOSE = "field-app-keys"
_INFO = b"strongroom/fields/app-key/v1\x00"
APP_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class AppKey:
    app: str
    version: int
    key: bytes

    def __repr__(self) -> str:
        return f"AppKey(app={self.app!r}, version={self.version}, <redacted>)"


class AppKeys:
    """Derives app keys; each fetch is one audited read."""

    def __init__(self, recorder: Recorder, clock: Clock, keyring: Callable[[], Keyring]) -> None:
        self.recorder = recorder
        self.clock = clock
        self.keyring = keyring

    def fetch(self, call: Call, app: str, version: int | None = None) -> AppKey:
        """The app's key at ``version`` (the newest if None); `NotFoundError` if no such
        version exists, `InvalidRequestError` for a malformed app name."""
        if not APP_RE.fullmatch(app):
            raise InvalidRequestError("app must be 1-64 characters of A-Z a-z 0-9 . _ -")
        with self.recorder.action(
            call.request_id, call.actor, "fields.app_key.read", f"fields/apps/{app}/key",
            writes=False,
        ) as tx:  # fmt: skip
            keyring = self.keyring()
            try:
                found = (
                    keyring.current(PURPOSE) if version is None else keyring.get(PURPOSE, version)
                )
            except DecryptionError:
                raise NotFoundError("no such app key version") from None
            tx.detail = {"version": found.version}
            key = hkdf_sha256(found.material, info=_INFO + app.encode("ascii"))
            return AppKey(app, found.version, key)
