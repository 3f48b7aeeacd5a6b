"""Signed notes and checkpoints: the Go sumdb/note published example, and every refusal."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from strongroom.crypto import note
from strongroom.errors import NoteError

VECTOR = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "note" / "go_sumdb_note.json").read_text()
)


def _go_signer() -> tuple[str, Ed25519PrivateKey]:
    _, _, name, _, blob = VECTOR["signer_key"].split("+", 4)
    raw = base64.b64decode(blob)
    assert raw[0] == note.ED25519
    return name, Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_go_example_signed_byte_for_byte() -> None:
    name, key = _go_signer()
    assert note.sign(VECTOR["text"], name, key) == VECTOR["note"]
    assert note.verifier_for(name, key).encode() == VECTOR["verifier_key"]


def test_go_example_opens() -> None:
    trusted = note.parse_verifier(VECTOR["verifier_key"])
    assert note.open_note(VECTOR["note"], [trusted]) == VECTOR["text"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda n: n.replace("cryptography", "cryptographY"),
        lambda n: n.replace("x08go", "x08gp"),
        lambda n: n.replace("\n\n\u2014", "\n\u2014"),
        lambda n: n.rstrip("\n"),
        lambda n: n.replace("\u2014 ", "- "),
        lambda n: n.replace("PeterNeumann x08", "PeterNeumann =x08"),
        lambda n: n.replace("problem,\n", "problem,\x01\n"),
    ],
)
def test_changed_notes_are_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    trusted = note.parse_verifier(VECTOR["verifier_key"])
    with pytest.raises(NoteError):
        note.open_note(mutate(VECTOR["note"]), [trusted])


def test_unknown_keys_are_ignored_but_one_known_is_needed() -> None:
    stranger = Ed25519PrivateKey.generate()
    trusted = note.parse_verifier(VECTOR["verifier_key"])
    other = note.sign(VECTOR["text"], "someone.example/log", stranger)
    with pytest.raises(NoteError, match="not signed by any trusted key"):
        note.open_note(other, [trusted])
    # Both signatures: the unknown one is skipped, the known one verifies.
    both = VECTOR["note"] + other.split("\n\n", 1)[1]
    assert note.open_note(both, [trusted]) == VECTOR["text"]


def test_same_name_other_key_fails() -> None:
    name, _ = _go_signer()
    impostor = note.sign(VECTOR["text"], name, Ed25519PrivateKey.generate())
    with pytest.raises(NoteError):
        note.open_note(impostor, [note.parse_verifier(VECTOR["verifier_key"])])


@pytest.mark.parametrize(
    "text",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+zz4f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_bad_verifier_keys(text: str) -> None:
    with pytest.raises(NoteError):
        note.parse_verifier(text)


def test_checkpoint_round_trip_and_refusals() -> None:
    cp = note.Checkpoint("strongroom.example/audit", 42, bytes(range(32)))
    assert cp.text() == (
        "strongroom.example/audit\n42\n" + base64.b64encode(bytes(range(32))).decode() + "\n"
    )
    assert note.Checkpoint.parse(cp.text()) == cp
    assert note.Checkpoint.parse(cp.text() + "extension line\n") == cp
    for bad in (
        "origin\n042\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n1\n" + base64.b64encode(bytes(31)).decode() + "\n",
        "origin\n1\n!!!\n",
        "\n1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n1\n",
    ):
        with pytest.raises(NoteError):
            note.Checkpoint.parse(bad)
