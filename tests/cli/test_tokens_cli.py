"""``strongroom tokens`` against a real dev server: input from stdin and files, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from serverproc import Launcher, run_cli

pytestmark = pytest.mark.slow

ROOT = "dev-fixed-root-token-for-tokens-cli-tests"
CARDS = ["4242424242424242", "5555555555554444"]


def test_tokens_commands(launcher: Launcher, tmp_path: Path) -> None:
    server = launcher.start(
        "dev", "--data-dir", str(tmp_path / "data"), env={"STRONGROOM_DEV_ROOT_TOKEN": ROOT}
    )
    addr = server.addr

    def cli(*args: str, stdin: str = "") -> tuple[int, str, str]:
        done = run_cli("tokens", *args, addr=addr, token=ROOT, stdin=stdin)
        return done.returncode, done.stdout, done.stderr

    code, out, err = cli(
        "policy-create", "--app", "shop", "--name", "cards", "--scheme", "fpe",
        "--format", "card", "--keep-last", "4", "--cipher", "ff3-1",
        "--view", "tokens:reveal:shop/cards=plain", "--default-view", "redacted",
    )  # fmt: skip
    assert code == 0, err
    assert "policy shop/cards: fpe card in region default" in out
    code, out, err = cli("tokenize", "--app", "shop", "--policy", "cards", stdin="\n".join(CARDS))
    assert code == 0, err
    tokens = out.splitlines()
    assert len(tokens) == 2 and [t[-4:] for t in tokens] == ["4242", "4444"]
    source = tmp_path / "tokens.json"
    source.write_text(json.dumps(tokens))
    code, out, err = cli(
        "detokenize", "--app", "shop", "--policy", "cards", "--purpose", "refund",
        "--file", str(source), "--json-input", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out) == {"items": [{"view": "plain", "value": c} for c in CARDS]}

    # Bad input: a clear message, exit 1, no value echoed.
    code, out, err = cli(
        "tokenize", "--app", "shop", "--policy", "cards", stdin="4242-4242-ABCD-4242\n"
    )
    assert code == 1 and "card number" in err and "ABCD" not in err + out
    code, _, err = cli("tokenize", "--app", "shop", "--policy", "cards", stdin="")
    assert code == 1 and "no values given" in err
    code, _, err = cli("tokenize", "--app", "shop", "--policy", "nope", stdin=CARDS[0])
    assert code == 1 and "no such token policy" in err
    code, _, err = cli("shred", "--app", "shop", "--policy", "cards")
    assert code == 1 and "--yes" in err
    code, _, err = cli("shred", "--region", "default", "--app", "shop", "--yes")
    assert code == 1 and "either" in err

    code, out, err = cli("purge", "--json")
    assert code == 0 and json.loads(out) == {"count": 0}
    code, out, err = cli("shred", "--app", "shop", "--policy", "cards", "--yes")
    assert code == 0 and "unrecoverable" in out
    code, _, err = cli("detokenize", "--app", "shop", "--policy", "cards", "--purpose", "x",
                       stdin=tokens[0])  # fmt: skip
    assert code == 1 and "crypto-shredded" in err
