"""The postgres connector end to end: the gateway runs SQL on the real PostgreSQL at
127.0.0.1:5432 as a role made for the test, with the DSN held as a managed secret."""

from __future__ import annotations

import json
import logging
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import text
from support import Ready

from strongroom.api.app import create_app
from strongroom.config import load_settings
from strongroom.errors import UpstreamError
from strongroom.node import Call, Node
from strongroom.runtime.pgdsn import connect_kwargs, parse_dsn
from strongroom.runtime.postgres import statement_kind

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "CANARY-pg-" + secrets.token_hex(8)
PASSWORD2 = "CANARY-pg-rotated-" + secrets.token_hex(8)


@dataclass
class Target:
    """Two login roles with passwords, and a schema with a table they may read and write."""

    schema: str
    role: str
    role2: str

    def dsn(self, role: str | None = None, password: str = PASSWORD, **extra: str) -> str:
        tail = "".join(f"&{k}={v}" for k, v in extra.items())
        return (
            f"postgresql://{role or self.role}:{password}@127.0.0.1:5432/test?sslmode=disable{tail}"
        )

    def admin(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            cursor = conn.execute(query, args or None)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    tag = secrets.token_hex(5)
    found = Target(f"gw_{tag}", f"sr_gw_{tag}", f"sr_gw2_{tag}")
    ident = sql.Identifier
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        for role, password in ((found.role, PASSWORD), (found.role2, PASSWORD2)):
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    ident(role), sql.Literal(password)
                )
            )
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident(found.schema)))
        conn.execute(
            sql.SQL("CREATE TABLE {}.people (id int PRIMARY KEY, name text, born date)").format(
                ident(found.schema)
            )
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.people VALUES (1, 'Ada', '1815-12-10'), (2, 'Grace', '1906-12-09')"
            ).format(ident(found.schema))
        )
        conn.execute(
            sql.SQL(
                "CREATE FUNCTION {}.add_person(n int) RETURNS int LANGUAGE sql"
                " AS 'INSERT INTO {}.people VALUES (n, ''f'', NULL) RETURNING id'"
            ).format(ident(found.schema), ident(found.schema))
        )
        for role in (found.role, found.role2):
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident(found.schema), ident(role))
            )
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT ON {}.people TO {}").format(
                    ident(found.schema), ident(role)
                )
            )
    yield found
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(ident(found.schema)))
        for role in (found.role, found.role2):
            conn.execute(sql.SQL("DROP ROLE {}").format(ident(role)))


@pytest.fixture
def gw(database_url: str, tmp_path: Path, target: Target) -> Iterator[Ready]:
    def pg(name: str, app: str, secret: str, **more: object) -> dict[str, object]:
        return {"name": name, "app": app, "template": "postgres", "secret": secret, **more}

    settings = load_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        connectors=[
            pg("crm-db", "crm", "sr://secrets/crm/db", max_rows=5),
            pg("crm-db-rw", "crm", "sr://secrets/crm/db", allow_writes=True, max_rows=5),
            pg("crm-other", "crm", "sr://secrets/crm/other"),
            pg("hr-db", "hr", "sr://secrets/hr/db"),
        ],
        egress_allowlist={"crm": ["127.0.0.1", "127.0.0.2"], "hr": []},
        egress_allow_private=["127.0.0.1/32"],
        gateway_timeout_seconds=2.0,
        gateway_max_response_bytes=65_536,
    )
    node = Node.open(settings)
    with TestClient(create_app(node), raise_server_exceptions=False) as client:
        done = node.initialize(Call("t"), shares=1, threshold=1)
        node.unseal(Call("t"), done.result.shares[0])
        ready = Ready(node, client, list(done.result.shares), done.root_token)
        for path, value in (("crm/secrets/db", target.dsn()), ("hr/secrets/db", target.dsn())):
            ready.client.put(
                f"/v1/apps/{path}", json={"value": value}, headers=ready.auth()
            ).raise_for_status()
        yield ready
    node.close()


