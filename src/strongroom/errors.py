"""The one error hierarchy of Strongroom.

Every error carries a stable problem ``type`` (an URN), a short ``title`` and the HTTP
status it maps to, so the API layer turns any of them into an RFC 9457 problem without
knowing them one by one. The ``detail`` text is written for a person and never holds a
secret, a plaintext, a token or a share.

::

    StrongroomError
    ├── ConfigError                   settings are invalid (refused at start)
    ├── CryptoError
    │   ├── DecryptionError           one opaque error for every way opening can fail
    │   ├── ShareError                a Shamir share is malformed or does not fit the set
    │   ├── NoteError                 a signed note is malformed or its signature fails
    │   ├── FormatError               400: a value, key or tweak does not fit an FPE cipher
    │   ├── EnvelopeError             400: a DSSE envelope is malformed or does not verify
    │   ├── JwkError                  a JSON Web Key is unusable for verification
    │   ├── JwsError                  one opaque error for every way a JWS can fail
    │   ├── FieldError                400: a field cannot be sealed as asked (context, KDF bounds)
    │   └── ProofError                400: a Merkle inclusion or consistency proof fails
    ├── SealError
    │   ├── NotInitializedError       501: the server has no root key yet
    │   ├── AlreadyInitializedError   409
    │   ├── SealedError               503: nothing can be decrypted until unsealed
    │   └── UnsealFailedError         400: the shares given do not rebuild the root key
    ├── AuthError
    │   ├── UnauthenticatedError      401: one uniform answer for every bad credential
    │   │   └── DpopProofError        401: a DPoP proof is missing, bad, or needs a nonce
    │   ├── ForbiddenError            403: authenticated, but the scope is missing
    │   │   └── EgressDeniedError     403: the gateway may not send to that host
    │   ├── SignInError               401: an OpenID sign-in failed (state, nonce, ID token...)
    │   └── OAuthError                RFC 6749 error (``error`` code), at the OAuth endpoints
    │       ├── OAuthInvalidRequestError, InvalidClientError (401), UnauthorizedClientError
    │       ├── InvalidScopeError, InvalidTargetError, UnsupportedGrantTypeError
    │       └── InvalidDpopProofError, UseDpopNonceError
    ├── RequestError
    │   ├── InvalidRequestError       400
    │   ├── NotFoundError             404
    │   ├── MethodNotAllowedError     405
    │   ├── ConflictError             409
    │   ├── PayloadTooLargeError      413
    │   ├── UnsupportedMediaTypeError 415
    │   ├── ValidationFailedError     422
    │   ├── GoneError                 410: a secret version was destroyed for good
    │   ├── SecretDisabledError       423: a secret is revoked (disabled for every reader)
    │   ├── RateLimitedError          429: too many calls; retry after a pause
    │   ├── TokenizeError             the tokenization vault refused a value or a token
    │   │   ├── InvalidTokenError     400: malformed, forged, or not a token of this policy
    │   │   ├── WrongRegionError      409: the token belongs to another region
    │   │   ├── TokenGoneError        410: the token's value was erased or expired
    │   │   ├── ShreddedError         410: the policy or region was crypto-shredded
    │   │   └── BatchError            422: items of a batch failed; nothing was written
    │   └── ScimError                 400/404/409/412/413 with an RFC 7644 ``scimType``
    ├── UpstreamError                 502: a connector's upstream failed or misbehaved
    │   └── UpstreamTimeoutError      504
    ├── SecretBackendError            503: the external secret store cannot take the request
    ├── ProviderError                 502: an OpenID provider cannot be reached or misbehaves
    ├── BundleError                   an audit bundle does not verify (offline check)
    ├── ScanError                     400: a pre-flight scan cannot run on its input
    │   ├── UnsafeArchiveError        400: traversal, links, a bomb, too many/large members
    │   └── AdvisoryDataError         400: an OSV export or advisory store is unusable
    ├── PolicyError                   a policy bundle cannot be loaded or run (gate denies)
    ├── StoreError                    503: the database cannot take the request
    └── AuditError                    503: the audit trail cannot record, so nothing happens
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

PROBLEM_BASE = "urn:strongroom:problem:"


class StrongroomError(Exception):
    """Base of every error Strongroom raises on purpose."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, *, extra: Mapping[str, Any] | None = None):
        self.detail = detail or self.title
        self.extra: dict[str, Any] = dict(extra or {})
        super().__init__(self.detail)

    @property
    def type_uri(self) -> str:
        """The stable problem type of this error."""
        return PROBLEM_BASE + self.slug

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r})"


