"""Generate the sealed-field test vectors (`vectors.json` beside this file).

Each valid vector fixes the secret (passphrase or key), the KDF and its salt, the key id
and version, the context, the plaintext and the nonce, and records the derived key and the
sealed value in its binary, compact and JSON forms. Salts and nonces come from a seeded
`random.Random`, and reach the code through the private hook
`strongroom.crypto.fields._seal_deterministic` (the public API always draws them from
`os.urandom`). The invalid vectors are built by changing bytes of valid ones, or by
writing headers by hand that the public API refuses to make; each must fail to open.

Run from the repository root with the project's virtualenv::

    .venv/bin/python tests/vectors/fields/generate.py

The output is reproducible byte for byte. The test suite never runs this script; it
reads `vectors.json` and checks every vector against an independent assembly from the
raw primitives (`tests/crypto/test_field_vectors.py`), the Node SDK and Chromium.
"""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path
from typing import Any

from strongroom.crypto import field_kdf as k
from strongroom.crypto import fields as f

SEED = 20261129
OUT = Path(__file__).resolve().parent / "vectors.json"
PASSPHRASE = "correct horse battery staple"
UNICODE_PASSPHRASE = "pâsswörd 🔑 пароль"


def _kdf(rng: random.Random, name: str) -> k.Kdf:
    salt = rng.randbytes(16)
    if name == "raw":
        return k.RAW
    if name == "pbkdf2":
        return k.Pbkdf2(salt, 100_000)
    if name == "pbkdf2-default":
        return k.Pbkdf2(salt)
    if name == "argon2id":
        return k.Argon2id(salt, 2, 19_456, 1)
    return k.Hkdf(salt)


CASES: list[dict[str, Any]] = [
    # (name, alg, kdf, passphrase or None, plaintext, context, key id, version)
    {"name": "aes-raw-ascii", "alg": 1, "kdf": "raw", "text": "alice@example.com"},
    {"name": "aes-raw-empty", "alg": 1, "kdf": "raw", "text": ""},
    {"name": "aes-hkdf-ascii", "alg": 1, "kdf": "hkdf", "text": "+44 20 7946 0958"},
    {"name": "aes-hkdf-empty", "alg": 1, "kdf": "hkdf", "text": ""},
    {"name": "aes-pbkdf2-ascii", "alg": 1, "kdf": "pbkdf2", "text": "123-45-6789"},
    {
        "name": "aes-pbkdf2-default-unicode",
        "alg": 1,
        "kdf": "pbkdf2-default",
        "text": "Zoë Ångström — 東京都 🗝️",
        "passphrase": UNICODE_PASSPHRASE,
        "context": {"app": "crm", "record": "kunde-ü-42", "field": "név"},
    },
    {"name": "aes-pbkdf2-empty", "alg": 1, "kdf": "pbkdf2", "text": ""},
    {"name": "aes-raw-1000-bytes", "alg": 1, "kdf": "raw", "text": "x" * 1000},
    {"name": "aes-argon2id", "alg": 1, "kdf": "argon2id", "text": "1984-02-29"},
    {"name": "chacha-raw-ascii", "alg": 2, "kdf": "raw", "text": "alice@example.com"},
    {"name": "chacha-hkdf-unicode", "alg": 2, "kdf": "hkdf", "text": "Ünïcødé ✓"},
    {"name": "chacha-pbkdf2-empty", "alg": 2, "kdf": "pbkdf2", "text": ""},
    {
        "name": "chacha-argon2id-unicode",
        "alg": 2,
        "kdf": "argon2id",
        "text": "日本語テキスト",
        "passphrase": UNICODE_PASSPHRASE,
    },
]
DEFAULT_CONTEXT = {"app": "crm", "record": "42", "field": "email"}


def _valid(rng: random.Random, case: dict[str, Any], index: int) -> dict[str, Any]:
    kdf = _kdf(rng, case["kdf"])
    passphrase = case.get("passphrase", PASSPHRASE)
    if isinstance(kdf, k.Pbkdf2 | k.Argon2id):
        secret: dict[str, str] = {"passphrase": passphrase}
        key = kdf.derive(passphrase.encode("utf-8"))
    else:
        app_key = rng.randbytes(32)
        secret = {"key_hex": app_key.hex()}
        key = kdf.derive(app_key)
    header = f.Header(f.Algorithm(case["alg"]), f"app:crm/{index}", index + 1, kdf)
    context_map = case.get("context", DEFAULT_CONTEXT)
    context = f.Context.of(context_map)
    nonce = rng.randbytes(12)
    plaintext = case["text"].encode("utf-8")
    data = f._seal_deterministic(f.FieldCipher(key, header), plaintext, context, nonce)
    sealed = f.parse_bytes(data)
    return {
        "name": case["name"],
        "alg": header.alg.label,
        "kdf": sealed.to_json()["kdf"],
        "secret": secret,
        "key_id": header.key_id,
        "key_version": header.key_version,
        "context": context_map,
        "context_hex": context.aad.hex(),
        "plaintext": case["text"],
        "nonce_hex": nonce.hex(),
        "derived_key_hex": key.hex(),
        "header_hex": sealed.header_bytes.hex(),
        "sealed_hex": data.hex(),
        "compact": sealed.to_compact(),
        "json": sealed.to_json(),
    }


