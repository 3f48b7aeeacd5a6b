"""Version ordering for OSV ranges: PEP 440 (PyPI, via `packaging`) and SemVer 2.0 (npm).

OSV's range evaluation (its spec's ``is_affected``): walk the range's events sorted by
version; ``introduced <= v`` makes ``v`` vulnerable, ``fixed <= v`` or ``last_affected <
v`` makes it safe again. ``introduced: "0"`` sorts before every version.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from packaging.version import InvalidVersion, Version

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)

SortKey = tuple[Any, ...]
_ZERO: SortKey = (-1,)


def semver_key(version: str) -> SortKey:
    """A sort key giving SemVer 2.0 precedence; `ValueError` if ``version`` is not SemVer.

    Build metadata is ignored; a pre-release sorts before its release; pre-release fields
    compare numerically when numeric, numeric before alphanumeric, then by length.
    """
    match = _SEMVER.match(version.strip())
    if match is None:
        raise ValueError("not a semantic version")
    major, minor, patch, pre = match.groups()
    if pre is None:
        release: tuple[Any, ...] = (1,)
    else:
        fields = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
        release = (0, fields)
    return (0, int(major), int(minor), int(patch), release)


def pep440_key(version: str) -> SortKey:
    """A sort key for a PEP 440 version; `ValueError` if it is not one."""
    try:
        return (0, Version(version))
    except InvalidVersion:
        raise ValueError("not a PEP 440 version") from None


KEYS: Mapping[str, Callable[[str], SortKey]] = {"PyPI": pep440_key, "npm": semver_key}


def _event_key(key: Callable[[str], SortKey], value: str) -> SortKey:
    return _ZERO if value == "0" else key(value)


def in_range(version: str, events: Iterable[Mapping[str, str]], ecosystem: str) -> bool:
    """Whether ``version`` is inside one OSV range given by its ``events``.

    Events whose version does not parse are ignored; if ``version`` itself does not parse,
    `ValueError` is raised so the caller can say so instead of passing it silently.
    """
    key = KEYS[ecosystem]
    target = key(version)
    ordered: list[tuple[SortKey, str]] = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected"):
            value = event.get(kind)
            if isinstance(value, str):
                try:
                    ordered.append((_event_key(key, value), kind))
                except ValueError:
                    continue
    ordered.sort(key=lambda item: item[0])
    vulnerable = False
    for bound, kind in ordered:
        if kind == "introduced" and target >= bound:
            vulnerable = True
        elif (kind == "fixed" and target >= bound) or (kind == "last_affected" and target > bound):
            vulnerable = False
    return vulnerable
