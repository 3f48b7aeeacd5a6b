"""The vault's keys: one region key per region, one policy key per policy, both wrapped.

::

    keyring "tokenize" key (versioned, under the root key)
      └─ region key (random, per region; in the region's database, wrapped by the above)
           └─ policy key (random, per policy; beside it, wrapped by the region key)
                └─ derived by HKDF: the value-sealing key, the index key (deterministic
                   tokens), the token-tag key and the FPE key

Deleting a policy key row makes that policy's values unrecoverable; deleting a region key
row does so for every policy of the region at once (crypto-shredding). Nothing is cached:
each call unwraps what it needs inside its own transaction, so a shred on another replica
takes effect on the next call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from strongroom.clock import Clock
from strongroom.crypto import aead
from strongroom.crypto.kdf import hkdf_sha256
from strongroom.crypto.prf import HmacSha256
from strongroom.errors import DecryptionError, ShreddedError
from strongroom.kms.keyring import Keyring
from strongroom.store.models import TokenKey

PURPOSE = "tokenize"
REGION = "region"
POLICY = "policy"
_KEY_VERSION = 1


def _aad(kind: str, ident: str, region: str, version: int) -> bytes:
    return b"\x00".join(
        [
            b"strongroom/tokenize/key/v1",
            kind.encode(),
            ident.encode(),
            region.encode(),
            str(version).encode(),
        ]
    )


@dataclass(frozen=True)
class PolicyKeys:
    """Keys derived from one version of a policy key. Never shown, never pickled."""

    version: int
    seal: bytes = field(repr=False)
    index: bytes = field(repr=False)
    tag: HmacSha256 = field(repr=False)
    fpe: bytes = field(repr=False)
    _index_prf: HmacSha256 = field(repr=False, compare=False)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("key material cannot be pickled")

    @classmethod
    def derive(cls, version: int, material: bytes) -> PolicyKeys:
        """Four independent 256-bit keys: one HKDF output of 128 bytes, cut in four."""
        out = hkdf_sha256(material, info=b"strongroom/tokenize/seal+index+tag+fpe", length=128)
        index = out[32:64]
        return cls(version, out[:32], index, HmacSha256(out[64:96]), out[96:], HmacSha256(index))

    def index_of(self, data: bytes) -> bytes:
        """The keyed index of a value or token (HMAC-SHA256): equal inputs, equal indexes."""
        return self._index_prf.digest(data)

    def index_many(self, prefix: bytes, items: Sequence[bytes], size: int) -> list[bytes]:
        """`index_of` of ``prefix + item`` for each item, cut to ``size`` bytes, in order."""
        return [d[:size] for d in self._index_prf.digest_many([prefix + i for i in items])]


def _row(session: Session, kind: str, ident: str) -> TokenKey | None:
    stmt = select(TokenKey).where(TokenKey.kind == kind, TokenKey.ident == ident)
    return session.execute(stmt.order_by(TokenKey.version.desc()).limit(1)).scalar_one_or_none()


def _write(
    session: Session, kind: str, ident: str, region: str, wrap: bytes, kv: int, clock: Clock
) -> bytes:
    material = aead.generate_key()
    blob = aead.encrypt(wrap, material, _aad(kind, ident, region, _KEY_VERSION), key_version=kv)
    session.add(
        TokenKey(
            kind=kind, ident=ident, version=_KEY_VERSION, wrapped=blob, created_us=clock.now_us()
        )
    )
    session.flush()
    return material


def _region_key(session: Session, keyring: Keyring, region: str, clock: Clock | None) -> bytes:
    row = _row(session, REGION, region)
    if row is None:
        if clock is None:
            raise ShreddedError("this region's keys were destroyed; its values are unrecoverable")
        kek = keyring.current(PURPOSE)
        return _write(session, REGION, region, region, kek.material, kek.version, clock)
    kek = keyring.get(PURPOSE, aead.key_version(row.wrapped))
    return aead.decrypt(kek.material, row.wrapped, _aad(REGION, region, region, row.version))


def create_policy_key(
    session: Session, keyring: Keyring, region: str, pid: str, clock: Clock
) -> None:
    """Make a policy's key (and its region's key, if the region has none yet)."""
    region_key = _region_key(session, keyring, region, clock)
    _write(session, POLICY, pid, region, region_key, 0, clock)


# Built once: every tokenize or detokenize call runs it.
_KEYS = select(TokenKey).where(
    ((TokenKey.kind == POLICY) & (TokenKey.ident == bindparam("pid")))
    | ((TokenKey.kind == REGION) & (TokenKey.ident == bindparam("region")))
)


def policy_keys(session: Session, keyring: Keyring, region: str, pid: str) -> PolicyKeys:
    """The policy's derived keys; `ShreddedError` if its key or its region's was destroyed."""
    newest: dict[str, TokenKey] = {}
    for found in session.execute(_KEYS, {"pid": pid, "region": region}).scalars():
        if found.kind not in newest or found.version > newest[found.kind].version:
            newest[found.kind] = found
    row, region_row = newest.get(POLICY), newest.get(REGION)
    if row is None or region_row is None:
        raise ShreddedError("this policy's keys were destroyed; its values are unrecoverable")
    kek = keyring.get(PURPOSE, aead.key_version(region_row.wrapped))
    region_key = aead.decrypt(
        kek.material, region_row.wrapped, _aad(REGION, region, region, region_row.version)
    )
    try:
        material = aead.decrypt(region_key, row.wrapped, _aad(POLICY, pid, region, row.version))
    except DecryptionError:
        # The region key was shredded and a new one made since: the old policy key is lost.
        raise ShreddedError(
            "this policy's keys were destroyed; its values are unrecoverable"
        ) from None
    return PolicyKeys.derive(row.version, material)


def shred_policy(session: Session, pid: str) -> int:
    """Delete every version of a policy key; returns how many rows went."""
    result = session.execute(delete(TokenKey).where(TokenKey.kind == POLICY, TokenKey.ident == pid))
    return int(getattr(result, "rowcount", 0) or 0)


def shred_region(session: Session, region: str, pids: list[str]) -> int:
    """Delete a region's key and its policies' keys; returns how many rows went."""
    gone = session.execute(
        delete(TokenKey).where(TokenKey.kind == REGION, TokenKey.ident == region)
    )
    count = int(getattr(gone, "rowcount", 0) or 0)
    for start in range(0, len(pids), 500):
        chunk = pids[start : start + 500]
        more = session.execute(
            delete(TokenKey).where(TokenKey.kind == POLICY, TokenKey.ident.in_(chunk))
        )
        count += int(getattr(more, "rowcount", 0) or 0)
    return count
