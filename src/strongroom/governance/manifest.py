"""The app manifest (``strongroom.yaml``): safe parsing, schema validation, locations.

A manifest is parsed as YAML 1.2 with bounds before anything else looks at it: at most
`MAX_MANIFEST_BYTES`, `MAX_DEPTH` levels and `MAX_NODES` nodes, one document, no anchors
or aliases (no "billion laughs"), no explicit tags, no duplicate keys. It is then checked
against the JSON Schema in ``manifest.schema.json`` (draft 2020-12), which refuses unknown
fields and wrong types.

Every problem becomes a `ManifestError` listing each error with its line, column and
field path. Messages name fields and rules, never the value found, since a manifest may
hold a secret pasted into the wrong place.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    NodeEvent,
    ScalarEvent,
)

from strongroom.crypto.canonical import canonical_json
from strongroom.errors import ValidationFailedError

MAX_MANIFEST_BYTES = 64 * 1024
MAX_DEPTH = 12
MAX_NODES = 5000
MAX_ERRORS = 50
API_VERSION = "strongroom/v1"

Path = tuple[str | int, ...]


class ManifestError(ValidationFailedError):
    """The manifest is not valid; ``extra["errors"]`` lists each problem with its place."""

    slug = "invalid-manifest"
    title = "Invalid manifest"


@dataclass(frozen=True)
class Problem:
    """One located problem in a manifest."""

    line: int
    column: int
    field: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"line {self.line}: {where}{self.message}"


@dataclass(frozen=True)
class Manifest:
    """A valid manifest: its plain JSON data and where each part sits in the source."""

    data: dict[str, Any]
    source: str = "strongroom.yaml"
    locations: Mapping[Path, tuple[int, int]] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def owner(self) -> str:
        return str(self.data["owner"])

    @property
    def scopes(self) -> list[str]:
        return [str(s) for s in self.data.get("scopes", [])]

    def canonical(self) -> bytes:
        """RFC 8785 bytes of the data: what is hashed and signed."""
        return canonical_json(self.data)

    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.canonical()).hexdigest()

    def locate(self, path: Sequence[str | int]) -> tuple[int, int] | None:
        """(line, column), 1-based, of the deepest part of ``path`` the source has."""
        steps = tuple(path)
        while steps:
            if steps in self.locations:
                return self.locations[steps]
            steps = steps[:-1]
        return self.locations.get((), None)


@functools.cache
def schema() -> dict[str, Any]:
    """The manifest's JSON Schema (draft 2020-12), as served at /v1/schemas/manifest."""
    text = resources.files("strongroom.governance").joinpath("manifest.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@functools.cache
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


def field_name(path: Sequence[str | int]) -> str:
    """``fields[0].protection`` for ("fields", 0, "protection")."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif not step.replace("_", "a").isalnum():
            out += f"[{json.dumps(step)}]"
        else:
            out += f".{step}" if out else step
    return out


def parse(text: str | bytes, source: str = "strongroom.yaml") -> Manifest:
    """Parse and validate a manifest; `ManifestError` lists every problem found."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if len(raw) > MAX_MANIFEST_BYTES:
        _fail(source, [Problem(1, 1, "", f"the manifest exceeds {MAX_MANIFEST_BYTES} bytes")])
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        _fail(source, [Problem(line, 1, "", "the manifest is not valid UTF-8")])
    _check_events(decoded, source)
    tree = _load(decoded, source)
    if not isinstance(tree, CommentedMap):
        _fail(source, [Problem(1, 1, "", "the manifest must be a mapping of fields")])
    locations: dict[Path, tuple[int, int]] = {(): (1, 1)}
    problems: list[Problem] = []
    data = _plain(tree, (), locations, problems)
    if problems:
        _fail(source, problems)
    manifest = Manifest(data, source, locations)
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    for error in errors[:MAX_ERRORS]:
        problems.extend(_problems(manifest, error))
    if problems:
        _fail(source, sorted(problems, key=lambda p: (p.line, p.column)))
    return manifest


def _fail(source: str, problems: list[Problem]) -> Any:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    raise ManifestError(
        f"{source}:{first.line}: {first.field + ': ' if first.field else ''}{first.message}{more}",
        extra={"errors": [p.as_json() for p in problems[:MAX_ERRORS]]},
    )


def _check_events(text: str, source: str) -> None:
    """Refuse aliases, anchors, tags, deep nesting and too many nodes before composing."""
    depth = nodes = 0
    try:
        for event in YAML(typ="safe", pure=True).parse(io.StringIO(text)):
            line = event.start_mark.line + 1 if event.start_mark else 1
            if isinstance(event, AliasEvent) or (
                isinstance(event, NodeEvent) and event.anchor is not None
            ):
                _fail(source, [Problem(line, 1, "", "anchors and aliases are not allowed")])
            if isinstance(event, ScalarEvent | CollectionStartEvent):
                nodes += 1
                tag = event.tag
                explicit = tag is not None and not (
                    isinstance(event, ScalarEvent) and event.implicit[0]
                )
                if explicit:
                    _fail(source, [Problem(line, 1, "", "explicit YAML tags are not allowed")])
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    _fail(source, [Problem(line, 1, "", f"nesting deeper than {MAX_DEPTH}")])
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
            if nodes > MAX_NODES:
                _fail(source, [Problem(line, 1, "", f"more than {MAX_NODES} values")])
    except YAMLError as exc:
        _fail(source, [_yaml_problem(exc)])


def _load(text: str, source: str) -> Any:
    loader = YAML(typ="rt", pure=True)
    loader.allow_duplicate_keys = False
    try:
        return loader.load(text)
    except YAMLError as exc:
        _fail(source, [_yaml_problem(exc)])


def _yaml_problem(exc: YAMLError) -> Problem:
    mark = exc.problem_mark if isinstance(exc, MarkedYAMLError) else None
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    if isinstance(exc, DuplicateKeyError):
        return Problem(line, column, "", "duplicate key")
    # The parser's own wording ("mapping values are not allowed here"), never the value.
    problem = exc.problem if isinstance(exc, MarkedYAMLError) and exc.problem else None
    return Problem(line, column, "", f"invalid YAML: {problem or 'cannot be parsed'}")


def _plain(
    node: Any, path: Path, locations: dict[Path, tuple[int, int]], problems: list[Problem]
) -> Any:
    """JSON-typed copy of a composed YAML tree, recording where each entry sits."""
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key in node:
            line, col = node.lc.key(key)
            if not isinstance(key, str):
                problems.append(Problem(line + 1, col + 1, field_name(path), "keys must be text"))
                continue
            step = (*path, key)
            locations[step] = (line + 1, col + 1)
            out[key] = _plain(node[key], step, locations, problems)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, item in enumerate(node):
            line, col = node.lc.item(index)
            step = (*path, index)
            locations[step] = (line + 1, col + 1)
            items.append(_plain(item, step, locations, problems))
        return items
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, str):
        return str(node)
    line, col = locations.get(path, (1, 1))
    message = "this kind of value is not allowed here"
    if isinstance(node, float):
        message = "must be a whole number"
    elif isinstance(node, datetime.date):
        message = "a date is not allowed here (quote it if it is text)"
    problems.append(Problem(line, col, field_name(path), message))
    return None


