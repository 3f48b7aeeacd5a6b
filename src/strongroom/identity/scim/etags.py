"""SCIM resource versions as HTTP entity tags (RFC 7644 §3.14, RFC 9110 §13.1).

A resource's ``meta.version`` is a weak tag of its version counter (``W/"3"``); the same
value is its ``ETag`` header. Versions are compared weakly (``W/"3"`` matches ``"3"``),
as SCIM clients echo ``meta.version`` in ``If-Match``. A header that cannot be parsed
matches nothing, so a precondition never passes by accident.
"""

from __future__ import annotations

import re

from strongroom.errors import ScimPreconditionFailedError

_TAG = re.compile(r'^(?:W/)?"([\x21\x23-\x7e]*)"$')
MAX_HEADER_CHARS = 1024


def tag(version: int) -> str:
    """The entity tag of a resource at ``version``."""
    return f'W/"{version}"'


def _opaque(item: str) -> str | None:
    match = _TAG.match(item.strip())
    return match.group(1) if match else None


def matches(header: str, version: int) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` value names ``version`` (or is ``*``)."""
    if len(header) > MAX_HEADER_CHARS:
        return False
    if header.strip() == "*":
        return True
    return any(_opaque(item) == str(version) for item in header.split(","))


def require(if_match: str | None, version: int) -> None:
    """`ScimPreconditionFailedError` unless ``if_match`` is absent or names ``version``."""
    if if_match is not None and not matches(if_match, version):
        raise ScimPreconditionFailedError("the resource has changed: its version does not match")
