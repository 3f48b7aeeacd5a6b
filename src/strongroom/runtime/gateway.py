"""The connector gateway: the app names a connector, the gateway adds the secret.

A connector (from the settings) names an app, a template and a secret by reference; an
HTTP connector also names an upstream base URL. For each HTTP call the gateway:

1. checks the path stays under the base URL and the host is on the app's egress allowlist,
   resolving it once and refusing private addresses unless allowed (`EgressPolicy`);
2. reads the secret's current version and injects it as the template says (``bearer``:
   ``Authorization: Bearer``; ``header``: a named header; ``basic``: HTTP Basic);
3. connects to the checked address (TLS still verifies the host name), never follows a
   redirect, and gives up after the timeout or when the answer outgrows the size limit;
4. removes every form of the secret from the answer's body and headers;
5. appends one audit event naming the connector, secret id and version, host and status.

A ``postgres`` connector's secret is a DSN: the app sends one SQL statement with bound
parameters (`query`), the gateway checks the DSN's host like an upstream's, connects there
and returns the rows (see `strongroom.runtime.postgres`); its audit event names the
statement's kind and SHA-256, never its parameters.

Errors: `EgressDeniedError` (403), `UpstreamError` (502), `UpstreamTimeoutError` (504),
`InvalidRequestError` for a bad path, method, header or statement, and the secret's own
errors (revoked, not found). None of them holds the secret.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin, urlsplit

import httpx

from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.config import ConnectorSettings
from strongroom.errors import (
    ConfigError,
    InvalidRequestError,
    NotFoundError,
    UpstreamError,
    UpstreamTimeoutError,
)
from strongroom.runtime.egress import EgressPolicy
from strongroom.runtime.pgdsn import parse_dsn
from strongroom.secrets.backend import SecretBackend
from strongroom.secrets.names import SecretRef, parse_ref

if TYPE_CHECKING:  # psycopg is imported by the first query, not by every server start
    from strongroom.runtime import postgres

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
REDACTED = b"[REDACTED]"
# Never forwarded either way: hop-by-hop headers, and what the gateway sets itself.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    }
)
MAX_HEADERS = 64


@dataclass(frozen=True)
class Connector:
    """A checked connector definition."""

    name: str
    app: str
    template: str
    base_url: str
    secret: SecretRef
    header: str
    username: str
    allow_writes: bool = False
    max_rows: int = 1000

    @property
    def is_sql(self) -> bool:
        return self.template == "postgres"

    @classmethod
    def from_settings(cls, spec: ConnectorSettings) -> Connector:
        if spec.template == "postgres":
            # The DSN, host included, is the secret: there is no URL to configure.
            if spec.base_url:
                raise ConfigError(f"connector {spec.name}: a postgres connector has no base_url")
        else:
            parts = urlsplit(spec.base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"connector {spec.name}: base_url must be an http(s) URL")
            if parts.username or parts.password or parts.query or parts.fragment:
                raise ConfigError(f"connector {spec.name}: base_url may not hold credentials or ?#")
        try:
            ref = parse_ref(spec.secret)
        except InvalidRequestError:
            raise ConfigError(
                f"connector {spec.name}: secret is sr://secrets/<app>/<name>"
            ) from None
        if ref.app != spec.app:
            raise ConfigError(f"connector {spec.name}: its secret must belong to its app")
        base = (
            spec.base_url
            if spec.base_url.endswith("/") or not spec.base_url
            else spec.base_url + "/"
        )
        return cls(
            spec.name,
            spec.app,
            spec.template,
            base,
            ref,
            spec.header,
            spec.username,
            spec.allow_writes,
            spec.max_rows,
        )


@dataclass(frozen=True)
class OutgoingRequest:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    secret_version: int


@dataclass(frozen=True)
class QueryResponse:
    result: postgres.QueryResult
    secret_version: int


def _secret_forms(connector: Connector, value: bytes) -> list[bytes]:
    forms = {value, quote(value).encode(), base64.b64encode(value)}
    if connector.template == "basic":
        pair = connector.username.encode() + b":" + value
        forms |= {pair, base64.b64encode(pair)}
    # Longest first, so a form is never half-replaced by a shorter one inside it.
    return sorted((f for f in forms if f), key=len, reverse=True)


def redact(data: bytes, forms: Sequence[bytes]) -> bytes:
    """``data`` with every occurrence of every form replaced."""
    for form in forms:
        data = data.replace(form, REDACTED)
    return data


class Gateway:
    """Sends connector calls upstream with their secrets injected. Thread-safe."""

    def __init__(
        self,
        connectors: Sequence[ConnectorSettings],
        policy: EgressPolicy,
        backend: SecretBackend,
        recorder: Recorder,
        timeout: float,
        max_response_bytes: int,
    ) -> None:
        self._connectors = {c.name: Connector.from_settings(c) for c in connectors}
        self._policy = policy
        self._backend = backend
        self._recorder = recorder
        self._timeout = timeout
        self._max = max_response_bytes
        # httpcore's debug trace prints request headers, which hold the injected secret.
        logging.getLogger("httpcore").setLevel(logging.INFO)
        # psycopg's debug log quotes libpq's connection errors, which name the DSN's user
        # and database (never its password); the store's connections share the logger.
        psycopg_log = logging.getLogger("psycopg")
        if psycopg_log.getEffectiveLevel() < logging.INFO:
            psycopg_log.setLevel(logging.INFO)
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        # Made on first use: building TLS contexts costs every server start otherwise.
        with self._lock:
            if self._http is None:
                # No proxies from the environment, no redirects, no cookies kept.
                self._http = httpx.Client(
                    timeout=httpx.Timeout(self._timeout), follow_redirects=False, trust_env=False
                )
            return self._http

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()

    def connector(self, name: str) -> Connector:
        found = self._connectors.get(name)
        if found is None:
            raise NotFoundError("no such connector")
        return found

    def names(self) -> list[Connector]:
        return [self._connectors[n] for n in sorted(self._connectors)]

    def _target(self, connector: Connector, path: str) -> httpx.URL:
        if (
            not path.startswith("/")
            or path.startswith("//")
            or any(c in path for c in "\\#")
            or not path.isprintable()
            or len(path) > 2048
        ):
            raise InvalidRequestError("path must be an absolute path (with an optional query)")
        route = path.split("?", 1)[0]
        # Encoded dots and slashes too: the upstream may decode them and leave the base path.
        lowered = route.lower()
        if any(seg in ("..", ".") for seg in route.split("/")) or any(
            enc in lowered for enc in ("%2e", "%2f", "%5c")
        ):
            raise InvalidRequestError("path may not contain dot segments or encoded slashes")
        url = httpx.URL(connector.base_url.rstrip("/") + path)
        base = httpx.URL(connector.base_url)
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise InvalidRequestError("path may not leave the connector's base URL")
        return url

    def request(self, call: Call, name: str, outgoing: OutgoingRequest) -> GatewayResponse:
        """Send ``outgoing`` through connector ``name``; one audit event, whatever happens."""
        with self._recorder.action(
            call.request_id, call.actor, "connectors.request", f"connectors/{name}", writes=False
        ) as tx:
            connector = self.connector(name)
            if connector.is_sql:
                raise InvalidRequestError("a postgres connector takes queries, not requests")
            method = outgoing.method.upper()
            if method not in METHODS:
                raise InvalidRequestError(f"method is one of {', '.join(sorted(METHODS))}")
            url = self._target(connector, outgoing.path)
            port = url.port or (443 if url.scheme == "https" else 80)
            tx.detail.update({"connector": name, "host": url.host, "method": method})
            address = self._policy.address(connector.app, url.host, port)
            secret = self._backend.read(
                tx.session, connector.secret.app, connector.secret.name, None
            )
            tx.detail.update({"secret": connector.secret.id, "version": secret.version})
            forms = _secret_forms(connector, secret.value)
            headers = self._headers(connector, outgoing.headers, secret.value)
            headers["Host"] = url.netloc.decode("ascii")
            headers["Accept-Encoding"] = "identity"
            target = url.copy_with(host=address)
            extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
            status, raw_headers, body = self._send(
                method, target, headers, outgoing.body, extensions
            )
            tx.detail.update({"status": status, "bytes": len(body)})
            self._check_redirect(status, raw_headers, url)
            shown = [
                (k, redact(v.encode("latin-1"), forms).decode("latin-1"))
                for k, v in raw_headers
                if k.lower() not in _HOP and k.lower() not in ("set-cookie", "content-encoding")
            ]
            return GatewayResponse(status, shown, redact(body, forms), secret.version)

    def query(self, call: Call, name: str, statement: postgres.Statement) -> QueryResponse:
        """Run ``statement`` through postgres connector ``name``; one audit event, whatever
        happens, naming the statement's kind and SHA-256 (not its parameters)."""
        from strongroom.runtime import postgres  # noqa: PLC0415 - psycopg on first use

        with self._recorder.action(
            call.request_id, call.actor, "connectors.query", f"connectors/{name}", writes=False
        ) as tx:
            connector = self.connector(name)
            if not connector.is_sql:
                raise InvalidRequestError("only a postgres connector takes queries")
            digest = hashlib.sha256(statement.sql.encode("utf-8", "surrogatepass")).hexdigest()
            tx.detail.update(
                {
                    "connector": name,
                    "app": connector.app,
                    "statement": f"sha256:{digest}",
                    "params": len(statement.params),
                }
            )
            tx.detail["kind"] = postgres.statement_kind(statement.sql)
            secret = self._backend.read(
                tx.session, connector.secret.app, connector.secret.name, None
            )
            tx.detail.update({"secret": connector.secret.id, "version": secret.version})
            try:
                text = secret.value.decode("utf-8")
            except UnicodeDecodeError:
                raise UpstreamError(
                    "the connector's secret is not a usable PostgreSQL DSN"
                ) from None
            dsn = parse_dsn(text)
            tx.detail["host"] = dsn.host
            address = self._policy.address(connector.app, dsn.host, dsn.port)
            limits = postgres.Limits(
                self._timeout, connector.max_rows, self._max, connector.allow_writes
            )
            result = postgres.run(dsn, address, statement, limits)
            tx.detail.update({"rows": len(result.rows), "truncated": result.truncated})
            return QueryResponse(result, secret.version)

    def _headers(
        self, connector: Connector, given: Mapping[str, str], value: bytes
    ) -> dict[str, str]:
        if len(given) > MAX_HEADERS:
            raise InvalidRequestError(f"at most {MAX_HEADERS} headers")
        injected = {"authorization", "accept-encoding", connector.header.lower()}
        headers = {}
        for key, val in given.items():
            lowered = key.lower()
            if lowered in _HOP or lowered in injected or lowered == "cookie":
                raise InvalidRequestError("a request header is one the gateway sets or forbids")
            if not (key.isascii() and val.isascii() and val.isprintable()):
                raise InvalidRequestError("headers are printable ASCII")
            headers[key] = val
        text = value.decode("latin-1")
        if any(c in text for c in "\r\n\x00"):
            raise UpstreamError("the secret cannot be sent in a header")
        if connector.template == "bearer":
            headers["Authorization"] = f"Bearer {text}"
        elif connector.template == "header":
            headers[connector.header] = text
        else:
            pair = connector.username.encode() + b":" + value
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return headers

    def _send(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        body: bytes,
        extensions: dict[str, str],
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        deadline = time.monotonic() + self._timeout
        http = self._client()
        request = http.build_request(
            method, url, headers=headers, content=body or None, extensions=extensions
        )
        try:
            response = http.send(request, stream=True)
            try:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self._max:
                        raise UpstreamError(f"the upstream answer exceeds {self._max} bytes")
                    if time.monotonic() > deadline:
                        raise UpstreamTimeoutError("the upstream did not answer in time")
                    chunks.append(chunk)
            finally:
                response.close()
        except httpx.TimeoutException:
            raise UpstreamTimeoutError("the upstream did not answer in time") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(f"the upstream failed ({type(exc).__name__})") from None
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
        return response.status_code, raw, b"".join(chunks)

    @staticmethod
    def _check_redirect(status: int, headers: list[tuple[str, str]], url: httpx.URL) -> None:
        if not 300 <= status < 400:
            return
        location = next((v for k, v in headers if k.lower() == "location"), None)
        if location is None:
            return
        target = httpx.URL(urljoin(str(url), location))
        if (target.scheme, target.host, target.port) != (url.scheme, url.host, url.port):
            raise UpstreamError("the upstream redirected to another host; not followed")
