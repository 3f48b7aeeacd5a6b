"""The default bundle's own Rego unit tests (``test_*`` rules), run through regopy."""

from __future__ import annotations

import pytest

from strongroom.governance import policy

BUNDLE = policy.load_bundle(policy.default_directories())
CASES = [(p, n) for p, names in sorted(BUNDLE.tests().items()) for n in names]


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, str], policy.TestResult]:
    return {(r.package, r.name): r for r in policy.run_tests(BUNDLE)}


def test_the_bundle_has_unit_tests() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize(("package", "name"), CASES, ids=[n for _, n in CASES])
def test_rego_unit(
    results: dict[tuple[str, str], policy.TestResult], package: str, name: str
) -> None:
    result = results[(package, name)]
    assert result.passed, result.error or f"data.{package}.{name} is not true"


def test_a_failing_rego_test_is_reported_as_failing() -> None:
    bundle = policy.Bundle(
        {
            "t_test.rego": "package t_test\nimport rego.v1\n"
            "test_true if { 1 == 1 }\ntest_false if { 1 == 2 }\n"
        }
    )
    got = {r.name: r.passed for r in policy.run_tests(bundle)}
    assert got == {"test_true": True, "test_false": False}
