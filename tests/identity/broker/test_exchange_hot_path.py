"""What the exchange's in-memory fast path remembers never outlives what it stands for.

- A client's registration is remembered for ``revocation_refresh_seconds``: deleting the
  client on this node refuses its next exchange at once, however warm the cache.
- Subjects are recorded as HMACs under the audit key in force: after the key rotates,
  the next event names the subject under the new key.
"""

from __future__ import annotations

from identity.broker.brokerkit import AT, GRANT, Kit
from identity.broker.test_exchange import refused
from strongroom.audit import identifiers
from strongroom.call import Call


def _ok(kit: Kit, subject: str) -> None:
    resp = kit.exchange(subject, scope="sys:read")
    assert resp.status_code == 200, resp.text


def test_a_deleted_client_is_refused_at_once_after_warm_exchanges(kit: Kit) -> None:
    parent = kit.mint("sys:read")
    for _ in range(3):
        _ok(kit, parent)
    assert kit.client.delete("/v1/oauth/clients/crm", headers=kit.auth()).status_code == 204
    refused(kit.exchange(parent, scope="sys:read"), "invalid_client", 401)
    # A wrong secret is refused from a warm cache as from a cold one.
    resp = kit.exchange(parent, "hr", headers=kit.basic("hr", "srcs_wrong"), scope="sys:read")
    refused(resp, "invalid_client", 401)


def test_subjects_are_recorded_under_the_audit_key_in_force(kit: Kit) -> None:
    subject = kit.mint("sys:read", subject="dora@example.com")
    _ok(kit, subject)
    _ok(kit, subject)
    kit.node.rotate_key(Call("t-rotate"), "audit-hmac")
    _ok(kit, subject)
    recorded = [e["detail"]["subject"] for e in kit.events("oauth.token.exchange")]
    keyring = kit.node.keyring()
    old, new = reversed(identifiers.candidates(keyring, "dora@example.com"))
    assert recorded == [old, old, new]
    assert new == identifiers.hide(keyring, "dora@example.com") != old
    assert "dora@example.com" not in kit.trail_text()


def test_the_exchanges_value_objects_keep_claims_and_keys_out_of_their_repr(kit: Kit) -> None:
    """`VerifiedSubject`, `Prepared` and the attempt are tuples (built per exchange); their
    ``repr`` (and so ``str``, and any log line naming them) leaves claims and keys out."""
    token = kit.mint("sys:read", subject="hot-path-user")
    verifier = kit.node.broker.subjects.get(AT)
    assert verifier is not None
    subject = verifier.verify(token)
    assert subject.claims["sub"] == "hot-path-user"
    assert "claims" not in repr(subject) and "sys:read" not in repr(subject)
    assert str(subject) == repr(subject)
    form = {
        "grant_type": [GRANT],
        "subject_token": [token],
        "subject_token_type": [AT],
        "scope": ["sys:read"],
    }
    prepared = kit.node.broker.exchanger.prepare(form, "crm", None)
    assert prepared.token.signing_input not in repr(prepared)
    assert "SigningKey" not in repr(prepared)
    exchanged = prepared.sign()
    assert exchanged.issued.access_token not in repr(exchanged)
