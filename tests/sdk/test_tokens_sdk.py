"""The SDK's tokenization calls against the real API (in-process), and its import boundary."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import Ready

from strongroom.sdk import Tokens, TokensError


def test_sdk_imports_only_httpx_and_crypto() -> None:
    # crypto/ raises the error types of strongroom.errors, a leaf module with no imports.
    code = (
        "import sys, strongroom.sdk\n"
        "bad = [m for m in sys.modules if m.startswith('strongroom.') and not "
        "m.startswith(('strongroom.sdk', 'strongroom.crypto')) and m != 'strongroom.errors']\n"
        "bad += [m for m in ('fastapi', 'sqlalchemy', 'pydantic', 'typer') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_sdk_calls(ready: Ready) -> None:
    http = ready.client  # a TestClient is an httpx.Client
    http.headers["Authorization"] = f"Bearer {ready.root_token}"
    tokens = Tokens(http, "crm")
    made = tokens.create_policy("ssn", region="default", scheme="fpe", format="ssn")
    assert made["cipher"] == "ff1" and [p["name"] for p in tokens.policies()] == ["ssn"]
    issued = tokens.tokenize("ssn", ["123-45-6789", "987-65-4321"], idempotency_key="k")
    assert tokens.tokenize("ssn", ["123-45-6789", "987-65-4321"], idempotency_key="k") == issued
    assert tokens.tokenize_one("ssn", "123-45-6789") == issued[0]
    shown = tokens.detokenize("ssn", issued, purpose="payroll")
    assert [(r.view, r.value) for r in shown] == [
        ("plain", "123-45-6789"),
        ("plain", "987-65-4321"),
    ]
    assert "123-45" not in repr(shown)
    with pytest.raises(TokensError) as bad:
        tokens.tokenize("ssn", ["123-45-6789", "12-345-6789"])
    assert bad.value.status == 422 and bad.value.kind == "batch-failed"
    assert [i["index"] for i in bad.value.items] == [1] and "12-345" not in str(bad.value)
    assert tokens.erase("ssn", issued[:1]) == 1
    with pytest.raises(TokensError) as gone:
        tokens.detokenize("ssn", issued[:1], purpose="payroll")
    assert gone.value.kind == "token-gone"
    tokens.shred_policy("ssn")
    with pytest.raises(TokensError) as shredded:
        tokens.detokenize("ssn", issued[1:], purpose="payroll")
    assert (shredded.value.status, shredded.value.kind) == (410, "shredded")
