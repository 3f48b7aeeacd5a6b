"""One conformance suite for every secret backend: built-in (SQLite, PostgreSQL) and OpenBao."""

from __future__ import annotations

import pytest

from strongroom.errors import (
    ConflictError,
    GoneError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    SecretDisabledError,
)
from strongroom.node import Call
from strongroom.secrets import MetaInput, Policy, SecretsService

CALL = Call("req-test", "tester")


def test_versions_and_reads(service: SecretsService, app: str) -> None:
    first = service.put(CALL, app, "api-key", b"v1-value", MetaInput(owner="ops"))
    assert first.current_version == 1
    assert first.owner == "ops"
    second = service.put(CALL, app, "api-key", b"v2-value")
    assert second.current_version == 2
    assert second.owner == "ops"  # metadata is kept across versions
    assert service.read(CALL, app, "api-key").value == b"v2-value"
    assert service.read(CALL, app, "api-key").version == 2
    assert service.read(CALL, app, "api-key", 1).value == b"v1-value"
    with pytest.raises(NotFoundError):
        service.read(CALL, app, "api-key", 3)
    with pytest.raises(NotFoundError):
        service.read(CALL, app, "missing")
    meta = service.describe(CALL, app, "api-key")
    assert [v.version for v in meta.versions] == [1, 2]
    assert not any(v.destroyed for v in meta.versions)


def test_check_and_set(service: SecretsService, app: str) -> None:
    service.put(CALL, app, "db", b"one", cas=0)
    with pytest.raises(ConflictError):
        service.put(CALL, app, "db", b"two", cas=0)
    with pytest.raises(ConflictError):
        service.put(CALL, app, "db", b"two", cas=5)
    assert service.read(CALL, app, "db").value == b"one"
    assert service.put(CALL, app, "db", b"two", cas=1).current_version == 2
    assert service.read(CALL, app, "db").value == b"two"


def test_destroy_a_version(service: SecretsService, app: str) -> None:
    service.put(CALL, app, "token", b"old")
    service.put(CALL, app, "token", b"new")
    meta = service.destroy(CALL, app, "token", 1)
    assert [v.destroyed for v in meta.versions] == [True, False]
    with pytest.raises(GoneError):
        service.read(CALL, app, "token", 1)
    assert service.read(CALL, app, "token").value == b"new"
    with pytest.raises(NotFoundError):
        service.destroy(CALL, app, "token", 9)
    service.destroy(CALL, app, "token", 2)
    with pytest.raises(GoneError):
        service.read(CALL, app, "token")


def test_soft_delete_and_undelete(service: SecretsService, app: str) -> None:
    service.put(CALL, app, "a", b"value-a")
    service.put(CALL, app, "b", b"value-b")
    service.delete(CALL, app, "a")
    with pytest.raises(NotFoundError):
        service.read(CALL, app, "a")
    with pytest.raises(ConflictError):
        service.put(CALL, app, "a", b"again")
    assert [m.name for m in service.listing(CALL, app)] == ["b"]
    listed = service.listing(CALL, app, include_deleted=True)
    assert [(m.name, m.deleted) for m in listed] == [("a", True), ("b", False)]
    service.undelete(CALL, app, "a")
    assert service.read(CALL, app, "a").value == b"value-a"


def test_listing_shows_metadata_only(service: SecretsService, app: str) -> None:
    meta = MetaInput(
        owner="team-crm",
        description="CRM API key",
        tags={"env": "prod"},
        data_class="restricted",
        rotation_period_s=86_400,
    )
    service.put(CALL, app, "crm-key", b"CANARY-listing-3141", meta)
    service.put(CALL, app, "other", b"x-value")
    listed = service.listing(CALL, app, visible=lambda name: name == "crm-key")
    assert len(listed) == 1
    (one,) = listed
    assert (one.owner, one.description, one.tags, one.data_class) == (
        "team-crm",
        "CRM API key",
        {"env": "prod"},
        "restricted",
    )
    assert one.rotation_period_s == 86_400
    assert "CANARY" not in repr(listed)
    updated = service.update_meta(
        CALL, app, "crm-key", MetaInput(tags={"env": "dev"}, clear=frozenset({"rotation_period_s"}))
    )
    assert updated.tags == {"env": "dev"}
    assert updated.rotation_period_s is None
    assert updated.owner == "team-crm"


