"""The secrets service: validated, audited operations over one `SecretBackend`.

Every public method is one audited operation (exactly one event, naming the secret by id
and version, never its value) and raises typed errors from `strongroom.errors`. Scopes are
checked by the caller (the API layer); this layer checks names, sizes and metadata.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy.orm import Session

from strongroom.audit.recorder import Audited, PointReading, Recorder
from strongroom.call import Call
from strongroom.clock import Clock
from strongroom.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from strongroom.secrets import generators
from strongroom.secrets.backend import SecretBackend
from strongroom.secrets.model import (
    DATA_CLASSES,
    MAX_DESCRIPTION,
    MAX_TAGS,
    MetaInput,
    SecretMeta,
    SecretValue,
)
from strongroom.secrets.names import check_app, check_name

_TAG_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
MAX_PERIOD_S = 10 * 366 * 86_400
CLEARABLE = frozenset({"rotation_period_s", "expires_us"})


def _printable(text: str, limit: int, what: str) -> None:
    if len(text) > limit or not text.isprintable():
        raise InvalidRequestError(f"{what} is at most {limit} printable characters")


def check_meta(meta: MetaInput) -> MetaInput:
    """``meta`` if every field is within bounds; `InvalidRequestError` naming the field."""
    if meta.owner is not None:
        _printable(meta.owner, 256, "owner")
    if meta.description is not None:
        _printable(meta.description, MAX_DESCRIPTION, "description")
    if meta.tags is not None:
        if len(meta.tags) > MAX_TAGS:
            raise InvalidRequestError(f"at most {MAX_TAGS} tags")
        for key, value in meta.tags.items():
            if not _TAG_KEY.fullmatch(key):
                raise InvalidRequestError("a tag key is 1-32 of a-z, 0-9, '_', '.', '-'")
            _printable(value, 64, "a tag value")
    if meta.data_class is not None and meta.data_class not in DATA_CLASSES:
        raise InvalidRequestError(f"data_class is one of {', '.join(DATA_CLASSES)}")
    if meta.rotation_period_s is not None and not 60 <= meta.rotation_period_s <= MAX_PERIOD_S:
        raise InvalidRequestError("rotation_period_s is between 60 s and 10 years")
    if meta.expires_us is not None and meta.expires_us <= 0:
        raise InvalidRequestError("expires must be a time after the epoch")
    if not meta.clear <= CLEARABLE:
        raise InvalidRequestError("only rotation_period_s and expires_us can be cleared")
    return meta


class SecretsService:
    """Managed secrets of every app, over one backend."""

    def __init__(
        self, backend: SecretBackend, recorder: Recorder, clock: Clock, max_bytes: int
    ) -> None:
        self.backend = backend
        self._recorder = recorder
        self._clock = clock
        self._max_bytes = max_bytes

    def _value(self, value: bytes) -> bytes:
        if not value:
            raise InvalidRequestError("a secret value may not be empty")
        if len(value) > self._max_bytes:
            raise PayloadTooLargeError(f"a secret value is at most {self._max_bytes} bytes")
        return value

    def put(
        self,
        call: Call,
        app: str,
        name: str,
        value: bytes,
        meta: MetaInput | None = None,
        cas: int | None = None,
    ) -> SecretMeta:
        """Write a new version (the first creates the secret); `ConflictError` on CAS."""
        return self._write(call, "secrets.write", app, name, value, meta, cas)

    def rotate(
        self,
        call: Call,
        app: str,
        name: str,
        value: bytes | None = None,
        policy: generators.Policy | None = None,
        cas: int | None = None,
    ) -> SecretMeta:
        """A new version of an existing secret: ``value`` or one made by ``policy``."""
        if (value is None) == (policy is None):
            raise InvalidRequestError("rotate takes either a value or a generator policy")
        if policy is not None:
            policy.check()
        resource = f"secrets/{app}/{name}"
        with self._recorder.action(call.request_id, call.actor, "secrets.rotate", resource) as tx:
            check_app(app)
            check_name(name)
            if self.backend.describe(tx.session, app, name).deleted:
                raise NotFoundError("no such secret")
            fresh = generators.generate(policy) if policy is not None else self._value(value or b"")
            meta = self.backend.write(
                tx.session, app, name, fresh, MetaInput(), cas, self._clock.now_us()
            )
            tx.detail.update(
                {
                    "secret": meta.id,
                    "version": meta.current_version,
                    "generated": policy is not None,
                }
            )
            return meta

    def _write(
        self,
        call: Call,
        action: str,
        app: str,
        name: str,
        value: bytes,
        meta: MetaInput | None,
        cas: int | None,
    ) -> SecretMeta:
        resource = f"secrets/{app}/{name}"
        with self._recorder.action(call.request_id, call.actor, action, resource) as tx:
            check_app(app)
            check_name(name)
            checked = check_meta(meta or MetaInput())
            if cas is not None and cas < 0:
                raise InvalidRequestError("cas is a version number, 0 for 'must not exist'")
            written = self.backend.write(
                tx.session, app, name, self._value(value), checked, cas, self._clock.now_us()
            )
            tx.detail.update({"secret": written.id, "version": written.current_version})
            return written

    def read(self, call: Call, app: str, name: str, version: int | None = None) -> SecretValue:
        """A version's value (the current one by default). For runtime identities only."""
        resource = f"secrets/{app}/{name}"
        with self._recorder.action(
            call.request_id, call.actor, "secrets.read", resource, writes=False
        ) as tx:
            return self._read(tx, app, name, version)

    async def read_async(
        self, call: Call, app: str, name: str, version: int | None = None
    ) -> SecretValue:
        """`read` for coroutines: the same checks and event, without blocking the loop.

        On the built-in store over SQLite the read (one row by key, and a decryption)
        runs on the audit writer, in the transaction that records its event
        (`point_read_async`); on PostgreSQL, and for an external store, it runs in a
        worker thread (`read_async`), never on the writer. No thread is held while the
        event becomes durable. Returns only once it is; `AuditError` if it cannot be.
        """
        on_writer = self.backend.local and self._recorder.point_reads
        read = self._recorder.point_read_async if on_writer else self._recorder.read_async
        return await read(
            call.request_id,
            call.actor,
            "secrets.read",
            f"secrets/{app}/{name}",
            lambda tx: self._read(tx, app, name, version),
        )

    def _read(
        self, tx: Audited | PointReading, app: str, name: str, version: int | None
    ) -> SecretValue:
        check_app(app)
        check_name(name)
        if version is not None and version < 1:
            raise InvalidRequestError("versions start at 1")
        reader = tx.reader if isinstance(tx, PointReading) else tx.session
        found = self.backend.read(reader, app, name, version)
        tx.detail.update({"secret": f"{app}/{name}", "version": found.version})
        return found

    def describe(self, call: Call, app: str, name: str) -> SecretMeta:
        """A secret's metadata and versions, never a value."""
        resource = f"secrets/{app}/{name}"
        with self._recorder.action(
            call.request_id, call.actor, "secrets.meta.read", resource, writes=False
        ) as tx:
            check_app(app)
            check_name(name)
            return self.backend.describe(tx.session, app, name)

    def listing(
        self,
        call: Call,
        app: str,
        visible: Callable[[str], bool] | None = None,
        include_deleted: bool = False,
    ) -> list[SecretMeta]:
        """The app's secrets the caller may see (``visible(name)``), metadata only."""
        with self._recorder.action(
            call.request_id, call.actor, "secrets.list", f"secrets/{app}", writes=False
        ) as tx:
            check_app(app)
            found = [
                m
                for m in self.backend.list(tx.session, app)
                if (include_deleted or not m.deleted) and (visible is None or visible(m.name))
            ]
            tx.detail["count"] = len(found)
            return found

    def due(self, call: Call, app: str | None = None, within_s: int = 0) -> list[SecretMeta]:
        """Live secrets whose rotation period or expiry ends within ``within_s``, soonest first."""
        with self._recorder.action(
            call.request_id, call.actor, "secrets.due", f"secrets/{app or '*'}", writes=False
        ) as tx:
            if app is not None:
                check_app(app)
            if not 0 <= within_s <= MAX_PERIOD_S:
                raise InvalidRequestError("within is between 0 and 10 years, in seconds")
            horizon = self._clock.now_us() + within_s * 1_000_000
            found = []
            for meta in self.backend.list(tx.session, app):
                due = meta.due_us()
                if not meta.deleted and due is not None and due <= horizon:
                    found.append(meta)
            found.sort(key=lambda m: (m.due_us() or 0, m.id))
            tx.detail["count"] = len(found)
            return found

    def update_meta(self, call: Call, app: str, name: str, meta: MetaInput) -> SecretMeta:
        """Change metadata; values and versions stay as they are."""

        def change(session: Session, now: int) -> SecretMeta:
            return self.backend.update_meta(session, app, name, check_meta(meta), now)

        return self._change(call, "secrets.meta.write", app, name, change)

    def destroy(self, call: Call, app: str, name: str, version: int) -> SecretMeta:
        """Erase one version's value for good."""

        def change(session: Session, now: int) -> SecretMeta:
            if version < 1:
                raise InvalidRequestError("versions start at 1")
            return self.backend.destroy(session, app, name, version, now)

        return self._change(call, "secrets.destroy", app, name, change, version)

    def delete(self, call: Call, app: str, name: str) -> SecretMeta:
        """Soft-delete: hidden from readers and listings until undeleted."""
        return self._change(
            call, "secrets.delete", app, name, lambda s, now: self.backend.delete(s, app, name, now)
        )

    def undelete(self, call: Call, app: str, name: str) -> SecretMeta:
        return self._change(
            call,
            "secrets.undelete",
            app,
            name,
            lambda s, now: self.backend.undelete(s, app, name, now),
        )

    def revoke(self, call: Call, app: str, name: str) -> SecretMeta:
        """Disable the secret for every reader at once, until a new version is written."""
        return self._change(
            call,
            "secrets.revoke",
            app,
            name,
            lambda s, now: self.backend.set_disabled(s, app, name, True, now),
        )

    def disable_app(self, call: Call, app: str) -> int:
        """Emergency: revoke every secret of ``app`` in one call; returns how many."""
        with self._recorder.action(
            call.request_id, call.actor, "secrets.disable_all", f"secrets/{app}"
        ) as tx:
            check_app(app)
            count = self.backend.disable_app(tx.session, app, self._clock.now_us())
            tx.detail["count"] = count
            return count

    def _change(
        self,
        call: Call,
        action: str,
        app: str,
        name: str,
        change: Callable[[Session, int], SecretMeta],
        version: int | None = None,
    ) -> SecretMeta:
        resource = f"secrets/{app}/{name}"
        with self._recorder.action(call.request_id, call.actor, action, resource) as tx:
            check_app(app)
            check_name(name)
            meta: SecretMeta = change(tx.session, self._clock.now_us())
            tx.detail.update({"secret": meta.id, "version": version or meta.current_version})
            return meta
