"""Checks of a stored audit trail shared by the audit tests: every event, and the tree."""

from __future__ import annotations

import hashlib

from rfc9162 import ind_mth, independent_verify_inclusion
from sqlalchemy import select

from strongroom.audit.tree import TreeReader
from strongroom.store.engine import Database
from strongroom.store.models import AuditEvent
from strongroom.store.repositories import audit as repo


def stored(db: Database) -> list[AuditEvent]:
    """Every stored event, in order."""
    with db.transaction(read_only=True) as s:
        return list(s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def check_tree(db: Database) -> list[AuditEvent]:
    """Indexes contiguous, leaf hashes right, the head's frontier the tree of them, and
    inclusion proofs an independent verifier accepts; the events."""
    rows = stored(db)
    assert [r.seq for r in rows] == list(range(len(rows)))
    leaves = [hashlib.sha256(b"\x00" + r.entry).digest() for r in rows]
    assert [r.leaf_hash for r in rows] == leaves
    with db.transaction(read_only=True) as s:
        size, frontier = repo.head(s)
        assert size == len(rows)
        if not rows:
            return rows
        assert frontier.root() == ind_mth(leaves)
        reader = TreeReader(s, size)
        for index in {0, size // 3, size // 2, size - 1}:
            proof = reader.inclusion(index, size)
            assert independent_verify_inclusion(leaves[index], index, size, proof, ind_mth(leaves))
    return rows
