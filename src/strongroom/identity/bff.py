"""The backend-for-frontend of micro apps (IETF OAuth 2.0 for Browser-Based Apps, §6.1).

The browser holds only an opaque session cookie; tokens stay here. A call the front end
makes through ``/bff/{app}/api/{path}`` is forwarded to Strongroom's own API only, with
the ``Cookie`` header stripped and a short-lived access token attached. The token comes
from an `ApiTokenSource`: today `MintedTokenSource` mints one with the existing
`TokenService`, narrowed to the app's configured scopes ∩ the user's role entitlements.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol
from urllib.parse import unquote

from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.config import BffAppSettings, Settings
from strongroom.errors import InvalidRequestError, NotFoundError
from strongroom.identity import roles as role_table
from strongroom.identity.signin import SessionView
from strongroom.identity.tokens import IssuedToken, TokenService

CSRF_HEADER = "x-strongroom-csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Forwarded paths: Strongroom's versioned API only, never the BFF or SCIM themselves.
_API_PATH = re.compile(r"^v1/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$")
_DROPPED = frozenset(
    {
        "cookie",
        "authorization",
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "dpop",
        CSRF_HEADER,
    }
)
_RESPONSE_DROPPED = frozenset(
    {"set-cookie", "content-length", "transfer-encoding", "connection", "x-request-id"}
)


class ApiTokenSource(Protocol):
    """Given a session's subject and the app, a short-lived access token for the API."""

    def token_for(self, session: SessionView, app: BffAppSettings) -> IssuedToken:
        """An access token for ``session`` through ``app``; never wider than both allow."""


def narrowed_scopes(
    app: BffAppSettings, roles: Iterable[str], role_scopes: Mapping[str, Sequence[str]]
) -> list[str]:
    """The app's scopes that the user's roles entitle to, in the app's order."""
    held = list(roles)
    return [s for s in app.scopes if role_table.entitled(role_scopes, held, s)]


class MintedTokenSource:
    """Mints the token directly with the `TokenService` (until RFC 8693 exchange lands)."""

    def __init__(self, tokens: TokenService, role_scopes: Mapping[str, Sequence[str]]) -> None:
        self._tokens = tokens
        self._role_scopes = role_scopes

    def token_for(self, session: SessionView, app: BffAppSettings) -> IssuedToken:
        scopes = narrowed_scopes(app, session.roles, self._role_scopes)
        return self._tokens.mint(
            session.subject, scopes, app.token_ttl, client_id=f"bff:{app.name}"
        )


def api_path(path: str) -> str:
    """The API path a BFF call may go to; `InvalidRequestError` for anything else.

    Only ``v1/...`` of Strongroom's own API; no dot segments (also percent-encoded), no
    empty segments, no query smuggled into the path.
    """
    decoded = unquote(path)
    segments = decoded.split("/")
    if (
        len(path) > 1024
        or not _API_PATH.match(path)
        or any(s in ("", ".", "..") for s in segments)
        or "%" in decoded
        or "?" in decoded
        or "\\" in decoded
    ):
        raise InvalidRequestError("the BFF forwards only to Strongroom's own API paths")
    return "/" + path


def forward_headers(incoming: Iterable[tuple[str, str]], token: str) -> dict[str, str]:
    """Request headers for the forwarded call: no cookies or credentials, plus the token."""
    headers = {k: v for k, v in incoming if k.lower() not in _DROPPED}
    headers["authorization"] = f"Bearer {token}"
    return headers


def response_headers(outgoing: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Response headers passed back to the browser (no cookies from the API)."""
    return {k: v for k, v in outgoing if k.lower() not in _RESPONSE_DROPPED}


def check_csrf(method: str, headers: Mapping[str, str]) -> None:
    """State-changing calls must carry ``X-Strongroom-CSRF: 1`` (a simple form cannot)."""
    if method.upper() not in SAFE_METHODS and headers.get(CSRF_HEADER) != "1":
        raise InvalidRequestError("state-changing BFF calls need the X-Strongroom-CSRF: 1 header")


class Bff:
    """The registered micro apps and the tokens their sessions get."""

    def __init__(
        self,
        settings: Settings,
        recorder: Recorder,
        source: ApiTokenSource,
        hide: Callable[[str], str],
    ) -> None:
        self._apps = {a.name: a for a in settings.bff_apps}
        self._recorder = recorder
        self.source = source
        self._hide = hide

    def app(self, name: str) -> BffAppSettings:
        """The registered app ``name``; `NotFoundError` if none."""
        app = self._apps.get(name)
        if app is None:
            raise NotFoundError("no such micro app")
        return app

    def token(
        self, call: Call, session: SessionView, app: BffAppSettings, path: str
    ) -> IssuedToken:
        """An access token for forwarding one call (audited, never the token)."""
        actor = self._hide(session.subject)
        with self._recorder.action(
            call.request_id, actor, "bff.token", f"bff/{app.name}", writes=False
        ) as tx:
            issued = self.source.token_for(session, app)
            tx.detail.update({"jti": issued.jti, "scopes": list(issued.scopes), "path": path})
        return issued
