"""An external secret store: an OpenBao / HashiCorp Vault KV version 2 mount, via hvac.

Each secret is the KV path ``<app>/<name>``; its value is stored base64-encoded under the
key ``value``. KV v2 keeps versions, check-and-set and destroy natively; Strongroom's own
metadata (owner, tags, rotation period, soft delete, revocation) lives in the path's
``custom_metadata`` under ``sr_*`` keys. OpenBao's own barrier seals the values.

OpenBao cannot join Strongroom's database transaction: a write lands in OpenBao before its
audit event commits here, and ``disable_app`` revokes secrets one path at a time.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import hvac
import requests
from hvac import exceptions as hvac_errors
from sqlalchemy.orm import Session

from strongroom.errors import (
    ConflictError,
    GoneError,
    NotFoundError,
    SecretBackendError,
    SecretDisabledError,
)
from strongroom.secrets.model import MetaInput, SecretMeta, SecretValue, VersionInfo
from strongroom.store.engine import Reader

_TAG = "sr_tag_"
_INTS = ("rotation_period_s", "expires_us", "created_us", "updated_us", "rotated_us")
_FLAGS = ("deleted_us", "disabled_us")


def _us(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1_000_000)


@contextmanager
def _mapped() -> Iterator[None]:
    """Turn hvac and transport errors into ours, without the server's text (it may echo)."""
    try:
        yield
    except hvac_errors.InvalidPath:
        raise NotFoundError("no such secret") from None
    except hvac_errors.InvalidRequest as exc:
        if "check-and-set" in str(exc):
            raise ConflictError(
                "check-and-set failed: the secret's current version differs"
            ) from None
        raise SecretBackendError("the secret store refused the request") from None
    except (hvac_errors.VaultError, requests.RequestException):
        raise SecretBackendError("the secret store cannot be reached or refused access") from None