class ConfigError(StrongroomError):
    """The settings are invalid; the server refuses to start."""

    slug = "config"
    title = "Invalid configuration"


class CryptoError(StrongroomError):
    """A cryptographic operation failed."""

    slug = "crypto"
    title = "Cryptographic operation failed"


class DecryptionError(CryptoError):
    """A ciphertext could not be opened. Deliberately says nothing about why."""

    slug = "decryption-failed"
    title = "Decryption failed"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__("Decryption failed.")


class ShareError(CryptoError):
    """A key share is malformed, a duplicate, or belongs to another key."""

    status = 400
    slug = "invalid-share"
    title = "Invalid key share"


class NoteError(CryptoError):
    """A signed note (checkpoint) is malformed, unsigned by a trusted key, or forged."""

    status = 400
    slug = "invalid-note"
    title = "Invalid signed note"


class FormatError(CryptoError):
    """A value, key, tweak or alphabet does not fit a format-preserving cipher.

    The detail names the rule that was broken (a length bound, the alphabet, the tweak
    size), never the value itself.
    """

    status = 400
    slug = "invalid-format"
    title = "Value does not fit the format"


class JwkError(CryptoError):
    """A JSON Web Key cannot be used to verify signatures (see `strongroom.crypto.jwk`)."""

    status = 400
    slug = "invalid-jwk"
    title = "Unusable JSON Web Key"


class JwsError(CryptoError):
    """A JWS is malformed, uses a refused header, or its signature fails. Says no more."""

    status = 401
    slug = "invalid-jws"
    title = "Invalid signature"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "Invalid JWS.")


class FieldError(CryptoError):
    """A field cannot be sealed as asked: a bad context, key id, key or KDF parameters.

    Raised only on the sealing side and when building key handles; opening a sealed field
    fails with the opaque `DecryptionError` whatever the cause. The detail names the rule
    that was broken, never a value.
    """

    status = 400
    slug = "invalid-field"
    title = "Invalid field input"


class ProofError(CryptoError):
    """A Merkle inclusion or consistency proof (RFC 9162) does not verify.

    Raised for a wrong root, a proof of the wrong length, a value that is not a 32-byte
    hash, an index outside the tree, or tree sizes no proof can relate.
    """

    status = 400
    slug = "invalid-proof"
    title = "Invalid proof"


class EnvelopeError(CryptoError):
    """A DSSE envelope is malformed, or too few trusted keys signed it."""

    status = 400
    slug = "invalid-envelope"
    title = "Invalid signed envelope"


class BundleError(StrongroomError):
    """An audit bundle does not verify; ``extra["index"]`` names the first bad event."""

    status = 400
    slug = "invalid-bundle"
    title = "Audit bundle does not verify"


class ScanError(StrongroomError):
    """A pre-flight scan cannot run on its input (a missing path, bad configuration)."""

    status = 400
    slug = "scan-refused"
    title = "Scan refused"


class UnsafeArchiveError(ScanError):
    """An archive is refused: path traversal, a link, a bomb, or more than the bounds allow.

    The detail names the member and the bound it broke; nothing is extracted to disk.
    """

    slug = "unsafe-archive"
    title = "Unsafe archive"


class AdvisoryDataError(ScanError):
    """An OSV export cannot be imported, or the local advisory store cannot be read."""

    slug = "advisory-data"
    title = "Advisory data unusable"


class SealError(StrongroomError):
    """An operation on the seal failed."""

    status = 400
    slug = "seal"
    title = "Seal operation failed"


