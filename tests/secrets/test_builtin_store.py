"""The built-in store's sealing, settings and failure modes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from support import Ready

from strongroom.config import load_settings
from strongroom.errors import (
    ConfigError,
    DecryptionError,
    GoneError,
    PayloadTooLargeError,
    SecretBackendError,
)
from strongroom.node import Call, Node
from strongroom.secrets import MetaInput
from strongroom.secrets.openbao import OpenBaoBackend
from strongroom.secrets.service import SecretsService

CALL = Call("req", "tester")
CANARY = "CANARY-store-value-2be1"


def test_values_are_sealed_and_bound_to_app_name_and_version(ready: Ready) -> None:
    service = ready.node.secrets
    service.put(CALL, "crm", "a", CANARY.encode())
    service.put(CALL, "crm", "b", b"value-b")
    service.put(CALL, "hr", "a", b"value-hr")
    with ready.node.db.engine.begin() as conn:
        rows = conn.execute(text("SELECT app, name, value FROM secret_versions")).all()
        assert all(CANARY.encode() not in bytes(r.value) for r in rows)
        keys = conn.execute(text("SELECT app, wrapped FROM secret_app_keys")).all()
        assert sorted(k.app for k in keys) == ["crm", "hr"]  # one key per app
        # Move crm/a's ciphertext onto crm/b, then onto hr/a: neither opens.
        blob = next(bytes(r.value) for r in rows if (r.app, r.name) == ("crm", "a"))
        conn.execute(
            text("UPDATE secret_versions SET value = :v WHERE app = 'crm' AND name = 'b'"),
            {"v": blob},
        )
    with pytest.raises(DecryptionError):
        service.read(CALL, "crm", "b")
    assert service.read(CALL, "crm", "a").value == CANARY.encode()
    with ready.node.db.engine.begin() as conn:
        conn.execute(text("UPDATE secret_versions SET value = :v WHERE app = 'hr'"), {"v": blob})
    with pytest.raises(DecryptionError):
        service.read(CALL, "hr", "a")


def test_shredding_an_app_key_makes_its_values_unrecoverable(ready: Ready) -> None:
    ready.node.secrets.put(CALL, "crm", "a", b"value-a")
    with ready.node.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM secret_app_keys WHERE app = 'crm'"))
    second = Node.open(ready.node.settings)  # a replica with no cached key
    try:
        second.unseal(Call("u"), ready.shares[0])
        second.unseal(Call("u"), ready.shares[1])
        second.unseal(Call("u"), ready.shares[2])
        with pytest.raises(GoneError):
            second.secrets.read(CALL, "crm", "a")
    finally:
        second.close()


def test_the_size_ceiling_is_configurable(database_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        database_url=database_url, data_dir=tmp_path / "d", secret_max_bytes=64
    )
    node = Node.open(settings)
    try:
        done = node.initialize(Call("i"), 1, 1)
        node.unseal(Call("u"), done.result.shares[0])
        node.secrets.put(CALL, "crm", "fits", b"x" * 64)
        with pytest.raises(PayloadTooLargeError) as caught:
            node.secrets.put(CALL, "crm", "big", b"x" * 65)
        assert "64 bytes" in caught.value.detail
    finally:
        node.close()


def test_settings_refuse_bad_secret_and_connector_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_settings(data_dir=tmp_path, secrets_backend="openbao")
    with pytest.raises(ConfigError):
        load_settings(data_dir=tmp_path, secrets_backend="vault-ish")
    connector = {
        "name": "c",
        "app": "crm",
        "template": "bearer",
        "base_url": "https://api.example.com",
        "secret": "sr://secrets/crm/k",
    }
    with pytest.raises(ConfigError):
        load_settings(data_dir=tmp_path, connectors=[connector, connector])
    for bad in (
        {"secret": "sr://secrets/hr/k"},  # another app's secret
        {"base_url": "ftp://api.example.com"},
        {"base_url": "https://user:pw@api.example.com"},
        {"secret": "crm/k"},
    ):
        settings = load_settings(
            data_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path}/x.db",
            connectors=[{**connector, **bad}],
        )
        with pytest.raises(ConfigError):
            Node.open(settings)


def test_an_unreachable_openbao_is_a_clear_error(ready: Ready) -> None:
    service = SecretsService(
        OpenBaoBackend("http://127.0.0.1:9", "token-x", timeout=2.0),
        ready.node.recorder,
        ready.node.clock,
        1024,
    )
    with pytest.raises(SecretBackendError) as caught:
        service.put(CALL, "crm", "a", CANARY.encode(), MetaInput())
    assert CANARY not in str(caught.value) and "token-x" not in repr(service.backend)


def test_reads_of_the_builtin_store_run_on_the_audit_writer_and_external_ones_never(
    ready: Ready,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A point read shares its event's transaction; an external store's read is a network
    call, which must never hold up the audit writer (and so every other request)."""
    import asyncio
    import threading

    assert ready.node.secrets.backend.local is True
    assert OpenBaoBackend.local is False
    service = ready.node.secrets
    service.put(CALL, "crm", "a", b"value-a")
    seen: list[str] = []
    backend = service.backend
    real_read = backend.read

    def watched(*args: object, **kwargs: object) -> object:
        seen.append(threading.current_thread().name)
        return real_read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(backend, "read", watched)
    assert asyncio.run(service.read_async(CALL, "crm", "a")).value == b"value-a"
    monkeypatch.setattr(backend, "local", False)
    assert asyncio.run(service.read_async(CALL, "crm", "a")).value == b"value-a"
    # On SQLite the read shares its event's transaction; on PostgreSQL (a round trip per
    # read) it keeps a thread of its own.
    assert (seen[0] == "strongroom-audit") is (ready.node.db.backend == "sqlite")
    assert seen[1] != "strongroom-audit"
    assert seen[1] != threading.main_thread().name
