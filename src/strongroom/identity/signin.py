"""Sign-in through an OpenID provider, and the server-side sessions it creates.

`SignIn.begin` records a pending sign-in (by the hash of its ``state``) and returns the
provider URL and a browser-binding secret for a short-lived cookie. `SignIn.complete`
takes the pending sign-in once (state and binding must both match), checks the
provider's answer, redeems the code with the PKCE verifier, validates the ID token, and
creates a session whose random id is stored only as its SHA-256. When SCIM is enabled
only a provisioned, active user may sign in. Every step is audited; failures are
``denied`` events naming the check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from strongroom.audit.events import Outcome
from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.clock import Clock
from strongroom.config import Settings
from strongroom.errors import (
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    SignInError,
)
from strongroom.identity.oidc import client
from strongroom.identity.oidc.idtoken import IdTokenVerifier, VerifiedSubject
from strongroom.identity.oidc.providers import ProviderRegistry
from strongroom.identity.returns import origin_of, safe_return_to
from strongroom.identity.signin_tokens import session_lineage
from strongroom.store.engine import Database
from strongroom.store.models import SignInAttempt, UserSession
from strongroom.store.repositories import identity as repo

SIGNIN_TTL_SECONDS = 600
CONSOLE = "console"
MAX_SESSION_ID_CHARS = 128


def attempt_binding(binding: str | None) -> str:
    """The binding secret, once `SignIn._take` has matched it (never None by then)."""
    if binding is None:
        raise SignInError("the sign-in was started in another browser")
    return binding


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


@dataclass(frozen=True)
class Started:
    """A begun sign-in: send the browser to ``url``, bind it with ``binding``."""

    url: str
    binding: str
    max_age: int

    def __repr__(self) -> str:
        return "Started(<hidden>)"


@dataclass(frozen=True)
class SessionView:
    """A live session, as the server sees it. Holds no token and not the session id."""

    subject: str
    app: str
    provider: str
    roles: tuple[str, ...]
    expires_us: int
    user_id: str | None
    #: What tokens derived from this session name in ``lin``; revoked at logout.
    lineage_id: str = ""


#: Called with (call, session) before a session ends: revoke what was derived from it.
LogoutHook = Callable[[Call, SessionView], None]


@dataclass(frozen=True)
class Completed:
    """A finished sign-in. ``session_id`` goes to the browser only, in a cookie."""

    session_id: str
    return_to: str
    session: SessionView
    subject: VerifiedSubject

    def __repr__(self) -> str:
        return f"Completed(return_to={self.return_to!r})"


class SignIn:
    """Sign-ins and sessions for the console and the BFF."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        recorder: Recorder,
        clock: Clock,
        registry: ProviderRegistry,
        hide: Callable[[str], str],
    ) -> None:
        self._settings = settings
        self._db = database
        self._recorder = recorder
        self._clock = clock
        self.registry = registry
        self._hide = hide
        self._origins = [*settings.oidc_return_origins, origin_of(settings.resolved_issuer)]
        self.logout_hooks: list[LogoutHook] = []

    def redirect_uri(self, provider: str, app: str) -> str:
        """The fixed callback URL of ``app`` (never taken from a request)."""
        base = self._settings.resolved_issuer.rstrip("/")
        if app == CONSOLE:
            return f"{base}/v1/auth/oidc/{provider}/callback"
        return f"{base}/bff/{app}/callback"

    def begin(self, call: Call, provider_name: str, app: str, return_to: str | None) -> Started:
        """Start a sign-in; `InvalidRequestError` for a bad ``return_to``."""
        resource = f"auth/oidc/{provider_name}"
        with self._recorder.action(
            call.request_id, call.actor, "auth.signin.begin", resource
        ) as tx:
            tx.detail["app"] = app
            target = safe_return_to(return_to, self._origins)
            provider = self.registry.get(provider_name)
            request = client.begin(provider, self.redirect_uri(provider_name, app))
            now = self._clock.now_us()
            repo.add_attempt(
                tx.session,
                SignInAttempt(
                    state_hash=_sha256(request.state),
                    binding_hash=_sha256(request.binding),
                    provider=provider_name,
                    app=app,
                    nonce=request.nonce,
                    return_to=target,
                    expires_us=now + SIGNIN_TTL_SECONDS * 1_000_000,
                ),
                now,
            )
        return Started(request.url, request.binding, SIGNIN_TTL_SECONDS)

    def complete(
        self,
        call: Call,
        provider_name: str,
        app: str,
        params: Mapping[str, str],
        binding: str | None,
        previous: str | None = None,
    ) -> Completed:
        """Finish a sign-in and create a session; `SignInError` naming the failed check.

        ``previous`` is the session id this browser held before: it is ended, since its
        cookie is about to be overwritten (and a planted session must not outlive it).
        """
        resource = f"auth/oidc/{provider_name}"
        action = "auth.signin.complete"
        try:
            attempt = self._take(params.get("state"), binding, provider_name, app)
            provider = self.registry.get(provider_name)
            code = client.read_callback(provider, params)
            tokens = client.redeem(
                provider, code, self.redirect_uri(provider_name, app), attempt_binding(binding)
            )
            subject = IdTokenVerifier(provider, self._clock).verify(
                tokens.id_token, nonce=attempt.nonce, access_token=tokens.access_token
            )
        except (SignInError, ProviderError, NotFoundError, InvalidRequestError) as exc:
            outcome: Outcome = "denied" if isinstance(exc, SignInError) else "error"
            self._recorder.record(
                call.request_id,
                call.actor,
                action,
                resource,
                outcome,
                {"error": exc.slug, "check": exc.detail, "app": app},
            )
            raise
        actor = self._hide(subject.username)
        replaced = self.session(previous, app)
        if replaced is not None:
            self._end_derived(call, replaced)
        with self._recorder.action(call.request_id, actor, action, resource) as tx:
            tx.detail.update({"app": app, "provider": provider_name})
            user_id, roles = self._admit(tx.session, subject)
            session_id = secrets.token_urlsafe(32)
            now = self._clock.now_us()
            view = SessionView(
                subject=subject.username,
                app=app,
                provider=provider_name,
                roles=roles,
                expires_us=now + self._settings.session_ttl_seconds * 1_000_000,
                user_id=user_id,
                lineage_id=session_lineage(subject.issuer, _sha256(session_id)),
            )
            repo.add_session(
                tx.session,
                UserSession(
                    id_hash=_sha256(session_id),
                    app=app,
                    provider=provider_name,
                    issuer=subject.issuer,
                    oidc_subject=subject.subject,
                    subject=subject.username,
                    user_id=user_id,
                    roles=json.dumps(list(roles)),
                    created_us=now,
                    expires_us=view.expires_us,
                    revoked_us=None,
                ),
            )
            tx.detail["roles"] = list(roles)
            if previous and len(previous) <= MAX_SESSION_ID_CHARS:
                tx.detail["replaced"] = repo.revoke_session(tx.session, _sha256(previous), now)
        return Completed(session_id, attempt.return_to, view, subject)

    def _take(
        self, state: str | None, binding: str | None, provider: str, app: str
    ) -> SignInAttempt:
        if not state or len(state) > 256:
            raise SignInError("the provider's answer has no valid state")
        with self._db.transaction() as session:
            attempt = repo.take_attempt(session, _sha256(state))
        if attempt is None:
            raise SignInError("the state is unknown, used or expired")
        if not binding or not hmac.compare_digest(attempt.binding_hash, _sha256(binding)):
            raise SignInError("the sign-in was started in another browser")
        if attempt.provider != provider or attempt.app != app:
            raise SignInError("the state belongs to another sign-in")
        if attempt.expires_us <= self._clock.now_us():
            raise SignInError("the sign-in took too long; start again")
        return attempt

    def _admit(
        self, session: Session, subject: VerifiedSubject
    ) -> tuple[str | None, tuple[str, ...]]:
        roles = set(subject.roles)
        if not self._settings.scim_enabled:
            return None, tuple(sorted(roles))
        user = repo.user_by_name(session, subject.username)
        if user is None or not user.active:
            raise SignInError("this user is not provisioned or not active")
        for group in repo.groups_of(session, user.id):
            roles.update(self._settings.scim_group_roles.get(group.display_name, ()))
        return user.id, tuple(sorted(roles))

    # -- sessions ---------------------------------------------------------------------

    def session(self, session_id: str | None, app: str) -> SessionView | None:
        """The live session with this id for ``app``, or None."""
        if not session_id or len(session_id) > MAX_SESSION_ID_CHARS:
            return None
        with self._db.transaction(read_only=True) as session:
            row = repo.find_session(session, _sha256(session_id))
        if (
            row is None
            or row.app != app
            or row.revoked_us is not None
            or row.expires_us <= self._clock.now_us()
        ):
            return None
        return SessionView(
            subject=row.subject,
            app=row.app,
            provider=row.provider,
            roles=tuple(json.loads(row.roles)),
            expires_us=row.expires_us,
            user_id=row.user_id,
            lineage_id=session_lineage(row.issuer, row.id_hash),
        )

    def _end_derived(self, call: Call, view: SessionView) -> None:
        for hook in self.logout_hooks:
            hook(call, view)

    def logout(self, call: Call, session_id: str | None, app: str) -> bool:
        """End a session (audited); True if a live one was ended.

        The `logout_hooks` run first (they revoke the session's lineage, so every token
        derived from it is dead); if one fails the session stays and the error is raised,
        so the user can try again.
        """
        view = self.session(session_id, app)
        actor = self._hide(view.subject) if view else call.actor
        if view is not None:
            self._end_derived(Call(call.request_id, actor), view)
        with self._recorder.action(
            call.request_id, actor, "auth.session.logout", f"auth/{app}"
        ) as tx:
            ended = 0
            if view is not None and session_id:
                ended = repo.revoke_session(tx.session, _sha256(session_id), self._clock.now_us())
            tx.detail["ended"] = ended
        return ended > 0
