"""The Python SDK for micro apps. Imports only ``strongroom.crypto`` and ``httpx``."""

from strongroom.sdk.tokens import Revealed, Tokens, TokensError

__all__ = ["Revealed", "Tokens", "TokensError"]
