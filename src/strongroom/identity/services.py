"""The identity services of one server: sign-in and sessions, the BFF, SCIM.

The BFF obtains its tokens from the token broker by exchange, and a logout revokes the
session's lineage at the broker (so every token derived from the session dies).

`on_user_deprovisioned` is the hook a SCIM deprovisioning calls (after it has ended the
user's sessions); register token kill switches there with `deprovision_hooks`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.clock import Clock
from strongroom.config import Settings
from strongroom.identity.bff import ApiTokenSource, Bff, ExchangedTokenSource
from strongroom.identity.broker import Broker
from strongroom.identity.dpop_key import DpopKey
from strongroom.identity.oidc.idtoken import SubjectTokenVerifier
from strongroom.identity.oidc.providers import ProviderRegistry
from strongroom.identity.scim.bulk import MAX_PAYLOAD_BYTES, Bulk
from strongroom.identity.scim.service import Scim
from strongroom.identity.signin import SessionView, SignIn
from strongroom.store.engine import Database
from strongroom.store.repositories import identity as repo


class IdentityServices:
    """Sign-in, sessions, BFF and SCIM, wired to one node's collaborators."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        recorder: Recorder,
        clock: Clock,
        broker: Broker,
        hide: Callable[[str], str],
        *,
        token_source: ApiTokenSource | None = None,
    ) -> None:
        self.registry = ProviderRegistry(settings)
        self.signin = SignIn(settings, database, recorder, clock, self.registry, hide)
        self.subject_tokens = SubjectTokenVerifier(self.registry, clock)
        nonce = broker.nonces.issue if settings.dpop_require_nonce else lambda: None
        self.bff = Bff(
            settings,
            recorder,
            token_source or ExchangedTokenSource(broker, settings.oauth_role_scopes, clock),
            DpopKey(clock, nonce),
            broker.dpop_required,
        )

        def revoke_lineage(call: Call, view: SessionView) -> None:
            broker.revoke_ids(call, [view.lineage_id])

        self.signin.logout_hooks.append(revoke_lineage)

        def kill_sessions(session: Session, user_id: str, subject: str) -> int:
            return repo.revoke_user_sessions(session, user_id, subject, clock.now_us())

        self.scim = Scim(
            database,
            recorder,
            clock,
            base_url=settings.resolved_issuer.rstrip("/") + "/scim/v2",
            max_page=settings.max_page_size,
            kill_sessions=kill_sessions,
        )

        self.scim_bulk = Bulk(
            self.scim,
            recorder,
            max_payload=min(MAX_PAYLOAD_BYTES, settings.max_body_bytes // 2),
        )

    @property
    def deprovision_hooks(self) -> list[Callable[[str], None]]:
        """Called with a user's subject after SCIM deprovisions them (sessions are dead)."""
        return self.scim.deprovision_hooks

    def on_user_deprovisioned(self, hook: Callable[[str], None]) -> None:
        """Register ``hook(subject)`` to run whenever SCIM deprovisions a user."""
        self.scim.deprovision_hooks.append(hook)

    def close(self) -> None:
        self.registry.close()
