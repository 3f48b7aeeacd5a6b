"""Key escrow: deposits wrapped to an app's escrow key, recovery by M distinct approvers.

Each app's escrow key is X25519 (the default) or RSA-OAEP-3072, per app
(``escrow_algorithms_per_app``); see `strongroom.escrow.rsa_keys` for the RSA key pairs.
An X25519 key pair is derived from the keyring's ``escrow`` key (HKDF-SHA256, info naming
the app), so no X25519 private key is ever stored. A client wraps its data key to the
app's public key (`strongroom.crypto.keywrap` or `strongroom.crypto.rsa_keywrap`) and
deposits it; the deposit is checked to unwrap under its app, key id and version, with the
app's algorithm, before it is stored.

Recovery: the deposit's owner (and only the owner) asks for it with a fresh X25519 or
RSA-OAEP-3072 public key of their own; M distinct approvers (M per app, default 2;
never the requester) approve, any one may deny; once approved, the owner releases it
once and receives the data key wrapped to the public key given in the request. Every
step is one audit event; no key, wrapped or not, enters an event.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.clock import Clock
from strongroom.config import Settings
from strongroom.crypto import keywrap, rsa_keywrap
from strongroom.crypto.kdf import hkdf_sha256
from strongroom.errors import (
    ConflictError,
    DecryptionError,
    FieldError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
)
from strongroom.escrow import rsa_keys
from strongroom.kms.keyring import Keyring
from strongroom.store.engine import Database
from strongroom.store.models import EscrowDecision, EscrowDeposit, EscrowRequest
from strongroom.store.repositories import escrow as repo

PURPOSE = "escrow"
_INFO = b"strongroom/escrow/app/v1\x00"
_APP = re.compile(r"[A-Za-z0-9._-]{1,128}")
_KEY_ID = re.compile(r"[A-Za-z0-9._:@/+-]{1,64}")
_ID = re.compile(r"[0-9a-f]{32}")


X25519 = "x25519"
RSA = rsa_keywrap.ALGORITHM
_FORMATS = {keywrap.VERSION: X25519, rsa_keywrap.VERSION: RSA}


@dataclass(frozen=True)
class PublicKey:
    """An app's escrow public key: raw X25519 (32 bytes) or RSA SubjectPublicKeyInfo DER."""

    app: str
    version: int
    algorithm: str
    public: bytes


def _format(wrapped: bytes) -> str:
    """The algorithm a wrapped key's leading byte names; `DecryptionError` if none."""
    if not wrapped or wrapped[0] not in _FORMATS:
        raise DecryptionError()
    return _FORMATS[wrapped[0]]


def check_recipient(public: bytes) -> str:
    """The algorithm of a requester's public key: raw X25519 or RSA-3072 SPKI DER.
    `InvalidRequestError` for anything else (a low-order X25519 point, another RSA size)."""
    try:
        if len(public) == keywrap.POINT_BYTES:
            keywrap.x25519_shared(os.urandom(32), public)
            return X25519
        rsa_keywrap.load_public(public)
        return RSA
    except FieldError:
        raise InvalidRequestError(
            "recipient_public_key is not a usable X25519 or RSA-OAEP-3072 (SPKI DER) key"
        ) from None


@dataclass(frozen=True)
class RequestView:
    """Where a recovery request stands (no subjects, no key material)."""

    id: str
    deposit_id: str
    app: str
    key_id: str
    key_version: int
    status: str
    approvals: int
    threshold: int


def _check_app(app: str) -> str:
    if not isinstance(app, str) or not _APP.fullmatch(app):
        raise InvalidRequestError("app must be 1-128 characters of A-Z a-z 0-9 . _ -")
    return app


def _check_id(value: str, what: str) -> str:
    if not _ID.fullmatch(value):
        raise NotFoundError(f"no such {what}")
    return value