def _put(ready: Ready, path: str, value: str) -> None:
    ready.client.put(
        f"/v1/apps/{path}", json={"value": value}, headers=ready.auth()
    ).raise_for_status()


def _query(ready: Ready, connector: str, query: str, *params: object) -> Any:
    token = ready.mint(f"connectors:call:{connector}", subject="crm-app")
    return ready.client.post(
        f"/v1/connectors/{connector}/query",
        json={"sql": query, "params": list(params)},
        headers=ready.auth(token),
    )


def _events(ready: Ready) -> list[tuple[str, str, dict[str, Any]]]:
    with ready.node.db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, outcome, detail FROM audit_events ORDER BY seq")
        ).all()
    return [(a, o, json.loads(d)) for a, o, d in rows if a == "connectors.query"]


def _audit_dump(ready: Ready) -> str:
    with ready.node.db.engine.connect() as conn:
        return "\n".join(str(r) for r in conn.execute(text("SELECT * FROM audit_events")).all())


def test_query_binds_parameters_and_answers_json(gw: Ready, target: Target) -> None:
    resp = _query(
        gw,
        "crm-db",
        f"SELECT id, name, born FROM {target.schema}.people WHERE id >= $1 ORDER BY id",
        1,
    )
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["kind"] == "SELECT" and out["columns"] == ["id", "name", "born"]
    assert out["rows"] == [[1, "Ada", "1815-12-10"], [2, "Grace", "1906-12-09"]]
    assert out["row_count"] == 2 and out["truncated"] is False and out["secret_version"] == 1
    # A parameter is a value, never SQL: the quote and the DROP come back as text.
    hostile = "x'; DROP TABLE people; --"
    echoed = _query(
        gw, "crm-db", "SELECT $1::text, $2::int + 1, $3, $4::int[]", hostile, 41, None, [1, 2]
    )
    assert echoed.json()["rows"] == [[hostile, 42, None, [1, 2]]]
    assert target.admin(f"SELECT count(*) FROM {target.schema}.people") == [(2,)]
    # The role is the DSN's; the gateway's own connection settings are the read-only ones.
    who = _query(gw, "crm-db", "SELECT current_user, current_setting('transaction_read_only')")
    assert who.json()["rows"] == [[target.role, "on"]]
    event = _events(gw)[-1]
    assert event[1] == "success"
    detail = event[2]
    assert detail["connector"] == "crm-db" and detail["app"] == "crm" and detail["kind"] == "SELECT"
    assert detail["statement"].startswith("sha256:") and detail["rows"] == 1
    assert detail["secret"] == "crm/db" and detail["version"] == 1 and detail["params"] == 0
    dump = _audit_dump(gw)
    assert hostile not in dump and PASSWORD not in dump


def test_read_only_refuses_writes_and_writable_commits(gw: Ready, target: Target) -> None:
    table = f"{target.schema}.people"
    # The role may insert; the read-only transaction is what refuses, however it is put.
    for statement in (
        f"INSERT INTO {table} VALUES (3, 'Edsger', NULL)",
        f"WITH w AS (INSERT INTO {table} VALUES (3, 'Edsger', NULL) RETURNING id) SELECT * FROM w",
        f"/* a function that writes */ SELECT {target.schema}.add_person(3)",
    ):
        resp = _query(gw, "crm-db", statement)
        assert resp.status_code == 403 and "25006" in resp.json()["detail"], resp.text
    flip = _query(gw, "crm-db", "SELECT set_config('transaction_read_only', 'off', false)")
    assert flip.status_code == 400 and "25001" in flip.json()["detail"]
    refused = _query(gw, "crm-db", f"INSERT INTO {table} VALUES ($1, $2, NULL)", 3, "Edsger")
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    assert "25006" in refused.json()["detail"]
    assert target.admin(f"SELECT count(*) FROM {table}") == [(2,)]
    written = _query(
        gw, "crm-db-rw", f"INSERT INTO {table} VALUES ($1, $2, NULL) RETURNING id", 3, "Edsger"
    )
    assert written.status_code == 200, written.text
    assert written.json()["kind"] == "INSERT" and written.json()["rows"] == [[3]]
    plain = _query(gw, "crm-db-rw", f"INSERT INTO {table} VALUES (4, 'Barbara', NULL)")
    assert plain.status_code == 200 and plain.json()["rows"] == []
    assert target.admin(f"SELECT count(*) FROM {table}") == [(4,)]
    # More rows than max_rows from a write: rolled back, not half-answered.
    many = _query(
        gw,
        "crm-db-rw",
        f"INSERT INTO {table} SELECT g, 'n', NULL FROM generate_series(10, 20) g RETURNING id",
    )
    assert many.status_code == 400 and "nothing was changed" in many.json()["detail"]
    assert target.admin(f"SELECT count(*) FROM {table}") == [(4,)]
    target.admin(f"DELETE FROM {table} WHERE id > 2")


