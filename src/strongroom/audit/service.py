"""The audit trail as a service: reading events, checkpoints, proofs, bundles, alerts.

Each public method that serves a caller is itself audited through the recorder. The
keyring is reached through a callable, so the service works whether it was created
sealed or not and always sees the server's current keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from strongroom.audit import alerts, bundle, checkpoints, identifiers
from strongroom.audit import log as audit_log
from strongroom.audit.checkpoints import SignedCheckpoint
from strongroom.audit.log import EventView
from strongroom.audit.recorder import Audited, Recorder
from strongroom.audit.tree import TreeReader
from strongroom.call import Call
from strongroom.clock import Clock
from strongroom.config import Settings
from strongroom.crypto import merkle
from strongroom.errors import InvalidRequestError
from strongroom.kms.keyring import Keyring
from strongroom.store.engine import Database
from strongroom.store.repositories import audit as audit_repo


class AuditTrail:
    """Audit operations of one server."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        recorder: Recorder,
        clock: Clock,
        keyring: Callable[[], Keyring],
    ) -> None:
        self.settings = settings
        self.db = database
        self.recorder = recorder
        self.clock = clock
        self.keyring = keyring

    def recent_alerts(self, call: Call, limit: int) -> list[alerts.Alert]:
        with self.recorder.action(
            call.request_id, call.actor, "audit.alerts.read", "audit/alerts", writes=False
        ):
            return alerts.recent(self.db, limit)

    def hash_identifier(self, call: Call, value: str) -> list[str]:
        """The HMACs ``value`` may appear as in the trail (audited, never the value)."""
        with self.recorder.action(
            call.request_id, call.actor, "audit.hash", "audit/hash", writes=False
        ):
            return identifiers.candidates(self.keyring(), value)

    def events(
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
        query = self._events_query(
            after, actor, action, since_us, until_us, limit, newest_first, match_hmacs
        )
        with self.recorder.action(
            call.request_id, call.actor, "audit.events.read", "audit/events", writes=False
        ) as tx:
            return query(tx)

    async def events_async(
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
        """`events` for coroutines: the query runs in a worker thread, and no thread is
        held while its audit event becomes durable."""
        query = self._events_query(
            after, actor, action, since_us, until_us, limit, newest_first, match_hmacs
        )
        return await self.recorder.read_async(
            call.request_id, call.actor, "audit.events.read", "audit/events", query
        )

    def _events_query(
        self,
        after: int | None,
        actor: str | None,
        action: str | None,
        since_us: int | None,
        until_us: int | None,
        limit: int,
        newest_first: bool,
        match_hmacs: bool,
    ) -> Callable[[Audited], list[EventView]]:
        def query(tx: Audited) -> list[EventView]:
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

        return query

    def checkpoint(self) -> SignedCheckpoint:
        """The newest signed checkpoint, signing one first if there is none yet."""
        with self.db.transaction(read_only=True) as session:
            found = checkpoints.latest(session)
        if found is not None:
            return found
        return self.sign_checkpoint()

    def sign_checkpoint(self) -> SignedCheckpoint:
        return checkpoints.make(
            self.db, self.keyring(), self.settings.resolved_audit_origin, self.clock
        )

    def make_checkpoint(self, call: Call) -> SignedCheckpoint:
        """Sign the current tree head now (its own event lands after it)."""
        signed = self.sign_checkpoint()
        self.recorder.record(
            call.request_id,
            call.actor,
            "audit.checkpoint.create",
            "audit/checkpoint",
            "success",
            {"size": signed.size},
        )
        return signed

    def verifier_keys(self) -> list[str]:
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
        signed = self.sign_checkpoint()
        if not 0 <= since <= signed.size:
            raise InvalidRequestError(f"since must be between 0 and {signed.size}")
        keys = self.verifier_keys()
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