def _flip(compact: str, byte_index: int) -> str:
    data = bytearray(f.parse_compact(compact).to_bytes())
    data[byte_index] ^= 0x01
    return f.COMPACT_PREFIX + f.b64url_encode(bytes(data))


def _raw_compact(data: bytes) -> str:
    return f.COMPACT_PREFIX + f.b64url_encode(data)


def _invalid(valid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = next(v for v in valid if v["name"] == "aes-raw-ascii")
    pb = next(v for v in valid if v["name"] == "aes-pbkdf2-ascii")
    data = bytes.fromhex(base["sealed_hex"])
    header = bytes.fromhex(base["header_hex"])
    body = data[len(header) :]

    def case(name: str, sealed: Any, source: dict[str, Any] = base, **over: Any) -> dict[str, Any]:
        out = {"name": name, "secret": source["secret"], "context": source["context"]}
        out["sealed"] = sealed
        out.update(over)
        return out

    pb_header = bytes.fromhex(pb["header_hex"])
    pb_body = bytes.fromhex(pb["sealed_hex"])[len(pb_header) :]
    kid_end = 4 + pb_header[3] + 4

    def with_iterations(n: int) -> str:
        h = pb_header[:kid_end] + struct.pack(">I", n) + pb_header[kid_end + 4 :]
        return _raw_compact(h + pb_body)

    giant_salt = pb_header[: kid_end + 4] + bytes([200]) + bytes(200)
    json_iters = dict(pb["json"], kdf=dict(pb["json"]["kdf"], iterations=10**12))
    return [
        case("wrong-context-record", base["compact"], context=dict(base["context"], record="43")),
        case("wrong-context-field", base["compact"], context=dict(base["context"], field="phone")),
        case("wrong-context-app", base["compact"], context=dict(base["context"], app="hr")),
        case("wrong-key", base["compact"], secret={"key_hex": "00" * 32}),
        case("wrong-passphrase", pb["compact"], pb, secret={"passphrase": "Correct horse"}),
        case("tag-bit-flipped", _flip(base["compact"], len(data) - 1)),
        case("ciphertext-bit-flipped", _flip(base["compact"], len(header) + 12)),
        case("nonce-bit-flipped", _flip(base["compact"], len(header))),
        case("key-version-changed", _flip(base["compact"], len(header) - 1)),
        case("algorithm-changed", _raw_compact(header[:1] + b"\x02" + header[2:] + body)),
        case("unknown-version", _raw_compact(b"\x02" + data[1:])),
        case("unknown-algorithm", _raw_compact(header[:1] + b"\x07" + header[2:] + body)),
        case("unknown-kdf", _raw_compact(header[:2] + b"\x09" + header[3:] + body)),
        case("truncated-tag", _raw_compact(data[:-1])),
        case("truncated-to-header", _raw_compact(header)),
        case("empty", _raw_compact(b"")),
        case("trailing-byte", _raw_compact(data + b"\x00")),
        case("compact-wrong-prefix", "srf2." + base["compact"][5:]),
        case("compact-padding", base["compact"] + "=" * (-len(base["compact"][5:]) % 4 or 4)),
        case("compact-standard-alphabet", base["compact"][:-1] + "+"),
        case("compact-whitespace", base["compact"][:10] + " " + base["compact"][10:]),
        case("iterations-zero", with_iterations(0), pb),
        case("iterations-too-many", with_iterations(2_000_001), pb),
        case("iterations-max-u32", with_iterations(2**32 - 1), pb),
        case("salt-giant", _raw_compact(giant_salt + pb_body), pb),
        case("json-iterations-1e12", json_iters, pb),
        case("json-extra-member", dict(base["json"], extra=1)),
        case("json-missing-nonce", {k: v for k, v in base["json"].items() if k != "nonce"}),
        case("json-version-2", dict(base["json"], v=2)),
        case("json-short-nonce", dict(base["json"], nonce="AAAA")),
    ]


def main() -> None:
    rng = random.Random(SEED)
    valid = [_valid(rng, case, i) for i, case in enumerate(CASES)]
    payload = {
        "format": "strongroom sealed field v1 (docs/format.md)",
        "generator": "tests/vectors/fields/generate.py",
        "seed": SEED,
        "valid": valid,
        "invalid": _invalid(valid),
    }
    OUT.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
