"""RFC 7644 §3.5.2 PATCH applied to a resource's attributes (a plain dict).

Paths: ``attr``, ``attr.sub``, ``attr[sub eq "v"]`` and ``attr[sub eq "v"].sub``; names
are case-insensitive and resolved against the resource's schema. Operations on ``id``,
``meta`` or any read-only or immutable attribute fail with scimType ``mutability``;
unknown attributes with ``invalidPath``; a remove without a path with ``noTarget``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strongroom.errors import (
    ScimError,
    ScimInvalidPathError,
    ScimInvalidSyntaxError,
    ScimMutabilityError,
)
from strongroom.identity.scim.schemas import PATCH

MAX_OPERATIONS = 100
_PATH = re.compile(
    r"^(?:urn:[^ ]+:)?([A-Za-z$][A-Za-z0-9_$-]*)"
    r'(?:\[\s*([A-Za-z$][A-Za-z0-9_$-]*)\s+eq\s+("(?:[^"\\]|\\.)*"|true|false)\s*\])?'
    r"(?:\.([A-Za-z$][A-Za-z0-9_$-]*))?$",
    re.IGNORECASE,
)
ALWAYS_READ_ONLY = frozenset({"id", "meta", "schemas"})


class NoTargetError(ScimError):
    scim_type = "noTarget"


@dataclass(frozen=True)
class AttrInfo:
    name: str
    multi: bool
    complex: bool
    writable: bool
    sub: Mapping[str, str]


def catalogue(attributes: list[dict[str, Any]]) -> dict[str, AttrInfo]:
    """Attribute facts by lower-cased name, from a schema's attribute list."""
    result = {}
    for attr in attributes:
        result[attr["name"].lower()] = AttrInfo(
            name=attr["name"],
            multi=attr["multiValued"],
            complex=attr["type"] == "complex",
            writable=attr["mutability"] in ("readWrite", "writeOnly"),
            sub={s["name"].lower(): s["name"] for s in attr.get("subAttributes", [])},
        )
    result["externalid"] = AttrInfo("externalId", False, False, True, {})
    return result


@dataclass(frozen=True)
class _Path:
    attr: AttrInfo
    filter_attr: str | None
    filter_value: Any
    sub: str | None


def _parse_path(path: str, attrs: Mapping[str, AttrInfo]) -> _Path:
    match = _PATH.match(path.strip()) if len(path) <= 512 else None
    if match is None:
        raise ScimInvalidPathError("the patch path is not one Strongroom understands")
    name, f_attr, f_value, sub = match.groups()
    if name.lower() in ALWAYS_READ_ONLY:
        raise ScimMutabilityError(f"{name} cannot be modified")
    info = attrs.get(name.lower())
    if info is None:
        raise ScimInvalidPathError("the patch path names an unknown attribute")
    if not info.writable:
        raise ScimMutabilityError(f"{info.name} is read-only")
    if (f_attr or sub) and not info.complex:
        raise ScimInvalidPathError(f"{info.name} has no sub-attributes")
    if f_attr and not info.multi:
        raise ScimInvalidPathError(f"{info.name} is not multi-valued")
    resolved_f = info.sub.get(f_attr.lower()) if f_attr else None
    resolved_sub = info.sub.get(sub.lower()) if sub else None
    if (f_attr and resolved_f is None) or (sub and resolved_sub is None):
        raise ScimInvalidPathError("the patch path names an unknown sub-attribute")
    value = json.loads(f_value) if f_value is not None else None
    return _Path(info, resolved_f, value, resolved_sub)


def _canonical(value: Any, info: AttrInfo) -> Any:
    """Sub-attribute names of a complex value resolved to their schema spelling."""
    if not info.complex or not isinstance(value, dict):
        return value
    return {info.sub.get(k.lower(), k): v for k, v in value.items()}


def _matches(item: Any, path: _Path) -> bool:
    if not isinstance(item, dict) or path.filter_attr is None:
        return False
    current = item.get(path.filter_attr)
    if isinstance(current, str) and isinstance(path.filter_value, str):
        return current.lower() == path.filter_value.lower()
    return bool(current == path.filter_value)


def _set(doc: dict[str, Any], op: str, path: _Path, value: Any) -> None:
    info = path.attr
    name = info.name
    if path.filter_attr is not None:
        items = doc.get(name) or []
        hits = [i for i in items if _matches(i, path)]
        if op == "remove":
            if path.sub is None:
                doc[name] = [i for i in items if not _matches(i, path)]
            else:
                for item in hits:
                    item.pop(path.sub, None)
            return
        if not hits:
            if op == "add" and path.sub is None and isinstance(value, dict):
                doc[name] = [*items, _canonical(value, info)]
                return
            raise NoTargetError("no value matches the patch path filter")
        for item in hits:
            if path.sub is not None:
                item[path.sub] = value
            elif isinstance(value, dict):
                item.update(_canonical(value, info))
            else:
                raise ScimInvalidSyntaxError("a filtered patch needs an object value")
        return
    if path.sub is not None:
        if info.multi:
            items = doc.get(name) or []
            for item in items:
                if op == "remove":
                    item.pop(path.sub, None)
                else:
                    item[path.sub] = value
            return
        found = doc.get(name)
        current: dict[str, Any] = found if isinstance(found, dict) else {}
        if op == "remove":
            current.pop(path.sub, None)
        else:
            current[path.sub] = value
        doc[name] = current
        return
    if op == "remove":
        doc.pop(name, None)
        return
    if info.multi:
        values = value if isinstance(value, list) else [value]
        values = [_canonical(v, info) for v in values]
        if op == "add":
            existing = doc.get(name) or []
            doc[name] = existing + [v for v in values if v not in existing]
        else:
            doc[name] = values
        return
    if info.complex and isinstance(value, dict) and isinstance(doc.get(name), dict):
        doc[name] = {**doc[name], **_canonical(value, info)}
        return
    doc[name] = _canonical(value, info)


def apply(doc: dict[str, Any], body: Any, attrs: Mapping[str, AttrInfo]) -> dict[str, Any]:
    """The attributes after the PATCH ``body``; the input is not changed. Raises ScimError."""
    if not isinstance(body, dict) or PATCH not in (body.get("schemas") or []):
        raise ScimInvalidSyntaxError("a PATCH body must be a PatchOp message")
    operations = body.get("Operations")
    if not isinstance(operations, list) or not 0 < len(operations) <= MAX_OPERATIONS:
        raise ScimInvalidSyntaxError(f"a PATCH needs 1 to {MAX_OPERATIONS} Operations")
    result = copy.deepcopy(doc)
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimInvalidSyntaxError("each operation must be an object")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "replace", "remove"):
            raise ScimInvalidSyntaxError("op must be add, replace or remove")
        path = operation.get("path")
        value = operation.get("value")
        if path is None:
            if op == "remove":
                raise NoTargetError("a remove operation needs a path")
            if not isinstance(value, dict):
                raise ScimInvalidSyntaxError("an operation without a path needs an object value")
            for key, item in value.items():
                _set(result, op, _parse_path(key, attrs), item)
            continue
        if not isinstance(path, str):
            raise ScimInvalidPathError("path must be a string")
        if op != "remove" and "value" not in operation:
            raise ScimInvalidSyntaxError(f"an {op} operation needs a value")
        _set(result, op, _parse_path(path, attrs), value)
    return result