class OpenBaoBackend:
    """`SecretBackend` over a KV v2 mount of OpenBao or Vault."""

    name = "openbao"
    local = False  # every read is an HTTP call: never on the audit writer

    def __init__(self, url: str, token: str, mount: str = "secret", timeout: float = 10.0) -> None:
        self._client = hvac.Client(url=url, token=token, timeout=timeout)
        self._kv = self._client.secrets.kv.v2
        self._mount = mount

    def __repr__(self) -> str:
        return f"OpenBaoBackend(mount={self._mount!r})"

    # -- metadata kept in custom_metadata ---------------------------------------------

    def _raw_meta(self, app: str, name: str) -> dict[str, Any] | None:
        try:
            with _mapped():
                found = self._kv.read_secret_metadata(path=f"{app}/{name}", mount_point=self._mount)
        except NotFoundError:
            return None
        data: dict[str, Any] = found["data"]
        return data

    def _meta(self, app: str, name: str, raw: dict[str, Any]) -> SecretMeta:
        custom: dict[str, str] = raw.get("custom_metadata") or {}

        def num(key: str) -> int | None:
            text = custom.get("sr_" + key, "")
            return int(text) if text else None

        versions = tuple(
            VersionInfo(int(v), _us(info["created_time"]), bool(info["destroyed"]))
            for v, info in sorted(raw.get("versions", {}).items(), key=lambda kv: int(kv[0]))
        )
        return SecretMeta(
            app=app,
            name=name,
            owner=custom.get("sr_owner", ""),
            description=custom.get("sr_description", ""),
            tags={k.removeprefix(_TAG): v for k, v in custom.items() if k.startswith(_TAG)},
            data_class=custom.get("sr_data_class", "confidential"),
            rotation_period_s=num("rotation_period_s"),
            expires_us=num("expires_us"),
            current_version=int(raw.get("current_version", 0)),
            created_us=num("created_us") or 0,
            updated_us=num("updated_us") or 0,
            rotated_us=num("rotated_us") or 0,
            deleted=bool(custom.get("sr_deleted_us")),
            disabled=bool(custom.get("sr_disabled_us")),
            versions=versions,
        )

    def _put_custom(self, app: str, name: str, custom: dict[str, str]) -> None:
        with _mapped():
            self._kv.update_metadata(
                path=f"{app}/{name}", mount_point=self._mount, custom_metadata=custom
            )

    @staticmethod
    def _apply(custom: dict[str, str], meta: MetaInput) -> None:
        for key in ("owner", "description", "data_class"):
            value = getattr(meta, key)
            if value is not None:
                custom["sr_" + key] = value
        for key in ("rotation_period_s", "expires_us"):
            value = getattr(meta, key)
            if value is not None:
                custom["sr_" + key] = str(value)
            if key in meta.clear:
                custom.pop("sr_" + key, None)
        if meta.tags is not None:
            for key in [k for k in custom if k.startswith(_TAG)]:
                del custom[key]
            custom.update({_TAG + k: v for k, v in meta.tags.items()})

    def _live(self, app: str, name: str) -> tuple[dict[str, Any], dict[str, str]]:
        raw = self._raw_meta(app, name)
        custom = dict((raw or {}).get("custom_metadata") or {})
        if raw is None or custom.get("sr_deleted_us"):
            raise NotFoundError("no such secret")
        return raw, custom

    def _changed(self, app: str, name: str, custom: dict[str, str], now_us: int) -> SecretMeta:
        custom["sr_updated_us"] = str(now_us)
        self._put_custom(app, name, custom)
        raw = self._raw_meta(app, name)
        if raw is None:
            raise NotFoundError("no such secret")
        return self._meta(app, name, raw)

    # -- the interface ------------------------------------------------------------------

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
        raw = self._raw_meta(app, name)
        custom = dict((raw or {}).get("custom_metadata") or {})
        if custom.get("sr_deleted_us"):
            raise ConflictError("the secret is deleted; undelete it before writing")
        if raw is None:
            custom["sr_created_us"] = str(now_us)
            custom.setdefault("sr_data_class", "confidential")
        secret = {"value": base64.b64encode(value).decode()}
        with _mapped():
            self._kv.create_or_update_secret(
                path=f"{app}/{name}", secret=secret, cas=cas, mount_point=self._mount
            )
        self._apply(custom, meta)
        custom["sr_rotated_us"] = str(now_us)
        custom.pop("sr_disabled_us", None)
        return self._changed(app, name, custom, now_us)

    def read(self, reader: Reader, app: str, name: str, version: int | None) -> SecretValue:
        raw, custom = self._live(app, name)
        if custom.get("sr_disabled_us"):
            raise SecretDisabledError("the secret is revoked; write a new version to enable it")
        number = int(raw.get("current_version", 0)) if version is None else version
        info = raw.get("versions", {}).get(str(number))
        if info is None:
            raise NotFoundError("no such version")
        if info.get("destroyed"):
            raise GoneError("that version was destroyed")
        with _mapped():
            found = self._kv.read_secret_version(
                path=f"{app}/{name}",
                version=number,
                mount_point=self._mount,
                raise_on_deleted_version=True,
            )
        value = base64.b64decode(found["data"]["data"]["value"])
        return SecretValue(app, name, number, value)

    def describe(self, session: Session, app: str, name: str) -> SecretMeta:
        raw = self._raw_meta(app, name)
        if raw is None:
            raise NotFoundError("no such secret")
        return self._meta(app, name, raw)

    def _names(self, path: str) -> list[str]:
        try:
            with _mapped():
                found = self._kv.list_secrets(path=path, mount_point=self._mount)
        except NotFoundError:
            return []
        return sorted(str(k) for k in found["data"]["keys"])

    def list(self, session: Session, app: str | None) -> list[SecretMeta]:
        apps = [app] if app is not None else [a.rstrip("/") for a in self._names("")]
        found = []
        for one in apps:
            for name in self._names(one):
                if name.endswith("/"):
                    continue
                raw = self._raw_meta(one, name)
                if raw is not None:
                    found.append(self._meta(one, name, raw))
        return found

    def update_meta(
        self, session: Session, app: str, name: str, meta: MetaInput, now_us: int
    ) -> SecretMeta:
        _, custom = self._live(app, name)
        self._apply(custom, meta)
        return self._changed(app, name, custom, now_us)

    def destroy(
        self, session: Session, app: str, name: str, version: int, now_us: int
    ) -> SecretMeta:
        raw, custom = self._live(app, name)
        if str(version) not in raw.get("versions", {}):
            raise NotFoundError("no such version")
        with _mapped():
            self._kv.destroy_secret_versions(
                path=f"{app}/{name}", versions=[version], mount_point=self._mount
            )
        return self._changed(app, name, custom, now_us)

    def delete(self, session: Session, app: str, name: str, now_us: int) -> SecretMeta:
        _, custom = self._live(app, name)
        custom["sr_deleted_us"] = str(now_us)
        return self._changed(app, name, custom, now_us)

    def undelete(self, session: Session, app: str, name: str, now_us: int) -> SecretMeta:
        raw = self._raw_meta(app, name)
        if raw is None:
            raise NotFoundError("no such secret")
        custom = dict(raw.get("custom_metadata") or {})
        custom.pop("sr_deleted_us", None)
        return self._changed(app, name, custom, now_us)

    def set_disabled(
        self, session: Session, app: str, name: str, disabled: bool, now_us: int
    ) -> SecretMeta:
        _, custom = self._live(app, name)
        if disabled:
            custom["sr_disabled_us"] = str(now_us)
        else:
            custom.pop("sr_disabled_us", None)
        return self._changed(app, name, custom, now_us)

    def disable_app(self, session: Session, app: str, now_us: int) -> int:
        count = 0
        for meta in self.list(session, app):
            if not meta.deleted and not meta.disabled:
                self.set_disabled(session, app, meta.name, True, now_us)
                count += 1
        return count
