"""The built-in secret store: versions sealed under per-app keys in Strongroom's database."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from strongroom.clock import Clock
from strongroom.crypto import aead
from strongroom.errors import (
    ConflictError,
    GoneError,
    NotFoundError,
    SecretDisabledError,
)
from strongroom.kms.keyring import Keyring
from strongroom.secrets.appkeys import AppKeys, value_aad
from strongroom.secrets.model import MetaInput, SecretMeta, SecretValue, VersionInfo
from strongroom.store.engine import Reader
from strongroom.store.models import Secret, SecretVersion
from strongroom.store.repositories import secrets as repo

NOT_FOUND = "no such secret"


def _meta(row: Secret, versions: Sequence[SecretVersion]) -> SecretMeta:
    return SecretMeta(
        app=row.app,
        name=row.name,
        owner=row.owner,
        description=row.description,
        tags=json.loads(row.tags),
        data_class=row.data_class,
        rotation_period_s=row.rotation_period_s,
        expires_us=row.expires_us,
        current_version=row.current_version,
        created_us=row.created_us,
        updated_us=row.updated_us,
        rotated_us=row.rotated_us,
        deleted=row.deleted_us is not None,
        disabled=row.disabled_us is not None,
        versions=tuple(
            VersionInfo(v.version, v.created_us, v.destroyed_us is not None) for v in versions
        ),
    )


def _apply(row: Secret, meta: MetaInput) -> None:
    if meta.owner is not None:
        row.owner = meta.owner
    if meta.description is not None:
        row.description = meta.description
    if meta.tags is not None:
        row.tags = json.dumps(meta.tags, sort_keys=True)
    if meta.data_class is not None:
        row.data_class = meta.data_class
    if meta.rotation_period_s is not None:
        row.rotation_period_s = meta.rotation_period_s
    if meta.expires_us is not None:
        row.expires_us = meta.expires_us
    if "rotation_period_s" in meta.clear:
        row.rotation_period_s = None
    if "expires_us" in meta.clear:
        row.expires_us = None


class BuiltinBackend:
    """`SecretBackend` over Strongroom's own store (SQLite or PostgreSQL)."""

    name = "builtin"
    local = True

    def __init__(self, keyring: Callable[[], Keyring], clock: Clock) -> None:
        self._keys = AppKeys(keyring, clock)

    def _live(self, session: Session, app: str, name: str, *, lock: bool = False) -> Secret:
        row = repo.get(session, app, name, lock=lock)
        if row is None or row.deleted_us is not None:
            raise NotFoundError(NOT_FOUND)
        return row

    def _described(self, session: Session, row: Secret) -> SecretMeta:
        return _meta(row, repo.versions(session, row.app, row.name))

    def write(
        self,
        session: Session,
        app: str,
        name: str,
        value: bytes,
        meta: MetaInput,
        cas: int | None,
        now_us: int,
    ) -> SecretMeta:
        row = repo.get(session, app, name, lock=True)
        current = 0 if row is None else row.current_version
        if row is not None and row.deleted_us is not None:
            raise ConflictError("the secret is deleted; undelete it before writing")
        if cas is not None and cas != current:
            raise ConflictError("check-and-set failed: the secret's current version differs")
        key_version, key = self._keys.current(session, app)
        number = current + 1
        sealed = aead.encrypt(key, value, value_aad(app, name, number), key_version=key_version)
        if row is None:
            row = Secret(
                app=app,
                name=name,
                owner="",
                description="",
                tags="{}",
                data_class="confidential",
                rotation_period_s=None,
                expires_us=None,
                current_version=number,
                created_us=now_us,
                updated_us=now_us,
                rotated_us=now_us,
            )
            _apply(row, meta)
            session.add(row)
        else:
            _apply(row, meta)
            row.current_version = number
            row.updated_us = row.rotated_us = now_us
            row.disabled_us = None
        repo.add(
            session,
            SecretVersion(
                app=app,
                name=name,
                version=number,
                key_version=key_version,
                value=sealed,
                created_us=now_us,
            ),
        )
        return self._described(session, row)

    def read(self, reader: Reader, app: str, name: str, version: int | None) -> SecretValue:
        found = repo.read_row(reader, app, name, version)
        if found is None or found.deleted_us is not None:
            raise NotFoundError(NOT_FOUND)
        if found.disabled_us is not None:
            raise SecretDisabledError("the secret is revoked; write a new version to enable it")
        if found.version is None:
            raise NotFoundError("no such version")
        if found.value is None:
            raise GoneError("that version was destroyed")
        if found.wrapped is None or found.key_version is None:
            raise GoneError("the app's key is gone; the value cannot be recovered")
        key = self._keys.unwrap(app, found.key_version, found.wrapped)
        plain = aead.decrypt(key, found.value, value_aad(app, name, found.version))
        return SecretValue(app, name, found.version, plain)

    def describe(self, session: Session, app: str, name: str) -> SecretMeta:
        row = repo.get(session, app, name)
        if row is None:
            raise NotFoundError(NOT_FOUND)
        return self._described(session, row)

    def list(self, session: Session, app: str | None) -> list[SecretMeta]:
        grouped: dict[tuple[str, str], list[SecretVersion]] = {}
        for v in repo.versions_of(session, app):
            grouped.setdefault((v.app, v.name), []).append(v)
        return [_meta(r, grouped.get((r.app, r.name), [])) for r in repo.all_of(session, app)]

    def update_meta(
        self, session: Session, app: str, name: str, meta: MetaInput, now_us: int
    ) -> SecretMeta:
        row = self._live(session, app, name, lock=True)
        _apply(row, meta)
        row.updated_us = now_us
        session.flush()
        return self._described(session, row)

    def destroy(
        self, session: Session, app: str, name: str, version: int, now_us: int
    ) -> SecretMeta:
        row = self._live(session, app, name, lock=True)
        found = repo.version(session, app, name, version)
        if found is None:
            raise NotFoundError("no such version")
        if found.destroyed_us is None:
            found.value = None
            found.destroyed_us = now_us
            row.updated_us = now_us
        session.flush()
        return self._described(session, row)

    def delete(self, session: Session, app: str, name: str, now_us: int) -> SecretMeta:
        row = self._live(session, app, name, lock=True)
        row.deleted_us = row.updated_us = now_us
        session.flush()
        return self._described(session, row)

    def undelete(self, session: Session, app: str, name: str, now_us: int) -> SecretMeta:
        row = repo.get(session, app, name, lock=True)
        if row is None:
            raise NotFoundError(NOT_FOUND)
        row.deleted_us = None
        row.updated_us = now_us
        session.flush()
        return self._described(session, row)

    def set_disabled(
        self, session: Session, app: str, name: str, disabled: bool, now_us: int
    ) -> SecretMeta:
        row = self._live(session, app, name, lock=True)
        row.disabled_us = now_us if disabled else None
        row.updated_us = now_us
        session.flush()
        return self._described(session, row)

    def disable_app(self, session: Session, app: str, now_us: int) -> int:
        return repo.disable_all(session, app, now_us)
