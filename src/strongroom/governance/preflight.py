"""Pre-flight: scan findings, the policy input document, and one located policy check.

The scanners live in ``strongroom.governance.scanners`` and are imported only when a
scan is asked for, so the policy gate works (and is tested) without them. Findings are
plain dicts with the keys of `FINDING_KEYS`; they are validated here whatever their
source, because a submission carries them from the client.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strongroom.errors import InvalidRequestError, ValidationFailedError
from strongroom.governance import manifest as manifests
from strongroom.governance import policy
from strongroom.governance.manifest import Manifest

MAX_FINDINGS = 5000
FINDING_KEYS: Mapping[str, type | tuple[type, ...]] = {
    "scanner": str,
    "rule_id": str,
    "file": str,
    "line": int,
    "column": int,
    "severity": str,
    "confidence": str,
    "fingerprint": str,
    "message": str,
    "blocking": bool,
}
SENSITIVE_FAMILIES = frozenset({"pii", "pci", "phi", "secret"})
SENSITIVE_SCOPE_PREFIXES = ("secrets:", "detokenize:")


def scan(path: Path) -> list[dict[str, Any]]:
    """Run every scanner over ``path``; `InvalidRequestError` if none is installed."""
    try:
        scanners = importlib.import_module("strongroom.governance.scanners")
    except ModuleNotFoundError:
        raise InvalidRequestError(
            "the scanners are not part of this build; pass scan results with --findings"
        ) from None
    report = scanners.scan_path(path)
    return validate_findings([f.to_dict() for f in report.findings])


def validate_findings(findings: Any) -> list[dict[str, Any]]:
    """Checked copies of findings (known keys only); `ValidationFailedError` names the
    first bad entry and key, never its value."""
    if not isinstance(findings, list):
        raise ValidationFailedError("findings must be a list")
    if len(findings) > MAX_FINDINGS:
        raise ValidationFailedError(f"at most {MAX_FINDINGS} findings per submission")
    out = []
    for index, item in enumerate(findings):
        if not isinstance(item, Mapping):
            raise ValidationFailedError(f"findings[{index}] must be an object")
        clean: dict[str, Any] = {}
        for key, kind in FINDING_KEYS.items():
            value = item.get(key)
            wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
            if wrong:
                raise ValidationFailedError(f"findings[{index}].{key} is missing or mistyped")
            if isinstance(value, str) and len(value) > 2000:
                raise ValidationFailedError(f"findings[{index}].{key} is too long")
            clean[key] = value
        out.append(clean)
    return out


def sensitive_reasons(manifest: Manifest) -> list[str]:
    """Why a manifest needs a reviewer, whatever the policy says (a floor, not a ceiling)."""
    reasons = []
    for scope in manifest.scopes:
        parts = scope.split(":")
        if scope.startswith(SENSITIVE_SCOPE_PREFIXES) or any(
            p.split(".")[0] in SENSITIVE_FAMILIES for p in parts
        ):
            reasons.append(f"scope {scope} is sensitive")
    for item in manifest.data.get("fields", []):
        if str(item.get("data_class", "")).split(".")[0] in SENSITIVE_FAMILIES:
            reasons.append(f"field {item.get('name')} holds {item.get('data_class')}")
    return reasons


@dataclass(frozen=True)
class Check:
    """A policy decision with each message placed in the manifest's source."""

    manifest: Manifest
    decision: policy.Decision
    deny: list[dict[str, Any]]
    warn: list[dict[str, Any]]
    review: list[str]

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    def as_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "failed": self.decision.failed,
            "deny": self.deny,
            "warn": self.warn,
            "review": self.review,
        }


def check(
    text: str | bytes,
    findings: Sequence[Mapping[str, Any]],
    bundle: policy.Bundle,
    *,
    context: Mapping[str, Any] | None = None,
    limits: policy.Limits | None = None,
    source: str = "strongroom.yaml",
) -> Check:
    """Parse the manifest (`ManifestError` if invalid) and run the policy on it."""
    parsed = manifests.parse(text, source)
    document = {"manifest": parsed.data, "findings": list(findings), "context": dict(context or {})}
    decision = policy.evaluate(bundle, document, limits)
    review = sorted({*decision.review, *sensitive_reasons(parsed)})
    return Check(
        parsed,
        decision,
        [_located(parsed, m) for m in decision.deny],
        [_located(parsed, m) for m in decision.warn],
        review,
    )


def _located(parsed: Manifest, message: policy.Message) -> dict[str, Any]:
    where = parsed.locate(message.path) if message.path else None
    return {
        "msg": message.msg,
        "field": manifests.field_name(message.path) if message.path else None,
        "line": where[0] if where else None,
        "column": where[1] if where else None,
    }
