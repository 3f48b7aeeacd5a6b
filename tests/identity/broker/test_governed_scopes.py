"""Token exchange takes an app's approved scopes from its signed manifest (issue 8, part 4).

An app governance has never seen gets the operator's configured scopes; once it submits a
manifest, only the scopes of its current approved, signed manifest can appear in its
tokens: none while a submission waits for review, exactly the manifest's once approved.
"""

from __future__ import annotations

from identity.broker.brokerkit import Kit
from identity.broker.test_exchange import claims_of, refused
from strongroom.call import Call

OWNER = "bob@example.com"

PREVIEW = """\
apiVersion: strongroom/v1
name: crm
owner: bob@example.com
environment: preview
region: eu
scopes:
  - sys:read
fields:
  - name: dish
    data_class: public.menu
    protection: none
"""

SENSITIVE = """\
apiVersion: strongroom/v1
name: crm
owner: bob@example.com
environment: production
region: eu
sso:
  enabled: true
scopes:
  - sys:read
fields:
  - name: email
    resource: customers
    data_class: pii.email
    protection: encrypt-client
retention:
  pii.email: 365
"""


def _submit(kit: Kit, text: str) -> str:
    got = kit.node.submissions.submit(Call("t-submit", OWNER), OWNER, text, [])
    return str(got.as_json()["status"])


def test_configured_scopes_apply_until_governance_knows_the_app(kit: Kit) -> None:
    resp = kit.exchange(kit.mint("sys:read", "audit:read"), scope="audit:read")
    assert resp.status_code == 200, resp.text


def test_an_approved_manifest_is_the_only_source_of_scopes(kit: Kit) -> None:
    assert _submit(kit, PREVIEW) == "approved"
    subject = kit.mint("sys:read", "audit:read")
    resp = kit.exchange(subject, scope="sys:read")
    assert resp.status_code == 200, resp.text
    assert claims_of(resp.json()["access_token"])["scope"] == "sys:read"
    # audit:* is in the operator's configuration for crm, but not in its signed manifest.
    refused(kit.exchange(subject, scope="audit:read"), "invalid_scope")
    refused(kit.exchange(subject, scope="sys:read audit:read"), "invalid_scope")


def test_a_manifest_waiting_for_review_grants_nothing(kit: Kit) -> None:
    assert _submit(kit, SENSITIVE) == "pending"
    refused(kit.exchange(kit.mint("sys:read"), scope="sys:read"), "invalid_scope")
