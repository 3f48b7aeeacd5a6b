"""Token policies (main database) and vaulted values (each region's database)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from strongroom.errors import ConflictError
from strongroom.store.models import TokenPolicy, TokenRequest, TokenValue

LIVE = "live"
ERASED = "erased"
EXPIRED = "expired"
_CHUNK = 1000


def add_policy(session: Session, policy: TokenPolicy) -> None:
    try:
        with session.begin_nested():
            session.add(policy)
            session.flush()
    except IntegrityError:
        raise ConflictError("this app already has a policy of that name") from None


# Built once: reading a policy to show it is not on a hot path, but building the statement
# cost more than running it.
_POLICY = select(TokenPolicy).where(
    TokenPolicy.app == bindparam("app"), TokenPolicy.name == bindparam("name")
)


def policy(session: Session, app: str, name: str) -> TokenPolicy | None:
    return session.execute(_POLICY, {"app": app, "name": name}).scalar_one_or_none()


class PolicyRecord(NamedTuple):
    """The columns of a policy that the vault's operations read, as plain values."""

    pid: str
    app: str
    spec: str
    shredded_us: int | None


_POLICY_RECORD = (
    "SELECT pid, app, spec, shredded_us FROM token_policies WHERE app = {m} AND name = {m}"
)


def policy_record(session: Session, app: str, name: str) -> PolicyRecord | None:
    """The policy ``name`` of ``app``, read through the driver: every tokenize and
    detokenize call starts here, and loading an ORM object cost more than the query."""
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    found = connection.exec_driver_sql(_POLICY_RECORD.format(m=marker), (app, name)).first()
    return None if found is None else PolicyRecord(*found)


def policies(session: Session, app: str) -> Sequence[TokenPolicy]:
    stmt = select(TokenPolicy).where(TokenPolicy.app == app).order_by(TokenPolicy.name)
    return session.execute(stmt).scalars().all()


def policies_in_region(session: Session, region: str) -> Sequence[TokenPolicy]:
    stmt = select(TokenPolicy).where(TokenPolicy.region == region)
    return session.execute(stmt).scalars().all()


def mark_shredded(session: Session, pids: Iterable[str], now_us: int) -> None:
    ids = list(pids)
    for start in range(0, len(ids), _CHUNK):
        session.execute(
            update(TokenPolicy)
            .where(TokenPolicy.pid.in_(ids[start : start + _CHUNK]))
            .values(shredded_us=now_us)
        )


def values_by_ref(session: Session, pid: str, refs: Sequence[bytes]) -> dict[bytes, TokenValue]:
    found: dict[bytes, TokenValue] = {}
    unique = list(dict.fromkeys(refs))
    for start in range(0, len(unique), _CHUNK):
        stmt = select(TokenValue).where(
            TokenValue.pid == pid, TokenValue.ref.in_(unique[start : start + _CHUNK])
        )
        for row in session.execute(stmt).scalars():
            found[row.ref] = row
    return found


#: Column order of the rows `insert_values` and `upsert_values` take.
VALUE_COLUMNS = ("pid", "ref", "sealed", "key_version", "state", "created_us", "expires_us")
ValueRow = tuple[str, bytes, bytes, int, str, int, int | None]
_INSERT = "INSERT INTO token_values (pid, ref, sealed, key_version, state, created_us, expires_us)"
_QMARK = " VALUES (?, ?, ?, ?, ?, ?, ?)"
_FORMAT = " VALUES (%s, %s, %s, %s, %s, %s, %s)"
# Same SQL on SQLite (3.24+) and PostgreSQL: a live row is kept as it is (its first seal
# and expiry); an erased or expired one comes back to life with the new seal.
_REVIVE = (
    " ON CONFLICT (pid, ref) DO UPDATE SET sealed = excluded.sealed,"
    " key_version = excluded.key_version, state = excluded.state,"
    " created_us = excluded.created_us, expires_us = excluded.expires_us"
    " WHERE token_values.state <> 'live'"
)


def _execute_many(session: Session, qmark: str, fmt: str, rows: list[ValueRow]) -> None:
    if not rows:
        return
    connection = session.connection()
    sql = qmark if connection.dialect.paramstyle == "qmark" else fmt
    try:
        connection.exec_driver_sql(sql, rows)
    except IntegrityError:
        raise ConflictError("another call stored the same value at the same time; retry") from None


def insert_values(session: Session, rows: list[ValueRow]) -> None:
    """Insert new values (random refs) with the driver's ``executemany``: the hot path, so
    no per-row SQLAlchemy parameter processing; rows are tuples in `VALUE_COLUMNS` order."""
    _execute_many(session, _INSERT + _QMARK, _INSERT + _FORMAT, rows)


def upsert_values(session: Session, rows: list[ValueRow]) -> None:
    """Insert values whose refs may exist already (derived refs): live rows stay as they
    are, erased or expired rows are revived. One statement batch, no lookup first."""
    _execute_many(session, _INSERT + _QMARK + _REVIVE, _INSERT + _FORMAT + _REVIVE, rows)


def erase(session: Session, pid: str, refs: Sequence[bytes]) -> int:
    count = 0
    for start in range(0, len(refs), _CHUNK):
        result = session.execute(
            update(TokenValue)
            .where(
                TokenValue.pid == pid,
                TokenValue.ref.in_(refs[start : start + _CHUNK]),
                TokenValue.state == LIVE,
            )
            .values(sealed=None, state=ERASED)
        )
        count += int(getattr(result, "rowcount", 0) or 0)
    return count


def purge_expired(session: Session, now_us: int) -> int:
    result = session.execute(
        update(TokenValue)
        .where(TokenValue.state == LIVE, TokenValue.expires_us <= now_us)
        .values(sealed=None, state=EXPIRED)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def purge_requests(session: Session, before_us: int) -> None:
    session.execute(delete(TokenRequest).where(TokenRequest.created_us < before_us))


def request(session: Session, pid: str, key_hash: bytes) -> TokenRequest | None:
    return session.get(TokenRequest, (pid, key_hash))


def add_request(session: Session, row: TokenRequest) -> None:
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise ConflictError("a call with this idempotency key is under way; retry") from None


def any_expired(session: Session, now_us: int) -> bool:
    stmt = (
        select(TokenValue.ref)
        .where(TokenValue.state == LIVE, TokenValue.expires_us <= now_us)
        .limit(1)
    )
    return session.execute(stmt).first() is not None
