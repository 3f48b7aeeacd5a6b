"""OAuth 2.0 Token Exchange (RFC 8693): the policy that turns a subject token into a token.

Issued scopes are only ever narrowed: every requested scope must be approved for the app
(`ApprovedScopes`), held by the subject (the scopes of a Strongroom access token, or the
entitlements of the signed-in user's roles) and requested; a scope failing any of the
three is refused (``invalid_scope``), never silently dropped. Exchanged tokens are RFC 9068
JWTs for Strongroom's own audience, living `Settings.token_default_ttl` seconds but never
longer than their subject token, and carry ``lin`` (their ancestors' ids), ``roles``,
``act`` (nested, for delegation; the subject's ``may_act`` is honoured) and ``cnf.jkt``
when the request came with a DPoP proof.

Error codes follow RFC 8693 §2.2.2 and RFC 6749 §5.2: a missing or repeated parameter,
an unsupported token type, and a subject or actor token that is invalid, expired, revoked
or refused by policy are ``invalid_request``; a target other than Strongroom is
``invalid_target``; scopes are ``invalid_scope``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from strongroom.clock import Clock
from strongroom.config import Settings
from strongroom.errors import (
    InvalidRequestError,
    InvalidScopeError,
    InvalidTargetError,
    OAuthInvalidRequestError,
    UnauthenticatedError,
    UnsupportedGrantTypeError,
)
from strongroom.identity import scopes as scope_names
from strongroom.identity.dpop import normalise_uri
from strongroom.identity.principal import BFF_CLIENT_PREFIX
from strongroom.identity.revocation import RevocationState
from strongroom.identity.subjects import (
    ACCESS_TOKEN_TYPE,
    JWT_TOKEN_TYPE,
    SubjectVerifiers,
    VerifiedSubject,
)
from strongroom.identity.tokens import MAX_LINEAGE, IssuedToken, TokenService, UnsignedToken

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ISSUABLE_TYPES = frozenset({ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE})
MAX_PARAM_CHARS = 16_384
MAX_ACT_DEPTH = 8
REPEATABLE = frozenset({"audience", "resource"})

#: The scopes (patterns) an app is approved for, by client id.
ApprovedScopes = Callable[[str], Sequence[str]]


def configured_approvals(
    per_app: Mapping[str, Sequence[str]], default: Sequence[str]
) -> ApprovedScopes:
    """The approvals of settings: ``per_app[client_id]``, else ``default``."""

    def approved(client_id: str) -> Sequence[str]:
        return per_app.get(client_id, default)

    return approved


def bff_client_id(app: str) -> str:
    return BFF_CLIENT_PREFIX + app


def operator_approvals(settings: Settings) -> ApprovedScopes:
    """The approvals an operator configured: ``oauth_app_scopes`` for registered clients,
    the scopes of a BFF app (``bff_apps``: configuring the app approves them) for its
    BFF client id ``bff:<app>`` only, and the default for any other client."""
    per_app: dict[str, Sequence[str]] = dict(settings.oauth_app_scopes)
    per_app.update({bff_client_id(a.name): a.scopes for a in settings.bff_apps})
    return configured_approvals(per_app, settings.oauth_default_app_scopes)


def single(form: Mapping[str, Sequence[str]], name: str, *, required: bool = False) -> str | None:
    """One form parameter: `OAuthInvalidRequestError` if repeated, too long or missing."""
    values = form.get(name, ())
    if len(values) > 1:
        raise OAuthInvalidRequestError(f"the parameter {name} is repeated")
    if not values or values[0] == "":
        if required:
            raise OAuthInvalidRequestError(f"the parameter {name} is missing")
        return None
    if len(values[0]) > MAX_PARAM_CHARS:
        raise OAuthInvalidRequestError(f"the parameter {name} is too long")
    return values[0]


def required(form: Mapping[str, Sequence[str]], name: str) -> str:
    """One form parameter that must be there; `OAuthInvalidRequestError` otherwise."""
    value = single(form, name, required=True)
    if value is None:
        raise OAuthInvalidRequestError(f"the parameter {name} is missing")
    return value


@dataclass(frozen=True)
class Exchanged:
    """The outcome of an exchange; ``issued`` holds the token (for its holder only)."""

    issued: IssuedToken
    token_type: str
    subject: str
    parent: str
    actor: str | None

    def __repr__(self) -> str:
        return f"Exchanged(jti={self.issued.jti!r}, parent={self.parent!r})"


class Prepared(NamedTuple):
    """An exchange that passed every check, up to its token's signature (`sign`). A tuple:
    one is built per exchange."""

    token: UnsignedToken
    token_type: str
    subject: str
    parent: str
    actor: str | None

    def sign(self) -> Exchanged:
        """The exchange's outcome, its token signed."""
        return Exchanged(self.token.sign(), self.token_type, self.subject, self.parent, self.actor)

    def __repr__(self) -> str:
        return f"Prepared(jti={self.token.jti!r}, parent={self.parent!r})"


