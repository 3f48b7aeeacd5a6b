"""The caches on the exchange path never outlive what they promise (docs/tokens.md).

- A subject token revoked after it was exchanged cannot be exchanged again: at once on
  the node that revoked it, within ``revocation_refresh_seconds`` on another replica.
- An app's approved scopes (from its signed manifest) are cached per app: a new
  submission, an approval or a denial on this node applies to the next exchange; on
  another replica within ``revocation_refresh_seconds``.
- A tampered signed manifest grants nothing, even with a warm cache: its scopes never
  appear, and once the row is re-read the app gets no scope at all.
- An exchange whose HTTP caller goes away still has its one audit event, also when it was
  cancelled on the event loop while its token waited to be signed with the others.
- Warm exchanges signed together on the loop each get their own token and event; a
  refusal among them changes nothing for the others.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from identity.broker.brokerkit import AT, GRANT, Kit
from identity.broker.test_exchange import claims_of, refused
from identity.broker.test_governed_scopes import OWNER, PREVIEW, SENSITIVE
from strongroom.call import Call
from strongroom.errors import StrongroomError
from strongroom.identity.clients import ClientCredentials

REVIEWER = "rita@example.com"
#: The tests' ``revocation_refresh_seconds`` (0.5) plus a margin for one re-read.
BOUND = 0.8


def _submit(kit: Kit, text: str) -> dict[str, object]:
    return kit.node.submissions.submit(Call("t-submit", OWNER), OWNER, text, []).as_json()


def _granted(resp: object, scope: str) -> None:
    assert getattr(resp, "status_code", None) == 200, getattr(resp, "text", resp)
    assert claims_of(resp.json()["access_token"])["scope"] == scope  # type: ignore[attr-defined]


def test_a_revoked_subject_cannot_be_exchanged_again(make_kit: Callable[..., Kit]) -> None:
    here, there = make_kit(), make_kit()
    subject = here.mint("sys:read", "audit:read")
    # Warm every cache on both replicas with this very subject token.
    _granted(here.exchange(subject, scope="sys:read"), "sys:read")
    _granted(there.exchange(subject, scope="sys:read"), "sys:read")
    here.node.broker.revoke_ids(Call("t-revoke", "root"), [claims_of(subject)["jti"]])
    refused(here.exchange(subject, scope="sys:read"), "invalid_request")
    time.sleep(BOUND)
    refused(there.exchange(subject, scope="sys:read"), "invalid_request")
    # Another subject of the same user is unaffected: the revocation is by token.
    _granted(there.exchange(here.mint("sys:read"), scope="sys:read"), "sys:read")


def test_a_killed_user_cannot_exchange_a_token_issued_before(kit: Kit) -> None:
    subject = kit.mint("sys:read", subject="carol")
    _granted(kit.exchange(subject, scope="sys:read"), "sys:read")
    time.sleep(1.1)  # epochs have one-second granularity
    kit.node.broker.kill(Call("t-kill", "root"), "user", "carol")
    refused(kit.exchange(subject, scope="sys:read"), "invalid_request")


def test_submission_and_approval_change_scopes_here_at_once_and_there_within_the_bound(
    make_kit: Callable[..., Kit],
) -> None:
    here, there = make_kit(), make_kit()
    subject = here.mint("sys:read", "audit:read")
    # Not governed yet: the operator's configuration applies (and is now cached).
    _granted(here.exchange(subject, scope="audit:read"), "audit:read")
    _granted(there.exchange(subject, scope="audit:read"), "audit:read")

    pending = _submit(here, SENSITIVE)
    assert pending["status"] == "pending"
    refused(here.exchange(subject, scope="audit:read"), "invalid_scope")
    refused(here.exchange(subject, scope="sys:read"), "invalid_scope")
    time.sleep(BOUND)
    refused(there.exchange(subject, scope="audit:read"), "invalid_scope")
    refused(there.exchange(subject, scope="sys:read"), "invalid_scope")

    here.node.reviews.approve(Call("t-approve", REVIEWER), REVIEWER, str(pending["id"]), "ok")
    _granted(here.exchange(subject, scope="sys:read"), "sys:read")
    time.sleep(BOUND)
    _granted(there.exchange(subject, scope="sys:read"), "sys:read")
    refused(there.exchange(subject, scope="audit:read"), "invalid_scope")


def test_a_denial_leaves_the_approved_scopes_and_grants_nothing_new(
    make_kit: Callable[..., Kit],
) -> None:
    here, there = make_kit(), make_kit()
    subject = here.mint("sys:read", "audit:read")
    _granted(there.exchange(subject, scope="audit:read"), "audit:read")  # warm, configured
    pending = _submit(here, SENSITIVE)
    refused(here.exchange(subject, scope="sys:read"), "invalid_scope")
    # The reviewer denies on the other replica: its cache is dropped at once there.
    there.node.reviews.deny(Call("t-deny", REVIEWER), REVIEWER, str(pending["id"]), "no")
    refused(there.exchange(subject, scope="sys:read"), "invalid_scope")
    # A new, approved manifest lands on the other replica: seen here within the bound.
    assert _submit(there, PREVIEW)["status"] == "approved"
    _granted(there.exchange(subject, scope="sys:read"), "sys:read")
    time.sleep(BOUND)
    _granted(here.exchange(subject, scope="sys:read"), "sys:read")


def _tamper(kit: Kit, submission: str) -> None:
    with kit.node.db.engine.begin() as conn:
        text = conn.execute(
            sa.text("SELECT envelope FROM gov_submissions WHERE id = :i"), {"i": submission}
        ).scalar_one()
        envelope = json.loads(text)
        body = base64.b64decode(envelope["payload"])
        assert b'"sys:read"' in body
        forged = body.replace(b'"sys:read"', b'"audit:read"')
        envelope["payload"] = base64.b64encode(forged).decode()
        conn.execute(
            sa.text("UPDATE gov_submissions SET envelope = :e WHERE id = :i"),
            {"e": json.dumps(envelope), "i": submission},
        )


def test_a_tampered_manifest_grants_nothing_even_with_a_warm_cache(kit: Kit) -> None:
    approved = _submit(kit, PREVIEW)
    assert approved["status"] == "approved"
    subject = kit.mint("sys:read", "audit:read")
    _granted(kit.exchange(subject, scope="sys:read"), "sys:read")  # the cache is warm
    _tamper(kit, str(approved["id"]))
    # Within the bound the cache serves only what verified: never the forged scope.
    refused(kit.exchange(subject, scope="audit:read"), "invalid_scope")
    time.sleep(BOUND)
    # Re-read: the envelope changed, is verified again, fails: no scope at all.
    for scope in ("audit:read", "sys:read"):
        resp = kit.exchange(subject, scope=scope)
        assert resp.status_code != 200
        assert "access_token" not in resp.text
    # Still nothing on the next call (a failed verification is never cached as scopes).
    assert kit.exchange(subject, scope="sys:read").status_code != 200
    outcomes = [e["outcome"] for e in kit.events("oauth.token.exchange")]
    assert outcomes.count("success") == 1


def test_a_cancelled_exchange_is_still_audited(kit: Kit) -> None:
    subject = kit.mint("sys:read")
    form = {
        "grant_type": [GRANT],
        "subject_token": [subject],
        "subject_token_type": [AT],
        "scope": ["sys:read"],
    }
    creds = ClientCredentials(basic=("crm", kit.secrets["crm"]))

    async def cancel_midway() -> None:
        task = asyncio.ensure_future(
            kit.node.broker.exchange_async(Call("t-cancel", "anonymous"), form, creds, None)
        )
        await asyncio.sleep(0)  # the work has been handed to its thread
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(500):
            if kit.events("oauth.token.exchange"):
                return
            await asyncio.sleep(0.01)

    asyncio.run(cancel_midway())
    events = kit.events("oauth.token.exchange")
    assert [(e["actor"], e["outcome"]) for e in events] == [("client:crm", "success")]
    assert events[0]["detail"]["parent"] == claims_of(subject)["jti"]
    assert subject not in kit.trail_text()


def test_warm_exchanges_run_on_the_loop_and_anything_needing_a_store_does_not(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once its client, revocation snapshot and approved scopes are in memory, an exchange
    runs on the event loop (no thread hop); a cold cache, a DPoP proof or a token type
    that may need its provider goes to a worker thread, so the loop never waits on I/O."""
    import threading

    broker = kit.node.broker
    where: list[str] = []
    stage = broker._stage  # the checks, wherever they run (signing follows them there)

    def watched(*args: object, **kwargs: object) -> object:
        where.append("loop" if threading.current_thread() is threading.main_thread() else "thread")
        return stage(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(broker, "_stage", watched)
    subject = kit.mint("sys:read")
    creds = ClientCredentials(basic=("crm", kit.secrets["crm"]))

    def form(**extra: str) -> dict[str, list[str]]:
        base = {"grant_type": GRANT, "subject_token": subject, "subject_token_type": AT}
        return {k: [v] for k, v in {**base, "scope": "sys:read", **extra}.items()}

    async def run(given: dict[str, list[str]], proof: str | None = None) -> object:
        return await broker.exchange_async(Call("t-warm", "anonymous"), given, creds, proof)

    first = asyncio.run(run(form()))  # cold: the client and the scopes are loaded
    second = asyncio.run(run(form()))  # warm
    assert where == ["thread", "loop"]
    for done in (first, second):
        assert claims_of(done.issued.access_token)["scope"] == "sys:read"  # type: ignore[attr-defined]
    # A bad proof and an unsupported subject type are refused, off the loop.
    with pytest.raises(StrongroomError):
        asyncio.run(run(form(), proof="not-a-proof"))
    with pytest.raises(StrongroomError):
        asyncio.run(run(form(subject_token_type="urn:ietf:params:oauth:token-type:id_token")))
    assert where[2:] == ["thread", "thread"]
    monkeypatch.setattr(broker.revocations, "refresh_seconds", 0.0)  # snapshot always due
    asyncio.run(run(form()))
    assert where[4:] == ["thread"]
    outcomes = [e["outcome"] for e in kit.events("oauth.token.exchange")]
    assert outcomes == ["success", "success", "denied", "denied", "success"]


def _form(subject: str, scope: str = "sys:read") -> dict[str, list[str]]:
    return {
        "grant_type": [GRANT],
        "subject_token": [subject],
        "subject_token_type": [AT],
        "scope": [scope],
    }


@pytest.mark.parametrize("turns", [1, 2], ids=["before-signing", "after-signing"])
def test_an_exchange_cancelled_on_the_loop_is_still_audited(
    make_kit: Callable[..., Kit], turns: int
) -> None:
    # Caches fresh for longer than a loaded machine can take between the warm exchange
    # and the check that the next one runs on the loop.
    kit = make_kit(revocation_refresh_seconds=30)
    subject = kit.mint("sys:read")
    creds = ClientCredentials(basic=("crm", kit.secrets["crm"]))
    broker = kit.node.broker

    async def warm_then_cancel() -> None:
        await broker.exchange_async(Call("t-warm", "anonymous"), _form(subject), creds, None)
        assert broker._in_memory(_form(subject), creds, None)
        task = asyncio.ensure_future(
            broker.exchange_async(Call("t-cancel", "anonymous"), _form(subject), creds, None)
        )
        # One turn: checked on the loop, its token waiting to be signed; two: signed, its
        # caller not yet resumed.
        for _ in range(turns):
            await asyncio.sleep(0)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(500):
            if len(kit.events("oauth.token.exchange")) == 2:
                return
            await asyncio.sleep(0.01)

    asyncio.run(warm_then_cancel())
    events = kit.events("oauth.token.exchange")
    assert [e["outcome"] for e in events] == ["success", "success"]
    assert events[0]["detail"]["jti"] != events[1]["detail"]["jti"]


def test_exchanges_signed_together_each_get_their_own_token_and_event(kit: Kit) -> None:
    subjects = [kit.mint("sys:read", subject=f"user-{i}") for i in range(5)]
    creds = ClientCredentials(basic=("crm", kit.secrets["crm"]))
    broker = kit.node.broker

    async def together() -> list[object]:
        await broker.exchange_async(Call("t-warm", "anonymous"), _form(subjects[0]), creds, None)
        forms = [_form(s) for s in subjects] + [_form(subjects[1], scope="sys:write")]
        return await asyncio.gather(
            *(
                broker.exchange_async(Call(f"t-{i}", "anonymous"), form, creds, None)
                for i, form in enumerate(forms)
            ),
            return_exceptions=True,
        )

    done = asyncio.run(together())
    assert isinstance(done[-1], StrongroomError)  # sys:write is not approved: refused
    tokens = [d.issued.access_token for d in done[:-1]]  # type: ignore[attr-defined]
    assert [claims_of(t)["sub"] for t in tokens] == [f"user-{i}" for i in range(5)]
    for token in tokens:
        assert kit.node.tokens.verify(token).scopes == {"sys:read"}
    events = kit.events("oauth.token.exchange")[1:]  # after the warm-up's
    assert sorted(e["outcome"] for e in events) == ["denied"] + ["success"] * 5
    jtis = {e["detail"]["jti"] for e in events if e["outcome"] == "success"}
    assert jtis == {claims_of(t)["jti"] for t in tokens}


def test_an_exchange_staged_before_a_seal_is_not_signed_after_it(kit: Kit) -> None:
    from strongroom.errors import SealedError

    subject = kit.mint("sys:read")
    creds = ClientCredentials(basic=("crm", kit.secrets["crm"]))
    broker = kit.node.broker

    async def stage_then_seal() -> None:
        await broker.exchange_async(Call("t-warm", "anonymous"), _form(subject), creds, None)
        task = asyncio.ensure_future(
            broker.exchange_async(Call("t-seal", "anonymous"), _form(subject), creds, None)
        )
        await asyncio.sleep(0)  # checked on the loop; its token waits for the signing
        kit.node.seal(Call("t-seal", "root"))
        with pytest.raises(SealedError):
            await task

    asyncio.run(stage_then_seal())
    assert [e["outcome"] for e in kit.events("oauth.token.exchange")] == ["success"]
