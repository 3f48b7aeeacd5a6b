"""Apply Alembic migrations at start; concurrent replicas take turns.

A store already at `HEAD` is the usual case at start: it is recognised with one query,
without importing Alembic or loading the migration scripts (most of a server's start-up
time otherwise). `HEAD` names the newest script's revision; a test holds it to the scripts.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text

_SCRIPTS = Path(__file__).with_name("migrations")
#: The newest revision in ``migrations/versions`` (raise it with each new script).
HEAD = "0010"
# An arbitrary constant naming Strongroom's migration lock among PostgreSQL advisory locks.
_PG_LOCK_ID = 0x5352_4D47


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision inside one transaction."""
    if current_revision(engine) == HEAD:
        return
    from alembic import command  # noqa: PLC0415 - only when there is something to apply
    from alembic.config import Config  # noqa: PLC0415

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
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    # Alembic's own table, with one row once a first migration ran. Strongroom's history
    # is linear: anything else is left to Alembic (`upgrade`), which explains it.
    if not conn.dialect.has_table(conn, "alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None