class EscrowService:
    """Escrow operations of one server; each public method is one audited action."""

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

    def threshold(self, app: str) -> int:
        """M for ``app``: its own setting, or the default (2)."""
        return self.settings.escrow_approvals_per_app.get(app, self.settings.escrow_approvals)

    def algorithm(self, app: str) -> str:
        """The escrow key algorithm of ``app``: its own setting, or x25519."""
        return self.settings.escrow_algorithms_per_app.get(app, X25519)

    def _private(self, app: str, version: int) -> bytes:
        material = self.keyring().get(PURPOSE, version).material
        return hkdf_sha256(material, info=_INFO + app.encode("ascii"))

    def _unwrap(self, session: Session, app: str, version: int, wrapped: bytes,
                context: bytes) -> bytes:  # fmt: skip
        """Unwrap a deposit with the app's key of its own format; `DecryptionError` else."""
        if _format(wrapped) == X25519:
            return keywrap.unwrap(self._private(app, version), wrapped, context)
        if rsa_keywrap.key_version(wrapped) != version:
            raise DecryptionError()
        private = rsa_keys.private_key(session, self.keyring(), app, version)
        return rsa_keywrap.unwrap(private, wrapped, context)

    def public_key(self, call: Call, app: str) -> PublicKey:
        """The app's current escrow public key, its algorithm and version. An RSA app's key
        pair for the current keyring version is made on first use (hence a write)."""
        _check_app(app)
        algorithm = self.algorithm(app)
        with self.recorder.action(
            call.request_id, call.actor, "escrow.public_key.read", f"escrow/apps/{app}",
            writes=algorithm == RSA,
        ) as tx:  # fmt: skip
            version = self.keyring().current(PURPOSE).version
            if algorithm == RSA:
                public = rsa_keys.public_key(
                    tx.session, self.keyring(), app, version, self.clock.now_us()
                )
                tx.detail = {"algorithm": algorithm, "version": version}
                return PublicKey(app, version, algorithm, public)
            public = keywrap.public_key(self._private(app, version))
            return PublicKey(app, version, algorithm, public)

    def deposit(
        self,
        call: Call,
        owner: str,
        *,
        app: str,
        key_id: str,
        key_version: int,
        escrow_version: int,
        wrapped: bytes,
    ) -> str:
        """Store a wrapped data key for ``owner``; its id. `InvalidRequestError` if it does
        not unwrap under the app's escrow key for this app, key id and version."""
        _check_app(app)
        if not _KEY_ID.fullmatch(key_id) or not 0 <= key_version < 2**32:
            raise InvalidRequestError("key_id or key_version is not a valid field key name")
        with self.recorder.action(
            call.request_id, call.actor, "escrow.deposit", f"escrow/apps/{app}"
        ) as tx:
            algorithm = self.algorithm(app)
            try:
                if _format(wrapped) != algorithm:
                    raise InvalidRequestError(f"this app's escrow keys are {algorithm}")
            except DecryptionError:
                raise InvalidRequestError("wrapped is not a wrapped key") from None
            try:
                context = keywrap.escrow_context(app, key_id, key_version)
                self._unwrap(tx.session, app, escrow_version, wrapped, context)
            except (DecryptionError, NotFoundError):
                raise InvalidRequestError(
                    "the wrapped key does not open under this app's escrow key, key id and version"
                ) from None
            deposit_id = secrets.token_hex(16)
            repo.add(
                tx.session,
                EscrowDeposit(
                    id=deposit_id, app=app, key_id=key_id, key_version=key_version, owner=owner,
                    escrow_version=escrow_version, wrapped=wrapped, created_us=self.clock.now_us(),
                ),
            )  # fmt: skip
            tx.resource = f"escrow/deposits/{deposit_id}"
            tx.detail = {
                "app": app, "key_id": key_id, "key_version": key_version, "algorithm": algorithm,
            }  # fmt: skip
            return deposit_id

    def request(self, call: Call, requester: str, deposit_id: str, recipient: bytes) -> RequestView:
        """Open a recovery request for the requester's own deposit."""
        _check_id(deposit_id, "deposit")
        recipient_algorithm = check_recipient(recipient)
        with self.recorder.action(
            call.request_id, call.actor, "escrow.request", f"escrow/deposits/{deposit_id}"
        ) as tx:
            deposit = repo.deposit(tx.session, deposit_id)
            if deposit is None or deposit.owner != requester:
                raise NotFoundError("no such deposit of yours")
            row = EscrowRequest(
                id=secrets.token_hex(16), deposit_id=deposit_id, requester=requester,
                recipient_public=recipient, threshold=self.threshold(deposit.app),
                status="pending", created_us=self.clock.now_us(), released_us=None,
            )  # fmt: skip
            repo.add(tx.session, row)
            tx.resource = f"escrow/requests/{row.id}"
            tx.detail = {
                "deposit": deposit_id, "threshold": row.threshold,
                "recipient_algorithm": recipient_algorithm,
            }  # fmt: skip
            return RequestView(
                row.id, deposit_id, deposit.app, deposit.key_id, deposit.key_version,
                row.status, 0, row.threshold,
            )  # fmt: skip

    def decide(self, call: Call, approver: str, request_id: str, *, approve: bool) -> RequestView:
        """Record an approver's approval or denial; never the requester's, once each."""
        _check_id(request_id, "request")
        action = "escrow.approve" if approve else "escrow.deny"
        with self.recorder.action(
            call.request_id, call.actor, action, f"escrow/requests/{request_id}"
        ) as tx:
            row = repo.request(tx.session, request_id, lock=True)
            if row is None:
                raise NotFoundError("no such request")
            if row.requester == approver:
                raise ForbiddenError("the requester cannot decide their own request")
            if row.status != "pending":
                raise ConflictError(f"the request is {row.status}")
            if any(d.approver == approver for d in repo.decisions(tx.session, request_id)):
                raise ConflictError("you have already decided this request")
            try:
                repo.add(
                    tx.session,
                    EscrowDecision(
                        request_id=request_id, approver=approver,
                        decision="approve" if approve else "deny", created_us=self.clock.now_us(),
                    ),
                )  # fmt: skip
            except IntegrityError:
                raise ConflictError("you have already decided this request") from None
            if not approve:
                row.status = "denied"
            view = self._view(tx.session, row)
            tx.detail = {"approvals": view.approvals, "threshold": view.threshold}
            return view

    def status(self, call: Call, request_id: str) -> RequestView:
        """Where a request stands."""
        _check_id(request_id, "request")
        with self.recorder.action(
            call.request_id, call.actor, "escrow.status.read", f"escrow/requests/{request_id}",
            writes=False,
        ) as tx:  # fmt: skip
            row = repo.request(tx.session, request_id)
            if row is None:
                raise NotFoundError("no such request")
            return self._view(tx.session, row)

    def release(self, call: Call, requester: str, request_id: str) -> tuple[RequestView, bytes]:
        """The data key wrapped to the request's recipient key, once M approved; only to
        the requester, only once."""
        _check_id(request_id, "request")
        with self.recorder.action(
            call.request_id, call.actor, "escrow.release", f"escrow/requests/{request_id}"
        ) as tx:
            row = repo.request(tx.session, request_id, lock=True)
            if row is None or row.requester != requester:
                raise NotFoundError("no such request of yours")
            view = self._view(tx.session, row)
            if row.status != "pending":
                raise ConflictError(f"the request is {row.status}")
            if view.approvals < row.threshold:
                raise ForbiddenError(
                    f"the request has {view.approvals} of the {row.threshold} approvals it needs"
                )
            deposit = repo.deposit(tx.session, row.deposit_id)
            if deposit is None:
                raise NotFoundError("no such deposit")
            context = keywrap.escrow_context(deposit.app, deposit.key_id, deposit.key_version)
            data_key = self._unwrap(
                tx.session, deposit.app, deposit.escrow_version, deposit.wrapped, context
            )
            if check_recipient(row.recipient_public) == X25519:
                rewrapped = keywrap.wrap(row.recipient_public, data_key, context)
            else:
                rewrapped = rsa_keywrap.wrap(row.recipient_public, data_key, context, version=0)
            row.status = "released"
            row.released_us = self.clock.now_us()
            tx.detail = {"approvals": view.approvals, "threshold": row.threshold}
            return self._view(tx.session, row), rewrapped

    def _view(self, session: Session, row: EscrowRequest) -> RequestView:
        deposit = repo.deposit(session, row.deposit_id)
        if deposit is None:
            raise NotFoundError("no such deposit")
        approvals = sum(1 for d in repo.decisions(session, row.id) if d.decision == "approve")
        return RequestView(
            row.id, row.deposit_id, deposit.app, deposit.key_id, deposit.key_version,
            row.status, approvals, row.threshold,
        )  # fmt: skip
