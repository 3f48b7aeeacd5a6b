"""Storage: SQLAlchemy engine, models, repositories and Alembic migrations.

The store is treated as untrusted: everything sensitive reaches it only as ciphertext
made by the keyring or the barrier.
"""
