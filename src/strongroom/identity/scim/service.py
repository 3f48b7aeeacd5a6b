"""SCIM 2.0 users and groups over the identity tables, each operation audited.

Deprovisioning a user (``active`` set to false, or DELETE) revokes their sessions in the
same transaction, then calls every hook in `Scim.deprovision_hooks` with the user's
Strongroom subject (their ``userName``) so token kill switches can follow.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.clock import Clock, rfc3339
from strongroom.errors import (
    ScimError,
    ScimInvalidSyntaxError,
    ScimMutabilityError,
    ScimNotFoundError,
    ScimUniquenessError,
)
from strongroom.identity.scim import etags, filters, patch
from strongroom.identity.scim.schemas import (
    GROUP,
    GROUP_ATTRIBUTES,
    LIST,
    USER,
    USER_ATTRIBUTES,
)
from strongroom.store.engine import Database
from strongroom.store.models import IdentityGroup, IdentityUser
from strongroom.store.repositories import identity as repo

USER_ATTRS = patch.catalogue(USER_ATTRIBUTES)
GROUP_ATTRS = patch.catalogue(GROUP_ATTRIBUTES)
MAX_NAME_CHARS = 256
MAX_ATTRIBUTES_BYTES = 64 * 1024


@dataclass(frozen=True)
class Page:
    """Paging of a list request: 1-based ``start`` and at most ``count`` resources."""

    start: int
    count: int


def _bool(value: Any) -> bool:
    # Some provisioning clients send booleans as strings ("False"); accept both forms.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ScimError("active must be a boolean")


def _clean(body: Any, attrs: dict[str, patch.AttrInfo], resource_id: str | None) -> dict[str, Any]:
    """The writable attributes of a POST/PUT body, canonically named.

    ``id`` must match the resource (PUT) when given; ``meta`` and other read-only
    attributes are ignored (RFC 7643 §7); unknown attributes are ignored.
    """
    if not isinstance(body, dict):
        raise ScimInvalidSyntaxError("the body must be a JSON object")
    if "id" in body and resource_id is not None and body["id"] != resource_id:
        raise ScimMutabilityError("id is immutable")
    result: dict[str, Any] = {}
    for key, value in body.items():
        info = attrs.get(key.rsplit(":", 1)[-1].lower())
        if info is None or not info.writable:
            continue
        result[info.name] = value
    return result


class Scim:
    """The SCIM service provider of one server."""

    def __init__(
        self,
        database: Database,
        recorder: Recorder,
        clock: Clock,
        *,
        base_url: str,
        max_page: int,
        kill_sessions: Callable[[Session, str, str], int],
    ) -> None:
        self._db = database
        self._recorder = recorder
        self._clock = clock
        self.base_url = base_url
        self.max_page = max_page
        self._kill_sessions = kill_sessions
        self.deprovision_hooks: list[Callable[[str], None]] = []

    # -- rendering --------------------------------------------------------------------

    def _meta(self, kind: str, rid: str, created: int, updated: int, version: int) -> Any:
        endpoint = "Users" if kind == "User" else "Groups"
        return {
            "resourceType": kind,
            "created": rfc3339(created),
            "lastModified": rfc3339(updated),
            "location": f"{self.base_url}/{endpoint}/{rid}",
            "version": etags.tag(version),
        }

    def _user_doc(self, session: Session, user: IdentityUser) -> dict[str, Any]:
        doc: dict[str, Any] = {"schemas": [USER], "id": user.id}
        doc.update(json.loads(user.attributes))
        doc["userName"] = user.user_name
        doc["active"] = user.active
        groups = repo.groups_of(session, user.id)
        if groups:
            doc["groups"] = [
                {"value": g.id, "$ref": f"{self.base_url}/Groups/{g.id}", "display": g.display_name}
                for g in groups
            ]
        doc["meta"] = self._meta("User", user.id, user.created_us, user.updated_us, user.version)
        return doc

    def _group_doc(self, session: Session, group: IdentityGroup) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schemas": [GROUP],
            "id": group.id,
            "displayName": group.display_name,
        }
        if group.external_id is not None:
            doc["externalId"] = group.external_id
        members = repo.members_of(session, group.id)
        if members:
            doc["members"] = [
                {"value": u.id, "$ref": f"{self.base_url}/Users/{u.id}"} for u in members
            ]
        doc["meta"] = self._meta(
            "Group", group.id, group.created_us, group.updated_us, group.version
        )
        return doc

    # -- users ------------------------------------------------------------------------

    def _write_user(
        self, session: Session, user: IdentityUser, attrs: dict[str, Any], *, new: bool = False
    ) -> bool:
        """Store ``attrs`` on ``user``; True if this deactivated the user.

        A new user without ``active`` is active; an update that removes ``active`` (PATCH
        remove, or PUT without it) deactivates, so a dropped attribute fails closed.
        """
        name = attrs.pop("userName", None)
        if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME_CHARS:
            raise ScimError("userName is required (1-256 characters)")
        other = repo.user_by_name(session, name)
        if other is not None and other.id != user.id:
            raise ScimUniquenessError("another user has this userName")
        active = _bool(attrs.pop("active", new))
        external = attrs.get("externalId")
        if external is not None and (not isinstance(external, str) or len(external) > 256):
            raise ScimError("externalId must be a string of at most 256 characters")
        encoded = json.dumps(attrs, separators=(",", ":"))
        if len(encoded) > MAX_ATTRIBUTES_BYTES:
            raise ScimError("the user's attributes are too large")
        was_active = bool(user.active) if user.active is not None else False
        user.user_name, user.user_name_key = name, name.lower()
        user.active, user.external_id, user.attributes = active, external, encoded
        user.updated_us = self._clock.now_us()
        user.version = (user.version or 0) + 1
        return was_active and not active

    def _deprovisioned(
        self, session: Session, user: IdentityUser, tx_detail: dict[str, Any]
    ) -> None:
        killed = self._kill_sessions(session, user.id, user.user_name)
        tx_detail.update({"deprovisioned": True, "sessions_ended": killed})

    def _after(self, subject: str | None) -> None:
        if subject is not None:
            for hook in self.deprovision_hooks:
                hook(subject)

    def create_user(self, call: Call, body: Any) -> dict[str, Any]:
        with self._recorder.action(
            call.request_id, call.actor, "scim.users.create", "scim/Users"
        ) as tx:
            attrs = _clean(body, USER_ATTRS, None)
            now = self._clock.now_us()
            user = IdentityUser(id=str(uuid.uuid4()), created_us=now, version=0, active=None)
            self._write_user(tx.session, user, attrs, new=True)
            tx.session.add(user)
            tx.session.flush()
            tx.resource = f"scim/Users/{user.id}"
            return self._user_doc(tx.session, user)

    def _user(self, session: Session, user_id: str) -> IdentityUser:
        user = repo.get_user(session, user_id) if len(user_id) <= 36 else None
        if user is None:
            raise ScimNotFoundError("no such user")
        return user

    def get_user(self, call: Call, user_id: str) -> dict[str, Any]:
        with self._recorder.action(
            call.request_id,
            call.actor,
            "scim.users.read",
            f"scim/Users/{user_id[:36]}",
            writes=False,
        ) as tx:
            return self._user_doc(tx.session, self._user(tx.session, user_id))

    def list_users(self, call: Call, filter_text: str | None, page: Page) -> dict[str, Any]:
        with self._recorder.action(
            call.request_id, call.actor, "scim.users.list", "scim/Users", writes=False
        ) as tx:
            name = filters.equality(filter_text, "userName")
            count = min(max(page.count, 0), self.max_page)
            start = max(page.start, 1)
            total, rows = repo.list_users(tx.session, name, start - 1, count)
            return _list(total, start, [self._user_doc(tx.session, u) for u in rows])

    def replace_user(
        self, call: Call, user_id: str, body: Any, if_match: str | None = None
    ) -> dict[str, Any]:
        """PUT; ``if_match`` must name the current version when given (else 412)."""
        return self._update_user(
            call,
            user_id,
            "scim.users.replace",
            lambda _doc: _clean(body, USER_ATTRS, user_id),
            if_match,
        )

    def patch_user(
        self, call: Call, user_id: str, body: Any, if_match: str | None = None
    ) -> dict[str, Any]:
        """PATCH; ``if_match`` must name the current version when given (else 412)."""
        return self._update_user(
            call,
            user_id,
            "scim.users.patch",
            lambda doc: patch.apply(doc, body, USER_ATTRS),
            if_match,
        )

    def _update_user(
        self,
        call: Call,
        user_id: str,
        action: str,
        change: Callable[[dict[str, Any]], dict[str, Any]],
        if_match: str | None,
    ) -> dict[str, Any]:
        deprovisioned = None
        with self._recorder.action(
            call.request_id, call.actor, action, f"scim/Users/{user_id[:36]}"
        ) as tx:
            user = self._user(tx.session, user_id)
            _precondition(tx.session, user, if_match)
            current = json.loads(user.attributes)
            current.update({"userName": user.user_name, "active": user.active})
            if self._write_user(tx.session, user, change(current)):
                self._deprovisioned(tx.session, user, tx.detail)
                deprovisioned = user.user_name
            tx.session.flush()
            doc = self._user_doc(tx.session, user)
        self._after(deprovisioned)
        return doc

    def delete_user(self, call: Call, user_id: str, if_match: str | None = None) -> None:
        """DELETE (deprovisions); ``if_match`` as for `replace_user`."""
        with self._recorder.action(
            call.request_id, call.actor, "scim.users.delete", f"scim/Users/{user_id[:36]}"
        ) as tx:
            user = self._user(tx.session, user_id)
            _precondition(tx.session, user, if_match)
            subject = user.user_name
            self._deprovisioned(tx.session, user, tx.detail)
            repo.delete_user(tx.session, user)
        self._after(subject)

    # -- groups -----------------------------------------------------------------------

    def _write_group(self, session: Session, group: IdentityGroup, attrs: dict[str, Any]) -> None:
        name = attrs.get("displayName")
        if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME_CHARS:
            raise ScimError("displayName is required (1-256 characters)")
        other = repo.group_by_name(session, name)
        if other is not None and other.id != group.id:
            raise ScimUniquenessError("another group has this displayName")
        external = attrs.get("externalId")
        if external is not None and (not isinstance(external, str) or len(external) > 256):
            raise ScimError("externalId must be a string of at most 256 characters")
        members = attrs.get("members") or []
        if not isinstance(members, list):
            raise ScimError("members must be a list")
        ids: set[str] = set()
        for member in members:
            value = member.get("value") if isinstance(member, dict) else None
            if not isinstance(value, str) or repo.get_user(session, value[:36]) is None:
                raise ScimError("every member must name an existing user by its id")
            ids.add(value)
        group.display_name, group.display_name_key = name, name.lower()
        group.external_id = external
        group.updated_us = self._clock.now_us()
        group.version = (group.version or 0) + 1
        session.add(group)
        session.flush()
        repo.set_members(session, group.id, ids)

    def _group(self, session: Session, group_id: str) -> IdentityGroup:
        group = repo.get_group(session, group_id) if len(group_id) <= 36 else None
        if group is None:
            raise ScimNotFoundError("no such group")
        return group

    def create_group(self, call: Call, body: Any) -> dict[str, Any]:
        with self._recorder.action(
            call.request_id, call.actor, "scim.groups.create", "scim/Groups"
        ) as tx:
            attrs = _clean(body, GROUP_ATTRS, None)
            group = IdentityGroup(id=str(uuid.uuid4()), created_us=self._clock.now_us(), version=0)
            self._write_group(tx.session, group, attrs)
            tx.resource = f"scim/Groups/{group.id}"
            return self._group_doc(tx.session, group)

    def get_group(self, call: Call, group_id: str) -> dict[str, Any]:
        with self._recorder.action(
            call.request_id,
            call.actor,
            "scim.groups.read",
            f"scim/Groups/{group_id[:36]}",
            writes=False,
        ) as tx:
            return self._group_doc(tx.session, self._group(tx.session, group_id))

    def list_groups(self, call: Call, filter_text: str | None, page: Page) -> dict[str, Any]:
        with self._recorder.action(
            call.request_id, call.actor, "scim.groups.list", "scim/Groups", writes=False
        ) as tx:
            name = filters.equality(filter_text, "displayName")
            count = min(max(page.count, 0), self.max_page)
            start = max(page.start, 1)
            total, rows = repo.list_groups(tx.session, name, start - 1, count)
            return _list(total, start, [self._group_doc(tx.session, g) for g in rows])

    def replace_group(
        self, call: Call, group_id: str, body: Any, if_match: str | None = None
    ) -> dict[str, Any]:
        """PUT; ``if_match`` must name the current version when given (else 412)."""
        return self._update_group(
            call,
            group_id,
            "scim.groups.replace",
            lambda _d: _clean(body, GROUP_ATTRS, group_id),
            if_match,
        )

    def patch_group(
        self, call: Call, group_id: str, body: Any, if_match: str | None = None
    ) -> dict[str, Any]:
        """PATCH; ``if_match`` must name the current version when given (else 412)."""
        return self._update_group(
            call,
            group_id,
            "scim.groups.patch",
            lambda d: patch.apply(d, body, GROUP_ATTRS),
            if_match,
        )

    def _update_group(
        self,
        call: Call,
        group_id: str,
        action: str,
        change: Callable[[dict[str, Any]], dict[str, Any]],
        if_match: str | None,
    ) -> dict[str, Any]:
        with self._recorder.action(
            call.request_id, call.actor, action, f"scim/Groups/{group_id[:36]}"
        ) as tx:
            group = self._group(tx.session, group_id)
            _precondition(tx.session, group, if_match)
            current = self._group_doc(tx.session, group)
            for key in ("schemas", "id", "meta"):
                current.pop(key, None)
            self._write_group(tx.session, group, change(current))
            return self._group_doc(tx.session, group)

    def delete_group(self, call: Call, group_id: str, if_match: str | None = None) -> None:
        """DELETE; ``if_match`` as for `replace_group`."""
        with self._recorder.action(
            call.request_id, call.actor, "scim.groups.delete", f"scim/Groups/{group_id[:36]}"
        ) as tx:
            group = self._group(tx.session, group_id)
            _precondition(tx.session, group, if_match)
            repo.delete_group(tx.session, group)


def _precondition(
    session: Session, row: IdentityUser | IdentityGroup, if_match: str | None
) -> None:
    """Check ``If-Match`` against the row, locked so no concurrent write slips between."""
    if if_match is None:
        return
    session.refresh(row, with_for_update=True)
    etags.require(if_match, row.version)


def _list(total: int, start: int, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
