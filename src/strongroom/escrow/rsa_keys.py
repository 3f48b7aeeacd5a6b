"""Apps' RSA-OAEP-3072 escrow key pairs, kept sealed under the keyring.

RSA keys cannot be derived cheaply from a seed the way X25519 keys are, so each app's key
pair is generated on first use, one per version of the keyring's ``escrow`` key (rotating
that key with ``strongroom operator rotate escrow`` gives every RSA app a new pair on its
next use; older pairs stay to recover older deposits). The private half (PKCS#8 DER) is
sealed with AES-256-GCM under HKDF-SHA256(keyring ``escrow`` key of that version, info
``strongroom/escrow/rsa-kek/v1`` 0x00 app); the associated data binds the app, the version
and the public key, so a row moved to another app or version, or whose public key was
swapped, fails to open (`NotFoundError`, never a key).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from strongroom.crypto import aead, rsa_keywrap
from strongroom.crypto.kdf import hkdf_sha256
from strongroom.errors import DecryptionError, NotFoundError
from strongroom.kms.keyring import Keyring
from strongroom.store.models import EscrowRsaKey
from strongroom.store.repositories import escrow as repo

PURPOSE = "escrow"
_KEK_INFO = b"strongroom/escrow/rsa-kek/v1\x00"
_AAD = b"strongroom/escrow/rsa-private/v1\x00"


def _kek(keyring: Keyring, app: str, version: int) -> bytes:
    material = keyring.get(PURPOSE, version).material
    return hkdf_sha256(material, info=_KEK_INFO + app.encode("ascii"))


def _aad(app: str, version: int, public_spki: bytes) -> bytes:
    return _AAD + b"\x00".join([app.encode("ascii"), str(version).encode("ascii"), public_spki])


def _open(keyring: Keyring, row: EscrowRsaKey) -> bytes:
    try:
        return aead.decrypt(
            _kek(keyring, row.app, row.version),
            row.sealed_private,
            _aad(row.app, row.version, row.public_spki),
        )
    except DecryptionError:
        raise NotFoundError("this app's escrow key does not open") from None


def public_key(session: Session, keyring: Keyring, app: str, version: int, now_us: int) -> bytes:
    """The app's RSA public key (SPKI DER) for keyring version ``version``, made and stored
    on first use. The stored private half is opened to authenticate the public key.
    ``session`` must be a write transaction."""
    row = repo.rsa_key(session, app, version)
    if row is None:
        private = rsa_keywrap.generate_private()
        public = rsa_keywrap.public_key(private)
        sealed = aead.encrypt(
            _kek(keyring, app, version), private, _aad(app, version, public), key_version=version
        )
        candidate = EscrowRsaKey(
            app=app, version=version, public_spki=public, sealed_private=sealed, created_us=now_us
        )
        try:
            with session.begin_nested():
                session.add(candidate)
        except IntegrityError:
            pass  # made at the same moment by another request: use the stored one
        row = repo.rsa_key(session, app, version)
        if row is None:
            raise NotFoundError("this app's escrow key could not be stored")
    _open(keyring, row)
    return row.public_spki


def private_key(session: Session, keyring: Keyring, app: str, version: int) -> bytes:
    """The app's RSA private key (PKCS#8 DER) for ``version``; `NotFoundError` if there is
    none or it does not open under this app and version."""
    row = repo.rsa_key(session, app, version)
    if row is None:
        raise NotFoundError("no such escrow key")
    return _open(keyring, row)
