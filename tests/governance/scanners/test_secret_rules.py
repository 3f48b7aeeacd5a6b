"""Every secret rule finds its examples and none of its counter-examples, on both engines."""

from __future__ import annotations

import random
import string

import pytest

from strongroom.governance.scanners.secrets import RULES, SecretsScanner
from strongroom.governance.scanners.secrets.checksums import (
    base62,
    github_checksum,
    github_token_valid,
    shannon_entropy,
)

ENGINES = ["hyperscan", "re"]
EXAMPLES = [(rule.id, text) for rule in RULES for text in rule.examples]
COUNTER = [(rule.id, text) for rule in RULES for text in rule.counter_examples]


@pytest.fixture(scope="module", params=ENGINES)
def scanner(request: pytest.FixtureRequest) -> SecretsScanner:
    return SecretsScanner(engine=request.param)


def test_every_rule_has_examples_both_ways() -> None:
    assert len(RULES) >= 25
    assert len({rule.id for rule in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.examples and rule.counter_examples, rule.id
        assert b"(?P<secret>" in rule.pattern.pattern, rule.id


@pytest.mark.parametrize(("rule_id", "text"), EXAMPLES)
def test_rule_finds_its_examples(scanner: SecretsScanner, rule_id: str, text: str) -> None:
    found = scanner.scan_text(text)
    assert rule_id in [f.rule_id for f in found], (rule_id, [f.rule_id for f in found])


@pytest.mark.parametrize(("rule_id", "text"), COUNTER)
def test_rule_ignores_its_counter_examples(
    scanner: SecretsScanner, rule_id: str, text: str
) -> None:
    assert scanner.scan_text(text) == []


@pytest.mark.parametrize(("rule_id", "text"), EXAMPLES)
def test_findings_never_hold_the_secret(rule_id: str, text: str) -> None:
    scanner = SecretsScanner()
    for finding in scanner.scan_text(text, "app/config.py"):
        rule = next(r for r in RULES if r.id == finding.rule_id)
        match = rule.pattern.search(text.encode())
        assert match is not None
        secret = (match.group("secret") or match.group("env")).decode()
        dumped = repr(finding) + str(finding.to_dict())
        assert secret not in dumped
        assert secret[6:22] not in dumped
        assert finding.file == "app/config.py"


def test_github_checksum_matches_the_published_scheme() -> None:
    # base62 of CRC32, six characters, zero padded.
    assert base62(0, 6) == "000000"
    assert base62(61, 2) == "0z"
    assert base62(62, 2) == "10"
    body = "ox9yimTcfipZGnzPbDFDyFKm51zfFo"
    assert github_checksum(body) == "1VFJHz"
    assert github_token_valid("ghp_" + body + "1VFJHz")
    assert not github_token_valid("ghp_" + body + "1VFJHy")
    assert not github_token_valid("ghp_" + body[:-1] + "X" + "1VFJHz")


def test_random_github_tokens_validate_only_with_the_right_checksum() -> None:
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits
    scanner = SecretsScanner()
    for _ in range(50):
        body = "".join(rng.choice(alphabet) for _ in range(30))
        good = f"ghp_{body}{github_checksum(body)}"
        assert [f.rule_id for f in scanner.scan_text(f"t = {good}")] == ["github-token"]
        bad = f"ghp_{body}{base62((int.from_bytes(body[:4].encode()) + 1) % 62**6, 6)}"
        if bad != good:
            assert scanner.scan_text(f"t = {bad}") == []


def test_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)


def test_line_and_column_are_located() -> None:
    text = "a = 1\n\n  token: xoxb-01279269915-8095515172375-Kw7xWZBxVOQcVj7TQ4Pudc9o\n"
    (finding,) = SecretsScanner().scan_text(text)
    assert (finding.line, finding.column) == (3, 10)
    assert finding.severity == "high" and finding.blocking


def test_generic_rule_yields_to_a_provider_rule_on_the_same_value() -> None:
    text = 'api_key = "sk_live_nIHTLlYjG0cfJYQWtnjOzq84"'
    assert [f.rule_id for f in SecretsScanner().scan_text(text)] == ["stripe-live-key"]


def test_inline_allow_comment_suppresses() -> None:
    text = 'db_password = "Vq8#mZ2!rT5wLp"  # strongroom: allow (test fixture)'
    assert SecretsScanner().scan_text(text) == []


def test_fingerprint_is_stable_and_follows_the_value_not_the_line() -> None:
    scanner = SecretsScanner()
    one = scanner.scan_text("x\nk = AKIAOWPASVORC3QYT2LZ\n", "a.py")[0]
    two = scanner.scan_text("x\ny\nz\nk = AKIAOWPASVORC3QYT2LZ\n", "a.py")[0]
    other = scanner.scan_text("k = ASIAOWPASVORC3QYT2LZ\n", "a.py")[0]
    assert one.fingerprint == two.fingerprint != other.fingerprint
    assert one.line == 2 and two.line == 4