def test_one_statement_of_an_allowed_kind(gw: Ready, target: Target) -> None:
    table = f"{target.schema}.people"
    multi = _query(gw, "crm-db-rw", f"SELECT 1; INSERT INTO {table} VALUES (9, 'x', NULL)")
    assert multi.status_code == 400 and "42601" in multi.json()["detail"]
    for statement in (
        "COMMIT",
        "SET default_transaction_read_only = off",
        "  -- comment\n  /* nested /* comment */ */ BEGIN",
        f"DROP TABLE {table}",
        f"COPY {table} TO STDOUT",
        "DO $$ BEGIN PERFORM 1; END $$",
        "",
        "1",
    ):
        resp = _query(gw, "crm-db-rw", statement)
        assert resp.status_code in (400, 422), (statement, resp.text)
    token = gw.mint("connectors:call:crm-db")
    for raw in (
        '{"sql": "SELECT 1 -- \\u0000; SELECT 2"}',
        '{"sql": "SELECT $1", "params": ["a\\u0000b"]}',
        '{"sql": "SELECT $1", "params": ["\\ud800"]}',
    ):
        sent = gw.client.post(
            "/v1/connectors/crm-db/query",
            content=raw,
            headers={**gw.auth(token), "Content-Type": "application/json"},
        )
        assert sent.status_code == 400, (raw, sent.text)
    assert target.admin(f"SELECT count(*) FROM {table}") == [(2,)]
    assert statement_kind("/* a /* b */ c */ -- x\n ( (select 1))") == "SELECT"


def test_egress_is_checked_on_the_dsn_host(gw: Ready, target: Target) -> None:
    # hr's allowlist is empty.
    denied = _query(gw, "hr-db", "SELECT 1")
    assert denied.status_code == 403 and denied.json()["type"].endswith("egress-denied")
    cases = {
        # Not on crm's allowlist (the names differ though the address is the same).
        target.dsn().replace("127.0.0.1", "localhost"): 403,
        # On the allowlist, but loopback outside egress_allow_private.
        target.dsn().replace("127.0.0.1", "127.0.0.2"): 403,
        # The gateway picks the address; a DSN may not.
        target.dsn(hostaddr="127.0.0.1"): 502,
        target.dsn().replace("127.0.0.1:5432", "127.0.0.1:5432,127.0.0.2:5432"): 502,
        target.dsn(passfile="/etc/passwd"): 502,
        f"host=/var/run/postgresql user={target.role} password={PASSWORD} dbname=test": 502,
        f"host=127.0.0.1 user={target.role} dbname=test": 502,
        "not a dsn =": 502,
    }
    for dsn, status in cases.items():
        _put(gw, "crm/secrets/other", dsn)
        resp = _query(gw, "crm-other", "SELECT 1")
        assert resp.status_code == status, (dsn, resp.text)
        assert PASSWORD not in resp.text and "/etc/passwd" not in resp.text
    assert [o for _, o, _ in _events(gw)].count("denied") == 3


