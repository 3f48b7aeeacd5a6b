"""The secret scanner and its rules."""

from strongroom.governance.scanners.secrets.allowlists import DEFAULT_ALLOWLISTS, Allowlist
from strongroom.governance.scanners.secrets.rules import RULES, Rule
from strongroom.governance.scanners.secrets.scanner import SecretsScanner

__all__ = ["DEFAULT_ALLOWLISTS", "RULES", "Allowlist", "Rule", "SecretsScanner"]
