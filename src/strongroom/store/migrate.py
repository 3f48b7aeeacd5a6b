"""Apply Alembic migrations at start; concurrent replicas take turns."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

_SCRIPTS = Path(__file__).with_name("migrations")
# An arbitrary constant naming Strongroom's migration lock among PostgreSQL advisory locks.
_PG_LOCK_ID = 0x5352_4D47


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision inside one transaction."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None if it has no schema yet."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
