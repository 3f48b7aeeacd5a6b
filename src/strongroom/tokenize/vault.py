"""The tokenization vault service: policies, key rotation and rewrap, tokenize, detokenize,
erase, shred, purge.

Each public method is one audited operation (one event, never a value or a token) and
raises typed errors from `strongroom.errors`. Batches are all-or-nothing: every item is
checked first; if any fails, a `BatchError` lists the failures by index and nothing is
written (a batch of one raises that item's own error instead).

Writes to a region kept in the main database share the audit event's transaction. A
region with its own database commits its writes just before the event is appended; if
the audit trail then fails, the caller gets `AuditError` and the stored values (never
returned) stay, unreachable without their tokens.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from strongroom.audit import identifiers
from strongroom.audit.recorder import Audited, Recorder
from strongroom.call import Call
from strongroom.clock import Clock
from strongroom.config import Settings
from strongroom.crypto import aead
from strongroom.errors import (
    BatchError,
    ConflictError,
    DecryptionError,
    InvalidRequestError,
    InvalidTokenError,
    NotFoundError,
    PayloadTooLargeError,
    ShreddedError,
    StrongroomError,
    TokenGoneError,
    WrongRegionError,
)
from strongroom.kms.keyring import Keyring
from strongroom.store.engine import Database
from strongroom.store.models import TokenPolicy, TokenRequest
from strongroom.store.repositories import tokenize as repo
from strongroom.store.repositories.tokenize import PolicyRecord
from strongroom.tokenize import codec, engine, keys, policy, rewrap
from strongroom.tokenize.keys import PolicyKeys
from strongroom.tokenize.policy import PolicySpec, View
from strongroom.tokenize.ratelimit import limiter_for
from strongroom.tokenize.regions import Regions
from strongroom.tokenize.rewrap import Rewrapped

#: Events list at most this many token references (HMACs), whatever the batch size.
AUDIT_REFS = 10
#: Item errors reported per batch, at most.
MAX_ITEM_ERRORS = 100
IDEMPOTENCY_SECONDS = 86_400
MAX_PURPOSE = 200
MAX_IDEMPOTENCY_KEY = 200
#: Values one rewrap call re-seals, by default.
REWRAP_BATCH = 1000


@dataclass(frozen=True)
class PolicyInfo:
    """A policy as callers see it."""

    app: str
    spec: PolicySpec
    created_us: int
    shredded: bool

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Revealed:
    """One detokenized item: the value in the caller's view (None when redacted)."""

    view: View
    value: str | None = field(default=None, repr=False)


def _info(row: TokenPolicy) -> PolicyInfo:
    return PolicyInfo(
        row.app, PolicySpec.from_json(row.spec), row.created_us, row.shredded_us is not None
    )


def _items_failed(errors: Mapping[int, StrongroomError], total: int) -> StrongroomError:
    if total == 1:
        return next(iter(errors.values()))
    listed = [
        {"index": i, "type": errors[i].type_uri, "detail": errors[i].detail}
        for i in sorted(errors)[:MAX_ITEM_ERRORS]
    ]
    return BatchError(
        f"{len(errors)} of {total} items failed; nothing was written", extra={"errors": listed}
    )


def _printable(text: object, what: str, limit: int) -> str:
    if not isinstance(text, str) or not 1 <= len(text) <= limit or not text.isprintable():
        raise InvalidRequestError(f"{what} must be 1-{limit} printable characters")
    return text