def test_revoke_and_disable_all(service: SecretsService, app: str) -> None:
    service.put(CALL, app, "one", b"1-value")
    service.put(CALL, app, "two", b"2-value")
    service.revoke(CALL, app, "one")
    with pytest.raises(SecretDisabledError):
        service.read(CALL, app, "one")
    assert service.read(CALL, app, "two").value == b"2-value"
    # A new version replaces the revoked value and enables the secret again.
    service.rotate(CALL, app, "one", b"1-fresh")
    assert service.read(CALL, app, "one").value == b"1-fresh"
    assert service.disable_app(CALL, app) == 2
    for name in ("one", "two"):
        with pytest.raises(SecretDisabledError):
            service.read(CALL, app, name)
        with pytest.raises(SecretDisabledError):
            service.read(CALL, app, name, 1)


def test_rotate_with_generators(service: SecretsService, app: str) -> None:
    service.put(CALL, app, "pw", b"initial-value")
    service.rotate(CALL, app, "pw", policy=Policy("password", 24))
    pw = service.read(CALL, app, "pw")
    assert pw.version == 2 and len(pw.value) == 24 and pw.value != b"initial-value"
    service.rotate(CALL, app, "pw", policy=Policy("key", 32))
    assert len(service.read(CALL, app, "pw").value) == 44  # base64 of 32 bytes
    with pytest.raises(NotFoundError):
        service.rotate(CALL, app, "nope", policy=Policy("key", 32))
    with pytest.raises(InvalidRequestError):
        service.rotate(CALL, app, "pw", policy=Policy("key", 7))
    with pytest.raises(ConflictError):
        service.rotate(CALL, app, "pw", b"cas-value", cas=1)


@pytest.mark.parametrize(
    ("app_name", "name"),
    [("Bad", "x"), ("", "x"), ("ok", "../etc"), ("ok", "a/b"), ("ok", ""), ("ok", "x" * 129)],
)
def test_invalid_names_change_nothing(service: SecretsService, app_name: str, name: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        service.put(CALL, app_name, name, b"value")
    if name:
        assert name not in caught.value.detail
    with pytest.raises(InvalidRequestError):
        service.read(CALL, app_name, name)


def test_size_ceiling_and_bad_metadata(service: SecretsService, app: str) -> None:
    limit = service._max_bytes
    with pytest.raises(PayloadTooLargeError):
        service.put(CALL, app, "big", b"x" * (limit + 1))
    with pytest.raises(InvalidRequestError):
        service.put(CALL, app, "empty", b"")
    with pytest.raises(InvalidRequestError):
        service.put(CALL, app, "m", b"v", MetaInput(data_class="secret-ish"))
    with pytest.raises(InvalidRequestError):
        service.put(CALL, app, "m", b"v", MetaInput(tags={"Bad Key": "v"}))
    with pytest.raises(InvalidRequestError):
        service.put(CALL, app, "m", b"v", MetaInput(rotation_period_s=1))
    assert service.listing(CALL, app) == []
    service.put(CALL, app, "fits", b"x" * limit)
    assert len(service.read(CALL, app, "fits").value) == limit


def test_due_for_rotation(service: SecretsService, app: str) -> None:
    service.put(CALL, app, "never", b"value-1")
    service.put(CALL, app, "monthly", b"value-2", MetaInput(rotation_period_s=30 * 86_400))
    due_names = [m.name for m in service.due(CALL, app, within_s=31 * 86_400)]
    assert due_names == ["monthly"]
    assert service.due(CALL, app, within_s=0) == []
