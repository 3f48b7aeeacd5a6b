"""The backend-for-frontend of micro apps (IETF OAuth 2.0 for Browser-Based Apps, §6.1).

The browser holds only an opaque session cookie; tokens stay here. A call the front end
makes through ``/bff/{app}/api/{path}`` is forwarded to Strongroom's own API only, with
the ``Cookie`` header stripped and a short-lived access token attached. The token comes
from an `ApiTokenSource`: `ExchangedTokenSource` obtains it by RFC 8693 token exchange at
the token broker, through the same code path as ``POST /v1/oauth/token``: the subject
token is the session's sign-in token (`strongroom.identity.signin_tokens`), the client is
the app (its name is the client id), and the scopes asked for are the app's configured
scopes ∩ its approved scopes ∩ the user's role entitlements. So a BFF token carries the
same claims as any exchanged token (``client_id``, ``roles``, ``lin`` naming the session's
lineage id) and is audited by the same ``oauth.token.exchange`` event; logging out
revokes the session's lineage, which kills every token derived from it.

When policy requires DPoP for one of an app's scopes (``dpop_required_scopes``), the BFF
binds that app's tokens to its own DPoP key (`strongroom.identity.dpop_key`) and sends a
fresh proof with each forwarded call, so such scopes work through the BFF too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.clock import Clock
from strongroom.config import BffAppSettings, Settings
from strongroom.errors import (
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    OAuthError,
    StrongroomError,
    UnauthenticatedError,
)
from strongroom.identity import roles as role_table
from strongroom.identity import scopes as scope_names
from strongroom.identity.broker import Broker
from strongroom.identity.dpop_key import DpopKey
from strongroom.identity.exchange import GRANT_TYPE, bff_client_id
from strongroom.identity.signin import SessionView
from strongroom.identity.signin_tokens import SIGN_IN_TOKEN_TYPE
from strongroom.identity.subjects import ACCESS_TOKEN_TYPE
from strongroom.identity.tokens import IssuedToken

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

    def token_for(
        self, call: Call, session: SessionView, app: BffAppSettings, *, jkt: str | None = None
    ) -> IssuedToken:
        """An access token for ``session`` through ``app``; never wider than both allow.
        Bound to the DPoP key whose thumbprint is ``jkt``, if given."""


def narrowed_scopes(
    app: BffAppSettings, roles: Iterable[str], role_scopes: Mapping[str, Sequence[str]]
) -> list[str]:
    """The app's scopes that the user's roles entitle to, in the app's order."""
    held = list(roles)
    return [s for s in app.scopes if role_table.entitled(role_scopes, held, s)]


class ExchangedTokenSource:
    """Obtains the token by RFC 8693 exchange of the session's sign-in token."""

    def __init__(
        self, broker: Broker, role_scopes: Mapping[str, Sequence[str]], clock: Clock
    ) -> None:
        self._broker = broker
        self._role_scopes = role_scopes
        self._clock = clock

    def token_for(
        self, call: Call, session: SessionView, app: BffAppSettings, *, jkt: str | None = None
    ) -> IssuedToken:
        """The exchanged token (``cnf.jkt``-bound to ``jkt``, if given); `ForbiddenError`
        if no scope is left to ask for.

        The exchange's own errors (`OAuthError`) are raised as they are, after its event.
        """
        client_id = bff_client_id(app.name)
        approved = self._broker.exchanger.approved(client_id)
        scopes = [
            s
            for s in narrowed_scopes(app, session.roles, self._role_scopes)
            if scope_names.allowed(approved, s)
        ]
        if not scopes:
            raise ForbiddenError("this user may use none of the app's approved scopes")
        remaining = (session.expires_us - self._clock.now_us()) // 1_000_000
        if remaining < 1 or not session.lineage_id:
            raise UnauthenticatedError()
        subject_token = self._broker.sign_in_tokens.mint(
            session.subject, session.roles, session.lineage_id, min(app.token_ttl, remaining)
        )
        form = {
            "grant_type": [GRANT_TYPE],
            "subject_token": [subject_token],
            "subject_token_type": [SIGN_IN_TOKEN_TYPE],
            "requested_token_type": [ACCESS_TOKEN_TYPE],
            "scope": [" ".join(scopes)],
        }
        return self._broker.exchange_as(call, form, client_id, f"bff/{app.name}", jkt=jkt).issued


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


@dataclass(frozen=True)
class Forwarding:
    """The credentials of one forwarded call: its access token, and the DPoP key it is
    bound to when policy requires DPoP for one of the app's scopes."""

    token: IssuedToken
    key: DpopKey | None = None

    def credentials(self, method: str, url: str) -> dict[str, str]:
        """``Authorization`` (and ``DPoP``, with a fresh proof for ``method`` and ``url``)."""
        token = self.token.access_token
        if self.key is None:
            return {"authorization": f"Bearer {token}"}
        return {"authorization": f"DPoP {token}", "dpop": self.key.proof(method, url, token)}


def forward_headers(
    incoming: Iterable[tuple[str, str]], credentials: Mapping[str, str]
) -> dict[str, str]:
    """Request headers for the forwarded call: no cookies or credentials of the browser's,
    plus the BFF's own (`Forwarding.credentials`)."""
    headers = {k: v for k, v in incoming if k.lower() not in _DROPPED}
    headers.update(credentials)
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
        key: DpopKey,
        dpop_required: Callable[[str], bool],
    ) -> None:
        self._apps = {a.name: a for a in settings.bff_apps}
        self._recorder = recorder
        self.source = source
        #: The BFF's own DPoP key (`strongroom.identity.dpop_key`).
        self.key = key
        # Apps with a scope the policy (`Broker.dpop_required`) binds to DPoP get
        # DPoP-bound tokens, bearer ones otherwise.
        self._bound = {a.name for a in settings.bff_apps if any(dpop_required(s) for s in a.scopes)}

    def app(self, name: str) -> BffAppSettings:
        """The registered app ``name``; `NotFoundError` if none."""
        app = self._apps.get(name)
        if app is None:
            raise NotFoundError("no such micro app")
        return app

    def token(self, call: Call, session: SessionView, app: BffAppSettings, path: str) -> Forwarding:
        """The credentials for forwarding one call to ``path``: an access token, bound to
        the BFF's DPoP key if policy requires DPoP for one of the app's scopes.

        Issuing it is audited by the exchange (``oauth.token.exchange``, ``via`` the app);
        a refusal before the exchange is a denied ``bff.token`` event naming the path.
        """
        try:
            if app.name in self._bound:
                token = self.source.token_for(call, session, app, jkt=self.key.jkt)
                return Forwarding(token, self.key)
            return Forwarding(self.source.token_for(call, session, app))
        except StrongroomError as exc:
            if exc.status < 500 and not isinstance(exc, OAuthError):
                self._recorder.record(
                    call.request_id,
                    call.actor,
                    "bff.token",
                    f"bff/{app.name}",
                    "denied",
                    {"error": exc.slug, "path": path},
                )
            raise