class NotInitializedError(SealError):
    status = 501
    slug = "not-initialized"
    title = "Not initialized"


class AlreadyInitializedError(SealError):
    status = 409
    slug = "already-initialized"
    title = "Already initialized"


class SealedError(SealError):
    status = 503
    slug = "sealed"
    title = "Sealed"


class UnsealFailedError(SealError):
    status = 400
    slug = "unseal-failed"
    title = "Unseal failed"


class AuthError(StrongroomError):
    status = 401
    slug = "unauthenticated"
    title = "Unauthenticated"


class UnauthenticatedError(AuthError):
    """Any credential problem: missing, malformed, expired, unknown. One answer for all."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__("A valid token is required.")


class DpopProofError(UnauthenticatedError):
    """A DPoP-bound token came without a valid proof (RFC 9449 §7.1).

    ``error`` is ``invalid_dpop_proof`` or ``use_dpop_nonce``; ``headers`` carries the
    ``WWW-Authenticate`` challenge (and a fresh ``DPoP-Nonce`` when one is needed).
    """

    def __init__(self, error: str = "invalid_dpop_proof", nonce: str | None = None) -> None:
        super().__init__()
        self.error = error
        self.headers = {"WWW-Authenticate": f'DPoP error="{error}", algs="EdDSA ES256"'}
        if nonce is not None:
            self.headers["DPoP-Nonce"] = nonce


class ForbiddenError(AuthError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class OAuthError(AuthError):
    """An RFC 6749 §5.2 error: the class names the ``error`` code, ``detail`` describes it.

    The OAuth endpoints answer these as ``{"error": ..., "error_description": ...}`` with
    ``Cache-Control: no-store``, not as problems. ``headers`` adds response headers (a
    ``WWW-Authenticate`` challenge for ``invalid_client``, a ``DPoP-Nonce``).
    """

    status = 400
    slug = "oauth"
    title = "OAuth error"
    error: ClassVar[str] = "invalid_request"

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.headers = dict(headers or {})


class OAuthInvalidRequestError(OAuthError):
    slug = "oauth-invalid-request"
    error = "invalid_request"


class InvalidClientError(OAuthError):
    status = 401
    slug = "oauth-invalid-client"
    error = "invalid_client"


class UnauthorizedClientError(OAuthError):
    slug = "oauth-unauthorized-client"
    error = "unauthorized_client"


class InvalidScopeError(OAuthError):
    slug = "oauth-invalid-scope"
    error = "invalid_scope"


class InvalidTargetError(OAuthError):
    slug = "oauth-invalid-target"
    error = "invalid_target"


class UnsupportedGrantTypeError(OAuthError):
    slug = "oauth-unsupported-grant-type"
    error = "unsupported_grant_type"


class InvalidDpopProofError(OAuthError):
    slug = "oauth-invalid-dpop-proof"
    error = "invalid_dpop_proof"


class UseDpopNonceError(OAuthError):
    slug = "oauth-use-dpop-nonce"
    error = "use_dpop_nonce"


class RequestError(StrongroomError):
    status = 400
    slug = "invalid-request"
    title = "Invalid request"


class InvalidRequestError(RequestError):
    pass


class NotFoundError(RequestError):
    status = 404
    slug = "not-found"
    title = "Not found"


class MethodNotAllowedError(RequestError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class ConflictError(RequestError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PayloadTooLargeError(RequestError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaTypeError(RequestError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class ValidationFailedError(RequestError):
    status = 422
    slug = "validation-failed"
    title = "Validation failed"


class PolicyError(StrongroomError):
    """A policy bundle cannot be loaded, compiled or run; the gate denies."""

    status = 422
    slug = "policy-failed"
    title = "Policy could not be evaluated"


class StoreError(StrongroomError):
    status = 503
    slug = "store-unavailable"
    title = "Storage unavailable"


class AuditError(StrongroomError):
    status = 503
    slug = "audit-unavailable"
    title = "Audit trail unavailable"


class GoneError(RequestError):
    """A secret version was destroyed; its value is gone for good."""

    status = 410
    slug = "gone"
    title = "Gone"


class SecretDisabledError(RequestError):
    """A secret is revoked: no reader gets its value until a new version is written."""

    status = 423
    slug = "secret-disabled"
    title = "Secret disabled"


class EgressDeniedError(ForbiddenError):
    """The connector gateway may not send to that host or address."""

    slug = "egress-denied"
    title = "Egress denied"


class UpstreamError(StrongroomError):
    """A connector's upstream failed: unreachable, a redirect elsewhere, too large an answer."""

    status = 502
    slug = "bad-gateway"
    title = "Upstream failed"


