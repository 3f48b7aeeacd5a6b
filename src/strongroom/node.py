"""One running Strongroom server: its store, seal, keyring, tokens and audit trail.

The node is what the HTTP API, the console and the dev command drive. Each public method
is one audited operation: it takes the request's id and caller, runs in one transaction
with its audit event, and raises typed errors from `strongroom.errors`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from strongroom.audit import alerts, identifiers
from strongroom.audit.alert_windows import RedisWindows, SharedWindows
from strongroom.audit.baseline import Baseline
from strongroom.audit.committer import GroupCommitter
from strongroom.audit.events import AuditRecord
from strongroom.audit.recorder import Recorder
from strongroom.audit.service import AuditTrail
from strongroom.call import ANONYMOUS, Call
from strongroom.clock import Clock, SystemClock
from strongroom.config import Settings
from strongroom.errors import (
    AuditError,
    InvalidRequestError,
    SealedError,
    StrongroomError,
    UnauthenticatedError,
)
from strongroom.escrow.service import EscrowService
from strongroom.fieldkeys.service import AppKeys
from strongroom.governance.reviews import Reviews
from strongroom.governance.submissions import Submissions
from strongroom.identity import root_tokens, scopes
from strongroom.identity.broker import Broker
from strongroom.identity.exchange import operator_approvals
from strongroom.identity.id_subjects import IdTokenSubjects
from strongroom.identity.principal import BFF_CLIENT_PREFIX, Principal
from strongroom.identity.services import IdentityServices
from strongroom.identity.tokens import IssuedToken, TokenService
from strongroom.kms.barrier import Barrier
from strongroom.kms.keyring import KeyInfo, Keyring
from strongroom.kms.seal import InitResult, SealManager, SealStatus
from strongroom.runtime.egress import EgressPolicy
from strongroom.runtime.gateway import Gateway
from strongroom.secrets import backend as secret_backends
from strongroom.secrets.service import SecretsService
from strongroom.store import migrate
from strongroom.store.engine import Database
from strongroom.tokenize import Regions, TokenVault

log = logging.getLogger("strongroom.node")
__all__ = ["ANONYMOUS", "Call", "Initialized", "Node"]


@dataclass(frozen=True)
class Initialized:
    result: InitResult
    root_token: str

    def __repr__(self) -> str:
        return "Initialized(<shares and root token hidden>)"


class SealLeader(Protocol):
    """Where a worker process sends its seal operations (`strongroom.pool`): the
    supervisor, which holds the one unseal progress of the server and records them."""

    def status(self) -> SealStatus: ...

    def initialize(self, call: Call, shares: int, threshold: int) -> Initialized: ...

    def unseal(self, call: Call, share: str) -> SealStatus: ...

    def reset_unseal(self, call: Call) -> SealStatus: ...

    def seal(self, call: Call) -> None: ...


class Node:
    """A Strongroom server's state and operations. Thread-safe.

    A server process on its own is its own seal authority. A worker of a supervised
    server (``workers`` above 1) is built with the supervisor as its ``leader``, which
    takes its seal operations and hands it the opened keyring, and with a ``committer``
    that appends its events through the supervisor's audit writer.
    """

    def __init__(
        self,
        settings: Settings,
        database: Database,
        clock: Clock | None = None,
        *,
        committer: GroupCommitter | None = None,
        leader: SealLeader | None = None,
    ) -> None:
        self.settings = settings
        self.db = database
        self.clock: Clock = clock or SystemClock()
        self.seal_manager = SealManager(self.clock)
        self.leader = leader
        # With workers, this node is the supervisor's: already the one audit writer, in a
        # process of its own that serves no request; an appender would add a hop.
        self.committer = committer or GroupCommitter(
            database, appender=settings.audit_appender == "process" and settings.workers == 1
        )
        self.alerts = _alert_engine(settings, database, self.clock)
        self.committer.observers.append(self.alerts.observe)
        self.committer.on_failure = self._audit_failing
        self.recorder = Recorder(database, self.clock, self.committer)
        self.audit = AuditTrail(settings, database, self.recorder, self.clock, self.keyring)
        self.escrow = EscrowService(settings, database, self.recorder, self.clock, self.keyring)
        self.app_keys = AppKeys(self.recorder, self.clock, self.keyring)
        self.tokens = TokenService(
            self.seal_manager.keyring,
            self.refresh_keyring,
            self.clock,
            issuer=settings.resolved_issuer,
            audience=settings.token_audience,
        )
        self.secrets = SecretsService(
            secret_backends.create(
                settings.secrets_backend,
                secret_backends.Collaborators(settings, database, self.keyring, self.clock),
            ),
            self.recorder,
            self.clock,
            settings.secret_max_bytes,
        )
        self.gateway = Gateway(
            settings.connectors,
            EgressPolicy(settings.egress_allowlist, settings.egress_allow_private),
            self.secrets.backend,
            self.recorder,
            settings.gateway_timeout_seconds,
            settings.gateway_max_response_bytes,
        )
        self.regions = Regions(settings, database)
        self.vault = TokenVault(settings, self.recorder, self.clock, self.keyring, self.regions)
        self.submissions = Submissions(settings, database, self.recorder, self.clock, self.keyring)
        self.reviews = Reviews(
            database, self.recorder, self.clock, self.keyring, self.submissions.forget_scopes
        )
        self.broker = Broker(
            settings, database, self.recorder, self.clock, self.keyring, self.tokens
        )
        self.identity = IdentityServices(
            settings, database, self.recorder, self.clock, self.broker, self.hide_subject
        )
        self._wire_identity()
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

    def close(self) -> None:
        self._stopping.set()
        self.alerts.close()
        for thread in self._background:
            thread.join(timeout=5)
        self._drop_keys()
        self.gateway.close()
        self.identity.close()
        self.committer.close()
        self.regions.close()
        self.db.dispose()

    # -- seal ---------------------------------------------------------------------------

    def status(self) -> SealStatus:
        if self.leader is not None:
            return self.leader.status()
        with self.db.transaction(read_only=True) as session:
            return self.seal_manager.status(session)

    def keyring(self) -> Keyring:
        """The open keyring, refreshed if another replica rotated; `SealedError` if sealed."""
        keyring = self.seal_manager.keyring()
        if self._refresh_due():
            self.refresh_keyring()
        return keyring

    async def keyring_async(self) -> Keyring:
        """`keyring` for coroutines: a refresh that is due runs in a worker thread."""
        keyring = self.seal_manager.keyring()
        if self._refresh_due():
            await asyncio.to_thread(self.refresh_keyring)
        return keyring

    def _refresh_due(self) -> bool:
        return time.monotonic() - self._last_refresh >= self.settings.keyring_refresh_seconds

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
        if self.leader is not None:
            return self.leader.initialize(call, shares, threshold)
        with self.recorder.action(call.request_id, call.actor, "sys.init", "sys/init") as tx:
            result = self.seal_manager.initialize(tx.session, shares, threshold)
            token = root_tokens.create(tx.session, self.clock, "init")
            tx.detail.update({"shares": shares, "threshold": threshold})
        return Initialized(result, token)

    def unseal(self, call: Call, share: str) -> SealStatus:
        """Submit one key share; each submission is audited (never the share)."""
        if self.leader is not None:
            return self.leader.unseal(call, share)
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
        if self.leader is not None:
            return self.leader.reset_unseal(call)
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
        if self.leader is not None:
            self.leader.seal(call)
            return
        self.seal_manager.keyring()
        self._drop_keys()
        self.recorder.record(call.request_id, call.actor, "sys.seal", "sys/seal", "success")

    def _drop_keys(self) -> None:
        self.seal_manager.seal()
        self.tokens.forget()
        identifiers.forget()

    def adopt_keyring(self, handover: bytes) -> None:
        """Open with the keyring key the supervisor handed over (`Keyring.handover`)."""
        with self.db.transaction(read_only=True) as session:
            self.seal_manager.adopt(session, Keyring.from_handover(handover))
        self._last_refresh = time.monotonic()

    def drop_keys(self) -> None:
        """Seal this process only, as its supervisor was sealed (nothing to record here)."""
        self._drop_keys()

    # -- keys ---------------------------------------------------------------------------

    def list_keys(self, call: Call) -> list[KeyInfo]:
        with self.recorder.action(
            call.request_id, call.actor, "sys.keys.list", "sys/keys", writes=False
        ):
            return self.keyring().describe()

    async def list_keys_async(self, call: Call) -> list[KeyInfo]:
        """`list_keys` for coroutines: the same event, without holding a thread while it
        becomes durable."""
        async with self.recorder.action_async(
            call.request_id, call.actor, "sys.keys.list", "sys/keys"
        ):
            keyring = await self.keyring_async()
            return keyring.describe()

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

    def _wire_identity(self) -> None:
        """Join the sign-in side, the token broker and governance.

        ID tokens from configured providers can be exchanged; an app's approved scopes
        come from its signed manifest once it is known to governance, and from the
        operator's settings (``oauth_app_scopes``) before that; deprovisioning a user
        through SCIM trips that user's kill switch.
        """
        if self.settings.oidc_providers:
            self.broker.subjects.register(IdTokenSubjects(self.identity.subject_tokens))
        configured = operator_approvals(self.settings)

        def app_of(client_id: str) -> str:
            # The BFF acting for app X (client id ``bff:X``) is governed by X's manifest.
            return client_id.removeprefix(BFF_CLIENT_PREFIX)

        def approved(client_id: str) -> Sequence[str]:
            governed = self.submissions.governed_scopes(app_of(client_id))
            return configured(client_id) if governed is None else sorted(governed)

        def cached(client_id: str) -> bool:
            return self.submissions.scopes_cached(app_of(client_id))

        self.broker.set_approved_scopes(approved, cached=cached)
        self.broker.keyring_due = self._refresh_due
        self.identity.on_user_deprovisioned(self._kill_user)

    def _kill_user(self, subject: str) -> None:
        self.broker.kill(Call("", "system"), "user", subject)

    def hide_subject(self, subject: str) -> str:
        """How the audit trail names a user subject: an HMAC unless configured otherwise."""
        if not self.settings.audit_hmac_subjects:
            return subject
        return identifiers.hide(self.keyring(), subject)

    def authenticate(
        self,
        bearer: str,
        *,
        scheme: str = "bearer",
        proof: str | None = None,
        method: str = "GET",
        path: str = "/",
    ) -> Principal:
        """The principal a token names; `UnauthenticatedError` if none.

        Access tokens are checked by the broker (revocation state; for DPoP-bound tokens
        the ``DPoP`` scheme and a ``proof`` for ``method`` and ``path``).
        """
        if not bearer or len(bearer) > 8192:
            raise UnauthenticatedError()
        if self.seal_manager.sealed:
            raise SealedError("the server is sealed; unseal it first")
        # A compact JWS starts with the base64url of '{"'; a root token (which an operator
        # may choose in dev mode) is looked up by hash whatever it contains.
        if bearer.startswith("ey") and bearer.count(".") == 2:
            return self.broker.authenticate_access(
                bearer, scheme=scheme, proof=proof, method=method, path=path
            )
        if scheme != "bearer":
            raise UnauthenticatedError()
        with self.db.transaction(read_only=True) as session:
            principal = root_tokens.authenticate(session, bearer)
        if principal is None:
            raise UnauthenticatedError()
        return principal

    async def authenticate_async(
        self,
        bearer: str,
        *,
        scheme: str = "bearer",
        proof: str | None = None,
        method: str = "GET",
        path: str = "/",
    ) -> Principal:
        """`authenticate` for coroutines: the same checks, without blocking the loop.

        An access token seen before is checked on the event loop (its revocation state
        included, every time); anything needing the store or a signature check runs in a
        worker thread.
        """
        if not bearer or len(bearer) > 8192:
            raise UnauthenticatedError()
        if bearer.startswith("ey") and bearer.count(".") == 2:
            await self.keyring_async()  # SealedError if sealed; a due refresh in a thread
            return await self.broker.authenticate_access_async(
                bearer, scheme=scheme, proof=proof, method=method, path=path
            )
        return await asyncio.to_thread(
            self.authenticate, bearer, scheme=scheme, proof=proof, method=method, path=path
        )

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

    def start_checkpointer(self, poll_seconds: float = 1.0) -> None:
        """Sign checkpoints in the background while unsealed, until `close`."""

        def loop() -> None:
            while not self._stopping.wait(poll_seconds):
                if self.seal_manager.sealed:
                    continue
                try:
                    if self.audit.checkpoint_due():
                        self.audit.sign_checkpoint()
                except StrongroomError:
                    log.warning("could not sign an audit checkpoint; will retry")

        thread = threading.Thread(target=loop, name="strongroom-checkpoints", daemon=True)
        thread.start()
        self._background.append(thread)

    def start_token_purger(self) -> None:
        """Purge token values past their retention in the background, until `close`."""

        def loop() -> None:
            while not self._stopping.wait(self.settings.token_purge_interval_seconds):
                if self.seal_manager.sealed:
                    continue
                try:
                    if self.vault.purge_due():
                        self.vault.purge(Call("", "system"))
                except StrongroomError:
                    log.warning("could not purge expired token values; will retry")

        thread = threading.Thread(target=loop, name="strongroom-token-purge", daemon=True)
        thread.start()
        self._background.append(thread)

    def record_denied(self, call: Call, action: str, resource: str, reason: str) -> None:
        """Audit a refused request (bad credentials or a missing scope)."""
        self.recorder.record(
            call.request_id, call.actor, action, resource, "denied", {"error": reason}
        )

    async def record_denied_async(
        self, call: Call, action: str, resource: str, reason: str
    ) -> None:
        """`record_denied` for coroutines: waits for durability without blocking the loop."""
        await self.recorder.record_async(
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
                None if r.baseline is None else Baseline(**r.baseline.model_dump()),
            )
            for r in settings.alert_rules
        )
    secret = settings.alert_webhook_secret
    sinks = alerts.Sinks(
        webhook_url=settings.alert_webhook_url,
        webhook_secret=None if secret is None else secret.get_secret_value().encode(),
        jsonl_file=settings.alert_file,
    )
    # Behind several replicas, counting windows are shared through Redis when configured.
    windows = None
    if settings.redis_url is not None:
        windows = SharedWindows(RedisWindows(settings.redis_url, settings.alert_redis_prefix))
    return alerts.AlertEngine(rules, sinks, database, clock, windows=windows)
