"""Submissions: a manifest and its scan findings go through the policy gate server-side.

Trust model: the server parses the manifest and evaluates the policy itself; the scan
findings come from the submitter's run of the scanners (see docs/governance.md). A
submission the policy denies is stored as ``rejected``. One it allows is ``approved``
and signed at once unless it needs a reviewer (sensitive scopes or data classes), in
which case it waits as ``pending`` (see `strongroom.governance.reviews`). A newer
submission for the same app supersedes a pending one; the approved manifest stays
current until another one is approved.

Each public method that serves a caller appends exactly one audit event.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.clock import Clock, rfc3339
from strongroom.config import Settings
from strongroom.crypto import dsse
from strongroom.errors import EnvelopeError, ForbiddenError, NotFoundError, StrongroomError
from strongroom.governance import policy, preflight, signing
from strongroom.governance.scope_cache import Governed, ScopeCache
from strongroom.kms.keyring import Keyring
from strongroom.store.engine import Database
from strongroom.store.models import GovApp, GovSubmission
from strongroom.store.repositories import governance as repo

POLICY_APPROVER = "policy"


@dataclass(frozen=True)
class SubmissionView:
    """A submission as callers see it."""

    id: str
    app: str
    status: str
    submitter: str
    digest: str
    created: str
    decided: str | None
    reviewer: str | None
    reason: str | None
    scopes: list[str]
    decision: dict[str, Any]
    envelope: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class AppView:
    name: str
    owner: str
    approved_submission: str | None
    approved_scopes: list[str]
    submissions: list[SubmissionView]


def view(row: GovSubmission) -> SubmissionView:
    manifest = json.loads(row.manifest)
    return SubmissionView(
        id=row.id,
        app=row.app,
        status=row.status,
        submitter=row.submitter,
        digest=row.digest,
        created=rfc3339(row.created_us),
        decided=rfc3339(row.decided_us) if row.decided_us is not None else None,
        reviewer=row.reviewer,
        reason=row.reason,
        scopes=sorted(manifest.get("scopes", [])),
        decision=json.loads(row.decision),
        envelope=json.loads(row.envelope) if row.envelope else None,
    )


def install_approval(
    session: Session,
    keyring: Keyring,
    clock: Clock,
    row: GovSubmission,
    approved_by: str,
    reason: str | None,
) -> None:
    """Sign ``row``'s manifest, mark it approved and make it the app's current one."""
    now = clock.now_us()
    manifest = json.loads(row.manifest)
    signed = signing.statement(
        app=row.app,
        submission=row.id,
        manifest=manifest,
        approved_by=approved_by,
        approved_at=rfc3339(now),
    )
    envelope = signing.sign(keyring, signed)
    row.status = "approved"
    row.decided_us = now
    row.reviewer = approved_by
    row.reason = reason
    row.envelope = json.dumps(envelope.to_json(), sort_keys=True)
    app = repo.app(session, row.app, for_update=True)
    if app is None:
        raise NotFoundError("no such app")
    app.approved_submission = row.id
    app.updated_us = now
    session.flush()


class Submissions:
    """Submitting manifests and reading an app's governance state."""

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
        self._scopes = ScopeCache(settings.revocation_refresh_seconds)

    def bundle(self) -> policy.Bundle:
        """The default policy bundle plus the organisation's directories (read each time,
        so a policy change applies to the next submission without a restart)."""
        return policy.load_bundle(policy.default_directories(self.settings.policy_dirs))

    def limits(self) -> policy.Limits:
        return policy.Limits(
            self.settings.policy_timeout_seconds, self.settings.policy_memory_bytes
        )

    def submit(self, call: Call, subject: str, text: str, findings: Any) -> SubmissionView:
        """Check a manifest and store the submission; returns it with its decision.

        Raises `ManifestError` for an invalid manifest, `ValidationFailedError` for
        malformed findings, `ForbiddenError` if the app belongs to someone else; each of
        those is audited and stores nothing.
        """
        try:
            clean = preflight.validate_findings(findings)
            context = {"submitter": call.actor, "time": rfc3339(self.clock.now_us())}
            checked = preflight.check(
                text, clean, self.bundle(), context=context, limits=self.limits()
            )
        except StrongroomError as exc:
            self.recorder.record(
                call.request_id, call.actor, "apps.submit", "apps", "error", {"error": exc.slug}
            )
            raise
        name = checked.manifest.name
        try:
            return self._store(call, subject, name, checked, clean)
        finally:
            self.forget_scopes(name)

    def _store(
        self,
        call: Call,
        subject: str,
        name: str,
        checked: preflight.Check,
        clean: list[dict[str, Any]],
    ) -> SubmissionView:
        with self.recorder.action(call.request_id, call.actor, "apps.submit", f"apps/{name}") as tx:
            now = self.clock.now_us()
            app = repo.app(tx.session, name, for_update=True)
            if app is None:
                app = GovApp(name=name, owner_subject=subject, created_us=now, updated_us=now)
                repo.add(tx.session, app)
            elif app.owner_subject.casefold() != subject.casefold():
                raise ForbiddenError("only the app's owner may submit changes to it")
            status = "rejected" if not checked.allowed else "pending"
            superseded = repo.supersede_pending(tx.session, name, now)
            row = GovSubmission(
                id="sub_" + secrets.token_hex(12),
                app=name,
                submitter=subject,
                status=status,
                digest=checked.manifest.digest(),
                manifest=checked.manifest.canonical().decode(),
                findings=json.dumps(clean, sort_keys=True),
                decision=json.dumps(checked.as_json(), sort_keys=True),
                created_us=now,
                decided_us=now if status == "rejected" else None,
            )
            repo.add(tx.session, row)
            if checked.allowed and not checked.review:
                install_approval(tx.session, self.keyring(), self.clock, row, POLICY_APPROVER, None)
            tx.detail.update(
                {
                    "submission": row.id,
                    "status": row.status,
                    "digest": row.digest,
                    "deny": len(checked.deny),
                    "findings": len(clean),
                    "superseded": superseded,
                    "policy_failed": checked.decision.failed,
                }
            )
            return view(row)

    def app(self, call: Call, name: str, limit: int = 20) -> AppView:
        """An app's owner, approved scopes and newest submissions; `NotFoundError`."""
        with self.recorder.action(
            call.request_id, call.actor, "apps.read", f"apps/{name}", writes=False
        ) as tx:
            app = repo.app(tx.session, name)
            if app is None:
                raise NotFoundError("no such app")
            rows = repo.submissions(tx.session, app=name, limit=limit)
            return AppView(
                name=app.name,
                owner=app.owner_subject,
                approved_submission=app.approved_submission,
                approved_scopes=sorted(self._approved(tx.session, name)),
                submissions=[view(r) for r in rows],
            )

    def submission(self, call: Call, ident: str) -> SubmissionView:
        with self.recorder.action(
            call.request_id,
            call.actor,
            "apps.submission.read",
            f"submissions/{ident}",
            writes=False,
        ) as tx:
            row = repo.submission(tx.session, ident)
            if row is None:
                raise NotFoundError("no such submission")
            return view(row)

    def approved_manifest(self, call: Call, name: str) -> dict[str, Any]:
        """The app's current signed manifest (DSSE envelope JSON); `NotFoundError`."""
        with self.recorder.action(
            call.request_id,
            call.actor,
            "apps.manifest.read",
            f"apps/{name}/manifest",
            writes=False,
        ) as tx:
            row = self._approved_row(tx.session, name)
            if row is None or row.envelope is None:
                raise NotFoundError("the app has no approved manifest")
            envelope: dict[str, Any] = json.loads(row.envelope)
            return envelope

    def approved_scopes(self, name: str) -> frozenset[str]:
        """The scopes of the app's current approved, signed manifest, for the token
        service: empty if there is none. The signature is verified on every call against
        every ``manifest-signing`` key version; `EnvelopeError` if it does not verify
        (a tampered row yields no scopes, never the stored ones)."""
        with self.db.transaction(read_only=True) as session:
            return self._approved(session, name)

    def governed_scopes(self, name: str) -> frozenset[str] | None:
        """`approved_scopes` for an app known to governance; None for an app that has never
        submitted a manifest (the token service then uses the operator's configuration).

        Served from a cache (`strongroom.governance.scope_cache`): a change made on this
        node applies at once, one made on another replica within
        ``revocation_refresh_seconds``. The scopes always come from an envelope that
        verified; a tampered row raises `EnvelopeError` once it is read.
        """
        return self._scopes.get(name, self._load_governed)

    def scopes_cached(self, name: str) -> bool:
        """Whether `governed_scopes` would answer ``name`` from memory (no store read)."""
        return self._scopes.fresh(name)

    def forget_scopes(self, name: str) -> None:
        """Drop the cached scopes of ``name`` (its governance state has just changed)."""
        self._scopes.forget(name)

    def _load_governed(self, name: str, previous: Governed | None) -> Governed:
        keyring = self.keyring()
        versions = tuple(v.version for v in keyring.versions(signing.PURPOSE))
        with self.db.transaction(read_only=True) as session:
            if repo.app(session, name) is None:
                return Governed(None)
            row = self._approved_row(session, name)
            if row is None or row.envelope is None:
                return Governed(frozenset())
            digest = hashlib.sha256(row.envelope.encode("utf-8")).digest()
            fingerprint = (row.id, digest, id(keyring), versions)
            if previous is not None and previous.fingerprint == fingerprint:
                return previous
            return Governed(self._verified(row, name, keyring), fingerprint)

    def _approved_row(self, session: Session, name: str) -> GovSubmission | None:
        app = repo.app(session, name)
        if app is None or app.approved_submission is None:
            return None
        return repo.submission(session, app.approved_submission)

    def _approved(self, session: Session, name: str) -> frozenset[str]:
        row = self._approved_row(session, name)
        if row is None or row.envelope is None:
            return frozenset()
        return self._verified(row, name, self.keyring())

    def _verified(self, row: GovSubmission, name: str, keyring: Keyring) -> frozenset[str]:
        envelope = dsse.Envelope.from_json(json.loads(row.envelope or "null"))
        signed = signing.verify(envelope, signing.trusted_keys(keyring))
        if signed["app"] != name or signed["submission"] != row.id:
            raise EnvelopeError("the signed manifest belongs to another app or submission")
        return frozenset(str(s) for s in signed["scopes"])

    def signing_keys(self) -> list[dict[str, str]]:
        """The published manifest verification keys, newest first."""
        return signing.public_keys(self.keyring())


def reviewable(row: GovSubmission, reviewer: str, owner: str) -> None:
    """`ForbiddenError` if ``reviewer`` is the submitter or the app's owner."""
    manifest: Mapping[str, Any] = json.loads(row.manifest)
    people = {row.submitter, owner, str(manifest.get("owner", ""))}
    if reviewer.casefold() in {p.casefold() for p in people if p}:
        raise ForbiddenError("a reviewer may not decide on their own app's submission")