def test_timeout_row_limit_and_size_ceiling(gw: Ready, target: Target) -> None:
    slow = _query(gw, "crm-db", "SELECT pg_sleep(30)")
    assert slow.status_code == 504, slow.text
    # The server cancelled it and the gateway hung up: no session of the role is left.
    for _ in range(100):
        if not target.admin("SELECT 1 FROM pg_stat_activity WHERE usename = %s", target.role):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the timed-out statement's session is still there")
    limited = _query(gw, "crm-db", "SELECT g FROM generate_series(1, 1000) g")
    assert limited.status_code == 200
    assert limited.json()["rows"] == [[1], [2], [3], [4], [5]]
    assert limited.json()["truncated"] is True
    big = _query(gw, "crm-db", "SELECT repeat('x', 40000) FROM generate_series(1, 3)")
    assert big.status_code == 502 and "exceeds" in big.json()["detail"]
    values = _query(
        gw,
        "crm-db",
        "SELECT 1.50::numeric, 'NaN'::float8, '\\x00ff'::bytea, '{\"a\": [1]}'::jsonb,"
        " interval '90 seconds', true",
    )
    assert values.json()["rows"] == [["1.50", "nan", "\\x00ff", {"a": [1]}, 90.0, True]]


def test_a_server_that_never_answers_times_out(gw: Ready, target: Target) -> None:
    # A listener that accepts and stays silent: libpq waits for its answer to the startup.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        _put(gw, "crm/secrets/other", target.dsn().replace(":5432/", f":{port}/"))
        resp = _query(gw, "crm-other", "SELECT 1")
    assert resp.status_code == 504 and resp.json()["type"].endswith("upstream-timeout")
    assert PASSWORD not in resp.text and str(port) not in resp.text


