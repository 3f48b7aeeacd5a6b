"""Revision 0007 creates exactly the identity tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from strongroom.store import migrate
from strongroom.store.engine import Database
from strongroom.store.models import Base

IDENTITY = {
    "identity_users",
    "identity_groups",
    "identity_memberships",
    "identity_signins",
    "identity_sessions",
}


def test_migration_matches_the_models(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    try:
        migrate.upgrade(database.engine)
        with database.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        ours = [d for d in diff if IDENTITY & _names(d)]
        assert ours == []
    finally:
        database.dispose()


def _names(entry: object) -> set[str]:
    """Table names a diff entry (a tuple, or a list of tuples) touches."""
    names: set[str] = set()
    for item in entry if isinstance(entry, list) else [entry]:
        for part in item if isinstance(item, tuple) else ():
            if isinstance(part, str):
                names.add(part)
            elif hasattr(part, "table"):
                names.add(str(part.table.name))
            elif hasattr(part, "name"):
                names.add(str(part.name))
    return names
