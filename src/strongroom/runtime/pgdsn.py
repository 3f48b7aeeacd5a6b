"""A PostgreSQL DSN held in a secret: parsed, narrowed, and kept out of every message.

The DSN (``postgresql://user:pw@host:5432/db?sslmode=require`` or ``host=... user=...``) is
a secret as a whole. Only the keys below are accepted; every other libpq key is refused,
because many of them read the server's files (``passfile``, ``sslkey``, ``service``) or
pick the address themselves (``hostaddr``, several hosts), which would bypass the egress
check. Host, port, database, user and password must all be given, so nothing falls back
to the server's own ``PG*`` environment, its ``~/.pgpass`` or its operating-system user.

Errors: `UpstreamError`, whose text names the problem but never a value from the DSN.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from strongroom.errors import UpstreamError

REDACTED = "[REDACTED]"
_SSLMODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
# Keys a DSN may carry besides host, port, dbname, user and password.
_EXTRA = frozenset(
    {"sslmode", "sslrootcert", "channel_binding", "require_auth", "application_name"}
)
_REQUIRED = ("host", "dbname", "user", "password")
# Authentication methods that would use credentials of the Strongroom server itself.
_SERVER_CREDENTIAL_AUTH = frozenset({"gss", "sspi"})
# Password methods (or none asked): never a Kerberos ticket or SSPI login of the server's
# own account.
_PASSWORD_AUTH = "scram-sha-256,md5,password,none"  # noqa: S105 - method names


@dataclass(frozen=True)
class Dsn:
    """A checked DSN. Its repr shows the host and port only."""

    host: str
    port: int
    dbname: str = field(repr=False)
    user: str = field(repr=False)
    password: str = field(repr=False)
    extra: tuple[tuple[str, str], ...] = field(repr=False, default=())
    text: str = field(repr=False, default="")

    def scrub(self, message: str) -> str:
        """``message`` with the DSN, the password, user, database and host replaced.

        Names are replaced where they stand as a whole word (``relation "app_user"``
        but not ``app_user_id``), so a server message stays readable.
        """
        for value in self.forms():
            message = message.replace(value, REDACTED)
        for value in sorted({self.user, self.dbname, self.host}, key=len, reverse=True):
            if value:
                pattern = r"(?<![\w$])" + re.escape(value) + r"(?![\w$])"
                message = re.sub(pattern, REDACTED, message)
        return message

    def forms(self) -> list[str]:
        """The strings an answer must never carry: the DSN and the password (also as a URI
        writes it), longest first so none is half-replaced by a shorter one inside it."""
        forms = {self.text, self.password, quote(self.password, safe="")}
        return sorted((f for f in forms if f), key=len, reverse=True)


def parse_dsn(text: str) -> Dsn:
    """Check ``text`` as a single-host PostgreSQL DSN with a password; `UpstreamError` if not."""
    import psycopg.conninfo  # noqa: PLC0415 - most servers never parse a DSN

    bad = "the connector's secret is not a usable PostgreSQL DSN"
    try:
        params = psycopg.conninfo.conninfo_to_dict(text)
    except (psycopg.Error, ValueError, TypeError):
        # libpq's parse errors quote the offending part of the DSN.
        raise UpstreamError(f"{bad}: it does not parse") from None
    unknown = sorted(set(params) - set(_REQUIRED) - {"port"} - _EXTRA)
    if unknown:
        raise UpstreamError(f"{bad}: the gateway does not accept {', '.join(unknown)}")
    values = {k: str(v) for k, v in params.items() if v is not None}
    missing = [k for k in _REQUIRED if not values.get(k)]
    if missing:
        raise UpstreamError(f"{bad}: it must give {', '.join(missing)}")
    host = values["host"]
    if "," in host or host.startswith(("/", "@")) or not host.isprintable():
        raise UpstreamError(f"{bad}: host must be one TCP host name or address")
    port_text = values.get("port", "5432")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UpstreamError(f"{bad}: port must be one TCP port")
    extra = {k: values[k] for k in sorted(_EXTRA) if k in values}
    if extra.get("sslmode", "prefer") not in _SSLMODES:
        raise UpstreamError(f"{bad}: sslmode is not one libpq knows")
    if extra.get("sslrootcert", "system") != "system":
        # Any other value is a path on the Strongroom server.
        raise UpstreamError(f"{bad}: sslrootcert may only be 'system'")
    methods = {m.strip().lstrip("!") for m in extra.get("require_auth", "").split(",")}
    if methods & _SERVER_CREDENTIAL_AUTH:
        # Kerberos/SSPI would authenticate with the Strongroom server's own credentials.
        raise UpstreamError(f"{bad}: require_auth may name password methods only")
    return Dsn(
        host=host.lower(),
        port=int(port_text),
        dbname=values["dbname"],
        user=values["user"],
        password=values["password"],
        extra=tuple(extra.items()),
        text=text,
    )


def connect_kwargs(
    dsn: Dsn, address: str, *, connect_timeout: int, options: Sequence[str]
) -> dict[str, str | int]:
    """libpq parameters that reach ``address`` (the checked one) as ``dsn`` asks.

    ``host`` stays the DSN's name, so TLS still verifies it; ``hostaddr`` is where the
    connection goes, so libpq resolves nothing. Every key the server environment could
    fill is given here, ``sslmode`` included (libpq's own default, ``prefer``). The
    server's own credentials never go out: no client certificate is sent
    (``sslcertmode=disable``, whatever ``PGSSLCERT`` or ``~/.postgresql`` hold), GSSAPI
    encryption is off and authentication is by password only (``require_auth``).
    """
    extra = dict(dsn.extra)
    return {
        "sslcertmode": "disable",
        "gssencmode": "disable",
        "require_auth": extra.pop("require_auth", _PASSWORD_AUTH),
        "host": dsn.host,
        "hostaddr": address,
        "port": dsn.port,
        "dbname": dsn.dbname,
        "user": dsn.user,
        "password": dsn.password,
        "sslmode": extra.pop("sslmode", "prefer"),
        "application_name": extra.pop("application_name", "strongroom-gateway"),
        "connect_timeout": connect_timeout,
        "options": " ".join(options),
        **extra,
    }
