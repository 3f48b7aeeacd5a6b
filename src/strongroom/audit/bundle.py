"""Audit bundles: a self-contained export of the log that anyone can verify offline.

A bundle is UTF-8 text, one line per record:

1. a JSON header: format, origin, the first and last+1 event index (``start``, ``size``),
   the frontier of the tree before ``start`` (base64, absent when ``start`` is 0), every
   checkpoint in ``[start, size]`` as a signed note, and the log's verifier keys;
2. one line per event: ``<index> <hex leaf hash> <canonical JSON entry>``.

`verify` recomputes the tree from the entries, so a changed, removed, inserted or
reordered event is found at the first line where the bundle stops agreeing with itself
(its index or leaf hash), or else at the first signed checkpoint whose root it no longer
matches. Nothing but the bundle (and, ideally, a trusted key) is needed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from strongroom.crypto import merkle, note
from strongroom.errors import BundleError, NoteError

FORMAT = "strongroom-audit-bundle/1"
MAX_HEADER_BYTES = 16 * 1024 * 1024
_BATCH = 4096


def header_line(
    *,
    origin: str,
    start: int,
    size: int,
    start_frontier: merkle.Frontier | None,
    checkpoints: list[str],
    keys: list[str],
) -> bytes:
    """The first line of a bundle."""
    head: dict[str, Any] = {
        "format": FORMAT,
        "origin": origin,
        "start": start,
        "size": size,
        "checkpoints": checkpoints,
        "keys": keys,
    }
    if start_frontier is not None and start_frontier.size:
        head["start_frontier"] = base64.b64encode(start_frontier.to_bytes()).decode("ascii")
    return json.dumps(head, separators=(",", ":")).encode("utf-8") + b"\n"


def event_line(index: int, leaf: bytes, entry: bytes) -> bytes:
    """One event line."""
    return b"%d %s %s\n" % (index, leaf.hex().encode("ascii"), entry)


@dataclass
class Report:
    """What a successful verification established."""

    origin: str
    start: int
    size: int
    root_hash: bytes
    checkpoints: list[int] = field(default_factory=list)
    keys_from_bundle: bool = False
    previous_checkpoint: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "verified": True,
            "origin": self.origin,
            "start": self.start,
            "size": self.size,
            "root_hash": base64.b64encode(self.root_hash).decode("ascii"),
            "checkpoints": self.checkpoints,
            "trusted_keys": "from the bundle itself" if self.keys_from_bundle else "given",
            "previous_checkpoint": self.previous_checkpoint,
        }


def _fail(message: str, index: int | None = None) -> BundleError:
    return BundleError(message, extra={} if index is None else {"index": index})


def _header(line: bytes) -> dict[str, Any]:
    if len(line) > MAX_HEADER_BYTES:
        raise _fail("the bundle header is too large")
    try:
        head = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise _fail("the bundle does not start with a valid header") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise _fail(f"not a {FORMAT} bundle")
    for name, kind in (("origin", str), ("start", int), ("size", int), ("checkpoints", list)):
        if not isinstance(head.get(name), kind) or isinstance(head.get(name), bool):
            raise _fail(f"the bundle header's {name!r} is missing or malformed")
    if not 0 <= head["start"] <= head["size"]:
        raise _fail("the bundle header's start and size are inconsistent")
    return head


def _start_frontier(head: dict[str, Any]) -> merkle.Frontier:
    if head["start"] == 0:
        return merkle.Frontier.empty()
    try:
        frontier = merkle.Frontier.from_bytes(base64.b64decode(head["start_frontier"]))
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise _fail("the bundle lacks a valid start_frontier for its start") from None
    if frontier.size != head["start"]:
        raise _fail("the bundle's start_frontier does not match its start")
    return frontier


def _checkpoints(head: dict[str, Any], trusted: list[note.VerifierKey]) -> dict[int, bytes]:
    roots: dict[int, bytes] = {}
    for signed in head["checkpoints"]:
        if not isinstance(signed, str):
            raise _fail("a checkpoint in the header is not a signed note")
        try:
            cp = note.Checkpoint.parse(note.open_note(signed, trusted))
        except NoteError as exc:
            raise _fail(f"a checkpoint does not verify: {exc.detail}") from None
        if cp.origin != head["origin"]:
            raise _fail("a checkpoint names another log")
        if not head["start"] <= cp.size <= head["size"]:
            raise _fail("a checkpoint lies outside the bundle's range")
        if roots.get(cp.size, cp.root_hash) != cp.root_hash:
            raise _fail(f"two checkpoints disagree at size {cp.size}: the log forked")
        roots[cp.size] = cp.root_hash
    if head["size"] not in roots and head["size"] > head["start"]:
        raise _fail("no checkpoint covers the end of the bundle")
    return roots


def verify(
    lines: Iterable[bytes],
    trusted_keys: list[str] | None = None,
    previous_checkpoint: str | None = None,
    progress: Any = None,
) -> Report:
    """Verify a bundle read line by line; return a `Report` or raise `BundleError`.

    ``trusted_keys`` are verifier keys (``name+id+key``); without them the bundle's own
    keys are used, which proves integrity but not who signed (the report says so).
    ``previous_checkpoint`` is a signed note saved earlier: the bundle must extend it.
    ``progress``, if given, is called with the number of events checked so far.
    """
    stream: Iterator[bytes] = iter(lines)
    try:
        head = _header(next(stream))
    except StopIteration:
        raise _fail("the bundle is empty") from None
    try:
        # The bundle's own keys must be well-formed even when the caller brings its own.
        bundled = [note.parse_verifier(k) for k in head.get("keys", [])]
        trusted = (
            bundled if trusted_keys is None else [note.parse_verifier(k) for k in trusted_keys]
        )
    except (NoteError, AttributeError, TypeError):
        raise _fail("a verifier key is malformed") from None
    if not trusted:
        raise _fail("no verifier key to check checkpoints with")
    roots = _checkpoints(head, trusted)
    report = Report(head["origin"], head["start"], head["size"], b"", sorted(roots))
    report.keys_from_bundle = trusted_keys is None
    if previous_checkpoint is not None:
        _add_previous(previous_checkpoint, trusted, head, roots, report)

    frontier = _start_frontier(head)
    if frontier.size in roots and frontier.root() != roots[frontier.size]:
        raise _fail("the bundle's starting state does not match its checkpoint", head["start"])
    expected = head["start"]
    last_ok = expected
    pending: list[bytes] = []
    sha256 = hashlib.sha256
    for raw in stream:
        index, hex_leaf, entry = _parse_event(raw, expected)
        leaf = sha256(b"\x00" + entry).digest()
        # Compared as text: only the one canonical spelling of the hash is accepted.
        if leaf.hex().encode("ascii") != hex_leaf:
            raise _fail(f"event {index} was changed: it does not match its leaf hash", index)
        pending.append(leaf)
        expected += 1
        if expected in roots or len(pending) >= _BATCH:
            frontier = frontier.extend(pending)
            pending = []
            if expected in roots:
                if frontier.root() != roots[expected]:
                    raise _fail(
                        f"events {last_ok}..{expected - 1} do not match the checkpoint signed"
                        f" at size {expected}: one of them was changed, removed or inserted",
                        last_ok,
                    )
                last_ok = expected
            if progress is not None:
                progress(expected - head["start"])
    frontier = frontier.extend(pending)
    if expected != head["size"]:
        raise _fail(
            f"the bundle ends after event {expected - 1}, but its header says {head['size']}"
            " events: it was truncated",
            expected,
        )
    report.root_hash = frontier.root()
    if progress is not None:
        progress(expected - head["start"])
    return report


def _parse_event(raw: bytes, expected: int) -> tuple[int, bytes, bytes]:
    if not raw.endswith(b"\n"):
        raise _fail(f"the bundle was cut off in the line of event {expected}", expected)
    parts = raw[:-1].split(b" ", 2)
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[1]) != 2 * merkle.HASH_SIZE:
        raise _fail(f"the line for event {expected} is malformed", expected)
    index = int(parts[0])
    if parts[0] != str(index).encode("ascii"):
        raise _fail(f"the line for event {expected} is malformed", expected)
    if index != expected:
        if index > expected:
            raise _fail(f"event {expected} is missing (the next line is event {index})", expected)
        raise _fail(
            f"event {index} appears again or out of order where event {expected} should be",
            expected,
        )
    return index, parts[1], parts[2]


def _add_previous(
    signed: str,
    trusted: list[note.VerifierKey],
    head: dict[str, Any],
    roots: dict[int, bytes],
    report: Report,
) -> None:
    try:
        cp = note.Checkpoint.parse(note.open_note(signed, trusted))
    except NoteError as exc:
        raise _fail(f"the previous checkpoint does not verify: {exc.detail}") from None
    if cp.origin != head["origin"]:
        raise _fail("the previous checkpoint is from another log")
    if cp.size > head["size"]:
        raise _fail(
            f"the previous checkpoint (size {cp.size}) is newer than the bundle (size"
            f" {head['size']}): the log was rolled back, or export again"
        )
    if cp.size < head["start"]:
        raise _fail(
            f"the bundle starts at {head['start']}, after the previous checkpoint (size"
            f" {cp.size}); export with --since {cp.size} or lower"
        )
    if roots.get(cp.size, cp.root_hash) != cp.root_hash:
        raise _fail(f"the log was rewritten: the previous checkpoint at size {cp.size} differs")
    roots[cp.size] = cp.root_hash
    report.previous_checkpoint = cp.size
