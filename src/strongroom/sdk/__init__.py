"""The Strongroom Python SDK for micro apps: client-side field encryption, secrets, tokens.

Everything here runs on the client and imports only `strongroom.crypto` (and `httpx`
where it talks to a server): a value sealed here is never seen in clear by any server.
The public surface is `__all__`; anything else (modules starting with ``_``, names not
listed) has no stability promise. See `docs/sdk.md`.
"""

from strongroom.sdk.appkeys import fetch_app_key
from strongroom.sdk.escrow import EscrowClient, EscrowError, Recovery
from strongroom.sdk.fields import (
    Context,
    DecryptionError,
    FieldError,
    FieldKey,
    KeySet,
    is_legacy,
    new_raw_key,
    open_legacy,
    open_with_passphrase,
    rewrap,
    upgrade_legacy,
)
from strongroom.sdk.secrets import SecretsClient, SecretsError
from strongroom.sdk.tokens import Revealed, Tokens, TokensError

__all__ = [
    "Context",
    "DecryptionError",
    "EscrowClient",
    "EscrowError",
    "FieldError",
    "FieldKey",
    "KeySet",
    "Recovery",
    "Revealed",
    "SecretsClient",
    "SecretsError",
    "Tokens",
    "TokensError",
    "fetch_app_key",
    "is_legacy",
    "new_raw_key",
    "open_legacy",
    "open_with_passphrase",
    "rewrap",
    "upgrade_legacy",
]
