"""Two servers over one database: a revoke or rotation on one is seen by the other at once."""

from __future__ import annotations

import pytest

from strongroom.config import Settings
from strongroom.errors import SealedError, SecretDisabledError
from strongroom.node import Call, Node

CALL = Call("req", "tester")


def test_revoke_and_rotation_reach_every_replica_at_once(settings: Settings) -> None:
    first = Node.open(settings)
    second = Node.open(settings)
    try:
        done = first.initialize(Call("init"), shares=1, threshold=1)
        first.unseal(Call("u"), done.result.shares[0])
        second.unseal(Call("u"), done.result.shares[0])
        first.secrets.put(CALL, "crm", "key", b"value-one")
        # The second replica caches the app's key on its first read...
        assert second.secrets.read(CALL, "crm", "key").value == b"value-one"
        first.secrets.rotate(CALL, "crm", "key", b"value-two")
        assert second.secrets.read(CALL, "crm", "key").value == b"value-two"
        first.secrets.revoke(CALL, "crm", "key")
        # ...but reads the secret's state from the store every time: no stale window.
        with pytest.raises(SecretDisabledError):
            second.secrets.read(CALL, "crm", "key")
        second.secrets.put(CALL, "crm", "other", b"x-value")
        assert first.secrets.disable_app(CALL, "crm") == 1
        with pytest.raises(SecretDisabledError):
            second.secrets.read(CALL, "crm", "other")
    finally:
        second.close()
        first.close()


def test_a_sealed_server_reads_nothing_and_forgets_cached_keys(settings: Settings) -> None:
    node = Node.open(settings)
    try:
        done = node.initialize(Call("init"), shares=1, threshold=1)
        node.unseal(Call("u"), done.result.shares[0])
        node.secrets.put(CALL, "crm", "key", b"value-one")
        assert node.secrets.read(CALL, "crm", "key").value == b"value-one"
        node.seal(CALL)
        with pytest.raises(SealedError):
            node.secrets.read(CALL, "crm", "key")
        node.unseal(Call("u"), done.result.shares[0])
        assert node.secrets.read(CALL, "crm", "key").value == b"value-one"
    finally:
        node.close()