class TokenVault:
    """The vault of one server. Thread-safe; holds no keys between calls."""

    def __init__(
        self,
        settings: Settings,
        recorder: Recorder,
        clock: Clock,
        keyring: Callable[[], Keyring],
        regions: Regions,
    ) -> None:
        self.recorder = recorder
        self.clock = clock
        self.keyring = keyring
        self.regions = regions
        self.max_batch = settings.token_max_batch
        self.limiter = limiter_for(settings)

    # -- helpers ------------------------------------------------------------------------

    @contextmanager
    def _region(self, region: str, tx: Audited, *, read_only: bool = False) -> Iterator[Session]:
        database: Database = self.regions.database(region)
        if database is self.regions.main:
            yield tx.session
            return
        with database.transaction(read_only=read_only) as session:
            yield session

    def _load(self, session: Session, app: str, name: str) -> tuple[PolicyRecord, PolicySpec]:
        policy.check_name(app, "the app name")
        policy.check_name(name, "the policy name")
        row = repo.policy_record(session, app, name)
        if row is None:
            raise NotFoundError("no such token policy")
        if row.shredded_us is not None:
            raise ShreddedError("this policy was crypto-shredded; its values are unrecoverable")
        return row, PolicySpec.from_json(row.spec)

    def _check_count(self, items: Sequence[object], what: str) -> None:
        if isinstance(items, str | bytes) or not isinstance(items, Sequence):
            raise InvalidRequestError(f"{what} must be a list")
        if not items:
            raise InvalidRequestError(f"give at least one of the {what}")
        if len(items) > self.max_batch:
            raise PayloadTooLargeError(f"at most {self.max_batch} {what} per call")

    # -- policies -----------------------------------------------------------------------

    def create_policy(self, call: Call, app: str, fields: Mapping[str, Any]) -> PolicyInfo:
        """Declare a policy and make its key. `ConflictError` if the name is taken."""
        shown = fields.get("name") if isinstance(fields.get("name"), str) else "?"
        resource = f"tokens/{app}/{shown}"[:256]
        with self.recorder.action(
            call.request_id, call.actor, "tokens.policy.create", resource
        ) as tx:
            policy.check_name(app, "the app name")
            spec = policy.new(app, fields, self.regions.names)
            now = self.clock.now_us()
            pid = secrets.token_hex(16)
            row = TokenPolicy(
                pid=pid,
                app=app,
                name=spec.name,
                region=spec.region,
                spec=spec.to_json(),
                created_us=now,
            )
            repo.add_policy(tx.session, row)
            if spec.scheme != "mask":
                with self._region(spec.region, tx) as session:
                    keys.create_policy_key(session, self.keyring(), spec.region, pid, self.clock)
            tx.detail.update(
                {
                    "region": spec.region,
                    "scheme": spec.scheme,
                    "format": spec.format,
                    "data_class": spec.data_class,
                }
            )
        return PolicyInfo(app, spec, now, False)

    def list_policies(self, call: Call, app: str) -> list[PolicyInfo]:
        with self.recorder.action(
            call.request_id, call.actor, "tokens.policy.list", f"tokens/{app}"[:256], writes=False
        ) as tx:
            policy.check_name(app, "the app name")
            return [_info(row) for row in repo.policies(tx.session, app)]

    def get_policy(self, call: Call, app: str, name: str) -> PolicyInfo:
        with self.recorder.action(
            call.request_id,
            call.actor,
            "tokens.policy.read",
            f"tokens/{app}/{name}"[:256],
            writes=False,
        ) as tx:
            policy.check_name(app, "the app name")
            policy.check_name(name, "the policy name")
            row = repo.policy(tx.session, app, name)
            if row is None:
                raise NotFoundError("no such token policy")
            return _info(row)

    # -- tokenize -----------------------------------------------------------------------

    def tokenize(
        self,
        call: Call,
        app: str,
        name: str,
        values: Sequence[str],
        idempotency_key: str | None = None,
    ) -> list[str]:
        """Tokens for ``values``, in order (masks, for a mask policy).

        With an ``idempotency_key``, a repeat of the same call returns the first answer
        and stores nothing new; the same key with other values is a `ConflictError`.
        """
        resource = f"tokens/{app}/{name}"[:256]
        with self.recorder.action(call.request_id, call.actor, "tokens.tokenize", resource) as tx:
            self._check_count(values, "values")
            if idempotency_key is not None:
                _printable(idempotency_key, "the idempotency key", MAX_IDEMPOTENCY_KEY)
            row, spec = self._load(tx.session, app, name)
            tx.detail.update({"count": len(values), "region": spec.region})
            if spec.scheme == "mask":
                errors = engine.check_values(spec, values)
                if errors:
                    raise _items_failed(errors, len(values))
                fmt = spec.value_format
                return [fmt.mask(v, spec.mask_keep_last) for v in values]
            with self._region(spec.region, tx) as session:
                pkeys = keys.policy_keys(session, self.keyring(), spec.region, row.pid)
                replay = self._replay(session, row.pid, pkeys, idempotency_key, values)
                if replay is not None:
                    tx.detail["replayed"] = True
                    return replay
                errors = engine.check_values(spec, values)
                if errors:
                    raise _items_failed(errors, len(values))
                if spec.scheme == "opaque":
                    tokens = self._opaque(session, row, spec, pkeys, values)
                else:
                    tokens = self._fpe(session, row, spec, pkeys, values)
                if idempotency_key is not None:
                    self._remember(session, row.pid, pkeys, idempotency_key, values, tokens)
            return tokens

    def _idempotency(
        self, pkeys: PolicyKeys, key: str, values: Sequence[str]
    ) -> tuple[bytes, bytes]:
        key_hash = hashlib.sha256(key.encode()).digest()
        body = json.dumps(list(values), separators=(",", ":")).encode()
        return key_hash, pkeys.index_of(b"idempotency\x00" + body)

    def _replay(
        self, session: Session, pid: str, pkeys: PolicyKeys, key: str | None, values: Sequence[str]
    ) -> list[str] | None:
        if key is None:
            return None
        key_hash, body_hash = self._idempotency(pkeys, key, values)
        found = repo.request(session, pid, key_hash)
        if found is None:
            return None
        if found.body_hash != body_hash:
            raise ConflictError("this idempotency key was used with other values")
        tokens = engine.unseal(pkeys, found.result, b"idempotency\x00" + pid.encode() + key_hash)
        return list(json.loads(tokens))

    def _remember(
        self,
        session: Session,
        pid: str,
        pkeys: PolicyKeys,
        key: str,
        values: Sequence[str],
        tokens: list[str],
    ) -> None:
        key_hash, body_hash = self._idempotency(pkeys, key, values)
        sealed = engine.seal(
            pkeys, json.dumps(tokens), b"idempotency\x00" + pid.encode() + key_hash
        )
        repo.add_request(
            session,
            TokenRequest(
                pid=pid,
                key_hash=key_hash,
                body_hash=body_hash,
                result=sealed,
                created_us=self.clock.now_us(),
            ),
        )

    def _expiry(self, spec: PolicySpec, now: int) -> int | None:
        if spec.retention_seconds is None:
            return None
        return now + spec.retention_seconds * 1_000_000

    def _opaque(
        self,
        session: Session,
        row: PolicyRecord,
        spec: PolicySpec,
        pkeys: PolicyKeys,
        values: Sequence[str],
    ) -> list[str]:
        now = self.clock.now_us()
        expires = self._expiry(spec, now)
        region, pid = spec.region, row.pid
        base = engine.value_aad(row.app, spec.name, region, b"")
        if spec.deterministic:
            # Equal values meet on the primary key: ref = HMAC(index key, value), cut.
            unique = list(dict.fromkeys(values))
            refs = pkeys.index_many(
                b"opaque\x00", [value.encode("utf-8") for value in unique], codec.REF_BYTES
            )
            token_of = dict(zip(unique, codec.encode_many(pkeys.tag, region, refs), strict=True))
            self._store(session, pid, pkeys, base, refs, unique, now, expires)
            return [token_of[value] for value in values]
        refs = codec.new_refs(len(values))
        sealed = engine.seal_many(pkeys, values, base, refs)
        version, live = pkeys.version, repo.LIVE
        repo.insert_values(
            session,
            [
                (pid, ref, blob, version, live, now, expires)
                for ref, blob in zip(refs, sealed, strict=True)
            ],
        )
        return codec.encode_many(pkeys.tag, region, refs)

    def _store(
        self,
        session: Session,
        pid: str,
        pkeys: PolicyKeys,
        base: bytes,
        refs: Sequence[bytes],
        values: Sequence[str],
        now: int,
        expires: int | None,
    ) -> None:
        """Seal and upsert values under derived refs (live rows stay; dead ones revive)."""
        sealed = engine.seal_many(pkeys, values, base, refs)
        version, live = pkeys.version, repo.LIVE
        repo.upsert_values(
            session,
            [
                (pid, ref, blob, version, live, now, expires)
                for ref, blob in zip(refs, sealed, strict=True)
            ],
        )

    def _fpe_ref(self, pkeys: PolicyKeys, token: str) -> bytes:
        return pkeys.index_of(b"fpe\x00" + token.encode("utf-8"))[: codec.REF_BYTES]

    def _fpe(
        self,
        session: Session,
        row: PolicyRecord,
        spec: PolicySpec,
        pkeys: PolicyKeys,
        values: Sequence[str],
    ) -> list[str]:
        tokens, errors = engine.fpe(spec, pkeys, values, encrypt=True)
        if errors:
            raise _items_failed(errors, len(values))
        if not spec.vaulted:
            return tokens
        now = self.clock.now_us()
        expires = self._expiry(spec, now)
        base = engine.value_aad(row.app, spec.name, spec.region, b"")
        token_refs = pkeys.index_many(
            b"fpe\x00", [token.encode("utf-8") for token in tokens], codec.REF_BYTES
        )
        # Equal tokens (so equal values) share a ref: one row each.
        refs = dict(zip(token_refs, values, strict=True))
        self._store(session, row.pid, pkeys, base, list(refs), list(refs.values()), now, expires)
        return tokens

    # -- detokenize ---------------------------------------------------------------------

    def detokenize(
        self,
        call: Call,
        has_scope: Callable[[str], bool],
        app: str,
        name: str,
        tokens: Sequence[str],
        purpose: str,
    ) -> list[Revealed]:
        """The values of ``tokens`` in the view the caller is entitled to.

        Needs a stated ``purpose`` (recorded in the event) and is rate-limited per caller
        (`RateLimitedError`). Tokens that are malformed, forged or of another policy fail
        with `InvalidTokenError`; of another region, `WrongRegionError`; whose value was
        erased or expired, `TokenGoneError`.
        """
        resource = f"tokens/{app}/{name}"[:256]
        with self.recorder.action(
            call.request_id, call.actor, "tokens.detokenize", resource, writes=False
        ) as tx:
            purpose = _printable(purpose, "purpose", MAX_PURPOSE)
            self._check_count(tokens, "tokens")
            tx.detail.update({"purpose": purpose, "count": len(tokens)})
            row, spec = self._load(tx.session, app, name)
            if spec.scheme == "mask":
                raise InvalidRequestError("a mask policy issues no tokens that can be reversed")
            self.limiter.take(call.actor, len(tokens))
            view = spec.view_for(has_scope)
            keyring = self.keyring()
            tx.detail.update(
                {
                    "view": view,
                    "refs": [identifiers.hide(keyring, str(t)) for t in tokens[:AUDIT_REFS]],
                }
            )
            with self._region(spec.region, tx, read_only=True) as session:
                pkeys = keys.policy_keys(session, keyring, spec.region, row.pid)
                values = self._resolve(session, row, spec, pkeys, tokens)
        if view == "plain":
            return [Revealed("plain", v) for v in values]
        if view == "masked":
            fmt = spec.value_format
            return [Revealed("masked", fmt.mask(v, spec.mask_keep_last)) for v in values]
        return [Revealed("redacted") for _ in values]

    def _refs(
        self,
        spec: PolicySpec,
        pkeys: PolicyKeys,
        tokens: Sequence[str],
        errors: dict[int, StrongroomError],
    ) -> list[bytes | None]:
        refs: list[bytes | None] = []
        fmt = spec.value_format
        for i, token in enumerate(tokens):
            try:
                if not isinstance(token, str):
                    raise InvalidTokenError("not a token of this policy")
                if spec.scheme == "opaque":
                    if codec.region_of(token) != spec.region:
                        raise WrongRegionError("the token belongs to another region")
                    refs.append(codec.decode(pkeys.tag, token))
                else:
                    try:
                        fmt.check(token)
                    except StrongroomError:
                        raise InvalidTokenError("not a token of this policy") from None
                    refs.append(self._fpe_ref(pkeys, token))
            except (InvalidTokenError, WrongRegionError) as exc:
                errors[i] = exc
                refs.append(None)
        return refs

    def _resolve(
        self,
        session: Session,
        row: PolicyRecord,
        spec: PolicySpec,
        pkeys: PolicyKeys,
        tokens: Sequence[str],
    ) -> list[str]:
        errors: dict[int, StrongroomError] = {}
        refs = self._refs(spec, pkeys, tokens, errors)
        if errors:
            raise _items_failed(errors, len(tokens))
        if spec.scheme == "fpe" and not spec.vaulted:
            plain, fpe_errors = engine.fpe(spec, pkeys, [str(t) for t in tokens], encrypt=False)
            if fpe_errors:
                raise _items_failed(
                    {i: InvalidTokenError("not a token of this policy") for i in fpe_errors},
                    len(tokens),
                )
            return plain
        found = repo.values_by_ref(session, row.pid, [r for r in refs if r is not None])
        now = self.clock.now_us()
        base = engine.value_aad(row.app, spec.name, spec.region, b"")
        values: list[str] = []
        for i, ref in enumerate(refs):
            stored = found.get(ref) if ref is not None else None
            try:
                if stored is None:
                    raise InvalidTokenError("not a token of this policy")
                if stored.state == repo.ERASED:
                    raise TokenGoneError("the value of this token was erased")
                expired = stored.expires_us is not None and stored.expires_us <= now
                if stored.state == repo.EXPIRED or expired or stored.sealed is None:
                    raise TokenGoneError("the value of this token expired and was purged")
                if aead.key_version(stored.sealed) != stored.key_version:
                    raise DecryptionError()  # the row's key version was changed
                values.append(engine.unseal(pkeys, stored.sealed, base + stored.ref))
            except (InvalidTokenError, TokenGoneError, DecryptionError) as exc:
                errors[i] = exc
                values.append("")
        if errors:
            raise _items_failed(errors, len(tokens))
        return values

    # -- lifecycle ----------------------------------------------------------------------

    def erase(self, call: Call, app: str, name: str, tokens: Sequence[str]) -> int:
        """Erase the values of ``tokens`` (right to erasure); their tokens then dangle.

        Returns how many values were erased now (already erased ones count zero).
        Vaultless policies keep no values: `InvalidRequestError` (shred the policy).
        """
        resource = f"tokens/{app}/{name}"[:256]
        with self.recorder.action(call.request_id, call.actor, "tokens.erase", resource) as tx:
            self._check_count(tokens, "tokens")
            row, spec = self._load(tx.session, app, name)
            if spec.scheme == "mask" or not spec.stores_values:
                raise InvalidRequestError(
                    "this policy stores no values to erase (vaultless); shred the policy instead"
                )
            with self._region(spec.region, tx) as session:
                pkeys = keys.policy_keys(session, self.keyring(), spec.region, row.pid)
                errors: dict[int, StrongroomError] = {}
                refs = self._refs(spec, pkeys, tokens, errors)
                found = repo.values_by_ref(session, row.pid, [r for r in refs if r is not None])
                for i, ref in enumerate(refs):
                    if ref is not None and ref not in found:
                        errors[i] = InvalidTokenError("not a token of this policy")
                if errors:
                    raise _items_failed(errors, len(tokens))
                erased = repo.erase(session, row.pid, [r for r in refs if r is not None])
            tx.detail.update({"count": len(tokens), "erased": erased})
        return erased

    def _rotatable(self, session: Session, app: str, name: str) -> tuple[PolicyRecord, PolicySpec]:
        row, spec = self._load(session, app, name)
        if spec.scheme == "mask":
            raise InvalidRequestError("a mask policy has no key to rotate")
        if not spec.stores_values:
            raise InvalidRequestError(
                "a vaultless policy's tokens are its values enciphered under the policy key, "
                "so rotating the key would orphan every token; make a new policy and "
                "tokenize again instead"
            )
        return row, spec

    def rotate_policy(self, call: Call, app: str, name: str) -> int:
        """Make a new version of the policy key; returns its number.

        New values are sealed under it; values sealed before keep opening (each names its
        version) until `rewrap` moves them. Tokens do not change: the index, tag and FPE
        keys stay those of the first version, so deterministic joins hold. Vaultless and
        mask policies are refused with `InvalidRequestError`.
        """
        resource = f"tokens/{app}/{name}"[:256]
        with self.recorder.action(
            call.request_id, call.actor, "tokens.policy.rotate", resource
        ) as tx:
            row, spec = self._rotatable(tx.session, app, name)
            with self._region(spec.region, tx) as session:
                version = keys.rotate_policy_key(
                    session, self.keyring(), spec.region, row.pid, self.clock
                )
            tx.detail.update({"region": spec.region, "key_version": version})
        return version

    def rewrap(self, call: Call, app: str, name: str, limit: int = REWRAP_BATCH) -> Rewrapped:
        """Re-seal up to ``limit`` of the policy's values under its newest key version.

        One bounded batch per call (call again while ``remaining`` shrinks); idempotent and
        resumable. Values that do not open are left and counted as ``unreadable``.
        """
        resource = f"tokens/{app}/{name}"[:256]
        with self.recorder.action(
            call.request_id, call.actor, "tokens.policy.rewrap", resource
        ) as tx:
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise InvalidRequestError("limit must be a whole number")
            if not 1 <= limit <= self.max_batch:
                raise InvalidRequestError(f"limit must be 1-{self.max_batch}")
            row, spec = self._rotatable(tx.session, app, name)
            base = engine.value_aad(row.app, spec.name, spec.region, b"")
            with self._region(spec.region, tx) as session:
                pkeys = keys.policy_keys(session, self.keyring(), spec.region, row.pid)
                done = rewrap.rewrap_batch(session, row.pid, pkeys, base, limit)
            tx.detail.update(
                {
                    "region": spec.region,
                    "key_version": done.key_version,
                    "rewrapped": done.rewrapped,
                    "unreadable": done.unreadable,
                    "remaining": done.remaining,
                }
            )
        return done

    def shred_policy(self, call: Call, app: str, name: str) -> None:
        """Destroy a policy's key: every value and vaultless token of it becomes unrecoverable."""
        resource = f"tokens/{app}/{name}"[:256]
        with self.recorder.action(
            call.request_id, call.actor, "tokens.policy.shred", resource
        ) as tx:
            row, spec = self._load(tx.session, app, name)
            repo.mark_shredded(tx.session, [row.pid], self.clock.now_us())
            with self._region(spec.region, tx) as session:
                gone = keys.shred_policy(session, row.pid)
            tx.detail.update({"region": spec.region, "keys_destroyed": gone})

    def shred_region(self, call: Call, region: str) -> int:
        """Destroy a region's key and its policies' keys; returns how many policies it had."""
        with self.recorder.action(
            call.request_id, call.actor, "tokens.region.shred", f"tokens/regions/{region}"[:256]
        ) as tx:
            self.regions.database(region)
            rows = [r for r in repo.policies_in_region(tx.session, region) if r.shredded_us is None]
            repo.mark_shredded(tx.session, [r.pid for r in rows], self.clock.now_us())
            all_pids = [r.pid for r in repo.policies_in_region(tx.session, region)]
            with self._region(region, tx) as session:
                gone = keys.shred_region(session, region, all_pids)
            tx.detail.update({"policies": len(rows), "keys_destroyed": gone})
        return len(rows)

    def purge(self, call: Call) -> int:
        """Drop every value past its policy's retention; returns how many went."""
        with self.recorder.action(
            call.request_id, call.actor, "tokens.purge", "tokens/purge"
        ) as tx:
            now = self.clock.now_us()
            total = 0
            seen: set[int] = set()
            for region, database in self.regions.all():
                if id(database) in seen:
                    continue
                seen.add(id(database))
                with self._region(region, tx) as session:
                    total += repo.purge_expired(session, now)
                    repo.purge_requests(session, now - IDEMPOTENCY_SECONDS * 1_000_000)
            tx.detail["purged"] = total
        return total

    def purge_due(self) -> bool:
        """Whether any region holds a value past its retention (no event: a probe)."""
        now = self.clock.now_us()
        for _, database in self.regions.all():
            with database.transaction(read_only=True) as session:
                if repo.any_expired(session, now):
                    return True
        return False
