"""Submissions and reviews on a real node (SQLite and PostgreSQL), audited end to end."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa
from manifests import GOOD, PLAIN_EMAIL, PLAIN_EMAIL_LINE, PUBLIC
from support import Ready

from strongroom.call import Call
from strongroom.crypto import dsse
from strongroom.errors import (
    ConflictError,
    EnvelopeError,
    ForbiddenError,
    InvalidRequestError,
    ValidationFailedError,
)
from strongroom.governance import signing
from strongroom.governance.manifest import ManifestError

OWNER = "alice@example.com"
REVIEWER = "rita@example.com"


def events(ready: Ready, prefix: str) -> list[dict[str, object]]:
    with ready.node.db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT action, outcome, resource, detail FROM audit_events ORDER BY seq")
        ).all()
    return [
        {"action": r[0], "outcome": r[1], "resource": r[2], "detail": json.loads(r[3])}
        for r in rows
        if str(r[0]).startswith(prefix)
    ]


def submit(ready: Ready, text: str, subject: str = OWNER, findings: object = ()) -> dict:
    got = ready.node.submissions.submit(
        Call("t-submit", subject),
        subject,
        text,
        list(findings),  # type: ignore[call-overload]
    )
    return got.as_json()


def test_plain_email_is_rejected_with_located_message(ready: Ready) -> None:
    result = submit(ready, PLAIN_EMAIL)
    assert result["status"] == "rejected"
    [deny] = result["decision"]["deny"]
    assert deny["field"] == "fields[0].protection" and deny["line"] == PLAIN_EMAIL_LINE
    assert ready.node.submissions.approved_scopes("crm-helper") == frozenset()
    [event] = events(ready, "apps.submit")
    assert event["outcome"] == "success" and event["detail"]["status"] == "rejected"


def test_public_app_is_approved_by_policy_and_signed(ready: Ready) -> None:
    result = submit(ready, PUBLIC, subject="bob@example.com")
    assert result["status"] == "approved" and result["reviewer"] == "policy"
    assert ready.node.submissions.approved_scopes("lunch-menu") == frozenset({"mock:read:menu"})


def test_sensitive_app_waits_for_a_reviewer_who_is_not_the_owner(ready: Ready) -> None:
    pending = submit(ready, GOOD)
    assert pending["status"] == "pending"
    assert "field email holds pii.email" in pending["decision"]["review"]
    assert ready.node.submissions.approved_scopes("crm-helper") == frozenset()
    ident = pending["id"]
    reviews = ready.node.reviews
    listed = reviews.list(Call("t-list", REVIEWER))
    assert [s.id for s in listed] == [ident]

    with pytest.raises(ForbiddenError):
        reviews.approve(Call("t-self", OWNER), OWNER, ident, "looks fine to me")
    with pytest.raises(InvalidRequestError):
        reviews.approve(Call("t-noreason", REVIEWER), REVIEWER, ident, "   ")
    assert ready.node.submissions.approved_scopes("crm-helper") == frozenset()

    approved = reviews.approve(Call("t-ok", "rita-actor"), REVIEWER, ident, "fields encrypted")
    assert approved.status == "approved" and approved.reason == "fields encrypted"
    assert ready.node.submissions.approved_scopes("crm-helper") == frozenset(
        {"data:read:pii.email", "secrets:read:crm-helper/hubspot"}
    )
    with pytest.raises(ConflictError):
        reviews.deny(Call("t-again", REVIEWER), REVIEWER, ident, "changed my mind")

    # The envelope verifies offline with the published key alone.
    envelope = dsse.Envelope.from_json(approved.envelope)
    [published] = ready.node.submissions.signing_keys()
    key = signing.load_public_key(published["pem"].encode())
    signed = signing.verify(envelope, {published["keyid"]: key})
    assert signed["approved_by"] == "rita-actor" and signed["submission"] == ident

    decided = events(ready, "reviews.")
    assert [(e["action"], e["outcome"]) for e in decided] == [
        ("reviews.list", "success"),
        ("reviews.approve", "denied"),
        ("reviews.approve", "error"),
        ("reviews.approve", "success"),
        ("reviews.deny", "error"),
    ]
    assert decided[3]["detail"]["reason"] == "fields encrypted"


def test_a_change_needs_a_new_submission_and_old_approval_stays(ready: Ready) -> None:
    first = submit(ready, GOOD)
    ready.node.reviews.approve(Call("r1", REVIEWER), REVIEWER, first["id"], "ok")
    wider = GOOD.replace(
        "  - secrets:read:crm-helper/hubspot\n",
        "  - secrets:read:crm-helper/hubspot\n  - data:read:pii.name\n",
    )
    second = submit(ready, wider)
    assert second["status"] == "pending"
    scopes = ready.node.submissions.approved_scopes("crm-helper")
    assert "data:read:pii.name" not in scopes and "data:read:pii.email" in scopes
    third = submit(ready, wider)
    assert ready.node.submissions.submission(Call("x"), second["id"]).status == "superseded"
    ready.node.reviews.deny(Call("r2", REVIEWER), REVIEWER, third["id"], "not needed")
    assert "data:read:pii.name" not in ready.node.submissions.approved_scopes("crm-helper")


def test_someone_else_cannot_submit_for_an_owned_app(ready: Ready) -> None:
    submit(ready, PUBLIC, subject="bob@example.com")
    with pytest.raises(ForbiddenError):
        submit(ready, PUBLIC, subject="mallory@example.com")
    app = ready.node.submissions.app(Call("x"), "lunch-menu")
    assert len(app.submissions) == 1


def test_bad_manifest_and_findings_store_nothing_and_are_audited(ready: Ready) -> None:
    with pytest.raises(ManifestError):
        submit(ready, GOOD.replace("region: eu", "regoin: eu"))
    with pytest.raises(ValidationFailedError):
        submit(ready, GOOD, findings=[{"scanner": "x"}])
    with ready.node.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM gov_submissions")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM gov_apps")).scalar() == 0
    assert [(e["outcome"], e["detail"]["error"]) for e in events(ready, "apps.submit")] == [
        ("error", "invalid-manifest"),
        ("error", "validation-failed"),
    ]


def test_tampered_approval_yields_no_scopes(ready: Ready) -> None:
    result = submit(ready, PUBLIC, subject="bob@example.com")
    envelope = result["envelope"]
    body = base64.b64decode(envelope["payload"]).replace(b"mock:read", b"data:read")
    assert b"data:read:menu" in body
    forged = dict(envelope, payload=base64.b64encode(body).decode())
    with ready.node.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE gov_submissions SET envelope = :e WHERE id = :i"),
            {"e": json.dumps(forged), "i": result["id"]},
        )
    with pytest.raises(EnvelopeError):
        ready.node.submissions.approved_scopes("lunch-menu")


def test_rotated_signing_key_still_verifies_old_approvals(ready: Ready) -> None:
    submit(ready, PUBLIC, subject="bob@example.com")
    ready.node.rotate_key(Call("rot"), "manifest-signing")
    assert ready.node.submissions.approved_scopes("lunch-menu") == frozenset({"mock:read:menu"})
    assert [k["keyid"] for k in ready.node.submissions.signing_keys()] == [
        "manifest-signing/v2",
        "manifest-signing/v1",
    ]
