"""Writes the labelled secret-scanning corpus: realistic files, every secret a fake.

Run `python bench/corpus/secrets/generate.py` to rebuild `files/` and `labels.json`; the
output is deterministic (a fixed seed), so a rebuild changes nothing unless this script
changes. Every credential here is random, made for this corpus, and was never issued by any
provider; tokens whose format carries a checksum (GitHub's CRC32) get a valid one, so a
checksum-aware scanner is tested fairly. File names say "fake" so nobody mistakes them.

`labels.json` maps each file to the 1-based lines that hold a secret. Everything else is a
hard negative on purpose: placeholders, documentation examples, hashes, UUIDs, base64
blobs, public keys, lookups from the environment, test fixtures.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
rng = random.Random(20261129)
VARIANTS = 3  # each file is written this many times, with fresh random values
ALNUM = string.ascii_letters + string.digits
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b62(number: int, width: int) -> str:
    out = ""
    while number:
        number, rest = divmod(number, 62)
        out = B62[rest] + out
    return out.rjust(width, "0")


def gh(prefix: str = "ghp") -> str:
    body = rand(30)
    return f"{prefix}_{body}{b62(zlib.crc32(body.encode()), 6)}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt() -> str:
    header = b64url(json.dumps({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    claims = {"sub": f"user-{rng.randint(1000, 9999)}", "iat": 1700000000 + rng.randint(0, 10**6)}
    return f"{header}.{b64url(json.dumps(claims).encode())}.{rand(43, ALNUM + '-_')}"


def pem(kind: str = "RSA ") -> list[str]:
    body = base64.b64encode(rng.randbytes(900)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return [f"-----BEGIN {kind}PRIVATE KEY-----", *lines, f"-----END {kind}PRIVATE KEY-----"]


def password() -> str:
    return rand(6, string.ascii_letters) + rng.choice("!#%&*+-") + rand(7, ALNUM)


# Providers: name -> a maker of a fresh fake credential.
TOKENS = {
    "aws_id": lambda: "AKIA" + rand(16, string.ascii_uppercase + "234567"),
    "aws_secret": lambda: rand(40, ALNUM + "/+"),
    "gcp_api": lambda: "AIza" + rand(35, ALNUM + "-_"),
    "azure_storage": lambda: rand(86, ALNUM + "+/") + "==",
    "azure_ad": lambda: rand(3) + str(rng.randint(0, 9)) + "Q~" + rand(34, ALNUM + "_~.-"),
    "github": gh,
    "github_app": lambda: gh("ghs"),
    "github_fg": lambda: "github_pat_" + rand(22) + "_" + rand(59),
    "gitlab": lambda: "glpat-" + rand(20, ALNUM + "_-"),
    "slack": lambda: f"xoxb-{rand(11, string.digits)}-{rand(13, string.digits)}-{rand(24)}",
    "slack_hook": lambda: (
        "https://hooks.slack.com/services/T"
        + rand(8, string.ascii_uppercase + string.digits)
        + "/B"
        + rand(10, string.ascii_uppercase + string.digits)
        + "/"
        + rand(24)
    ),
    "stripe": lambda: "sk_live_" + rand(24),
    "stripe_rk": lambda: "rk_live_" + rand(99),
    "twilio_key": lambda: "SK" + rand(32, "0123456789abcdef"),
    "sendgrid": lambda: "SG." + rand(22, ALNUM + "_-") + "." + rand(43, ALNUM + "_-"),
    "mailgun": lambda: "key-" + rand(32, string.digits + string.ascii_lowercase),
    "openai": lambda: "sk-proj-" + rand(40, ALNUM + "_-") + "T3BlbkFJ" + rand(40, ALNUM + "_-"),
    "anthropic": lambda: "sk-ant-api03-" + rand(93, ALNUM + "_-") + "AA",
    "npm": lambda: "npm_" + rand(36),
    "google_oauth": lambda: "GOCSPX-" + rand(28, ALNUM + "_-"),
    "hf": lambda: "hf_" + rand(34, string.ascii_letters),
    "shopify": lambda: "shpat_" + rand(32, "0123456789abcdef"),
    "jwt": jwt,
}


def positives() -> dict[str, list[tuple[str, bool]]]:
    t = TOKENS
    files: dict[str, list[tuple[str, bool]]] = {}
    files["fake_settings.py"] = [
        ('"""Settings for the orders service."""', False),
        ("import os", False),
        ("", False),
        ("DEBUG = False", False),
        (f'AWS_ACCESS_KEY_ID = "{t["aws_id"]()}"', True),
        (f'AWS_SECRET_ACCESS_KEY = "{t["aws_secret"]()}"', True),
        (f'STRIPE_SECRET_KEY = "{t["stripe"]()}"', True),
        (f"SENDGRID_API_KEY = '{t['sendgrid']()}'", True),
        ("ALLOWED_HOSTS = ['orders.internal']", False),
        (
            f'DATABASES = {{"default": "postgresql://orders:{password()}@db.internal:5432/orders"}}',
            True,
        ),
        (f'SECRET_KEY = "{rand(50, ALNUM + "!@#%^&*(-_=+)")}"', True),
        ("TIME_ZONE = 'UTC'", False),
    ]
    files["fake_prod.env"] = [
        ("# production settings", False),
        ("NODE_ENV=production", False),
        (f"OPENAI_API_KEY={t['openai']()}", True),
        (f"ANTHROPIC_API_KEY={t['anthropic']()}", True),
        (f"GITHUB_TOKEN={t['github']()}", True),
        (f"SLACK_BOT_TOKEN={t['slack']()}", True),
        (f"SLACK_WEBHOOK_URL={t['slack_hook']()}", True),
        (f"MAILGUN_API_KEY={t['mailgun']()}", True),
        (f"TWILIO_API_KEY={t['twilio_key']()}", True),
        (f"TWILIO_AUTH_TOKEN={rand(32, '0123456789abcdef')}", True),
        ("TWILIO_ACCOUNT_REGION=us1", False),
        (f"REDIS_URL=redis://default:{password()}@cache.internal:6379/0", True),
        (f"DB_PASSWORD={password()}", True),
        ("LOG_LEVEL=info", False),
        (f"HF_TOKEN={t['hf']()}", True),
    ]
    files["fake_deploy.yaml"] = [
        ("apiVersion: v1", False),
        ("kind: Secret", False),
        ("metadata:", False),
        ("  name: billing", False),
        ("stringData:", False),
        (f"  gitlab_token: {t['gitlab']()}", True),
        (f"  npm_token: {t['npm']()}", True),
        (f"  shopify_token: {t['shopify']()}", True),
        (f"  azure_client_secret: {t['azure_ad']()}", True),
        (
            "  connection: DefaultEndpointsProtocol=https;AccountName=billing;"
            f"AccountKey={t['azure_storage']()};EndpointSuffix=core.windows.net",
            True,
        ),
        (f'  api_password: "{password()}"', True),
        ("  region: eu-west-1", False),
    ]
    files["fake_client.js"] = [
        ("import axios from 'axios';", False),
        ("", False),
        (f"const GOOGLE_MAPS_KEY = '{t['gcp_api']()}';", True),
        (f"const stripe = require('stripe')('{t['stripe_rk']()}');", True),
        (f'const hfToken = "{t["hf"]()}";', True),
        ("export async function load(id) {", False),
        (f"  const headers = {{ Authorization: 'Bearer {t['jwt']()}' }};", True),
        ("  return axios.get(`/api/items/${id}`, { headers });", False),
        ("}", False),
        (f"const apiKey = '{password()}{rand(4)}';", True),
        (f"const ghApp = '{t['github_app']()}';", True),
    ]
    sa = {
        "type": "service_account",
        "project_id": "orders-prod-4821",
        "private_key_id": rand(40, "0123456789abcdef"),
    }
    lines = json.dumps(sa, indent=2).splitlines()
    files["fake_service_account.json"] = [(line, "private_key_id" in line) for line in lines]
    key = pem()
    files["fake_id_rsa"] = [(key[0], True)] + [(line, False) for line in key[1:]]
    key = pem("")
    files["fake_tls.py"] = (
        [("KEY = '''", False), (key[0], True)] + [(x, False) for x in key[1:]] + [("'''", False)]
    )
    files["fake_ci.sh"] = [
        ("#!/bin/sh", False),
        ("set -eu", False),
        (f"export GH_PAT={t['github_fg']()}", True),
        (f"curl -u deploy:{password()} https://registry.internal/v2/", False),
        (f"git clone https://ci-bot:{t['github']()}@github.com/acme/app.git", True),
        (f"export GOOGLE_CLIENT_SECRET={t['google_oauth']()}", True),
        (f'mysql "mysql://root:{password()}@10.0.3.7:3306/crm"', True),
        ("echo done", False),
    ]
    # The curl -u line is a real credential too, but in a form (user:pass argument) that no
    # format-based scanner is expected to know: labelled as a secret for honesty.
    files["fake_ci.sh"][3] = (files["fake_ci.sh"][3][0], True)
    files["fake_config.toml"] = [
        ("[database]", False),
        (f'url = "mongodb+srv://app:{password()}@cluster0.x1y2z.mongodb.net/prod"', True),
        ("[smtp]", False),
        ('host = "smtp.internal"', False),
        (f'password = "{password()}"', True),
        ("[auth]", False),
        (f'client_secret = "{rand(32)}"', True),
        (f'auth_token = "{rand(40, "0123456789abcdef")}"', True),
    ]
    return files


def negatives() -> dict[str, list[tuple[str, bool]]]:
    files: dict[str, list[tuple[str, bool]]] = {}
    sha = [hashlib.sha256(rng.randbytes(16)).hexdigest() for _ in range(6)]
    sha1 = [hashlib.sha1(rng.randbytes(16)).hexdigest() for _ in range(4)]
    files["fake_negatives_docs.md"] = [
        ("# Configuration", False),
        ("Set `AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE` and", False),
        (
            "`AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`"
            " (the AWS docs' example).",
            False,
        ),
        ("export OPENAI_API_KEY=sk-...", False),
        ("export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", False),
        ("STRIPE_KEY=sk_live_XXXXXXXXXXXXXXXXXXXXXXXX", False),
        (
            "SLACK_WEBHOOK=https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX",
            False,
        ),
        ("DATABASE_URL=postgresql://user:password@localhost:5432/app", False),
        ("api_key: <your-api-key>", False),
        ('password: "${DB_PASSWORD}"', False),
        ("token: {{ .Values.token }}", False),
        ("Enter your password to continue.", False),
        (f"Commit {sha1[0]} fixed the login bug.", False),
    ]
    files["fake_negatives_code.py"] = [
        ("import os", False),
        ("import hashlib", False),
        ('PASSWORD_FIELD = "password_hash"', False),
        ("password = os.environ['DB_PASSWORD']", False),
        ('token = os.getenv("API_TOKEN")', False),
        ("api_key = settings.api_key", False),
        ('secret = "changeme"', False),
        ('DEFAULT_PASSWORD = "password123"', False),
        (f'EXPECTED_DIGEST = "{sha[0]}"', False),
        (f'REQUEST_ID = "{uuid.UUID(int=rng.getrandbits(128))}"', False),
        (f'CACHE_KEY_PREFIX = "orders:{uuid.UUID(int=rng.getrandbits(128)).hex}"', False),
        ('TOKEN_URL = "https://login.example.org/oauth2/token"', False),
        ('password_reset_template = "emails/password_reset.html"', False),
        ("def check(password: str) -> bool:", False),
        ("    return hashlib.sha256(password.encode()).hexdigest() == EXPECTED_DIGEST", False),
        (f'GIT_SHA = "{sha1[1]}"', False),
        (f'ICON = "data:image/png;base64,{base64.b64encode(rng.randbytes(48)).decode()}"', False),
        ('bad_token = "ghp_' + rand(30) + 'AAAAAA"  # checksum does not match', False),
        ('secret_name = "orders/stripe"  # a Strongroom secret id, not a value', False),
        ("client = Client(token=get_token())", False),
        ('token_type = "Bearer"', False),
        ('color = "#ff00aa"', False),
    ]
    files["fake_negatives_lock.json"] = [
        ("{", False),
        ('  "name": "web",', False),
        ('  "lockfileVersion": 3,', False),
        ('  "packages": {', False),
        ('    "node_modules/lodash": {', False),
        ('      "version": "4.17.21",', False),
        ('      "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz",', False),
        (f'      "integrity": "sha512-{base64.b64encode(rng.randbytes(64)).decode()}"', False),
        ("    },", False),
        ('    "node_modules/uuid": {', False),
        ('      "version": "9.0.1",', False),
        (f'      "integrity": "sha512-{base64.b64encode(rng.randbytes(64)).decode()}"', False),
        ("    }", False),
        ("  }", False),
        ("}", False),
    ]
    files["fake_negatives_test_fixtures.py"] = [
        ("import pytest", False),
        ("", False),
        ("def test_login(client):", False),
        ('    resp = client.post("/login", json={"user": "alice", "password": "test"})', False),
        ("    assert resp.status_code == 200", False),
        ('    assert resp.json()["token_type"] == "bearer"', False),
        ("", False),
        ("def test_hash():", False),
        (f'    assert digest(b"x") == "{sha[1]}"', False),
        (f'    assert md5sum == "{hashlib.md5(rng.randbytes(8)).hexdigest()}"', False),
        (f'    assert run_id == "{uuid.UUID(int=rng.getrandbits(128))}"', False),
        ('    api_key = "test-api-key"', False),
        ('    token = "dummy-token-for-tests"', False),
        ('    password = "<PASSWORD>"', False),
    ]
    pub = base64.b64encode(rng.randbytes(270)).decode()
    files["fake_negatives_keys.txt"] = [
        ("-----BEGIN PUBLIC KEY-----", False),
        *[(pub[i : i + 64], False) for i in range(0, len(pub), 64)],
        ("-----END PUBLIC KEY-----", False),
        ("-----BEGIN CERTIFICATE-----", False),
        *[(pub[::-1][i : i + 64], False) for i in range(0, len(pub), 64)],
        ("-----END CERTIFICATE-----", False),
        (f"ssh-ed25519 {base64.b64encode(rng.randbytes(51)).decode()} deploy@ci", False),
    ]
    files["fake_negatives_app.js"] = [
        ("const API_BASE = process.env.API_BASE;", False),
        ("const token = localStorage.getItem('theme');", False),
        ("const apiKey = process.env.MAPS_API_KEY;", False),
        (f"const buildHash = '{sha[2][:40]}';", False),
        (f"const nonce = '{base64.b64encode(rng.randbytes(16)).decode()}';", False),
        (f"const sessionId = '{uuid.UUID(int=rng.getrandbits(128))}';", False),
        ("const secretsPage = '/settings/secrets';", False),
        ("const passwordRules = /^(?=.*[A-Z])(?=.*\\d).{12,}$/;", False),
        ("const url = 'https://user@example.com/profile';", False),
        (f"// sha256: {sha[3]}", False),
        ("const TOKEN_KEY = 'auth_token';", False),
        ("export const AUTH_TOKEN_HEADER = 'X-Auth-Token';", False),
    ]
    return files


def main() -> None:
    FILES.mkdir(exist_ok=True)
    for old in FILES.iterdir():
        old.unlink()
    labels: dict[str, list[int]] = {}
    corpus: dict[str, list[tuple[str, bool]]] = {}
    for variant in range(1, VARIANTS + 1):
        for name, lines in {**positives(), **negatives()}.items():
            stem, dot, suffix = name.partition(".")
            corpus[f"{stem}_{variant}{dot}{suffix}"] = lines
    for name, lines in corpus.items():
        (FILES / name).write_text("\n".join(text for text, _ in lines) + "\n", encoding="utf-8")
        labels[name] = [number for number, (_, secret) in enumerate(lines, 1) if secret]
    (HERE / "labels.json").write_text(json.dumps(labels, indent=2, sort_keys=True) + "\n")
    total = sum(len(v) for v in labels.values())
    print(f"wrote {len(labels)} files, {total} labelled secrets")


if __name__ == "__main__":
    main()
