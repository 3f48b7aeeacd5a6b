"""Ed25519 (RFC 8032) signing and verification through libsodium (PyNaCl).

Strongroom signs every access token with Ed25519 and checks every EdDSA signature it is
shown (its own tokens, and ID tokens or DPoP proofs signed with Ed25519 keys) here.
libsodium's Ed25519 takes about 60% of the time OpenSSL's takes through `cryptography` to
sign, and about half to verify: `bench/token_exchange.py` prints both libraries' raw rates
side by side. Keys that come from elsewhere as `cryptography` objects (PEM files, the
keyring's other purposes) keep using `cryptography`; both make the same signatures.

- Signatures are deterministic: a seed and a message give the same 64 bytes as
  `cryptography`'s ``Ed25519PrivateKey.sign`` (tested).
- Verification is at least as strict as RFC 8032's: a signature is 64 bytes, ``S`` must be
  below the group order (no malleable signatures), and public keys or ``R`` of small order
  are refused. It passes every Wycheproof Ed25519 vector (``tests/crypto/test_ed25519.py``).
- libsodium lets go of the GIL while it signs or verifies, so another thread (the audit
  writer) runs meanwhile.

No I/O. A `SigningKey` holds its secret key in memory; its ``repr`` never shows it.
"""

from __future__ import annotations

from nacl import bindings
from nacl.exceptions import BadSignatureError, CryptoError

SEED_BYTES = 32
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


class SigningKey:
    """An Ed25519 private key made from its 32-byte seed (RFC 8032's private key)."""

    __slots__ = ("_secret", "public")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
            raise ValueError("an Ed25519 seed is 32 bytes")
        public, secret = bindings.crypto_sign_seed_keypair(seed)
        #: The raw 32-byte public key.
        self.public: bytes = public
        self._secret = secret

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature of ``message``."""
        # libsodium returns the signature followed by the message.
        signed: bytes = bindings.crypto_sign(message, self._secret)
        return signed[:SIGNATURE_BYTES]

    def __repr__(self) -> str:
        return f"SigningKey(public={self.public.hex()})"


def verify(public: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` under ``public``
    (a raw 32-byte key). Anything malformed is simply not valid."""
    if len(public) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        bindings.crypto_sign_open(signature + message, public)
    except (BadSignatureError, CryptoError, ValueError, TypeError):
        return False
    return True
