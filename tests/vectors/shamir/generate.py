"""Generate the Shamir test vectors with an independent GF(2^8) implementation.

The vectors come from Trezor's SLIP-39 reference implementation (PyPI ``shamir-mnemonic``),
whose ``shamir_mnemonic.shamir._interpolate(shares, x)`` does Lagrange interpolation in the
same field as ``strongroom.crypto.shamir`` (GF(2^8) mod x^8 + x^4 + x^3 + x + 1), but with
log/exp tables rather than our shift-and-add multiply. For each vector the script fixes a
random polynomial of degree ``threshold - 1`` by ``threshold`` points: ``(0, secret)`` and
``(1, r_1) ... (threshold - 1, r_{threshold-1})`` with random ``r_i``, then evaluates it at
``x = threshold .. shares`` with ``_interpolate``. Shares 1..threshold-1 are the random points.

Run it in a throwaway virtualenv that has ``shamir-mnemonic`` installed (it is deliberately
not a project dependency), from the repository root::

    VENV="$(mktemp -d)/shamirgen"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install shamir-mnemonic==0.3.0
    "$VENV/bin/python" tests/vectors/shamir/generate.py

It rewrites ``vectors.json`` next to this file. The randomness is seeded, so the output is
reproducible. The test suite only reads ``vectors.json``; it never runs this script.
"""

from __future__ import annotations

import itertools
import json
import random
from importlib.metadata import version
from pathlib import Path
from typing import Any

from shamir_mnemonic.shamir import RawShare, _interpolate

SEED = 20240611
OUT = Path(__file__).with_name("vectors.json")

# (description, secret length, shares N, threshold M, secret kind)
CASES: list[tuple[str, int, int, int, str]] = [
    ("1-of-1, 1-byte secret", 1, 1, 1, "random"),
    ("2-of-3, 1-byte secret", 1, 3, 2, "random"),
    ("2-of-255, 1-byte secret, every x up to 255", 1, 255, 2, "random"),
    ("3-of-5, 16-byte secret", 16, 5, 3, "random"),
    ("4-of-7, 16-byte secret", 16, 7, 4, "random"),
    ("1-of-1, 32-byte secret", 32, 1, 1, "random"),
    ("2-of-2, 32-byte secret", 32, 2, 2, "random"),
    ("2-of-3, 32-byte secret", 32, 3, 2, "random"),
    ("3-of-5, 32-byte secret", 32, 5, 3, "random"),
    ("3-of-5, 32-byte all-zero secret", 32, 5, 3, "zeros"),
    ("4-of-7, 32-byte all-0xff secret", 32, 7, 4, "ones"),
    ("10-of-10, 32-byte secret", 32, 10, 10, "random"),
    ("2-of-255, 32-byte secret, every x up to 255", 32, 255, 2, "random"),
]


def make_secret(rng: random.Random, length: int, kind: str) -> bytes:
    if kind == "zeros":
        return bytes(length)
    if kind == "ones":
        return b"\xff" * length
    return rng.randbytes(length)


def make_vector(rng: random.Random, length: int, n: int, m: int, kind: str) -> dict[str, Any]:
    secret = make_secret(rng, length, kind)
    base = [RawShare(0, secret)] + [RawShare(x, rng.randbytes(length)) for x in range(1, m)]
    shares = [RawShare(x, _interpolate(base, x)) for x in range(1, n + 1)]
    # Self-check with the same independent implementation: every share lies on the
    # polynomial and the first/last M shares give the secret back.
    for i in range(m - 1):
        assert shares[i].data == base[i + 1].data
    for subset in (shares[:m], shares[-m:], shares):
        assert _interpolate(subset, 0) == secret
    for subset in itertools.islice(itertools.combinations(shares, m), 50):
        assert _interpolate(list(subset), 0) == secret
    return {
        "secret_hex": secret.hex(),
        "threshold": m,
        "shares": [{"x": s.x, "y_hex": s.data.hex()} for s in shares],
    }


def dump(document: dict[str, Any]) -> str:
    """JSON with one share per line: readable, and diffs stay small."""
    head = {key: value for key, value in document.items() if key != "vectors"}
    out = ["{"]
    out += [f" {json.dumps(key)}: {json.dumps(value)}," for key, value in head.items()]
    out.append(' "vectors": [')
    for i, vector in enumerate(document["vectors"]):
        out.append("  {")
        for key in ("description", "secret_hex", "threshold"):
            out.append(f"   {json.dumps(key)}: {json.dumps(vector[key])},")
        out.append('   "shares": [')
        shares = [f"    {json.dumps(share)}" for share in vector["shares"]]
        out.append(",\n".join(shares))
        out.append("   ]")
        out.append("  }," if i < len(document["vectors"]) - 1 else "  }")
    out.append(" ]")
    out.append("}")
    text = "\n".join(out) + "\n"
    assert json.loads(text) == document
    return text


def main() -> None:
    rng = random.Random(SEED)
    vectors = []
    for description, length, n, m, kind in CASES:
        vector: dict[str, Any] = {"description": description}
        vector.update(make_vector(rng, length, n, m, kind))
        vectors.append(vector)
    document = {
        "generator": f"shamir-mnemonic {version('shamir-mnemonic')} shamir._interpolate",
        "field": "GF(2^8) mod x^8 + x^4 + x^3 + x + 1 (0x11b)",
        "seed": SEED,
        "vectors": vectors,
    }
    OUT.write_text(dump(document), encoding="ascii")
    print(f"wrote {len(vectors)} vectors to {OUT.name}")


if __name__ == "__main__":
    main()
