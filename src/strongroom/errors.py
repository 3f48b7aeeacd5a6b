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
    │   ├── FieldError                400: a field cannot be sealed as asked (context, KDF bounds)
    │   └── ProofError                400: a Merkle inclusion or consistency proof fails
    ├── SealError
    │   ├── NotInitializedError       501: the server has no root key yet
    │   ├── AlreadyInitializedError   409
    │   ├── SealedError               503: nothing can be decrypted until unsealed
    │   └── UnsealFailedError         400: the shares given do not rebuild the root key
    ├── AuthError
    │   ├── UnauthenticatedError      401: one uniform answer for every bad credential
    │   └── ForbiddenError            403: authenticated, but the scope is missing
    ├── RequestError
    │   ├── InvalidRequestError       400
    │   ├── NotFoundError             404
    │   ├── MethodNotAllowedError     405
    │   ├── ConflictError             409
    │   ├── PayloadTooLargeError      413
    │   ├── UnsupportedMediaTypeError 415
    │   └── ValidationFailedError     422
    ├── BundleError                   an audit bundle does not verify (offline check)
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


class BundleError(StrongroomError):
    """An audit bundle does not verify; ``extra["index"]`` names the first bad event."""

    status = 400
    slug = "invalid-bundle"
    title = "Audit bundle does not verify"


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


class ForbiddenError(AuthError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


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


class StoreError(StrongroomError):
    status = 503
    slug = "store-unavailable"
    title = "Storage unavailable"


class AuditError(StrongroomError):
    status = 503
    slug = "audit-unavailable"
    title = "Audit trail unavailable"
