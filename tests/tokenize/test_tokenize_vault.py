"""The vault service against real databases: schemes, views, batches, bad input, lifecycle."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from tokenize_support import MovableClock, Vaulted

from strongroom.call import Call
from strongroom.config import load_settings
from strongroom.crypto import aead
from strongroom.errors import (
    BatchError,
    ConflictError,
    DecryptionError,
    FormatError,
    InvalidRequestError,
    InvalidTokenError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ShreddedError,
    TokenGoneError,
    WrongRegionError,
)
from strongroom.node import Node
from strongroom.store.engine import Database
from strongroom.store.models import AuditEvent, TokenKey, TokenValue
from strongroom.store.repositories import tokenize as repo
from strongroom.tokenize import keys
from strongroom.tokenize.engine import unseal, value_aad

CARD = "4242424242424242"
CANARY_EMAIL = "canary.zq81@example.com"


def everything(_: str) -> bool:
    return True


def nothing(_: str) -> bool:
    return False


def policy(v: Vaulted, name: str, app: str = "marketing", **fields: Any) -> None:
    fields.setdefault("region", "eu")
    v.node.vault.create_policy(v.call, app, {"name": name, **fields})


def count_values(database: Database) -> int:
    with database.transaction(read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(TokenValue)).scalar_one())


def events(v: Vaulted) -> list[AuditEvent]:
    with v.node.db.transaction(read_only=True) as session:
        return list(session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def plain(v: Vaulted, name: str, tokens: list[str], app: str = "marketing") -> list[str | None]:
    found = v.node.vault.detokenize(v.call, everything, app, name, tokens, "support ticket 12")
    return [r.value for r in found]


# -- schemes -------------------------------------------------------------------------------


def test_opaque_tokens_are_random_and_round_trip(vaulted: Vaulted) -> None:
    policy(vaulted, "notes", scheme="opaque", format="text")
    values = ["first note", "first note", "ünïcode ✓"]
    tokens = vaulted.node.vault.tokenize(vaulted.call, "marketing", "notes", values)
    assert len(set(tokens)) == 3
    assert all(t.startswith("tok_eu_") and len(t) == 39 for t in tokens)
    assert plain(vaulted, "notes", tokens) == values


def test_deterministic_tokens_join_across_calls(vaulted: Vaulted) -> None:
    policy(vaulted, "emails", scheme="opaque", format="email", deterministic=True)
    vault = vaulted.node.vault
    first = vault.tokenize(vaulted.call, "marketing", "emails", ["a@x.com", "b@x.com", "a@x.com"])
    second = vault.tokenize(vaulted.call, "marketing", "emails", ["b@x.com", "c@x.com"])
    assert first[0] == first[2] and first[1] == second[0]
    assert len({*first, *second}) == 3
    assert count_values(vaulted.eu_db()) == 3
    # Another deterministic policy gives other tokens for the same value (its own key).
    policy(vaulted, "emails2", scheme="opaque", format="email", deterministic=True)
    assert vault.tokenize(vaulted.call, "marketing", "emails2", ["a@x.com"])[0] != first[0]


@pytest.mark.parametrize("cipher", ["ff1", "ff3-1"])
@pytest.mark.parametrize("vaulted_fpe", [True, False])
def test_card_tokens_keep_shape_and_last_four(
    vaulted: Vaulted, cipher: str, vaulted_fpe: bool
) -> None:
    policy(
        vaulted,
        "cards",
        scheme="fpe",
        format="card",
        cipher=cipher,
        keep_last=4,
        vaulted=vaulted_fpe,
    )
    values = [CARD, "4000 0566 5566 5556", "5555-5555-5555-4444"]
    tokens = vaulted.node.vault.tokenize(vaulted.call, "marketing", "cards", values)
    for value, token in zip(values, tokens, strict=True):
        assert token != value and len(token) == len(value)
        assert token[-4:] == value[-4:]
        assert [c.isdigit() for c in token] == [c.isdigit() for c in value]
        assert [c for c in token if not c.isdigit()] == [c for c in value if not c.isdigit()]
    assert plain(vaulted, "cards", tokens) == values
    assert count_values(vaulted.eu_db()) == (3 if vaulted_fpe else 0)


def test_ssn_and_email_formats(vaulted: Vaulted) -> None:
    policy(vaulted, "ssn", scheme="fpe", format="ssn")
    policy(vaulted, "mail", scheme="fpe", format="email", vaulted=False)
    vault = vaulted.node.vault
    [ssn] = vault.tokenize(vaulted.call, "marketing", "ssn", ["123-45-6789"])
    assert len(ssn) == 11 and ssn[3] == ssn[6] == "-" and ssn != "123-45-6789"
    [mail] = vault.tokenize(vaulted.call, "marketing", "mail", ["Jane.Doe+news@example.com"])
    assert mail.endswith("@example.com") and mail[4] == "." and mail[8] == "+"
    assert mail != "Jane.Doe+news@example.com"
    assert plain(vaulted, "mail", [mail]) == ["Jane.Doe+news@example.com"]


def test_mask_policy_returns_masks_and_stores_nothing(vaulted: Vaulted) -> None:
    policy(vaulted, "shown", scheme="mask", format="card")
    masks = vaulted.node.vault.tokenize(vaulted.call, "marketing", "shown", [CARD])
    assert masks == ["****-****-****-4242"]
    assert count_values(vaulted.eu_db()) == 0
    with pytest.raises(InvalidRequestError, match="mask policy"):
        plain(vaulted, "shown", masks)


# -- views ---------------------------------------------------------------------------------


def test_views_follow_the_callers_scopes(vaulted: Vaulted) -> None:
    policy(vaulted, "cards", scheme="fpe", format="card", keep_last=4)
    policy(
        vaulted,
        "mail",
        scheme="opaque",
        format="email",
        default_view="redacted",
        views={"tokens:reveal:marketing/mail": "plain", "tokens:view:marketing/analysts": "masked"},
    )
    vault = vaulted.node.vault
    [card] = vault.tokenize(vaulted.call, "marketing", "cards", [CARD])
    [mail] = vault.tokenize(vaulted.call, "marketing", "mail", [CANARY_EMAIL])
    analyst = vault.detokenize(vaulted.call, nothing, "marketing", "cards", [card], "report")
    assert (analyst[0].view, analyst[0].value) == ("masked", "****-****-****-4242")
    owner = vault.detokenize(
        vaulted.call,
        lambda s: s == "tokens:reveal:marketing/cards",
        "marketing",
        "cards",
        [card],
        "refund",
    )
    assert (owner[0].view, owner[0].value) == ("plain", CARD)
    assert CARD not in repr(owner)
    hidden = vault.detokenize(vaulted.call, nothing, "marketing", "mail", [mail], "report")
    assert (hidden[0].view, hidden[0].value) == ("redacted", None)
    masked = vault.detokenize(
        vaulted.call,
        lambda s: s == "tokens:view:marketing/analysts",
        "marketing",
        "mail",
        [mail],
        "x",
    )
    assert masked[0].value == "c***@example.com"


# -- bad input -----------------------------------------------------------------------------


def test_a_bad_item_fails_the_batch_and_writes_nothing(vaulted: Vaulted) -> None:
    policy(vaulted, "cards", scheme="fpe", format="card", keep_last=4)
    policy(vaulted, "emails", scheme="opaque", format="email", deterministic=True)
    vault = vaulted.node.vault
    before = len(events(vaulted))
    with pytest.raises(BatchError) as info:
        vault.tokenize(
            vaulted.call, "marketing", "cards", [CARD, "4242-abcd-4242-4242", CARD, "42"]
        )
    errors = info.value.extra["errors"]
    assert [e["index"] for e in errors] == [1, 3]
    assert all(e["type"] == "urn:strongroom:problem:invalid-format" for e in errors)
    assert "4242" not in json.dumps(errors) and "abcd" not in info.value.detail
    with pytest.raises(BatchError):
        vault.tokenize(vaulted.call, "marketing", "emails", ["a@x.com", "not-an-email"])
    assert count_values(vaulted.eu_db()) == 0
    # One item alone raises its own error.
    with pytest.raises(FormatError, match="12 to 19 digits"):
        vault.tokenize(vaulted.call, "marketing", "cards", ["4242"])
    failed = events(vaulted)[before:]
    assert [e.outcome for e in failed] == ["error"] * 3


def test_too_short_for_the_fpe_domain(vaulted: Vaulted) -> None:
    policy(vaulted, "codes", scheme="fpe", format="digits")
    policy(vaulted, "mail", scheme="fpe", format="email")
    vault = vaulted.node.vault
    with pytest.raises(FormatError, match="at least 6 enciphered"):
        vault.tokenize(vaulted.call, "marketing", "codes", ["12345"])
    with pytest.raises(FormatError, match="at least 4 enciphered"):
        vault.tokenize(vaulted.call, "marketing", "mail", ["bob@example.com"])
    assert len(vault.tokenize(vaulted.call, "marketing", "codes", ["123456"])[0]) == 6
    with pytest.raises(InvalidRequestError, match="domain minimum"):
        policy(vaulted, "ssn4", scheme="fpe", format="ssn", keep_last=4)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"scheme": "opaque", "format": "card", "region": "mars"}, "unknown region"),
        ({"scheme": "rot13", "format": "card"}, "scheme"),
        ({"scheme": "fpe", "format": "text"}, "other than text"),
        ({"scheme": "fpe", "format": "custom"}, "alphabet"),
        ({"scheme": "fpe", "format": "custom", "alphabet": "aa"}, "distinct"),
        ({"scheme": "fpe", "format": "card", "deterministic": True}, "deterministic"),
        ({"scheme": "opaque", "format": "card", "vaulted": False}, "vaultless"),
        (
            {"scheme": "fpe", "format": "card", "vaulted": False, "retention_seconds": 3600},
            "retention",
        ),
        ({"scheme": "opaque", "format": "card", "views": {"x": "everything"}}, "views"),
        ({"scheme": "opaque", "format": "card", "views": {"analyst": "plain"}}, "valid scopes"),
        ({"scheme": "opaque", "format": "card", "colour": "red"}, "unknown policy fields"),
        ({"scheme": "opaque", "format": "card", "keep_last": "4"}, "wrong type"),
    ],
)
def test_bad_policies_are_refused(vaulted: Vaulted, fields: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        policy(vaulted, "bad", **fields)
    with pytest.raises(NotFoundError):
        vaulted.node.vault.get_policy(vaulted.call, "marketing", "bad")


def test_policy_names_are_unique_per_app(vaulted: Vaulted) -> None:
    policy(vaulted, "cards", scheme="opaque", format="card")
    with pytest.raises(ConflictError):
        policy(vaulted, "cards", scheme="opaque", format="card")
    policy(vaulted, "cards", app="billing", scheme="opaque", format="card")
    names = [p.name for p in vaulted.node.vault.list_policies(vaulted.call, "marketing")]
    assert names == ["cards"]


def test_foreign_forged_and_truncated_tokens(vaulted: Vaulted) -> None:
    policy(vaulted, "cards", scheme="opaque", format="card")
    policy(vaulted, "other", scheme="opaque", format="card")
    policy(vaulted, "cards", app="billing", scheme="opaque", format="card")
    policy(vaulted, "us-cards", scheme="opaque", format="card", region="us")
    vault = vaulted.node.vault
    [mine] = vault.tokenize(vaulted.call, "marketing", "cards", [CARD])
    [other] = vault.tokenize(vaulted.call, "marketing", "other", [CARD])
    [billing] = vault.tokenize(vaulted.call, "billing", "cards", [CARD])
    [us] = vault.tokenize(vaulted.call, "marketing", "us-cards", [CARD])
    flipped = mine[:-1] + ("A" if mine[-1] != "A" else "B")
    bad = [other, billing, mine[:-3], flipped, mine + "x", "", "tok_eu_" + "A" * 32, CARD]
    for token in bad:
        with pytest.raises(InvalidTokenError):
            plain(vaulted, "cards", [token])
    with pytest.raises(WrongRegionError):
        plain(vaulted, "cards", [us])
    with pytest.raises(BatchError) as info:
        plain(vaulted, "cards", [mine, us, flipped])
    assert [(e["index"], e["type"].rsplit(":", 1)[1]) for e in info.value.extra["errors"]] == [
        (1, "wrong-region"),
        (2, "invalid-token"),
    ]
    with pytest.raises(NotFoundError):
        plain(vaulted, "nope", [mine])
    assert plain(vaulted, "cards", [mine]) == [CARD]


def test_batch_limits(vaulted: Vaulted) -> None:
    policy(vaulted, "cards", scheme="opaque", format="card")
    vault = vaulted.node.vault
    with pytest.raises(PayloadTooLargeError):
        vault.tokenize(vaulted.call, "marketing", "cards", [CARD] * 2001)
    with pytest.raises(InvalidRequestError):
        vault.tokenize(vaulted.call, "marketing", "cards", [])
    with pytest.raises(InvalidRequestError, match="purpose"):
        vault.detokenize(vaulted.call, everything, "marketing", "cards", ["x"], "")
    assert len(vault.tokenize(vaulted.call, "marketing", "cards", [CARD] * 2000)) == 2000
    assert count_values(vaulted.eu_db()) == 2000


def test_idempotency_key_replays_the_first_answer(vaulted: Vaulted) -> None:
    policy(vaulted, "notes", scheme="opaque", format="text")
    vault = vaulted.node.vault
    first = vault.tokenize(vaulted.call, "marketing", "notes", ["a", "b"], idempotency_key="k-1")
    again = vault.tokenize(vaulted.call, "marketing", "notes", ["a", "b"], idempotency_key="k-1")
    assert first == again and count_values(vaulted.eu_db()) == 2
    with pytest.raises(ConflictError):
        vault.tokenize(vaulted.call, "marketing", "notes", ["a", "c"], idempotency_key="k-1")
    other = vault.tokenize(vaulted.call, "marketing", "notes", ["a", "b"], idempotency_key="k-2")
    assert set(other).isdisjoint(first)


def test_rate_limit_per_caller(vaulted: Vaulted) -> None:
    policy(vaulted, "notes", scheme="opaque", format="text")
    vault = vaulted.node.vault
    tokens = vault.tokenize(vaulted.call, "marketing", "notes", ["x"] * 2000)
    for _ in range(2):
        vault.detokenize(vaulted.call, everything, "marketing", "notes", tokens, "export")
    with pytest.raises(RateLimitedError) as info:
        vault.detokenize(vaulted.call, everything, "marketing", "notes", tokens, "export")
    assert info.value.extra["retry_after"] >= 1
    bob = Call("req-2", "bob")
    assert len(vault.detokenize(bob, everything, "marketing", "notes", tokens[:10], "export")) == 10


# -- audit ---------------------------------------------------------------------------------


def test_each_call_is_one_event_without_values_or_tokens(vaulted: Vaulted) -> None:
    policy(vaulted, "emails", scheme="opaque", format="email", deterministic=True)
    policy(vaulted, "cards", scheme="fpe", format="card", keep_last=4)
    vault = vaulted.node.vault
    before = len(events(vaulted))
    emails = [f"canary{i}.zq81@example.com" for i in range(50)]
    tokens = vault.tokenize(vaulted.call, "marketing", "emails", emails)
    [card] = vault.tokenize(vaulted.call, "marketing", "cards", [CARD])
    vault.detokenize(vaulted.call, nothing, "marketing", "emails", tokens, "campaign audit")
    vault.detokenize(vaulted.call, everything, "marketing", "cards", [card], "chargeback 7")
    with pytest.raises(InvalidTokenError):
        vault.detokenize(vaulted.call, everything, "marketing", "cards", ["1234"], "typo")
    new = events(vaulted)[before:]
    assert [e.action for e in new] == ["tokens.tokenize"] * 2 + ["tokens.detokenize"] * 3
    batch = json.loads(new[2].detail)
    assert batch["count"] == 50 and batch["purpose"] == "campaign audit"
    assert batch["view"] == "masked" and len(batch["refs"]) == 10
    assert all(r.startswith("hmac-sha256:") for r in batch["refs"])
    assert new[2].actor == "alice" and new[2].resource == "tokens/marketing/emails"
    dump = "".join(e.detail + e.resource + e.entry.decode("utf-8", "replace") for e in new)
    for secret in [*emails, *tokens, card, CARD, CARD[:12], "zq81"]:
        assert secret not in dump


# -- lifecycle -----------------------------------------------------------------------------


def test_erase_one_value_leaves_a_dangling_token(vaulted: Vaulted) -> None:
    policy(vaulted, "emails", scheme="opaque", format="email", deterministic=True)
    policy(vaulted, "cards", scheme="fpe", format="card", keep_last=4)
    policy(vaulted, "open", scheme="fpe", format="card", vaulted=False)
    vault = vaulted.node.vault
    a, b = vault.tokenize(vaulted.call, "marketing", "emails", ["a@x.com", "b@x.com"])
    [card] = vault.tokenize(vaulted.call, "marketing", "cards", [CARD])
    assert vault.erase(vaulted.call, "marketing", "emails", [a]) == 1
    assert vault.erase(vaulted.call, "marketing", "emails", [a]) == 0
    assert vault.erase(vaulted.call, "marketing", "cards", [card]) == 1
    for name, token in (("emails", a), ("cards", card)):
        with pytest.raises(TokenGoneError, match="erased"):
            plain(vaulted, name, [token])
    assert plain(vaulted, "emails", [b]) == ["b@x.com"]
    with vaulted.eu_db().transaction(read_only=True) as session:
        kept = (
            session.execute(select(TokenValue).where(TokenValue.state == "erased")).scalars().all()
        )
    assert len(kept) == 2 and all(r.sealed is None for r in kept)
    # Tokenizing the same value again (new consent, say) brings the same token back.
    [again] = vault.tokenize(vaulted.call, "marketing", "emails", ["a@x.com"])
    assert again == a and plain(vaulted, "emails", [a]) == ["a@x.com"]
    [card2] = vault.tokenize(vaulted.call, "marketing", "cards", [CARD])
    assert card2 == card and plain(vaulted, "cards", [card2]) == [CARD]
    with pytest.raises(InvalidRequestError, match="vaultless"):
        vault.erase(vaulted.call, "marketing", "open", ["4242424242424242"])
    with pytest.raises(InvalidTokenError):
        vault.erase(vaulted.call, "marketing", "emails", [a[:-2]])


def test_retention_purge(vaulted: Vaulted) -> None:
    policy(vaulted, "short", scheme="opaque", format="text", retention_seconds=60)
    policy(vaulted, "long", scheme="opaque", format="text", region="us")
    vault = vaulted.node.vault
    short = vault.tokenize(vaulted.call, "marketing", "short", ["x", "y"])
    long = vault.tokenize(vaulted.call, "marketing", "long", ["z"])
    assert not vault.purge_due()
    vaulted.clock.offset_us = 61_000_000
    assert vault.purge_due()
    with pytest.raises(BatchError):  # expired already reads as gone, before the purge
        plain(vaulted, "short", short)
    assert vault.purge(Call("purge", "system")) == 2
    assert vault.purge(Call("purge", "system")) == 0
    with pytest.raises(TokenGoneError, match="expired"):
        plain(vaulted, "short", short[:1])
    assert plain(vaulted, "long", long) == ["z"]


def _every_policy_key(v: Vaulted, database: Database) -> list[keys.PolicyKeys]:
    """Every policy key anyone holding the root key and this store could still unwrap."""
    keyring = v.node.keyring()
    keks = [k.material for k in keyring.versions(keys.PURPOSE)]
    with database.transaction(read_only=True) as session:
        rows = session.execute(select(TokenKey)).scalars().all()
    region_keys = []
    for row in rows:
        if row.kind == keys.REGION:
            for kek in keks:
                aad = keys._aad(keys.REGION, row.ident, row.ident, row.version)
                try:
                    region_keys.append(aead.decrypt(kek, row.wrapped, aad))
                except DecryptionError:
                    continue
    found = []
    for row in rows:
        if row.kind == keys.POLICY:
            for region_key in region_keys:
                for region in ("eu", "us"):
                    aad = keys._aad(keys.POLICY, row.ident, region, row.version)
                    try:
                        material = aead.decrypt(region_key, row.wrapped, aad)
                    except DecryptionError:
                        continue
                    found.append(keys.PolicyKeys.derive(row.version, material))
    return found


def _sealed(database: Database, pid: str) -> list[TokenValue]:
    with database.transaction(read_only=True) as session:
        stmt = select(TokenValue).where(TokenValue.pid == pid)
        return list(session.execute(stmt).scalars().all())


def _pid(v: Vaulted, name: str) -> str:
    with v.node.db.transaction(read_only=True) as session:
        found = repo.policy(session, "marketing", name)
        assert found is not None
        return found.pid


def _assert_unrecoverable(v: Vaulted, database: Database, name: str, region: str) -> None:
    """The ciphertexts stay in the store, and no key left anywhere opens any of them."""
    rows = _sealed(database, _pid(v, name))
    assert rows
    candidates = _every_policy_key(v, database) + _every_policy_key(v, v.node.db)
    assert candidates  # the other policies' keys are still there, and useless here
    for row in rows:
        assert row.sealed is not None
        for candidate in candidates:
            with pytest.raises(DecryptionError):
                unseal(candidate, row.sealed, value_aad("marketing", name, region, row.ref))


def test_shred_policy_makes_values_unrecoverable(vaulted: Vaulted) -> None:
    policy(vaulted, "cards", scheme="fpe", format="card", keep_last=4)
    policy(vaulted, "emails", scheme="opaque", format="email")
    vault = vaulted.node.vault
    [card] = vault.tokenize(vaulted.call, "marketing", "cards", [CARD])
    [mail] = vault.tokenize(vaulted.call, "marketing", "emails", ["a@x.com"])
    pid = _pid(vaulted, "cards")
    with vaulted.eu_db().transaction(read_only=True) as session:
        real = keys.policy_keys(session, vaulted.node.keyring(), "eu", pid)
    [row] = _sealed(vaulted.eu_db(), pid)
    assert row.sealed is not None
    assert unseal(real, row.sealed, value_aad("marketing", "cards", "eu", row.ref)) == CARD
    assert any(k.seal == real.seal for k in _every_policy_key(vaulted, vaulted.eu_db()))
    vault.shred_policy(vaulted.call, "marketing", "cards")
    with pytest.raises(ShreddedError):
        plain(vaulted, "cards", [card])
    with pytest.raises(ShreddedError):
        vault.tokenize(vaulted.call, "marketing", "cards", [CARD])
    assert plain(vaulted, "emails", [mail]) == ["a@x.com"]
    with vaulted.eu_db().transaction(read_only=True) as session:
        with pytest.raises(ShreddedError):
            keys.policy_keys(session, vaulted.node.keyring(), "eu", pid)
        left = session.execute(select(TokenKey.kind, TokenKey.ident)).all()
    assert ("policy", pid) not in left
    assert all(k.seal != real.seal for k in _every_policy_key(vaulted, vaulted.eu_db()))
    _assert_unrecoverable(vaulted, vaulted.eu_db(), "cards", "eu")


def test_shred_region(vaulted: Vaulted) -> None:
    policy(vaulted, "eu-mail", scheme="opaque", format="email")
    policy(vaulted, "eu-card", scheme="fpe", format="card", vaulted=False)
    policy(vaulted, "us-mail", scheme="opaque", format="email", region="us")
    vault = vaulted.node.vault
    [eu_mail] = vault.tokenize(vaulted.call, "marketing", "eu-mail", ["a@x.com"])
    [us_mail] = vault.tokenize(vaulted.call, "marketing", "us-mail", ["a@x.com"])
    assert vault.shred_region(vaulted.call, "eu") == 2
    for name, token in (("eu-mail", eu_mail), ("eu-card", "4242424242424242")):
        with pytest.raises(ShreddedError):
            plain(vaulted, name, [token])
    assert plain(vaulted, "us-mail", [us_mail]) == ["a@x.com"]
    with vaulted.eu_db().transaction(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(TokenKey)).scalar_one() == 0
    _assert_unrecoverable(vaulted, vaulted.eu_db(), "eu-mail", "eu")
    # The region lives on: a new policy there gets a new region key.
    policy(vaulted, "eu-new", scheme="opaque", format="email")
    [fresh] = vault.tokenize(vaulted.call, "marketing", "eu-new", ["b@x.com"])
    assert plain(vaulted, "eu-new", [fresh]) == ["b@x.com"]
    with pytest.raises(WrongRegionError):
        vault.shred_region(vaulted.call, "mars")


def test_values_stay_in_their_regions_database(vaulted: Vaulted) -> None:
    policy(vaulted, "eu-mail", scheme="opaque", format="email")
    policy(vaulted, "us-mail", scheme="opaque", format="email", region="us")
    vault = vaulted.node.vault
    vault.tokenize(vaulted.call, "marketing", "eu-mail", ["a@x.com", "b@x.com"])
    vault.tokenize(vaulted.call, "marketing", "us-mail", ["c@x.com"])
    assert vaulted.eu_db() is not vaulted.node.db
    assert count_values(vaulted.eu_db()) == 2
    assert count_values(vaulted.node.db) == 1
    with vaulted.node.db.transaction(read_only=True) as session:
        kinds = session.execute(text("SELECT kind, ident FROM token_keys")).all()
    assert ("region", "eu") not in kinds and ("region", "us") in kinds


def test_background_purge_job(database_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        database_url=database_url, data_dir=tmp_path / "data", token_purge_interval_seconds=0.05
    )
    clock = MovableClock()
    node = Node.open(settings, clock)
    try:
        done = node.initialize(Call("init"), shares=1, threshold=1)
        node.unseal(Call("unseal"), done.result.shares[0])
        call = Call("r", "alice")
        node.vault.create_policy(
            call,
            "app",
            {
                "name": "p",
                "region": "default",
                "scheme": "opaque",
                "format": "text",
                "retention_seconds": 60,
            },
        )
        tokens = node.vault.tokenize(call, "app", "p", ["a", "b", "c"])
        node.start_token_purger()
        clock.offset_us = 120_000_000
        deadline = time.monotonic() + 10
        while node.vault.purge_due() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not node.vault.purge_due()
        with pytest.raises(BatchError):
            node.vault.detokenize(call, everything, "app", "p", tokens, "after retention")
        with node.db.transaction(read_only=True) as session:
            purges = (
                session.execute(select(AuditEvent).where(AuditEvent.action == "tokens.purge"))
                .scalars()
                .all()
            )
        assert [(e.actor, json.loads(e.detail)["purged"]) for e in purges] == [("system", 3)]
    finally:
        node.close()
