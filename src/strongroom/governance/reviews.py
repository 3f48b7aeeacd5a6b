"""Reviews: a reviewer who is not the app's owner approves or denies a pending submission.

Approval signs the manifest (DSSE, ``manifest-signing`` key) and makes it the app's
current approved manifest; denial closes the submission. Both need a reason, and each
call appends exactly one audit event, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.clock import Clock
from strongroom.errors import ConflictError, InvalidRequestError, NotFoundError
from strongroom.governance.submissions import (
    SubmissionView,
    install_approval,
    reviewable,
    view,
)
from strongroom.kms.keyring import Keyring
from strongroom.store.engine import Database
from strongroom.store.repositories import governance as repo

MAX_REASON = 1000
STATUSES = ("pending", "approved", "denied", "rejected", "superseded")


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text or len(text) > MAX_REASON or any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise InvalidRequestError(f"a reason of 1 to {MAX_REASON} printable characters is required")
    return text


class Reviews:
    """The reviewer's side of governance."""

    def __init__(
        self,
        database: Database,
        recorder: Recorder,
        clock: Clock,
        keyring: Callable[[], Keyring],
        changed: Callable[[str], None] | None = None,
    ) -> None:
        """``changed(app)`` is called once a decision on one of the app's submissions has
        committed (it drops cached approved scopes); a failed decision changes nothing."""
        self.db = database
        self.recorder = recorder
        self.clock = clock
        self.keyring = keyring
        self._changed = changed

    def list(self, call: Call, status: str = "pending", limit: int = 100) -> list[SubmissionView]:
        """Submissions in a status, newest first."""
        if status not in STATUSES:
            raise InvalidRequestError("status must be one of: " + ", ".join(STATUSES))
        with self.recorder.action(
            call.request_id, call.actor, "reviews.list", "reviews", writes=False
        ) as tx:
            return [view(r) for r in repo.submissions(tx.session, status=status, limit=limit)]

    def approve(self, call: Call, reviewer: str, ident: str, reason: str) -> SubmissionView:
        """Approve and sign a pending submission. `ForbiddenError` for the owner or
        submitter, `ConflictError` if it is not pending, `NotFoundError` if unknown."""
        return self._decide(call, reviewer, ident, reason, approve=True)

    def deny(self, call: Call, reviewer: str, ident: str, reason: str) -> SubmissionView:
        """Deny a pending submission, with the same checks as `approve`."""
        return self._decide(call, reviewer, ident, reason, approve=False)

    def _decide(
        self, call: Call, reviewer: str, ident: str, reason: str, *, approve: bool
    ) -> SubmissionView:
        decided = self._decide_in(call, reviewer, ident, reason, approve)
        if self._changed is not None:
            self._changed(decided.app)
        return decided

    def _decide_in(
        self,
        call: Call,
        reviewer: str,
        ident: str,
        reason: str,
        approve: bool,
    ) -> SubmissionView:
        action = "reviews.approve" if approve else "reviews.deny"
        with self.recorder.action(call.request_id, call.actor, action, f"reviews/{ident}") as tx:
            text = _reason(reason)
            row = repo.submission(tx.session, ident, for_update=True)
            if row is None:
                raise NotFoundError("no such submission")
            app = repo.app(tx.session, row.app)
            if app is None:
                raise NotFoundError("no such app")
            reviewable(row, reviewer, app.owner_subject)
            if row.status != "pending":
                raise ConflictError(f"the submission is {row.status}, not pending")
            if approve:
                install_approval(tx.session, self.keyring(), self.clock, row, call.actor, text)
            else:
                row.status = "denied"
                row.decided_us = self.clock.now_us()
                row.reviewer = call.actor
                row.reason = text
            tx.detail.update({"app": row.app, "status": row.status, "reason": text})
            return view(row)
