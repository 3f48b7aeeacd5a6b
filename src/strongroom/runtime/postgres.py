"""One SQL statement through a ``postgres`` connector: connect, run, answer as JSON.

Each call opens its own connection to the address the egress policy checked (so rotation
and revocation hold from the next call on; nothing is pooled) and closes it afterwards.
The statement:

* is one statement: it is sent with the extended query protocol, which PostgreSQL refuses
  to run for more than one command, and its parameters are bound (``$1``, ``$2``...),
  never put into the text;
* is of a kind the gateway runs (`KINDS`); transaction control, ``SET``, ``COPY``, DDL and
  the like are refused before connecting;
* runs in a ``READ ONLY`` transaction with ``default_transaction_read_only`` on, unless
  the connector allows writes (then it commits when the statement succeeded);
* is bounded by ``statement_timeout`` on the server, a connect timeout, and a watchdog that
  cancels it if the server overruns; rows stream in one by one, so at most ``max_rows``
  (then the answer says ``truncated``) and ``max_bytes`` of JSON are ever held.

Errors: `InvalidRequestError` (bad statement, parameters, too many rows to write),
`ForbiddenError` (read-only, or the database role lacks a privilege), `UpstreamError`,
`UpstreamTimeoutError`. Their text comes from fixed phrases or from the server's primary
message with the DSN's parts scrubbed (`Dsn.scrub`); libpq's connection messages, which
quote the host, user and database, are never passed on.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import re
import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import psycopg
import psycopg.conninfo
import psycopg.errors
from psycopg import RawCursor
from psycopg.pq import TransactionStatus

from strongroom.errors import (
    ForbiddenError,
    InvalidRequestError,
    UpstreamError,
    UpstreamTimeoutError,
)
from strongroom.runtime.pgdsn import REDACTED, Dsn, connect_kwargs

Scalar = str | int | float | bool | None
Param = Scalar | list[Scalar]
Json = Any

READ_KINDS = frozenset({"SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN"})
WRITE_KINDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE"})
#: Every statement kind a postgres connector runs; a read-only one runs writes too, and
#: PostgreSQL refuses them in its read-only transaction (so ``WITH ... INSERT`` is caught).
KINDS = READ_KINDS | WRITE_KINDS
#: How long after the statement timeout the watchdog cancels from the client side.
WATCHDOG_GRACE = 1.0
MAX_MESSAGE = 300

# libpq connection failures, by a phrase of their message, as fixed safe texts.
_CONNECT_FAILURES = (
    ("password authentication failed", "the database refused the connector's credentials"),
    ("pg_hba.conf", "the database refused the connector's credentials"),
    ("does not exist", "the database or role the DSN names does not exist"),
    ("connection refused", "the database refused the connection"),
    ("ssl", "TLS with the database failed"),
)
_FORBIDDEN = {
    "25006": "the connector is read-only",
    "42501": "the database role may not do that",
}


@dataclass(frozen=True)
class Statement:
    """The app's statement: SQL text with ``$n`` placeholders and their values."""

    sql: str
    params: Sequence[Param] = ()


@dataclass(frozen=True)
class QueryResult:
    kind: str
    columns: list[str]
    rows: list[list[Json]]
    truncated: bool


def statement_kind(sql: str) -> str:
    """The statement's leading keyword, upper-cased, past blanks, comments and ``(``."""
    i, n = 0, len(sql)
    while i < n:
        if sql[i].isspace() or sql[i] == "(":
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        else:
            break
    word = re.match(r"[A-Za-z]{1,32}", sql[i:])
    if word is None:
        raise InvalidRequestError("the statement does not start with an SQL keyword")
    return word.group().upper()


def _redact(text: str, forms: Sequence[str]) -> str:
    for form in forms:
        text = text.replace(form, REDACTED)
    return text