class UpstreamTimeoutError(UpstreamError):
    status = 504
    slug = "upstream-timeout"
    title = "Upstream timed out"


class SecretBackendError(StrongroomError):
    """The external secret store (OpenBao / Vault) cannot take the request."""

    status = 503
    slug = "secret-backend-unavailable"
    title = "Secret backend unavailable"


class RateLimitedError(RequestError):
    """The caller exceeded its rate; ``extra["retry_after"]`` says how many seconds to wait."""

    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class TokenizeError(RequestError):
    """The tokenization vault refused a value or a token. Never names the value."""

    slug = "tokenize"
    title = "Tokenization failed"


class InvalidTokenError(TokenizeError):
    """Malformed, truncated, forged, or issued by another app or policy: one answer for all."""

    status = 400
    slug = "invalid-token"
    title = "Invalid token"


class WrongRegionError(TokenizeError):
    """The token names a region other than its policy's; it is resolvable only there."""

    status = 409
    slug = "wrong-region"
    title = "Token belongs to another region"


class TokenGoneError(TokenizeError):
    """The token is well formed and was issued here, but its value was erased or expired."""

    status = 410
    slug = "token-gone"
    title = "Token value erased"


class ShreddedError(TokenizeError):
    """The policy's or region's keys were destroyed: its values are unrecoverable."""

    status = 410
    slug = "shredded"
    title = "Keys destroyed"


class BatchError(TokenizeError):
    """Some items of a batch failed; ``extra["errors"]`` lists them by index. Nothing changed."""

    status = 422
    slug = "batch-failed"
    title = "Batch refused"


class SignInError(AuthError):
    """An OpenID Connect sign-in failed; ``detail`` names the check, never a token."""

    slug = "sign-in-failed"
    title = "Sign-in failed"


class ProviderError(StrongroomError):
    """An OpenID provider could not be reached or answered something unusable."""

    status = 502
    slug = "identity-provider"
    title = "Identity provider unavailable"


class ScimError(RequestError):
    """A SCIM request failed; ``scim_type`` is the RFC 7644 §3.12 ``scimType`` (or None)."""

    slug = "scim"
    title = "SCIM request failed"
    scim_type: ClassVar[str | None] = "invalidValue"


class ScimInvalidFilterError(ScimError):
    scim_type = "invalidFilter"


class ScimInvalidPathError(ScimError):
    scim_type = "invalidPath"


class ScimInvalidSyntaxError(ScimError):
    scim_type = "invalidSyntax"


class ScimMutabilityError(ScimError):
    scim_type = "mutability"


class ScimUniquenessError(ScimError):
    status = 409
    scim_type = "uniqueness"


class ScimNotFoundError(ScimError):
    status = 404
    scim_type = None


class ScimPreconditionFailedError(ScimError):
    """``If-Match`` (or a bulk operation's ``version``) names another version (§3.14)."""

    status = 412
    scim_type = None


class ScimInvalidReferenceError(ScimError):
    """A bulk operation names a ``bulkId`` that is unknown, failed or circular (§3.7)."""

    status = 409
    scim_type = "invalidValue"


class ScimPayloadTooLargeError(ScimError):
    """A bulk request over ``maxOperations`` or ``maxPayloadSize`` (RFC 7644 §3.7.4)."""

    status = 413
    scim_type = None
