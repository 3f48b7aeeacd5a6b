"""One running Strongroom server: its store, seal, keyring, tokens and audit trail.

The node is what the HTTP API, the console and the dev command drive. Each public method
is one audited operation: it takes the request's id and caller, runs in one transaction
with its audit event, and raises typed errors from `strongroom.errors`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from strongroom.audit import alerts, bundle, checkpoints, identifiers
from strongroom.audit import log as audit_log
from strongroom.audit.checkpoints import SignedCheckpoint
from strongroom.audit.committer import GroupCommitter
from strongroom.audit.events import AuditRecord
from strongroom.audit.log import EventView
from strongroom.audit.recorder import Recorder
from strongroom.audit.tree import TreeReader
from strongroom.clock import Clock, SystemClock
from strongroom.config import Settings
from strongroom.crypto import merkle
from strongroom.errors import (
    AuditError,
    InvalidRequestError,
    SealedError,
    StrongroomError,
    UnauthenticatedError,
)
from strongroom.identity import root_tokens, scopes
from strongroom.identity.principal import Principal
from strongroom.identity.tokens import IssuedToken, TokenService
from strongroom.kms.barrier import Barrier
from strongroom.kms.keyring import KeyInfo, Keyring
from strongroom.kms.seal import InitResult, SealManager, SealStatus
from strongroom.store import migrate
from strongroom.store.engine import Database
from strongroom.store.repositories import audit as audit_repo

ANONYMOUS = "anonymous"
log = logging.getLogger("strongroom.node")


@dataclass(frozen=True)
class Call:
    """Who makes a call and under which request id."""

    request_id: str
    actor: str = ANONYMOUS


@dataclass(frozen=True)
class Initialized:
    result: InitResult
    root_token: str

    def __repr__(self) -> str:
        return "Initialized(<shares and root token hidden>)"


class Node:
    """A Strongroom server's state and operations. Thread-safe."""

    def __init__(self, settings: Settings, database: Database, clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = database
        self.clock: Clock = clock or SystemClock()
        self.seal_manager = SealManager(self.clock)
        self.committer = GroupCommitter(database)
        self.alerts = _alert_engine(settings, database, self.clock)
        self.committer.observers.append(self.alerts.observe)
        self.committer.on_failure = self._audit_failing
        self.recorder = Recorder(database, self.clock, self.committer)
        self.tokens = TokenService(
            self.seal_manager.keyring,
            self.refresh_keyring,
            self.clock,
            issuer=settings.resolved_issuer,
            audience=settings.token_audience,
        )
        self._refresh_lock = threading.Lock()
        self._stopping = threading.Event()
        self._background: list[threading.Thread] = []
        self._last_refresh = time.monotonic()

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> Node:
        """Connect to the configured database and apply migrations."""
        database = Database.from_url(settings.resolved_database_url)
        migrate.upgrade(database.engine)
        return cls(settings, database, clock)

    def _audit_failing(self) -> None:
        record = AuditRecord(self.clock.now_us(), "", "system", "audit.append", "audit", "error")
        self.alerts.raise_alert(
            "audit-degraded", "critical", "the audit trail cannot record: requests fail", record
        )

    def recent_alerts(self, call: Call, limit: int) -> list[alerts.Alert]:
        with self.recorder.action(
            call.request_id, call.actor, "audit.alerts.read", "audit/alerts", writes=False
        ):
            return alerts.recent(self.db, limit)

    def close(self) -> None:
        self._stopping.set()
        self.alerts.close()
        for thread in self._background:
            thread.join(timeout=5)
        self._drop_keys()
        self.committer.close()
        self.db.dispose()

    # -- seal ---------------------------------------------------------------------------

    def status(self) -> SealStatus:
        with self.db.transaction(read_only=True) as session:
            return self.seal_manager.status(session)

    def keyring(self) -> Keyring:
        """The open keyring, refreshed if another replica rotated; `SealedError` if sealed."""
        keyring = self.seal_manager.keyring()
        if time.monotonic() - self._last_refresh >= self.settings.keyring_refresh_seconds:
            self.refresh_keyring()
        return keyring

    def refresh_keyring(self) -> None:
        """Pick up key versions another replica added. No-op while sealed."""
        with self._refresh_lock:
            self._last_refresh = time.monotonic()
            if self.seal_manager.sealed:
                return
            with self.db.transaction(read_only=True) as session:
                self.seal_manager.keyring().refresh_if_changed(session)

    def barrier(self) -> Barrier:
        return Barrier(self.keyring(), self.clock)

    def initialize(self, call: Call, shares: int, threshold: int) -> Initialized:
        """Create the root key, keyring and a root token. The server stays sealed."""
        with self.recorder.action(call.request_id, call.actor, "sys.init", "sys/init") as tx:
            result = self.seal_manager.initialize(tx.session, shares, threshold)
            token = root_tokens.create(tx.session, self.clock, "init")
            tx.detail.update({"shares": shares, "threshold": threshold})
        return Initialized(result, token)

    def unseal(self, call: Call, share: str) -> SealStatus:
        """Submit one key share; each submission is audited (never the share)."""
        opened = None
        try:
            with self.recorder.action(
                call.request_id, call.actor, "sys.unseal", "sys/seal", writes=False
            ) as tx:
                status, opened = self.seal_manager.accept_share(tx.session, share)
                tx.detail.update({"progress": status.progress, "sealed": status.sealed})
        except BaseException as exc:
            # Not recorded, so it does not happen: no key opened, and a share that was
            # taken but could not be recorded does not count (progress starts over).
            if opened is not None:
                opened.wipe()
            if isinstance(exc, AuditError):
                self.seal_manager.reset_progress()
            raise
        if opened is not None:
            status = self.seal_manager.install(opened)
        if not status.sealed and self.seal_manager.keyring().missing_purposes():
            self._add_missing_keys(call)
        return status

    def _add_missing_keys(self, call: Call) -> None:
        # A purpose added by an upgrade gets its first version at the first unseal.
        with self.recorder.action(call.request_id, call.actor, "sys.keys.add", "sys/keys") as tx:
            added = self.seal_manager.keyring().add_missing(tx.session, self.clock)
            tx.detail["purposes"] = added
        self.refresh_keyring()

    def reset_unseal(self, call: Call) -> SealStatus:
        with self.recorder.action(
            call.request_id, call.actor, "sys.unseal.reset", "sys/seal", writes=False
        ) as tx:
            self.seal_manager.reset_progress()
            return self.seal_manager.status(tx.session)

    def seal(self, call: Call) -> None:
        """Drop all key material, then record it.

        Sealing only ever removes access, so it happens even if the audit trail cannot
        take the event; the caller then gets the audit error, with the server sealed.
        """
        self.seal_manager.keyring()
        self._drop_keys()
        self.recorder.record(call.request_id, call.actor, "sys.seal", "sys/seal", "success")

    def _drop_keys(self) -> None:
        self.seal_manager.seal()
        self.tokens.forget()

    # -- keys ---------------------------------------------------------------------------

    def list_keys(self, call: Call) -> list[KeyInfo]:
        with self.recorder.action(
            call.request_id, call.actor, "sys.keys.list", "sys/keys", writes=False
        ):
            return self.keyring().describe()

    def rotate_key(self, call: Call, purpose: str) -> KeyInfo:
        resource = f"sys/keys/{purpose}"
        with self.recorder.action(call.request_id, call.actor, "sys.keys.rotate", resource) as tx:
            info = self.keyring().rotate(tx.session, purpose, self.clock)
            tx.detail.update({"purpose": info.purpose, "version": info.version})
        self.refresh_keyring()
        return info

    # -- tokens -------------------------------------------------------------------------

    def actor_of(self, principal: Principal) -> str:
        """How the audit trail names a caller: root by name, users by an HMAC."""
        if principal.kind == "root" or not self.settings.audit_hmac_subjects:
            return principal.actor
        return identifiers.hide(self.keyring(), principal.subject)

    def hash_identifier(self, call: Call, value: str) -> list[str]:
        """The HMACs ``value`` may appear as in the trail (audited, never the value)."""
        with self.recorder.action(
            call.request_id, call.actor, "audit.hash", "audit/hash", writes=False
        ):
            return identifiers.candidates(self.keyring(), value)

    def authenticate(self, bearer: str) -> Principal:
        """The principal a bearer token names; `UnauthenticatedError` if none."""
        if not bearer or len(bearer) > 8192:
            raise UnauthenticatedError()
        if self.seal_manager.sealed:
            raise SealedError("the server is sealed; unseal it first")
        # A compact JWS starts with the base64url of '{"'; a root token (which an operator
        # may choose in dev mode) is looked up by hash whatever it contains.
        if bearer.startswith("ey") and bearer.count(".") == 2:
            return self.tokens.verify(bearer)
        with self.db.transaction(read_only=True) as session:
            principal = root_tokens.authenticate(session, bearer)
        if principal is None:
            raise UnauthenticatedError()
        return principal

    def mint_token(
        self, call: Call, caller: Principal, subject: str, requested: Sequence[str], ttl: int | None
    ) -> IssuedToken:
        """Mint an access token; only scopes the caller holds can be granted."""
        with self.recorder.action(
            call.request_id, call.actor, "auth.tokens.create", "auth/tokens", writes=False
        ) as tx:
            if subject.lower() in scopes.RESERVED_SUBJECTS:
                raise InvalidRequestError("that subject is reserved for Strongroom's own actors")
            granted = scopes.validate(requested)
            if any(not caller.has_scope(s) for s in granted):
                raise InvalidRequestError("a token can only carry scopes its minter holds")
            if caller.kind != "root" and scopes.ROOT_ONLY.intersection(granted):
                raise InvalidRequestError("only the root token can grant tokens:create")
            lifetime = self.settings.token_default_ttl if ttl is None else ttl
            if not 1 <= lifetime <= self.settings.token_max_ttl:
                raise InvalidRequestError(
                    f"ttl must be between 1 and {self.settings.token_max_ttl} seconds"
                )
            issued = self.tokens.mint(subject, granted, lifetime, client_id=caller.subject)
            tx.resource = f"auth/tokens/{issued.jti}"
            shown = subject
            if self.settings.audit_hmac_subjects:
                shown = identifiers.hide(self.keyring(), subject)
            tx.detail.update(
                {"subject": shown, "scopes": list(granted), "ttl": lifetime, "jti": issued.jti}
            )
        return issued

    # -- audit --------------------------------------------------------------------------

    def audit_events(
        self,
        call: Call,
        *,
        after: int | None,
        actor: str | None,
        action: str | None,
        since_us: int | None,
        until_us: int | None,
        limit: int,
        newest_first: bool,
        match_hmacs: bool = False,
    ) -> list[EventView]:
        """Events in order; ``match_hmacs`` (for holders of ``audit:hash``) also finds a
        plain actor under its HMAC forms."""
        with self.recorder.action(
            call.request_id, call.actor, "audit.events.read", "audit/events", writes=False
        ) as tx:
            # A user appears under an HMAC of their subject; only holders of audit:hash
            # may have a plain value resolved to those forms.
            actors: list[str] | None = None if actor is None else [actor]
            if actor is not None and actors is not None and match_hmacs:
                actors += identifiers.candidates(self.keyring(), actor)
            return list(
                audit_log.query(
                    tx.session,
                    after=after,
                    actor=actors,
                    action=action,
                    since_us=since_us,
                    until_us=until_us,
                    limit=limit,
                    newest_first=newest_first,
                )
            )

    def checkpoint(self) -> SignedCheckpoint:
        """The newest signed checkpoint, signing one first if there is none yet."""
        with self.db.transaction(read_only=True) as session:
            found = checkpoints.latest(session)
        if found is not None:
            return found
        return self._sign_checkpoint()

    def _sign_checkpoint(self) -> SignedCheckpoint:
        return checkpoints.make(
            self.db, self.keyring(), self.settings.resolved_audit_origin, self.clock
        )

    def make_checkpoint(self, call: Call) -> SignedCheckpoint:
        """Sign the current tree head now (its own event lands after it)."""
        signed = self._sign_checkpoint()
        self.recorder.record(
            call.request_id,
            call.actor,
            "audit.checkpoint.create",
            "audit/checkpoint",
            "success",
            {"size": signed.size},
        )
        return signed

    def audit_verifier_keys(self) -> list[str]:
        """Every version of the checkpoint verifier key, newest first."""
        origin = self.settings.resolved_audit_origin
        return [k.encode() for k in checkpoints.verifier_keys(self.keyring(), origin)]

    def inclusion_proof(
        self, call: Call, index: int, size: int
    ) -> tuple[bytes, list[bytes], bytes]:
        """(leaf hash, proof, root) for event ``index`` in the tree of ``size`` events."""
        resource = f"audit/proof/inclusion/{index}/{size}"
        with self.recorder.action(
            call.request_id, call.actor, "audit.proof.inclusion", resource, writes=False
        ) as tx:
            reader = TreeReader(tx.session, audit_repo.head(tx.session)[0])
            return reader.leaf(index), reader.inclusion(index, size), reader.root(size)

    def consistency_proof(
        self, call: Call, old_size: int, new_size: int
    ) -> tuple[bytes, bytes, list[bytes]]:
        """(old root, new root, proof) between two tree sizes."""
        resource = f"audit/proof/consistency/{old_size}/{new_size}"
        with self.recorder.action(
            call.request_id, call.actor, "audit.proof.consistency", resource, writes=False
        ) as tx:
            reader = TreeReader(tx.session, audit_repo.head(tx.session)[0])
            proof = reader.consistency(old_size, new_size)
            return reader.root(old_size), reader.root(new_size), proof

    def export_bundle(self, call: Call, since: int) -> Iterator[bytes]:
        """Sign a checkpoint, record the export, and stream a bundle of ``[since, size)``."""
        signed = self._sign_checkpoint()
        if not 0 <= since <= signed.size:
            raise InvalidRequestError(f"since must be between 0 and {signed.size}")
        keys = self.audit_verifier_keys()
        with self.recorder.action(
            call.request_id, call.actor, "audit.export", "audit/export", writes=False
        ) as tx:
            tx.detail.update({"since": since, "size": signed.size})
            start_frontier = TreeReader(tx.session, signed.size).frontier(since)
            notes = [c.note for c in checkpoints.between(tx.session, since, signed.size)]
        return self._bundle_lines(since, signed.size, start_frontier, notes, keys)

    def _bundle_lines(
        self,
        since: int,
        size: int,
        start_frontier: merkle.Frontier,
        notes: list[str],
        keys: list[str],
    ) -> Iterator[bytes]:
        yield bundle.header_line(
            origin=self.settings.resolved_audit_origin,
            start=since,
            size=size,
            start_frontier=start_frontier,
            checkpoints=notes,
            keys=keys,
        )
        chunk = 5000
        for low in range(since, size, chunk):
            with self.db.transaction(read_only=True) as session:
                rows = audit_repo.entries(session, low, min(size, low + chunk))
            yield b"".join(bundle.event_line(i, h, e) for i, h, e in rows)

    def checkpoint_due(self) -> bool:
        """Whether the log has grown enough, or long enough ago, to sign a new head."""
        with self.db.transaction(read_only=True) as session:
            size = audit_repo.size(session)
            last = audit_repo.latest_checkpoint(session)
        if last is None:
            return size > 0
        if size <= last.size:
            return False
        age = (self.clock.now_us() - last.created_us) / 1_000_000
        grown = size - last.size
        return (
            grown >= self.settings.checkpoint_every_events
            or age >= self.settings.checkpoint_interval_seconds
        )

    def start_checkpointer(self, poll_seconds: float = 1.0) -> None:
        """Sign checkpoints in the background while unsealed, until `close`."""

        def loop() -> None:
            while not self._stopping.wait(poll_seconds):
                if self.seal_manager.sealed:
                    continue
                try:
                    if self.checkpoint_due():
                        self._sign_checkpoint()
                except StrongroomError:
                    log.warning("could not sign an audit checkpoint; will retry")

        thread = threading.Thread(target=loop, name="strongroom-checkpoints", daemon=True)
        thread.start()
        self._background.append(thread)

    def record_denied(self, call: Call, action: str, resource: str, reason: str) -> None:
        """Audit a refused request (bad credentials or a missing scope)."""
        self.recorder.record(
            call.request_id, call.actor, action, resource, "denied", {"error": reason}
        )


def _alert_engine(settings: Settings, database: Database, clock: Clock) -> alerts.AlertEngine:
    rules = alerts.DEFAULT_RULES
    if settings.alert_rules is not None:
        rules = tuple(
            alerts.Rule(
                r.name,
                tuple(r.actions),
                r.outcome,
                tuple(r.detail.items()),
                r.threshold,
                r.window_seconds,
                r.severity,
                r.summary or r.name,
            )
            for r in settings.alert_rules
        )
    secret = settings.alert_webhook_secret
    sinks = alerts.Sinks(
        webhook_url=settings.alert_webhook_url,
        webhook_secret=None if secret is None else secret.get_secret_value().encode(),
        jsonl_file=settings.alert_file,
    )
    return alerts.AlertEngine(rules, sinks, database, clock)