def to_json(value: object, forms: Sequence[str]) -> Json:
    """A database value as JSON, with the DSN and password replaced wherever they appear.

    Numbers and booleans stay; ``numeric`` becomes a string (exact); dates and times ISO
    8601; intervals seconds; ``bytea`` ``\\x``-hex as PostgreSQL prints it; json and arrays
    nest; anything else its text form.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _redact(value, forms)
    if isinstance(value, bytes | bytearray | memoryview):
        hexed = "\\x" + bytes(value).hex()
        return _redact(hexed, [f.encode().hex() for f in forms])
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {_redact(str(k), forms): to_json(v, forms) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v, forms) for v in value]
    return _redact(str(value), forms)


def _check_params(params: Sequence[Param]) -> list[Param]:
    for position, value in enumerate(params, 1):
        if isinstance(value, list):
            kinds = {type(v) for v in value if v is not None}
            if len(kinds) > 1 or any(isinstance(v, list) for v in value):
                raise InvalidRequestError(f"parameter ${position}: a list holds one scalar type")
        elif not isinstance(value, str | int | float | bool | type(None)):
            raise InvalidRequestError(f"parameter ${position} is not a JSON scalar or list")
    return list(params)


def _connect_failure(exc: psycopg.Error) -> UpstreamError:
    if isinstance(exc, psycopg.errors.ConnectionTimeout):
        return UpstreamTimeoutError("the database did not answer the connection in time")
    text = str(exc).lower()
    for phrase, shown in _CONNECT_FAILURES:
        if phrase in text:
            return UpstreamError(shown)
    return UpstreamError("the database could not be reached")


def _query_failure(exc: psycopg.Error, dsn: Dsn, timed_out: bool) -> Exception:
    state = exc.sqlstate
    if state is None:
        if timed_out:
            return UpstreamTimeoutError("the statement ran out of time and was cancelled")
        if isinstance(exc, psycopg.DataError | psycopg.ProgrammingError):
            return InvalidRequestError("the statement or its parameters cannot be sent")
        return UpstreamError("the connection to the database failed")
    primary = exc.diag.message_primary or ""
    message = dsn.scrub(primary)[:MAX_MESSAGE]
    if state == "57014":
        return UpstreamTimeoutError("the statement ran out of time and was cancelled")
    if state in _FORBIDDEN:
        return ForbiddenError(f"{_FORBIDDEN[state]} (SQLSTATE {state}): {message}")
    # 08P01 here is a parameter count that does not fit the placeholders; class 25 a
    # statement that tries to change the transaction it runs in.
    if state[:2] in ("21", "22", "23", "25", "42", "0A", "2B", "44") or state == "08P01":
        return InvalidRequestError(
            f"PostgreSQL refused the statement (SQLSTATE {state}): {message}"
        )
    return UpstreamError(f"the database failed the statement (SQLSTATE {state}): {message}")


def _no_result(exc: psycopg.Error, conn: psycopg.Connection[Any]) -> bool:
    """Whether ``exc`` is psycopg's word that a streamed statement returned no rows at all
    (an ``INSERT`` without ``RETURNING``), which is success."""
    return (
        type(exc) is psycopg.ProgrammingError
        and exc.sqlstate is None
        and conn.info.transaction_status == TransactionStatus.INTRANS
    )


def _cancel(conn: psycopg.Connection[Any], fired: threading.Event) -> None:
    fired.set()
    with contextlib.suppress(Exception):
        conn.cancel_safe(timeout=WATCHDOG_GRACE)


@dataclass(frozen=True)
class Limits:
    """The bounds of one call."""

    timeout: float
    max_rows: int
    max_bytes: int
    writable: bool


def run(dsn: Dsn, address: str, statement: Statement, limits: Limits) -> QueryResult:
    """Run ``statement`` on the database ``dsn`` names, connecting to ``address``."""
    if "\x00" in statement.sql:
        # libpq would end the text there: the statement run would not be the one audited.
        raise InvalidRequestError("the statement holds a NUL character")
    kind = statement_kind(statement.sql)
    if kind not in KINDS:
        raise InvalidRequestError(
            f"a connector runs {', '.join(sorted(KINDS))} statements, not {kind}"
        )
    params = _check_params(statement.params)
    ms = max(1, int(limits.timeout * 1000))
    options = [f"-c statement_timeout={ms}", f"-c idle_in_transaction_session_timeout={2 * ms}"]
    if not limits.writable:
        options.append("-c default_transaction_read_only=on")
    kwargs = connect_kwargs(
        dsn, address, connect_timeout=max(2, math.ceil(limits.timeout)), options=options
    )
    try:
        conn = psycopg.connect(
            psycopg.conninfo.make_conninfo("", **kwargs),
            autocommit=False,
            cursor_factory=RawCursor,
        )
    except psycopg.Error as exc:
        raise _connect_failure(exc) from None
    # The statement gets the whole timeout, as statement_timeout gives it on the server.
    deadline = time.monotonic() + limits.timeout
    fired = threading.Event()
    watchdog = threading.Timer(limits.timeout + WATCHDOG_GRACE, _cancel, (conn, fired))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.read_only = not limits.writable
        result = _fetch(conn, dsn, kind, statement.sql, params, limits, deadline, fired)
        if limits.writable:
            try:
                conn.commit()
            except psycopg.Error as exc:
                raise _query_failure(exc, dsn, fired.is_set()) from None
        return result
    finally:
        watchdog.cancel()
        # Closing without a commit rolls back whatever the statement did.
        conn.close()


def _fetch(
    conn: psycopg.Connection[Any],
    dsn: Dsn,
    kind: str,
    sql: str,
    params: list[Param],
    limits: Limits,
    deadline: float,
    fired: threading.Event,
) -> QueryResult:
    forms = dsn.forms()
    cursor = conn.cursor()
    columns: list[str] = []
    rows: list[list[Json]] = []
    size = 2
    truncated = False
    try:
        stream = cast("Generator[Any, None, None]", cursor.stream(sql, params))
        with contextlib.closing(stream):
            for row in stream:
                if not columns and cursor.description:
                    columns = [_redact(c.name, forms) for c in cursor.description]
                if len(rows) == limits.max_rows:
                    truncated = True
                    break
                shown = [to_json(v, forms) for v in row]
                size += len(json.dumps(shown, ensure_ascii=False).encode()) + 1
                if size > limits.max_bytes:
                    raise UpstreamError(f"the answer exceeds {limits.max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise UpstreamTimeoutError("the statement ran out of time and was cancelled")
                rows.append(shown)
    except psycopg.Error as exc:
        if not _no_result(exc, conn):
            raise _query_failure(exc, dsn, fired.is_set()) from None
    except UnicodeEncodeError:
        raise InvalidRequestError("the statement or its parameters are not valid UTF-8") from None
    except RecursionError:
        raise UpstreamError("a value nests too deeply to answer") from None
    if truncated and limits.writable:
        # The cancelled rest may or may not have run; only a rollback is certain.
        raise InvalidRequestError(
            f"the statement returns more than {limits.max_rows} rows; nothing was changed"
        )
    return QueryResult(kind, columns, rows, truncated)
