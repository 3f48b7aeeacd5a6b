"""The SCIM filters Strongroom answers: ``ATTR eq "value"`` on one attribute per resource."""

from __future__ import annotations

import json
import re

from strongroom.errors import ScimInvalidFilterError

_EQ = re.compile(r'^\s*([A-Za-z][A-Za-z0-9:._-]*)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$', re.IGNORECASE)
MAX_FILTER_CHARS = 512


def equality(filter_text: str | None, attribute: str) -> str | None:
    """The value of ``attribute eq "value"``, None without a filter; else invalidFilter.

    The attribute name is case-insensitive and may carry its schema URN prefix.
    """
    if filter_text is None or filter_text.strip() == "":
        return None
    match = _EQ.match(filter_text) if len(filter_text) <= MAX_FILTER_CHARS else None
    if match is None:
        raise ScimInvalidFilterError(f'only the filter {attribute} eq "..." is supported')
    name = match.group(1).rsplit(":", 1)[-1]
    if name.lower() != attribute.lower():
        raise ScimInvalidFilterError(f'only the filter {attribute} eq "..." is supported')
    value = json.loads(match.group(2))
    if not isinstance(value, str):
        raise ScimInvalidFilterError("the filter value must be a string")
    return value