def test_bad_sql_is_a_clear_error_without_the_dsn(
    gw: Ready, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    syntax = _query(gw, "crm-db", "SELECT 1 FROM WHERE")
    assert syntax.status_code == 400
    assert "42601" in syntax.json()["detail"] and "syntax error" in syntax.json()["detail"]
    # The server's message would name the role; it is scrubbed.
    named = _query(gw, "crm-db", f"SELECT * FROM {target.role}")
    assert named.status_code == 400 and "42P01" in named.json()["detail"]
    assert target.role not in named.text and "[REDACTED]" in named.text
    privilege = _query(gw, "crm-db", "SELECT * FROM pg_authid")
    assert privilege.status_code == 403 and "42501" in privilege.json()["detail"]
    wrong_count = _query(gw, "crm-db", "SELECT $1::int, $2::int", 1)
    assert wrong_count.status_code == 400, wrong_count.text
    mixed = _query(gw, "crm-db", "SELECT $1", [1, "a"])
    assert mixed.status_code == 400
    # A DSN naming a database that does not exist: libpq's message quotes it; ours does not.
    _put(gw, "crm/secrets/other", target.dsn().replace("/test?", "/nosuchdb_zz9?"))
    missing = _query(gw, "crm-other", "SELECT 1")
    assert missing.status_code == 502 and "nosuchdb_zz9" not in missing.text
    # The answer never carries the password, even when the statement asks for it.
    echoed = _query(gw, "crm-db", "SELECT $1::text, upper($1)", PASSWORD)
    assert echoed.json()["rows"][0][0] == "[REDACTED]"
    everything = [syntax, named, privilege, wrong_count, mixed, missing, echoed]
    for resp in everything:
        assert PASSWORD not in resp.text and target.dsn() not in resp.text
    dump = _audit_dump(gw)
    for leaked in (PASSWORD, target.dsn(), target.role, "nosuchdb_zz9"):
        assert leaked not in dump
        assert leaked not in caplog.text


def test_rotation_is_used_next_and_revoke_stops_at_once(gw: Ready, target: Target) -> None:
    first = _query(gw, "crm-db", "SELECT current_user")
    assert first.json()["rows"] == [[target.role]] and first.json()["secret_version"] == 1
    gw.client.post(
        "/v1/apps/crm/secrets/db/rotate",
        json={"value": target.dsn(target.role2, PASSWORD2)},
        headers=gw.auth(),
    ).raise_for_status()
    rotated = _query(gw, "crm-db", "SELECT current_user")
    assert rotated.json()["rows"] == [[target.role2]] and rotated.json()["secret_version"] == 2
    assert PASSWORD2 not in rotated.text
    gw.client.post("/v1/apps/crm/secrets/db/revoke", headers=gw.auth()).raise_for_status()
    refused = _query(gw, "crm-db", "SELECT current_user")
    assert refused.status_code == 423
    assert _events(gw)[-1][1] == "error"
    assert PASSWORD2 not in _audit_dump(gw)


def test_http_and_sql_connectors_keep_to_their_own_calls(gw: Ready) -> None:
    token = gw.mint("connectors:call:crm-db")
    resp = gw.client.post(
        "/v1/connectors/crm-db/request", json={"path": "/"}, headers=gw.auth(token)
    )
    assert resp.status_code == 400
    other = _query(gw, "crm-db", "SELECT 1")
    assert other.status_code == 200
    unscoped = gw.client.post(
        "/v1/connectors/crm-db/query",
        json={"sql": "SELECT 1"},
        headers=gw.auth(gw.mint("connectors:call:crm-db-rw")),
    )
    assert unscoped.status_code == 403


def test_dsn_is_parsed_narrowly_and_scrubbed() -> None:
    dsn = parse_dsn("postgresql://app_user:p%40ss-CANARY@DB.example:6543/sales?sslmode=require")
    assert (dsn.host, dsn.port, dsn.user, dsn.password) == (
        "db.example",
        6543,
        "app_user",
        "p@ss-CANARY",
    )
    assert "p@ss" not in repr(dsn) and "app_user" not in repr(dsn)
    scrubbed = dsn.scrub(
        'role "app_user" on "sales" at db.example: app_user_id p@ss-CANARY p%40ss-CANARY'
    )
    assert (
        scrubbed
        == 'role "[REDACTED]" on "[REDACTED]" at [REDACTED]: app_user_id [REDACTED] [REDACTED]'
    )
    for bad in (
        "host=h user=u dbname=d",  # no password: libpq would read the server's .pgpass
        "host=h user=u password=p",  # no database
        "user=u password=p dbname=d",  # no host: libpq would use PGHOST or a socket
        "host=h port=0 user=u password=p dbname=d",
        "host=h user=u password=p dbname=d sslkey=/etc/ssl/private/k.pem",
        "host=h user=u password=p dbname=d sslrootcert=/tmp/ca.pem",
        "host=h user=u password=p dbname=d options='-c default_transaction_read_only=off'",
        "host=h user=u password=p dbname=d service=prod",
        "host=h user=u password=p dbname=d sslmode=sometimes",
        "host=h user=u password='CANARY unterminated dbname=d",
        "host=h user=u password=p dbname=d require_auth=gss",  # the server's own ticket
        "host=h user=u password=p dbname=d require_auth=password,sspi",
    ):
        with pytest.raises(UpstreamError) as caught:
            parse_dsn(bad)
        assert "CANARY" not in str(caught.value) and "/etc" not in str(caught.value)


def test_the_servers_own_credentials_never_go_out() -> None:
    """No client certificate (whatever PGSSLCERT or ~/.postgresql hold), no GSSAPI, and
    password authentication only unless the DSN narrows it further."""
    dsn = parse_dsn("host=db.example user=u password=p dbname=d")
    kwargs = connect_kwargs(dsn, "192.0.2.7", connect_timeout=2, options=[])
    assert kwargs["sslcertmode"] == "disable"
    assert kwargs["gssencmode"] == "disable"
    assert set(str(kwargs["require_auth"]).split(",")) <= {
        "scram-sha-256",
        "md5",
        "password",
        "none",
    }
    narrowed = parse_dsn("host=db.example user=u password=p dbname=d require_auth=scram-sha-256")
    assert (
        connect_kwargs(narrowed, "192.0.2.7", connect_timeout=2, options=[])["require_auth"]
        == "scram-sha-256"
    )
