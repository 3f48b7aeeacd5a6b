"""The token broker: exchange, revocation, introspection, kill switches, client admin,
and the resource-side check of access tokens (revocation state and DPoP binding).

Each public method except `authenticate_access` is one audited operation (one event,
whatever the outcome) and raises typed errors: `OAuthError` subclasses at the OAuth
endpoints, the usual request errors elsewhere. Tokens, secrets and proofs never enter an
event: events name ``jti`` values, client ids and (HMAC'd) subjects.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from strongroom.audit import identifiers
from strongroom.audit.events import Detail, Outcome
from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.clock import Clock
from strongroom.config import Settings
from strongroom.errors import (
    AuthError,
    DpopProofError,
    InvalidDpopProofError,
    InvalidRequestError,
    OAuthError,
    StrongroomError,
    UnauthenticatedError,
    UnauthorizedClientError,
    UseDpopNonceError,
)
from strongroom.identity import scopes as scope_names
from strongroom.identity.clients import ClientCredentials, ClientInfo, ClientRegistry
from strongroom.identity.dpop import (
    DatabaseReplayCache,
    DpopVerifier,
    MemoryReplayCache,
    NonceSource,
    RedisReplayCache,
    ReplayCache,
)
from strongroom.identity.exchange import (
    ApprovedScopes,
    Exchanged,
    Prepared,
    TokenExchange,
    operator_approvals,
    required,
    single,
)
from strongroom.identity.principal import Principal
from strongroom.identity.revocation import DEFAULT_REMEMBER_SECONDS, KINDS, RevocationState
from strongroom.identity.signin_tokens import SignInTokens
from strongroom.identity.subjects import (
    ACCESS_TOKEN_TYPE,
    AccessTokenVerifier,
    SubjectVerifiers,
    external_lineage_id,
)
from strongroom.identity.tokens import TokenService, principal_of
from strongroom.kms.keyring import Keyring
from strongroom.store.engine import Database
from strongroom.store.repositories import oauth as repo

TOKEN_PATH = "/v1/oauth/token"  # noqa: S105 - a path
EXCHANGE = "oauth.token.exchange"
logger = logging.getLogger("strongroom.identity")
MAX_NAME_CHARS = 256
#: Subjects whose audit HMAC is remembered at most (then the memo starts afresh).
MAX_HIDDEN = 4096


class _Attempt(NamedTuple):
    """The outcome of an exchange attempt and the one audit event that records it. A
    tuple: one is built per exchange."""

    actor: str
    resource: str
    outcome: Outcome
    detail: Detail
    result: Exchanged | None = None
    error: Exception | None = None

    def outcome_or_raise(self) -> Exchanged:
        """The exchanged token, or the error that refused the request (raised)."""
        if self.error is not None:
            raise self.error
        if self.result is None:  # pragma: no cover - an attempt holds one or the other
            raise RuntimeError("an exchange attempt without an outcome")
        return self.result


class _Staged(NamedTuple):
    """An exchange that passed every check, awaiting its token's signature (`Broker._finish`
    turns it into its `_Attempt`). A tuple: one is built per exchange on the event loop."""

    actor: str
    client_id: str
    jkt: str | None
    via: str | None
    prepared: Prepared


@dataclass(frozen=True)
class Caller:
    """Who calls revocation or introspection: an authenticated client or a principal."""

    client_id: str | None = None
    principal: Principal | None = None
    #: An error found in the request before the caller was known; raised, audited.
    malformed: OAuthError | None = None


class Broker:
    """Owns the OAuth collaborators of one node; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        recorder: Recorder,
        clock: Clock,
        keyring: Callable[[], Keyring],
        tokens: TokenService,
    ) -> None:
        self.settings = settings
        self._db = database
        self._recorder = recorder
        self._clock = clock
        self._keyring = keyring
        self._tokens = tokens
        self._late: set[asyncio.Future[None]] = set()
        # Per event loop: the exchanges whose tokens it signs together (`_sign_soon`).
        self._to_sign: dict[
            asyncio.AbstractEventLoop, list[tuple[Call, _Staged, asyncio.Future[_Attempt]]]
        ] = {}
        # The audit key version and the subjects' HMACs under it (`_hide`).
        self._hidden: tuple[int, dict[str, str]] = (0, {})
        # Settings are immutable: the endpoint every exchange names is built once.
        self._token_endpoint = settings.resolved_issuer.rstrip("/") + TOKEN_PATH
        self.revocations = RevocationState(database, clock, settings.revocation_refresh_seconds)
        self.replay: ReplayCache = MemoryReplayCache(clock)
        store = settings.resolved_proof_replay_store
        if store == "database":
            self.replay = DatabaseReplayCache(database, clock)
        elif store == "redis" and settings.redis_url:
            self.replay = RedisReplayCache(settings.redis_url, clock)
        self.nonces = NonceSource(lambda: keyring().current("oauth-hmac").material, clock)
        self.dpop = DpopVerifier(
            clock,
            self.replay,
            self.nonces,
            max_age_seconds=settings.dpop_proof_max_age_seconds,
            require_nonce=settings.dpop_require_nonce,
        )
        self.clients = ClientRegistry(
            database,
            keyring,
            clock,
            self.replay,
            cache_seconds=settings.revocation_refresh_seconds,
        )
        self.subjects = SubjectVerifiers()
        self.subjects.register(AccessTokenVerifier(tokens, self.revocations.check))
        self.sign_in_tokens = SignInTokens(tokens)
        self.subjects.register(self.sign_in_tokens)
        self.exchanger = TokenExchange(
            tokens,
            self.subjects,
            self.revocations,
            clock,
            operator_approvals(settings),
            settings.oauth_role_scopes,
            ttl=settings.token_default_ttl,
        )
        # The operator's approvals are configuration: always in memory.
        self._approved_cached: Callable[[str], bool] = lambda _client_id: True
        #: Whether the keyring is due a refresh from the store (the node sets it).
        self.keyring_due: Callable[[], bool] = lambda: False

    def set_approved_scopes(
        self, approved: ApprovedScopes, cached: Callable[[str], bool] | None = None
    ) -> None:
        """Replace the source of approved scopes (governance plugs signed manifests in).

        ``cached(client_id)`` says whether ``approved`` would answer from memory; without
        it, every answer is assumed to need the store.
        """
        self.exchanger.approved = approved
        self._approved_cached = cached or (lambda _client_id: False)

    def _in_memory(
        self, form: Mapping[str, Sequence[str]], creds: ClientCredentials, proof: str | None
    ) -> bool:
        """Whether this exchange needs nothing but memory and CPU: no DPoP proof (whose
        replay cache is a store), Strongroom access tokens only (an ID token may need its
        provider's keys), a client secret of a client loaded recently, and fresh
        revocation and approved-scope caches. Then it may run on the event loop: a
        signature check at most, a signature, and lookups. A keyring due a refresh sends
        it to a worker thread too."""
        if proof is not None or not self.clients.cached(creds) or not self.revocations.fresh():
            return False
        if self.keyring_due():
            return False
        types = (form.get("subject_token_type", ()), form.get("actor_token_type", ()))
        if any(given and list(given) != [ACCESS_TOKEN_TYPE] for given in types):
            return False
        if form.get("actor_token") and not form.get("actor_token_type"):
            return False
        client_id = creds.basic[0] if creds.basic is not None else creds.client_id or ""
        return self._approved_cached(client_id)

    @property
    def token_endpoint(self) -> str:
        return self._token_endpoint

    def url_for(self, path: str) -> str:
        """The URI a DPoP proof must name for ``path`` (the issuer's origin, not Host)."""
        return self.settings.resolved_issuer.rstrip("/") + path

    def _hide(self, subject: str) -> str:
        """How the audit trail names ``subject`` (`identifiers.hide`), remembered per audit
        key version: a user's exchanges are recorded under one HMAC until the key rotates.
        A version names the same key for the life of the store, so no key is held here."""
        if not self.settings.audit_hmac_subjects:
            return subject
        keyring = self._keyring()
        version = keyring.current(identifiers.PURPOSE).version
        memo_version, memo = self._hidden
        if memo_version != version or len(memo) >= MAX_HIDDEN:
            memo = {}
            self._hidden = (version, memo)
        hidden = memo.get(subject)
        if hidden is None:
            hidden = identifiers.hide(keyring, subject)
            if keyring.current(identifiers.PURPOSE).version == version:
                memo[subject] = hidden
        return hidden

    # -- the token endpoint -------------------------------------------------------------

    def authenticate_client(self, call: Call, creds: ClientCredentials, action: str) -> str:
        """The authenticated client id; a failure is audited (denied) and re-raised."""
        try:
            return self.clients.authenticate(creds, self.token_endpoint)
        except OAuthError as exc:
            detail: Detail = {"error": exc.slug}
            self._recorder.record(
                call.request_id, call.actor, action, "oauth/clients", "denied", detail
            )
            raise

    def exchange(
        self,
        call: Call,
        form: Mapping[str, Sequence[str]],
        creds: ClientCredentials,
        proof: str | None,
        malformed: OAuthError | None = None,
    ) -> Exchanged:
        """RFC 8693 exchange for an authenticated client; one audited event either way.

        ``malformed`` is an error found in the request before the client was known: it is
        raised (and audited) once the client has authenticated. Returns once the event is
        durable; a failure is recorded (``denied`` or ``error``) and raised. `AuditError`
        if no event can be written (then nothing is returned).
        """
        attempt = self._attempt(call, form, creds, proof, malformed)
        self._record(call, attempt)
        return attempt.outcome_or_raise()

    async def exchange_async(
        self,
        call: Call,
        form: Mapping[str, Sequence[str]],
        creds: ClientCredentials,
        proof: str | None,
        malformed: OAuthError | None = None,
    ) -> Exchanged:
        """`exchange` for coroutines: the same checks, event and errors, without blocking.

        The work (client authentication, DPoP, verification, signing) runs on the loop
        when it needs nothing but memory (`_in_memory`: the usual case once a client has
        been seen), else in a worker thread, so a store or a provider is never waited for
        on the loop. On the loop, the checks run at once and the token is signed with the
        others of the same loop iteration (`_sign_soon`). Its one event is then
        group-committed while the loop serves other requests, and the token is returned
        only once the event is durable. If the caller is cancelled meanwhile, the work
        still finishes and its event is still recorded.
        """
        job: asyncio.Future[_Attempt]
        if self._in_memory(form, creds, proof):
            staged = self._stage(call, form, creds, proof, malformed)
            if isinstance(staged, _Attempt):  # refused: nothing to sign
                attempt = staged
            else:
                job = self._sign_soon(call, staged)
                try:
                    attempt = await job
                except asyncio.CancelledError:
                    # Cancelled before the signature, `_sign_staged` records the exchange;
                    # after it (the cancellation came first), it is recorded here.
                    if job.done() and not job.cancelled():
                        self._record_late(call, job)
                    raise
        else:
            job = asyncio.ensure_future(
                asyncio.to_thread(self._attempt, call, form, creds, proof, malformed)
            )
            try:
                attempt = await asyncio.shield(job)
            except asyncio.CancelledError:
                job.add_done_callback(functools.partial(self._record_late, call))
                raise
        await self._record_async(call, attempt)
        return attempt.outcome_or_raise()

    def _sign_soon(self, call: Call, staged: _Staged) -> asyncio.Future[_Attempt]:
        """The attempt of ``staged``, once its token is signed with the others staged in
        this loop iteration (`_sign_staged`, in the next one).

        Ed25519 signing runs about twice as fast back to back as between other work (its
        code and tables stay in the CPU's caches), and an exchange's checks run apart
        from its signature either way; so the loop's exchanges are signed together.
        """
        loop = asyncio.get_running_loop()
        job: asyncio.Future[_Attempt] = loop.create_future()
        batch = self._to_sign.get(loop)
        if batch is None:
            batch = self._to_sign[loop] = []
            loop.call_soon(self._sign_staged, loop)
        batch.append((call, staged, job))
        return job

    def _sign_staged(self, loop: asyncio.AbstractEventLoop) -> None:
        """Sign the exchanges ``loop`` staged (runs in that loop), then hand each its
        attempt: the signatures first, one after another, then the attempts. The attempt
        of a caller cancelled meanwhile is recorded all the same (`_record_attempt_late`)."""
        batch = self._to_sign.pop(loop, [])
        try:
            # Sealed since the checks ran: sign nothing; the callers get `SealedError` and
            # no event, as an exchange reaching a sealed node does.
            self._keyring()
        except Exception as exc:
            for call, _, job in batch:
                if job.cancelled():
                    logger.warning("an exchange of a cancelled request %s failed", call.request_id)
                elif not job.done():
                    job.set_exception(exc)
            return
        results: list[Exchanged | Exception] = []
        for _, staged, _ in batch:
            try:
                results.append(staged.prepared.sign())
            except Exception as exc:  # recorded and raised as the exchange's failure
                results.append(exc)
        for (call, staged, job), result in zip(batch, results, strict=True):
            try:
                attempt = self._finish(staged, result)
            except Exception as exc:  # raised to the caller, as `_attempt` would raise it
                if job.cancelled():
                    logger.warning("an exchange of a cancelled request %s failed", call.request_id)
                elif not job.done():
                    job.set_exception(exc)
                continue
            if job.cancelled():
                self._record_attempt_late(call, attempt)
            elif not job.done():
                job.set_result(attempt)

    @staticmethod
    def _event(call: Call, attempt: _Attempt) -> tuple[Any, ...]:
        """The attempt's one ``oauth.token.exchange`` event, as `Recorder.record` takes it."""
        return (
            call.request_id,
            attempt.actor,
            EXCHANGE,
            attempt.resource,
            attempt.outcome,
            attempt.detail,
        )

    def _record(self, call: Call, attempt: _Attempt) -> None:
        """Append the attempt's event (`AuditError` if it cannot be)."""
        self._recorder.record(*self._event(call, attempt), cause=attempt.error)

    async def _record_async(self, call: Call, attempt: _Attempt) -> None:
        """`_record` for coroutines: group-committed without holding a thread."""
        await self._recorder.record_async(*self._event(call, attempt), cause=attempt.error)

    def _record_late(self, call: Call, job: asyncio.Future[_Attempt]) -> None:
        """Record an exchange whose caller was cancelled; nobody waits for the event."""
        if job.cancelled() or job.exception() is not None:
            logger.warning("an exchange of a cancelled request %s failed", call.request_id)
            return
        self._record_attempt_late(call, job.result())

    def _record_attempt_late(self, call: Call, attempt: _Attempt) -> None:
        """Record ``attempt`` for a caller that was cancelled (runs in the event loop)."""
        task = asyncio.ensure_future(self._record_async(call, attempt))
        self._late.add(task)
        task.add_done_callback(self._settled_late)

    def _settled_late(self, task: asyncio.Future[None]) -> None:
        self._late.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("could not record the exchange of a cancelled request")

    def exchange_as(
        self,
        call: Call,
        form: Mapping[str, Sequence[str]],
        client_id: str,
        via: str,
        *,
        jkt: str | None = None,
    ) -> Exchanged:
        """`exchange` for a client Strongroom itself acts as (the BFF for its apps).

        The caller has established ``client_id`` in-process (there is no credential to
        check), and ``jkt`` if it binds the token to a DPoP key of its own (there is no
        proof to check either); everything after client authentication is the token
        endpoint's own path: the same checks, claims, errors and one
        ``oauth.token.exchange`` event, whose detail names ``via``.
        """
        attempt = self._exchange_for(call, client_id, form, None, None, via, jkt)
        self._record(call, attempt)
        return attempt.outcome_or_raise()

    def _attempt(
        self,
        call: Call,
        form: Mapping[str, Sequence[str]],
        creds: ClientCredentials,
        proof: str | None,
        malformed: OAuthError | None,
    ) -> _Attempt:
        """Authenticate the client and exchange; the outcome and the event it needs.

        Never raises for a refused request: the error travels in the attempt, so that the
        caller records the event before raising it.
        """
        staged = self._stage(call, form, creds, proof, malformed)
        return staged if isinstance(staged, _Attempt) else self._signed(staged)

    def _stage(
        self,
        call: Call,
        form: Mapping[str, Sequence[str]],
        creds: ClientCredentials,
        proof: str | None,
        malformed: OAuthError | None,
    ) -> _Attempt | _Staged:
        """`_attempt` up to the signature: a refusal's attempt, or the exchange to sign."""
        try:
            client_id = self.clients.authenticate(creds, self.token_endpoint)
        except OAuthError as exc:
            return _Attempt(call.actor, "oauth/clients", "denied", {"error": exc.slug}, error=exc)
        return self._stage_for(client_id, form, proof, malformed, None)

    def _exchange_for(
        self,
        call: Call,
        client_id: str,
        form: Mapping[str, Sequence[str]],
        proof: str | None,
        malformed: OAuthError | None,
        via: str | None,
        jkt: str | None = None,
    ) -> _Attempt:
        """Exchange for an authenticated ``client_id``; never raises (see `_attempt`)."""
        staged = self._stage_for(client_id, form, proof, malformed, via, jkt)
        return staged if isinstance(staged, _Attempt) else self._signed(staged)

    def _stage_for(
        self,
        client_id: str,
        form: Mapping[str, Sequence[str]],
        proof: str | None,
        malformed: OAuthError | None,
        via: str | None,
        bound: str | None = None,
    ) -> _Attempt | _Staged:
        """`_exchange_for` up to the signature; never raises. ``bound``: the thumbprint
        of an in-process caller's own DPoP key (no proof comes with it)."""
        actor = f"client:{client_id}"
        try:
            if malformed is not None:
                raise malformed
            jkt = bound
            if proof is not None:
                jkt = self.dpop.verify(proof, htm="POST", htu=self.token_endpoint).jkt
            prepared = self.exchanger.prepare(form, client_id, jkt)
        except Exception as exc:
            return self._failed(actor, exc, via)
        return _Staged(actor, client_id, jkt, via, prepared)

    @staticmethod
    def _failed(actor: str, exc: Exception, via: str | None) -> _Attempt:
        """The attempt of an exchange refused (or failed) with ``exc``."""
        outcome: Outcome = "denied" if isinstance(exc, AuthError) else "error"
        slug = exc.slug if isinstance(exc, StrongroomError) else "internal"
        detail: Detail = {"error": slug}
        if via is not None:
            detail["via"] = via
        return _Attempt(actor, "oauth/token", outcome, detail, error=exc)

    def _signed(self, staged: _Staged) -> _Attempt:
        """Sign a staged exchange's token now; its attempt."""
        try:
            result: Exchanged | Exception = staged.prepared.sign()
        except Exception as exc:
            result = exc
        return self._finish(staged, result)

    def _finish(self, staged: _Staged, result: Exchanged | Exception) -> _Attempt:
        """The attempt of a staged exchange once signed (``result``, or what failed)."""
        if isinstance(result, Exception):
            return self._failed(staged.actor, result, staged.via)
        detail: Detail = {
            "client_id": staged.client_id,
            "dpop": staged.jkt is not None,
            "subject": self._hide(result.subject),
            "parent": result.parent,
            "jti": result.issued.jti,
            "scopes": list(result.issued.scopes),
            "ttl": result.issued.expires_in,
        }
        if result.actor is not None:
            detail["actor"] = self._hide(result.actor)
        if staged.via is not None:
            detail["via"] = staged.via
        return _Attempt(
            staged.actor, f"oauth/token/{result.issued.jti}", "success", detail, result=result
        )

    # -- revocation and introspection ---------------------------------------------------

    def _revoke(self, session: Any, token_ids: Sequence[str], expires_us: int) -> None:
        now = self._clock.now_us()
        repo.purge_revocations(session, now)
        for token_id in token_ids:
            repo.revoke(session, token_id, now, expires_us)

    def revoke(self, call: Call, caller: Caller, form: Mapping[str, Sequence[str]]) -> bool:
        """RFC 7009: revoke a token (and, by lineage, everything exchanged from it).

        Returns whether something was revoked; an unknown or invalid token is not an error
        (RFC 7009 §2.2). A client may revoke only tokens issued to it
        (`UnauthorizedClientError`); a principal needs ``tokens:revoke``.
        """
        with self._recorder.action(
            call.request_id, call.actor, "oauth.token.revoke", "oauth/revoke"
        ) as tx:
            if caller.malformed is not None:
                raise caller.malformed
            token = required(form, "token")
            single(form, "token_type_hint")
            revoked_id, expires_us, owner = self._identify(token)
            tx.detail["known"] = revoked_id is not None
            if revoked_id is None:
                return False
            if caller.client_id is not None and owner != caller.client_id:
                raise UnauthorizedClientError("this token was not issued to this client")
            self._revoke(tx.session, [revoked_id], expires_us)
            tx.resource = f"oauth/token/{revoked_id}"
        self.revocations.noted([revoked_id])
        return True

    def _identify(self, token: str) -> tuple[str | None, int, str | None]:
        """(lineage id, remember until, client id) of a token we can verify, else None."""
        try:
            claims = self._tokens.verify_claims(token)
            return str(claims["jti"]), int(claims["exp"]) * 1_000_000, claims.get("client_id")
        except UnauthenticatedError:
            pass
        remember = self._clock.now_us() + DEFAULT_REMEMBER_SECONDS * 1_000_000
        for token_type in self.subjects.types():
            verifier = self.subjects.get(token_type)
            if token_type == ACCESS_TOKEN_TYPE or verifier is None:
                continue
            try:
                subject = verifier.verify(token)
            except UnauthenticatedError:
                continue
            return subject.lineage_id, remember, subject.client_id
        return None, 0, None

    def revoke_ids(self, call: Call, token_ids: Sequence[str]) -> None:
        """Revoke tokens (or sign-ins) by id, for administrators (``tokens:revoke``)."""
        if not token_ids or len(token_ids) > 100:
            raise InvalidRequestError("give 1-100 token ids")
        if any(not 0 < len(t) <= 128 or not t.isprintable() for t in token_ids):
            raise InvalidRequestError("a token id is 1-128 printable characters")
        remember = self._clock.now_us() + DEFAULT_REMEMBER_SECONDS * 1_000_000
        with self._recorder.action(
            call.request_id, call.actor, "auth.revocations.create", "auth/revocations"
        ) as tx:
            self._revoke(tx.session, token_ids, remember)
            tx.detail["token_ids"] = list(token_ids)
        self.revocations.noted(token_ids)

    def revoke_sign_in(self, call: Call, issuer: str, session_id: str) -> str:
        """Revoke a sign-in (by its provider and session id) and every token derived from it.

        For the sign-in/BFF layer (logout, SCIM deprovisioning); returns the lineage id.
        """
        lineage_id = external_lineage_id(issuer, session_id)
        self.revoke_ids(call, [lineage_id])
        return lineage_id

    def kill(self, call: Call, kind: Literal["user", "app"] | str, name: str) -> int:
        """Trip a kill switch: every token of this user or app issued until now is dead."""
        if kind not in KINDS:
            raise InvalidRequestError("kind must be user or app")
        if not 0 < len(name) <= MAX_NAME_CHARS or not name.isprintable():
            raise InvalidRequestError(f"the name is 1-{MAX_NAME_CHARS} printable characters")
        now_us = self._clock.now_us()
        epoch = now_us // 1_000_000
        shown = self._hide(name) if kind == "user" else name
        with self._recorder.action(
            call.request_id, call.actor, f"auth.kill_switch.{kind}", f"auth/kill-switch/{kind}"
        ) as tx:
            repo.set_epoch(tx.session, kind, name, epoch, now_us)
            tx.detail.update({"name": shown, "epoch": epoch})
        self.revocations.noted(epoch=(kind, name, epoch))
        return epoch

    def introspect(
        self, call: Call, caller: Caller, form: Mapping[str, Sequence[str]]
    ) -> dict[str, Any]:
        """RFC 7662: the state of a token, ``{"active": false}`` if unknown or dead.

        A client sees only tokens issued to it or naming it in ``aud``; a principal needs
        ``tokens:introspect``.
        """
        with self._recorder.action(
            call.request_id, call.actor, "oauth.token.introspect", "oauth/introspect", writes=False
        ) as tx:
            if caller.malformed is not None:
                raise caller.malformed
            token = required(form, "token")
            single(form, "token_type_hint")
            try:
                claims = self._tokens.verify_claims(token)
                self.revocations.check(principal_of(claims))
            except UnauthenticatedError:
                tx.detail["active"] = False
                return {"active": False}
            aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
            if caller.client_id is not None and caller.client_id not in (
                claims.get("client_id"),
                *aud,
            ):
                tx.detail["active"] = False
                return {"active": False}
            tx.detail.update({"active": True, "jti": claims["jti"]})
        answer = {"active": True, "token_type": "DPoP" if claims.get("cnf") else "Bearer"}
        for name in (
            "scope",
            "client_id",
            "sub",
            "aud",
            "iss",
            "exp",
            "iat",
            "nbf",
            "jti",
            "cnf",
            "act",
        ):
            if name in claims:
                answer[name] = claims[name]
        return answer

    # -- clients ------------------------------------------------------------------------

    def create_client(self, call: Call, client_id: str, method: str, jwks: Any) -> str | None:
        with self._recorder.action(
            call.request_id, call.actor, "oauth.clients.create", f"oauth/clients/{client_id[:128]}"
        ) as tx:
            secret = self.clients.create(tx.session, client_id, method, jwks)
            tx.detail["auth_method"] = method
        return secret

    def list_clients(self, call: Call) -> list[ClientInfo]:
        with self._recorder.action(
            call.request_id, call.actor, "oauth.clients.list", "oauth/clients", writes=False
        ) as tx:
            return self.clients.list(tx.session)

    def delete_client(self, call: Call, client_id: str) -> None:
        with self._recorder.action(
            call.request_id, call.actor, "oauth.clients.delete", f"oauth/clients/{client_id[:128]}"
        ) as tx:
            self.clients.delete(tx.session, client_id)

    # -- the resource side --------------------------------------------------------------

    def dpop_required(self, scope: str) -> bool:
        """Whether calls needing ``scope`` must present a DPoP-bound token."""
        return scope_names.allowed(self.settings.dpop_required_scopes, scope)

    def authenticate_access(
        self,
        token: str,
        *,
        scheme: str = "bearer",
        proof: str | None = None,
        method: str = "GET",
        path: str = "/",
    ) -> Principal:
        """The principal of a live access token presented to Strongroom's own API.

        Checks the token (`TokenService.verified`), its revocation state, and, for a
        DPoP-bound token, the ``DPoP`` scheme and a full proof for this request.
        `UnauthenticatedError` (or `DpopProofError` with its challenge) otherwise.
        """
        principal = self._tokens.verified(token)[1]
        self.revocations.check(principal)
        if principal.jkt is None:
            if scheme != "bearer":
                raise DpopProofError("invalid_token")
            return principal
        return self._check_proof(token, principal, scheme, proof, method, path)

    async def authenticate_access_async(
        self,
        token: str,
        *,
        scheme: str = "bearer",
        proof: str | None = None,
        method: str = "GET",
        path: str = "/",
    ) -> Principal:
        """`authenticate_access` for coroutines: the same checks, on every call.

        A token verified before (`TokenService.cached`) is checked on the event loop;
        the signature check of a new token, a revocation reload that is due and DPoP proofs
        (whose replay cache may be a store) run in a worker thread.
        """
        cached = self._tokens.cached(token)
        if cached is None:
            cached = await asyncio.to_thread(self._tokens.verified, token)
        principal = cached[1]
        await self.revocations.check_async(principal)
        if principal.jkt is None:
            if scheme != "bearer":
                raise DpopProofError("invalid_token")
            return principal
        return await asyncio.to_thread(
            self._check_proof, token, principal, scheme, proof, method, path
        )

    def _check_proof(
        self,
        token: str,
        principal: Principal,
        scheme: str,
        proof: str | None,
        method: str,
        path: str,
    ) -> Principal:
        """``principal`` if ``proof`` is a valid DPoP proof for its bound key and this call."""
        if scheme != "dpop" or proof is None:
            raise DpopProofError("invalid_token")
        try:
            checked = self.dpop.verify(
                proof, htm=method, htu=self.url_for(path), access_token=token
            )
        except UseDpopNonceError as exc:
            raise DpopProofError("use_dpop_nonce", exc.headers.get("DPoP-Nonce")) from None
        except InvalidDpopProofError:
            raise DpopProofError("invalid_dpop_proof") from None
        if checked.jkt != principal.jkt:
            raise DpopProofError("invalid_dpop_proof")
        return principal
