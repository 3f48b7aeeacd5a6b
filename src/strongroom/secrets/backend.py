"""The one interface every secret store implements, and the explicit registry of stores.

A backend stores versions and metadata; the service above it validates input, enforces
sizes and audits every call. Each method takes the session of the audited transaction: the
built-in store writes in it (so its change and its audit event commit together); an
external store cannot join it and ignores it.

Contract every backend passes (``tests/secrets/test_backend_conformance.py``):

- ``write`` adds version ``current + 1``. ``cas=0`` writes only if the secret does not
  exist; ``cas=N`` only if the current version is N; otherwise `ConflictError`. Writing a
  soft-deleted secret is a `ConflictError`; writing a revoked one re-enables it.
- ``read`` gives the current version or the one asked for. Unknown or soft-deleted:
  `NotFoundError`; destroyed: `GoneError`; revoked: `SecretDisabledError`.
- ``destroy`` removes one version's value for good; ``delete``/``undelete`` hide and
  show the whole secret; ``set_disabled`` revokes or re-enables; ``disable_app`` revokes
  every secret of an app and returns how many.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from strongroom.clock import Clock
from strongroom.config import Settings
from strongroom.errors import ConfigError
from strongroom.kms.keyring import Keyring
from strongroom.secrets.model import MetaInput, SecretMeta, SecretValue
from strongroom.store.engine import Database, Reader


class SecretBackend(Protocol):
    """Versioned secret storage with metadata; see the module docstring for the contract."""

    name: str
    #: True if reads touch only Strongroom's own store (one keyed query, no network call):
    #: such reads may run on the audit writer, inside the transaction of their event.
    local: bool

    def write(
        self,
        session: Session,
        app: str,
        name: str,
        value: bytes,
        meta: MetaInput,
        cas: int | None,
        now_us: int,
    ) -> SecretMeta: ...

    def read(self, reader: Reader, app: str, name: str, version: int | None) -> SecretValue: ...

    def describe(self, session: Session, app: str, name: str) -> SecretMeta: ...

    def list(self, session: Session, app: str | None) -> list[SecretMeta]: ...

    def update_meta(
        self, session: Session, app: str, name: str, meta: MetaInput, now_us: int
    ) -> SecretMeta: ...

    def destroy(
        self, session: Session, app: str, name: str, version: int, now_us: int
    ) -> SecretMeta: ...

    def delete(self, session: Session, app: str, name: str, now_us: int) -> SecretMeta: ...

    def undelete(self, session: Session, app: str, name: str, now_us: int) -> SecretMeta: ...

    def set_disabled(
        self, session: Session, app: str, name: str, disabled: bool, now_us: int
    ) -> SecretMeta: ...

    def disable_app(self, session: Session, app: str, now_us: int) -> int: ...


@dataclass(frozen=True)
class Collaborators:
    """What a backend factory may use."""

    settings: Settings
    database: Database
    keyring: Callable[[], Keyring]
    clock: Clock


Factory = Callable[[Collaborators], SecretBackend]


def _builtin(deps: Collaborators) -> SecretBackend:
    from strongroom.secrets.builtin import BuiltinBackend  # noqa: PLC0415 - keeps hvac lazy

    return BuiltinBackend(deps.keyring, deps.clock)


def _openbao(deps: Collaborators) -> SecretBackend:
    from strongroom.secrets.openbao import OpenBaoBackend  # noqa: PLC0415 - imports hvac

    settings = deps.settings
    if settings.secrets_openbao_url is None or settings.secrets_openbao_token is None:
        raise ConfigError("secrets_backend openbao needs secrets_openbao_url and _token")
    return OpenBaoBackend(
        settings.secrets_openbao_url,
        settings.secrets_openbao_token.get_secret_value(),
        settings.secrets_openbao_mount,
    )


#: Backends by the name ``secrets_backend`` selects.
REGISTRY: Mapping[str, Factory] = {"builtin": _builtin, "openbao": _openbao}


def create(name: str, deps: Collaborators) -> SecretBackend:
    """Build the backend named ``name``; `ConfigError` lists the known ones."""
    factory = REGISTRY.get(name)
    if factory is None:
        raise ConfigError(f"unknown secrets backend; known: {', '.join(sorted(REGISTRY))}")
    return factory(deps)
