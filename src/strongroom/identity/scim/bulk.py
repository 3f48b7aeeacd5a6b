"""SCIM bulk operations (RFC 7644 §3.7): many writes in one request, each on its own.

A bulk request is checked as a whole first (size, ``maxOperations``, shape: a bad one is
refused and nothing is written); then its operations run one by one through the same
service methods (and audit events) as single requests, each in its own transaction, so
an operation that fails does not undo the ones before it. ``failOnErrors`` stops the run
once that many operations have failed; the response lists what ran.

``bulkId`` references (``"bulkId:qwerty"``, in a path or anywhere in ``data``, such as
a group's ``members[].value``) name the resource an earlier POST of the same request
created. Operations run in the order of the request, except that one referring to a
bulkId not yet created waits until it is; a reference to a bulkId that is unknown, whose
POST failed, or that is part of a cycle fails with 409 ``invalidValue``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strongroom.audit.recorder import Recorder
from strongroom.call import Call
from strongroom.errors import (
    ScimError,
    ScimInvalidReferenceError,
    ScimInvalidSyntaxError,
    ScimPayloadTooLargeError,
    StrongroomError,
)
from strongroom.identity.scim.schemas import BULK_REQUEST, BULK_RESPONSE, ERROR
from strongroom.identity.scim.service import Scim

MAX_OPERATIONS = 100
#: Below the server's own body limit, so an oversized bulk still gets a SCIM error.
MAX_PAYLOAD_BYTES = 524_288
MAX_BULK_ID_CHARS = 64
_PREFIX = "bulkId:"
_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_TYPES = {"Users": "User", "Groups": "Group"}


@dataclass
class _Operation:
    index: int
    method: str
    endpoint: str
    target: str | None
    bulk_id: str | None
    version: str | None
    data: Any
    _references: frozenset[str] | None = None

    def references(self) -> frozenset[str]:
        """The bulkIds the operation names; its data is walked once (the scheduler asks
        again at every step)."""
        if self._references is None:
            found: set[str] = set()
            _walk(self.data, found)
            if self.target is not None and self.target.startswith(_PREFIX):
                found.add(self.target[len(_PREFIX) :])
            self._references = frozenset(found)
        return self._references


def _walk(value: Any, found: set[str]) -> None:
    if isinstance(value, str) and value.startswith(_PREFIX):
        found.add(value[len(_PREFIX) :])
    elif isinstance(value, dict):
        for item in value.values():
            _walk(item, found)
    elif isinstance(value, list):
        for item in value:
            _walk(item, found)


def _resolve(value: Any, created: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith(_PREFIX):
        return created[value[len(_PREFIX) :]]
    if isinstance(value, dict):
        return {k: _resolve(v, created) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, created) for v in value]
    return value


def _error_doc(exc: StrongroomError) -> dict[str, Any]:
    doc: dict[str, Any] = {"schemas": [ERROR], "status": str(exc.status), "detail": exc.detail}
    scim_type = exc.scim_type if isinstance(exc, ScimError) else None
    if scim_type:
        doc["scimType"] = scim_type
    return doc


class Bulk:
    """Runs bulk requests against one `Scim` service provider."""

    def __init__(
        self,
        scim: Scim,
        recorder: Recorder,
        *,
        max_operations: int = MAX_OPERATIONS,
        max_payload: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        self._scim = scim
        self._recorder = recorder
        self.max_operations = max_operations
        self.max_payload = max_payload

    def parse(self, raw: bytes) -> tuple[list[_Operation], int | None]:
        """The operations of a bulk request and its ``failOnErrors``; nothing runs yet.

        `ScimPayloadTooLargeError` over ``maxPayloadSize`` or ``maxOperations``;
        `ScimInvalidSyntaxError` for a body that is no BulkRequest; `ScimError`
        (``invalidValue``) for a bad ``failOnErrors`` or a repeated ``bulkId``.
        """
        if len(raw) > self.max_payload:
            raise ScimPayloadTooLargeError(
                f"the bulk request exceeds maxPayloadSize ({self.max_payload} bytes)"
            )
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise ScimInvalidSyntaxError("the body is not valid JSON") from None
        if not isinstance(body, dict) or BULK_REQUEST not in (body.get("schemas") or []):
            raise ScimInvalidSyntaxError(f"the body must be a {BULK_REQUEST}")
        items = body.get("Operations")
        if not isinstance(items, list) or not items:
            raise ScimInvalidSyntaxError("Operations must be a non-empty list")
        if len(items) > self.max_operations:
            raise ScimPayloadTooLargeError(
                f"the bulk request exceeds maxOperations ({self.max_operations})"
            )
        fail_on = body.get("failOnErrors")
        if fail_on is not None and (
            not isinstance(fail_on, int) or isinstance(fail_on, bool) or fail_on < 1
        ):
            raise ScimError("failOnErrors must be a positive integer")
        operations = [self._operation(i, item) for i, item in enumerate(items)]
        ids = [op.bulk_id for op in operations if op.bulk_id is not None]
        if len(set(ids)) != len(ids):
            raise ScimError("every bulkId must be unique within the request")
        return operations, fail_on

    def _operation(self, index: int, item: Any) -> _Operation:
        where = f"operation {index + 1}"
        if not isinstance(item, dict):
            raise ScimInvalidSyntaxError(f"{where} is not an object")
        method = item.get("method")
        path = item.get("path")
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise ScimInvalidSyntaxError(f"{where}: method must be POST, PUT, PATCH or DELETE")
        method = method.upper()
        if not isinstance(path, str) or not path.startswith("/"):
            raise ScimInvalidSyntaxError(f"{where}: path must be /Users or /Groups[/id]")
        parts = path[1:].split("/")
        if parts[0] not in _TYPES or len(parts) > 2 or (len(parts) == 2 and not parts[1]):
            raise ScimInvalidSyntaxError(f"{where}: path must be /Users or /Groups[/id]")
        target = parts[1] if len(parts) == 2 else None
        if (method == "POST") != (target is None):
            raise ScimInvalidSyntaxError(f"{where}: POST goes to /Users or /Groups, others to /id")
        bulk_id = item.get("bulkId")
        if method == "POST" and (
            not isinstance(bulk_id, str) or not 0 < len(bulk_id) <= MAX_BULK_ID_CHARS
        ):
            raise ScimInvalidSyntaxError(f"{where}: a POST needs a bulkId (1-64 characters)")
        if method != "POST":
            bulk_id = None
        version = item.get("version")
        if version is not None and not isinstance(version, str):
            raise ScimInvalidSyntaxError(f"{where}: version must be a string")
        data = item.get("data")
        if method != "DELETE" and not isinstance(data, dict):
            raise ScimInvalidSyntaxError(f"{where}: data must be an object")
        return _Operation(index, method, parts[0], target, bulk_id, version, data)

    def run(self, call: Call, raw: bytes) -> dict[str, Any]:
        """Run a bulk request; the BulkResponse. Errors of `parse` are raised as they are."""
        operations, fail_on = self.parse(raw)
        created: dict[str, str] = {}
        failed: set[str] = set()
        results: list[dict[str, Any]] = []
        errors = 0
        pending = list(operations)
        declared = {op.bulk_id for op in operations if op.bulk_id is not None}
        while pending and (fail_on is None or errors < fail_on):
            unsettled = declared - created.keys() - failed
            ready = next((op for op in pending if not op.references() & unsettled), None)
            if ready is None:
                # Every remaining operation waits on a bulkId that will never be created.
                ready = pending[0]
            pending.remove(ready)
            outcome = self._one(call, ready, created, failed, declared)
            if outcome.get("status", "").startswith(("4", "5")):
                errors += 1
                if ready.bulk_id is not None:
                    failed.add(ready.bulk_id)
            elif ready.bulk_id is not None and "id" in outcome:
                created[ready.bulk_id] = outcome.pop("id")
            outcome.pop("id", None)
            results.append(outcome)
        self._recorder.record(
            call.request_id,
            call.actor,
            "scim.bulk",
            "scim/Bulk",
            "success" if errors == 0 else "error",
            {"operations": len(operations), "ran": len(results), "errors": errors},
        )
        return {"schemas": [BULK_RESPONSE], "Operations": results}

    def _one(
        self,
        call: Call,
        op: _Operation,
        created: dict[str, str],
        failed: set[str],
        declared: set[str],
    ) -> dict[str, Any]:
        outcome: dict[str, Any] = {"method": op.method}
        if op.bulk_id is not None:
            outcome["bulkId"] = op.bulk_id
        if op.version is not None:
            outcome["version"] = op.version
        try:
            missing = op.references() - created.keys()
            if missing:
                name = sorted(missing)[0]
                if name not in declared:
                    raise ScimInvalidReferenceError(
                        f"bulkId {name!r} is not declared in this request"
                    )
                if name in failed:
                    raise ScimInvalidReferenceError(
                        f"the operation creating bulkId {name!r} failed"
                    )
                raise ScimInvalidReferenceError(
                    f"bulkId {name!r} cannot be resolved (a circular reference)"
                )
            data = _resolve(op.data, created)
            target = _resolve(op.target, created) if op.target is not None else None
            doc, status = self._dispatch(call, op, data, target)
        except StrongroomError as exc:
            if exc.status >= 500:
                raise
            if op.target is not None:
                outcome["location"] = f"{self._scim.base_url}/{op.endpoint}/{op.target}"
            outcome.update({"status": str(exc.status), "response": _error_doc(exc)})
            return outcome
        if doc is not None:
            outcome.update({"location": doc["meta"]["location"], "version": doc["meta"]["version"]})
            outcome["id"] = doc["id"]
        else:
            outcome["location"] = f"{self._scim.base_url}/{op.endpoint}/{target}"
        outcome["status"] = str(status)
        return outcome

    def _dispatch(
        self, call: Call, op: _Operation, data: Any, target: str | None
    ) -> tuple[dict[str, Any] | None, int]:
        scim = self._scim
        users = op.endpoint == "Users"
        if op.method == "POST":
            create = scim.create_user if users else scim.create_group
            return create(call, data), 201
        if target is None:  # pragma: no cover - parse guarantees a target here
            raise ScimInvalidSyntaxError("this operation needs a resource id")
        if op.method == "DELETE":
            delete = scim.delete_user if users else scim.delete_group
            delete(call, target, op.version)
            return None, 204
        update: Callable[..., dict[str, Any]]
        if op.method == "PUT":
            update = scim.replace_user if users else scim.replace_group
        else:
            update = scim.patch_user if users else scim.patch_group
        return update(call, target, data, op.version), 200
