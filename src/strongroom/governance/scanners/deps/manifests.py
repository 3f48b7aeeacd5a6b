"""Reading dependencies out of manifests and lockfiles.

Understood: ``requirements*.txt``, ``pyproject.toml`` (PEP 621 and Poetry tables),
``poetry.lock``, ``uv.lock``, ``package.json`` and ``package-lock.json`` (v1 to v3). A
dependency whose version is not pinned exactly has ``version=None``: the banned list still
applies to it, advisories need a version. A file that does not parse raises `ValueError`
with a short reason (the scanner reports it as skipped).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement


@dataclass(frozen=True, slots=True)
class Dependency:
    """A package a manifest names, with its exact version when pinned."""

    ecosystem: str
    name: str
    version: str | None
    line: int


def _line_of(text: str, *needles: str) -> int:
    for needle in needles:
        index = text.find(needle)
        if index >= 0:
            return text.count("\n", 0, index) + 1
    return 1


def _pinned(requirement: Requirement) -> str | None:
    specs = list(requirement.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def requirements_txt(text: str) -> Iterator[Dependency]:
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "git+", "http:", "https:", "file:")):
            continue
        try:
            requirement = Requirement(line.rstrip("\\").strip())
        except InvalidRequirement:
            continue
        yield Dependency("PyPI", requirement.name, _pinned(requirement), number)


def _pep508(text: str, items: Any) -> Iterator[Dependency]:
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, str):
            continue
        try:
            requirement = Requirement(item)
        except InvalidRequirement:
            continue
        yield Dependency("PyPI", requirement.name, _pinned(requirement), _line_of(text, item))


def pyproject_toml(text: str) -> Iterator[Dependency]:
    data = tomllib.loads(text)
    project = data.get("project", {})
    yield from _pep508(text, project.get("dependencies"))
    for extra in (project.get("optional-dependencies") or {}).values():
        yield from _pep508(text, extra)
    poetry = data.get("tool", {}).get("poetry", {})
    for name, spec in (poetry.get("dependencies") or {}).items():
        if name.lower() == "python":
            continue
        version = spec if isinstance(spec, str) else (spec or {}).get("version")
        pinned = None
        if isinstance(version, str):
            bare = version.lstrip("=").strip()
            if re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", bare):
                pinned = bare
        yield Dependency("PyPI", name, pinned, _line_of(text, f"{name} =", f'"{name}"'))


def toml_lock(text: str) -> Iterator[Dependency]:
    """``poetry.lock`` and ``uv.lock``: ``[[package]]`` tables with name and version."""
    data = tomllib.loads(text)
    for package in data.get("package", []):
        name, version = package.get("name"), package.get("version")
        if isinstance(name, str):
            version = version if isinstance(version, str) else None
            yield Dependency("PyPI", name, version, _line_of(text, f'name = "{name}"'))


def package_json(text: str) -> Iterator[Dependency]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("package.json is not an object")
    for section in ("dependencies", "devDependencies", "optionalDependencies"):
        for name, spec in (data.get(section) or {}).items():
            exact = None
            if isinstance(spec, str):
                bare = spec.strip().lstrip("=v").strip()
                if re.fullmatch(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?", bare):
                    exact = bare
            yield Dependency("npm", name, exact, _line_of(text, f'"{name}"'))


def package_lock_json(text: str) -> Iterator[Dependency]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("package-lock.json is not an object")
    packages = data.get("packages")
    if isinstance(packages, dict):
        for key, info in packages.items():
            if not key or not isinstance(info, dict) or "node_modules/" not in key:
                continue
            name = key.rsplit("node_modules/", 1)[1]
            version = info.get("version")
            yield Dependency(
                "npm",
                name,
                version if isinstance(version, str) else None,
                _line_of(text, f'"{key}"'),
            )
        return
    yield from _lock_v1(text, data.get("dependencies") or {})


def _lock_v1(text: str, dependencies: dict[str, Any]) -> Iterator[Dependency]:
    for name, info in dependencies.items():
        if not isinstance(info, dict):
            continue
        version = info.get("version")
        yield Dependency(
            "npm", name, version if isinstance(version, str) else None, _line_of(text, f'"{name}"')
        )
        yield from _lock_v1(text, info.get("dependencies") or {})


Parser = Callable[[str], Iterator[Dependency]]


def parser_for(name: str) -> Parser | None:
    """The parser for a file called ``name``, or ``None`` if it is not a manifest."""
    lower = name.lower()
    if lower.startswith("requirements") and lower.endswith(".txt"):
        return requirements_txt
    return {
        "pyproject.toml": pyproject_toml,
        "poetry.lock": toml_lock,
        "uv.lock": toml_lock,
        "package.json": package_json,
        "package-lock.json": package_lock_json,
    }.get(lower)
