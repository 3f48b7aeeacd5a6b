"""The policy gate on real inputs, and every way it fails closed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from manifests import GOOD, PLAIN_EMAIL, PLAIN_EMAIL_LINE, PUBLIC

from strongroom.errors import InvalidRequestError, PolicyError, ValidationFailedError
from strongroom.governance import manifest, policy, preflight

DEFAULT = policy.load_bundle(policy.default_directories())


def finding(blocking: bool, **over: Any) -> dict[str, Any]:
    base = {
        "scanner": "secrets",
        "rule_id": "aws-access-key-id",
        "file": "src/app.py",
        "line": 12,
        "column": 9,
        "severity": "high",
        "confidence": "high",
        "fingerprint": "3f2a",
        "message": "AWS access key id",
        "blocking": blocking,
    }
    return {**base, **over}


def decide(
    text: str, findings: list[dict[str, Any]] | None = None, bundle: policy.Bundle = DEFAULT
) -> policy.Decision:
    parsed = manifest.parse(text)
    return policy.evaluate(
        bundle, {"manifest": parsed.data, "findings": findings or [], "context": {}}
    )


def test_good_manifest_is_allowed_and_needs_review() -> None:
    decision = decide(GOOD)
    assert decision.allowed and not decision.failed
    assert "field email holds pii.email" in decision.review


def test_public_preview_app_needs_no_review() -> None:
    decision = decide(PUBLIC)
    assert decision.allowed and decision.review == ()


def test_plain_email_is_denied_at_its_line() -> None:
    parsed = manifest.parse(PLAIN_EMAIL)
    decision = decide(PLAIN_EMAIL)
    assert not decision.allowed
    [message] = decision.deny
    assert message.path == ("fields", 0, "protection")
    assert parsed.locate(message.path) == (PLAIN_EMAIL_LINE, 5)
    assert "stored with protection none" in message.msg


def test_blocking_finding_denies_and_advisory_warns() -> None:
    denied = decide(GOOD, [finding(True)])
    assert [m.msg for m in denied.deny] == [
        "secrets finding aws-access-key-id at src/app.py:12: AWS access key id"
    ]
    warned = decide(GOOD, [finding(False, rule_id="http-url", scanner="patterns")])
    assert warned.allowed and len(warned.warn) == 1


def test_organisation_modules_and_data_add_rules(tmp_path: Path) -> None:
    org = tmp_path / "org"
    org.mkdir()
    (org / "acme.rego").write_text(
        "package acme.rules\nimport rego.v1\n"
        'deny contains "apps must be in region us" if input.manifest.region != "us"\n'
        'warn contains "describe your app" if not input.manifest.description\n'
    )
    (org / "data.json").write_text(
        '{"strongroom": {"config": {"allowed_egress_domains": ["api.example.org"]}}}'
    )
    bundle = policy.load_bundle(policy.default_directories([org]))
    decision = decide(GOOD, bundle=bundle)
    assert {m.msg for m in decision.deny} == {
        "apps must be in region us",
        "egress to api.hubspot.com is not on the allowlist",
        "connector hubspot reaches api.hubspot.com, which is not on the allowlist",
    }
    # Other configuration from the default data survives the organisation's merge.
    assert bundle.data["strongroom"]["config"]["max_retention_days"]["pii"] == 365


# -- failing closed ----------------------------------------------------------------------


def _bundle(source: str) -> policy.Bundle:
    return policy.Bundle({"p.rego": source})


def _evaluate(bundle: policy.Bundle, **limits: Any) -> policy.Decision:
    doc = {"manifest": manifest.parse(PUBLIC).data, "findings": [], "context": {}}
    return policy.evaluate(bundle, doc, policy.Limits(**limits))


def test_module_that_does_not_compile_denies() -> None:
    decision = _evaluate(_bundle("package p\nimport rego.v1\ndeny contains m if {\n"))
    assert decision.failed and not decision.allowed
    assert "p.rego" in decision.deny[0].msg


def test_evaluation_error_denies() -> None:
    # Two values for one complete rule is an evaluation-time conflict.
    decision = _evaluate(
        _bundle('package p\nimport rego.v1\nx := 1\nx := 2\ndeny contains "never" if x == 3\n')
    )
    assert decision.failed and not decision.allowed
    assert "evaluating data.p.deny failed" in decision.deny[0].msg


def test_runaway_policy_is_stopped_and_denies() -> None:
    source = (
        "package p\nimport rego.v1\n"
        "n := count([x | some x in numbers.range(1, 100000000)])\n"
        'deny contains "big" if n < 0\n'
    )
    decision = _evaluate(_bundle(source), timeout_seconds=2.0)
    assert decision.failed and not decision.allowed
    msg = decision.deny[0].msg
    assert "longer than 2s" in msg or "MiB" in msg or "died" in msg


def test_memory_ceiling_stops_the_worker() -> None:
    source = (
        "package p\nimport rego.v1\n"
        "n := count([x | some x in numbers.range(1, 100000000)])\n"
        'deny contains "big" if n < 0\n'
    )
    decision = _evaluate(_bundle(source), timeout_seconds=30.0, memory_bytes=200 * 2**20)
    assert decision.failed
    assert "more than 200 MiB" in decision.deny[0].msg


def test_wrong_shaped_messages_deny() -> None:
    decision = _evaluate(_bundle("package p\nimport rego.v1\ndeny contains 42 if true\n"))
    assert decision.failed and not decision.allowed


@pytest.mark.parametrize("missing", ["manifest", "findings", "context"])
def test_missing_input_denies_without_running(missing: str) -> None:
    doc: dict[str, Any] = {"manifest": {"name": "x"}, "findings": [], "context": {}}
    del doc[missing]
    decision = policy.evaluate(DEFAULT, doc)
    assert not decision.allowed
    assert decision.deny[0].msg == f"the policy input has no {missing}"


def test_bundle_loading_refuses_bad_directories(tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        policy.load_bundle([tmp_path / "absent"])
    with pytest.raises(PolicyError, match="no modules"):
        policy.load_bundle([tmp_path])
    (tmp_path / "x.rego").write_text("package x\n")
    (tmp_path / "data.json").write_text("[1, 2]")
    with pytest.raises(PolicyError, match="JSON object"):
        policy.load_bundle([tmp_path])


def test_review_floor_holds_whatever_the_policy_says() -> None:
    permissive = policy.Bundle(
        {"p.rego": 'package p\nimport rego.v1\nwarn contains "hi" if true\n'}
    )
    checked = preflight.check(GOOD, [], permissive)
    assert checked.allowed
    assert "field email holds pii.email" in checked.review
    assert "scope secrets:read:crm-helper/hubspot is sensitive" in checked.review


def test_findings_are_validated_without_echoing_values() -> None:
    good = finding(True)
    assert preflight.validate_findings([good]) == [good]
    with pytest.raises(ValidationFailedError, match=r"findings\[0\]\.line"):
        preflight.validate_findings([{**good, "line": True}])
    with pytest.raises(ValidationFailedError) as caught:
        preflight.validate_findings([{**good, "message": 7, "file": "CANARY-VALUE"}])
    assert "CANARY-VALUE" not in str(caught.value)
    with pytest.raises(ValidationFailedError):
        preflight.validate_findings({"not": "a list"})
    # Unknown keys are dropped, never passed on to the policy.
    assert "extra" not in preflight.validate_findings([{**good, "extra": 1}])[0]


def test_scan_needs_the_scanner_package(tmp_path: Path) -> None:
    if importlib.util.find_spec("strongroom.governance.scanners") is None:
        with pytest.raises(InvalidRequestError, match="--findings"):
            preflight.scan(tmp_path)
    else:
        assert preflight.scan(tmp_path) == []


def test_engine_output_it_cannot_encode_denies() -> None:
    # rego-cpp 1.5 quotes a concat result inside sprintf("%s"), producing output that is
    # not JSON; the gate must deny rather than guess (see docs/governance.md).
    source = (
        "package p\nimport rego.v1\n"
        'deny contains sprintf("%s!", [concat(", ", [input.manifest.name, "x"])]) if true\n'
    )
    decision = _evaluate(_bundle(source))
    assert decision.failed and not decision.allowed
    assert "answer is not valid JSON" in decision.deny[0].msg
