"""Signed notes (C2SP signed-note) carrying transparency-log checkpoints (C2SP tlog-checkpoint).

A checkpoint's text is three lines: the log's origin, the tree size in decimal and the
base64 root hash. A signed note is that text, a blank line, and one signature line per
key: an em dash, a space, the key name, a space, and base64(4-byte key id ‖ signature).
Only Ed25519 (signature type 0x01) is produced and accepted.

Verifier keys travel as ``name+hexkeyid+base64(0x01 ‖ public key)``, the form Go's
``golang.org/x/mod/sumdb/note`` and the C2SP tooling use.

Verification raises `NoteError`; it never returns a boolean.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from strongroom.errors import NoteError

ED25519 = 0x01
EM_DASH = "\u2014"
MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURES = 16
_NAME_RE = re.compile(r"^[^\s+]+$")


@dataclass(frozen=True)
class VerifierKey:
    """A public key able to verify notes, with the name and id it signs under."""

    name: str
    key_id: bytes
    public_key: bytes

    def encode(self) -> str:
        """The ``name+hexid+base64`` text form."""
        blob = base64.b64encode(bytes([ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{blob}"


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4], as C2SP recommends."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or not _NAME_RE.match(name):
        raise NoteError("a key name is non-empty, without spaces or '+'")


def verifier_for(name: str, private_key: Ed25519PrivateKey) -> VerifierKey:
    """The verifier key matching a signing key."""
    _check_name(name)
    public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return VerifierKey(name, key_id(name, public), public)


def parse_verifier(text: str) -> VerifierKey:
    """Parse ``name+hexid+base64(0x01 ‖ key)``; `NoteError` if malformed or inconsistent."""
    parts = text.strip().split("+", 2)  # the base64 key itself may hold a "+"
    if len(parts) != 3:
        raise NoteError("a verifier key is name+keyid+key")
    name, hex_id, blob = parts
    _check_name(name)
    try:
        kid = bytes.fromhex(hex_id)
        raw = base64.b64decode(blob, validate=True)
    except (ValueError, binascii.Error):
        raise NoteError("a verifier key has a malformed id or key") from None
    if len(kid) != 4 or len(raw) != 33 or raw[0] != ED25519:
        raise NoteError("only Ed25519 verifier keys are supported")
    public = raw[1:]
    if key_id(name, public) != kid:
        raise NoteError("the verifier key's id does not match its name and key")
    return VerifierKey(name, kid, public)


def sign(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign ``text`` (which must end in a newline) and return the signed note."""
    _check_text(text)
    verifier = verifier_for(name, private_key)
    signature = private_key.sign(text.encode("utf-8"))
    blob = base64.b64encode(verifier.key_id + signature).decode("ascii")
    return f"{text}\n{EM_DASH} {name} {blob}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text may not contain control characters")


def open_note(note: str, trusted: Iterable[VerifierKey]) -> str:
    """Verify ``note`` and return its text.

    Signatures from unknown keys are ignored; a known key's signature that fails rejects
    the note; at least one known key must have signed. Raises `NoteError`.
    """
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise NoteError("the note is too large")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("the note has no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    _check_text(text)
    lines = block[:-1].split("\n")
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError("the note has too few or too many signatures")
    known = {(k.name, k.key_id): k for k in trusted}
    verified = 0
    for line in lines:
        prefix = EM_DASH + " "
        if not line.startswith(prefix):
            raise NoteError("malformed signature line")
        name, _, blob = line[len(prefix) :].partition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError("malformed signature") from None
        if len(raw) < 5:
            raise NoteError("malformed signature")
        key = known.get((name, raw[:4]))
        if key is None:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(raw[4:], text.encode("utf-8"))
        except (InvalidSignature, ValueError):
            raise NoteError(f"the signature by {name} does not verify") from None
        verified += 1
    if not verified:
        raise NoteError("the note is not signed by any trusted key")
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, its size and its root hash."""

    origin: str
    size: int
    root_hash: bytes

    def text(self) -> str:
        """The checkpoint body, as signed."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        return f"{self.origin}\n{self.size}\n{root}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body (extension lines are allowed and ignored)."""
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint has an origin, a size and a root hash")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not origin or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
            raise NoteError("malformed checkpoint origin or size")
        try:
            root = base64.b64decode(root_text, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError("malformed checkpoint root hash") from None
        if len(root) != 32:
            raise NoteError("a checkpoint root hash is 32 bytes")
        return cls(origin, int(size_text), root)
