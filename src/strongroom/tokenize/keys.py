"""The vault's keys: one region key per region, one policy key per policy, both wrapped.

::

    keyring "tokenize" key (versioned, under the root key)
      └─ region key (random, per region; in the region's database, wrapped by the above)
           └─ policy key (random, per policy; beside it, wrapped by the region key)
                └─ derived by HKDF: the value-sealing key, the index key (deterministic
                   tokens), the token-tag key and the FPE key

A policy key has versions (`rotate_policy_key` adds one). The value-sealing key comes
from the newest version, and each sealed value names the version it was sealed under, so
older values still open. The index, token-tag and FPE keys always come from the policy's
*first* version: tokens already issued (opaque tags, vaulted FPE rows, deterministic
joins) depend on them, and they are never rotated. See ``docs/tokenization.md``.

Deleting a policy's key rows (every version) makes that policy's values unrecoverable;
deleting a region key row does so for every policy of the region at once
(crypto-shredding). Nothing is cached: each call unwraps what it needs inside its own
transaction, so a shred or a rotation on another replica takes effect on the next call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from strongroom.clock import Clock
from strongroom.crypto import aead
from strongroom.crypto.kdf import hkdf_sha256
from strongroom.crypto.prf import HmacSha256
from strongroom.errors import ConflictError, DecryptionError, ShreddedError
from strongroom.kms.keyring import Keyring
from strongroom.store.models import TokenKey

PURPOSE = "tokenize"
REGION = "region"
POLICY = "policy"
FIRST_VERSION = 1
_DERIVE_INFO = b"strongroom/tokenize/seal+index+tag+fpe"


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
    """A policy's derived keys. Never shown, never pickled.

    ``version`` and ``seal`` are the newest version's sealing key (what new values are
    sealed under); ``index``, ``tag`` and ``fpe`` come from the first version and never
    change. `seal_key` opens older versions' sealing keys on demand.
    """

    version: int
    seal: bytes = field(repr=False)
    index: bytes = field(repr=False)
    tag: HmacSha256 = field(repr=False)
    fpe: bytes = field(repr=False)
    _index_prf: HmacSha256 = field(repr=False, compare=False)
    _older: Callable[[int], bytes | None] | None = field(default=None, repr=False, compare=False)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("key material cannot be pickled")

    @classmethod
    def derive(cls, version: int, material: bytes) -> PolicyKeys:
        """Four independent 256-bit keys: one HKDF output of 128 bytes, cut in four."""
        out = hkdf_sha256(material, info=_DERIVE_INFO, length=128)
        index = out[32:64]
        return cls(version, out[:32], index, HmacSha256(out[64:96]), out[96:], HmacSha256(index))

    def seal_key(self, version: int) -> bytes:
        """The sealing key of ``version``; `DecryptionError` if the policy has no such
        version (a changed or forged key version is refused like any other bad blob)."""
        if version == self.version:
            return self.seal
        key = self._older(version) if self._older is not None else None
        if key is None:
            raise DecryptionError()
        return key

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
    session: Session,
    kind: str,
    ident: str,
    region: str,
    wrap: bytes,
    kv: int,
    clock: Clock,
    version: int = FIRST_VERSION,
) -> bytes:
    material = aead.generate_key()
    blob = aead.encrypt(wrap, material, _aad(kind, ident, region, version), key_version=kv)
    try:
        with session.begin_nested():
            session.add(
                TokenKey(
                    kind=kind, ident=ident, version=version, wrapped=blob, created_us=clock.now_us()
                )
            )
            session.flush()
    except IntegrityError:
        raise ConflictError("another call made this key version at the same time; retry") from None
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


class KeyRow(NamedTuple):
    """A wrapped key as `_policy_rows` reads it."""

    kind: str
    version: int
    wrapped: bytes


# Plain SQL through the driver: every tokenize and detokenize call runs it, and loading
# ORM objects cost more than the query.
_KEYS = (
    "SELECT kind, version, wrapped FROM token_keys"
    " WHERE (kind = {m} AND ident = {m}) OR (kind = {m} AND ident = {m})"
)


def _policy_rows(
    session: Session, keyring: Keyring, region: str, pid: str
) -> tuple[bytes, dict[int, KeyRow]]:
    """The region key (unwrapped) and every version of the policy key (wrapped), or
    `ShreddedError` if either was destroyed."""
    versions: dict[int, KeyRow] = {}
    region_row: KeyRow | None = None
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    for kind, version, wrapped in connection.exec_driver_sql(
        _KEYS.format(m=marker), (POLICY, pid, REGION, region)
    ):
        found = KeyRow(kind, int(version), bytes(wrapped))
        if found.kind == POLICY:
            versions[found.version] = found
        elif region_row is None or found.version > region_row.version:
            region_row = found
    if not versions or region_row is None:
        raise ShreddedError("this policy's keys were destroyed; its values are unrecoverable")
    kek = keyring.get(PURPOSE, aead.key_version(region_row.wrapped))
    region_key = aead.decrypt(
        kek.material, region_row.wrapped, _aad(REGION, region, region, region_row.version)
    )
    return region_key, versions


def _unwrap(region_key: bytes, region: str, pid: str, row: KeyRow) -> bytes:
    try:
        return aead.decrypt(region_key, row.wrapped, _aad(POLICY, pid, region, row.version))
    except DecryptionError:
        # The region key was shredded and a new one made since: the old policy key is lost.
        raise ShreddedError(
            "this policy's keys were destroyed; its values are unrecoverable"
        ) from None


def _seal_part(material: bytes) -> bytes:
    return hkdf_sha256(material, info=_DERIVE_INFO, length=128)[:32]


def policy_keys(session: Session, keyring: Keyring, region: str, pid: str) -> PolicyKeys:
    """The policy's derived keys; `ShreddedError` if its key or its region's was destroyed.

    The first and the newest versions are unwrapped now; any other version only when a
    value sealed under it is opened.
    """
    region_key, versions = _policy_rows(session, keyring, region, pid)
    first, newest = versions[min(versions)], versions[max(versions)]
    base = PolicyKeys.derive(first.version, _unwrap(region_key, region, pid, first))
    if newest is first:
        return base
    seals: dict[int, bytes] = {first.version: base.seal}
    seals[newest.version] = _seal_part(_unwrap(region_key, region, pid, newest))

    def older(version: int) -> bytes | None:
        if version not in seals:
            row = versions.get(version)
            if row is None:
                return None
            seals[version] = _seal_part(_unwrap(region_key, region, pid, row))
        return seals[version]

    return PolicyKeys(
        newest.version,
        seals[newest.version],
        base.index,
        base.tag,
        base.fpe,
        base._index_prf,
        older,
    )


def key_versions(session: Session, pid: str) -> list[int]:
    """The versions of a policy key, oldest first (none once shredded)."""
    stmt = select(TokenKey.version).where(TokenKey.kind == POLICY, TokenKey.ident == pid)
    return sorted(int(v) for v in session.execute(stmt).scalars())


def rotate_policy_key(
    session: Session, keyring: Keyring, region: str, pid: str, clock: Clock
) -> int:
    """Add a new version of a policy key (wrapped by the region key); returns it.

    `ShreddedError` if the policy's (or its region's) keys were destroyed; `ConflictError`
    if another call rotated the same policy at the same moment.
    """
    region_key, versions = _policy_rows(session, keyring, region, pid)
    _unwrap(region_key, region, pid, versions[max(versions)])  # the region key still opens it
    version = max(versions) + 1
    _write(session, POLICY, pid, region, region_key, 0, clock, version)
    return version


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