def _problems(manifest: Manifest, error: ValidationError) -> Iterator[Problem]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        rules = error.schema if isinstance(error.schema, Mapping) else {}
        allowed = set(rules.get("properties", {}))
        for key in error.instance:
            if key not in allowed:
                line, col = manifest.locate((*path, key)) or (1, 1)
                yield Problem(line, col, field_name((*path, key)), "unknown field")
        return
    line, col = manifest.locate(path) or (1, 1)
    yield Problem(line, col, field_name(path), _message(error))


def _message(error: ValidationError) -> str:
    """What rule was broken, in words, without echoing the offending value."""
    rule = error.validator
    expected: Any = error.validator_value
    if rule == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [k for k in expected if k not in present]
        return "missing required field " + ", ".join(repr(k) for k in missing)
    if rule == "type":
        return f"must be of type {expected}"
    if rule == "enum":
        return "must be one of: " + ", ".join(str(v) for v in expected)
    if rule == "const":
        return f"must be {expected!r}"
    if rule == "pattern":
        return f"does not match the pattern {expected}"
    if rule == "propertyNames":
        return "has a key that is not a valid data class"
    if rule in ("minLength", "maxLength", "minItems", "maxItems", "maxProperties"):
        return f"breaks the bound {rule}={expected}"
    if rule in ("minimum", "maximum"):
        return f"must be {'at least' if rule == 'minimum' else 'at most'} {expected}"
    if rule == "uniqueItems":
        return "has duplicate entries"
    return f"is not valid ({rule})"