class TokenExchange:
    """Validates exchange requests and mints the narrowed token."""

    def __init__(
        self,
        tokens: TokenService,
        subjects: SubjectVerifiers,
        revocations: RevocationState,
        clock: Clock,
        approved: ApprovedScopes,
        role_scopes: Mapping[str, Sequence[str]],
        *,
        ttl: int,
    ) -> None:
        self._tokens = tokens
        self._subjects = subjects
        self._revocations = revocations
        self._clock = clock
        self.approved = approved
        self._role_scopes = role_scopes
        self._ttl = ttl

    def _verify(self, token: str | None, token_type: str | None, what: str) -> VerifiedSubject:
        if token is None or token_type is None:
            raise OAuthInvalidRequestError(f"{what}_token and {what}_token_type go together")
        verifier = self._subjects.get(token_type)
        if verifier is None:
            raise OAuthInvalidRequestError(f"this {what}_token_type is not supported")
        try:
            subject = verifier.verify(token)
        except UnauthenticatedError:
            raise OAuthInvalidRequestError(f"the {what} token is invalid") from None
        issued_at = subject.claims.get("iat", 0)
        if self._revocations.is_dead(
            subject.lineage_id,
            subject.lineage,
            subject.subject,
            subject.client_id or "",
            issued_at if isinstance(issued_at, int) else 0,
        ):
            raise OAuthInvalidRequestError(f"the {what} token is invalid")
        return subject

    def _target(self, form: Mapping[str, Sequence[str]]) -> None:
        audience = self._tokens.audience
        for value in form.get("audience", ()):
            if value != audience:
                raise InvalidTargetError("Strongroom issues tokens only for its own audience")
        resources = form.get("resource", ())
        if not resources:
            return
        issuer = normalise_uri(self._tokens.issuer).rstrip("/")
        for value in resources:
            try:
                target = normalise_uri(value)
            except ValueError:
                raise InvalidTargetError("a resource must be an absolute http(s) URI") from None
            if target != issuer + "/" and not target.startswith(issuer + "/"):
                raise InvalidTargetError("Strongroom issues tokens only for its own API")

    def _scopes(
        self, form: Mapping[str, Sequence[str]], client_id: str, subject: VerifiedSubject
    ) -> list[str]:
        approved = list(self.approved(client_id))
        if subject.scopes is not None:
            held: Callable[[str], bool] = subject.scopes.__contains__
        else:
            patterns = [p for role in subject.roles for p in self._role_scopes.get(role, ())]

            def held(scope: str) -> bool:
                return scope_names.allowed(patterns, scope)

        text = single(form, "scope")
        if text is None:
            pool = subject.scopes if subject.scopes is not None else scope_names.KNOWN
            requested = sorted(s for s in pool if held(s) and scope_names.allowed(approved, s))
            requested = [s for s in requested if s not in scope_names.ROOT_ONLY]
            if not requested:
                raise InvalidScopeError("no scope can be granted to this app for this subject")
            return requested
        try:
            requested = scope_names.validate(text.split(" "))
        except InvalidRequestError as exc:
            raise InvalidScopeError(exc.detail) from None
        for position, scope in enumerate(requested, start=1):
            if scope in scope_names.ROOT_ONLY:
                raise InvalidScopeError(f"scope {position} cannot be obtained by exchange")
            if not scope_names.allowed(approved, scope):
                raise InvalidScopeError(f"scope {position} is not approved for this app")
            if not held(scope):
                raise InvalidScopeError(f"scope {position} is not held by the subject")
        return requested

    def _act(self, subject: VerifiedSubject, actor: VerifiedSubject) -> dict[str, Any]:
        may_act = subject.may_act
        if may_act is not None and (
            may_act.get("sub") != actor.subject or may_act.get("iss", actor.issuer) != actor.issuer
        ):
            raise OAuthInvalidRequestError("the subject token does not allow this actor")
        act: dict[str, Any] = {"sub": actor.subject, "iss": actor.issuer}
        prior, depth = subject.act, 1
        if prior is not None:
            act["act"] = dict(prior)
            node: Any = prior
            while isinstance(node, Mapping):
                depth += 1
                node = node.get("act")
        if depth > MAX_ACT_DEPTH:
            raise OAuthInvalidRequestError("the delegation chain is too long")
        return act

    def exchange(
        self, form: Mapping[str, Sequence[str]], client_id: str, jkt: str | None
    ) -> Exchanged:
        """Exchange for ``client_id`` (authenticated already); ``jkt`` binds to a DPoP key.

        Raises the `OAuthError` subclasses described in the module docstring.
        """
        return self.prepare(form, client_id, jkt).sign()

    def prepare(
        self, form: Mapping[str, Sequence[str]], client_id: str, jkt: str | None
    ) -> Prepared:
        """`exchange` up to the signature: every check, the same errors, the token's
        claims; `Prepared.sign` signs it."""
        for name, values in form.items():
            if len(values) > 1 and name not in REPEATABLE:
                raise OAuthInvalidRequestError(f"the parameter {name} is repeated")
        grant_type = required(form, "grant_type")
        if grant_type != GRANT_TYPE:
            raise UnsupportedGrantTypeError("only token exchange is supported here")
        requested_type = single(form, "requested_token_type")
        if requested_type is not None and requested_type not in ISSUABLE_TYPES:
            raise OAuthInvalidRequestError("only access tokens can be requested")
        self._target(form)
        subject = self._verify(
            required(form, "subject_token"), required(form, "subject_token_type"), "subject"
        )
        if subject.jkt is not None and subject.jkt != jkt:
            raise OAuthInvalidRequestError(
                "the subject token is DPoP-bound: send a DPoP proof made with its key"
            )
        actor_token, actor_type = single(form, "actor_token"), single(form, "actor_token_type")
        extra: dict[str, Any] = {"roles": sorted(subject.roles)}
        actor = None
        if actor_token is not None or actor_type is not None:
            actor = self._verify(actor_token, actor_type, "actor")
            extra["act"] = self._act(subject, actor)
        granted = self._scopes(form, client_id, subject)
        lineage = [*subject.lineage, subject.lineage_id]
        if len(lineage) > MAX_LINEAGE:
            raise OAuthInvalidRequestError("the exchange chain is too long")
        extra["lin"] = lineage
        if jkt is not None:
            extra["cnf"] = {"jkt": jkt}
        ttl = self._ttl
        if subject.expires_s is not None:
            ttl = min(ttl, subject.expires_s - self._clock.now_us() // 1_000_000)
        if ttl < 1:
            raise OAuthInvalidRequestError("the subject token is about to expire")
        token = self._tokens.prepare(
            subject.subject, granted, ttl, client_id=client_id, extra=extra
        )
        return Prepared(
            token,
            "DPoP" if jkt is not None else "Bearer",
            subject.subject,
            subject.lineage_id,
            actor.subject if actor else None,
        )
