"""Allowlists: named reasons a match is not a secret.

Each allowlist names what it matches, so a suppressed candidate can be explained ("a
template variable", "a placeholder word"). They apply to the captured secret, to the whole
line, or only to generic rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Allowlist:
    """One named reason to drop a candidate.

    ``secret`` is searched in the captured secret, ``line`` in the line that holds it;
    ``generic_only`` limits the allowlist to generic rules (a provider rule's structure is
    evidence enough).
    """

    name: str
    description: str
    secret: re.Pattern[str] | None = None
    line: re.Pattern[str] | None = None
    key: re.Pattern[str] | None = None
    generic_only: bool = False

    def matches(self, secret: str, line: str, key: str | None = None) -> bool:
        """Whether this allowlist drops ``secret`` found on ``line`` (assigned to ``key``)."""
        if self.secret is not None and self.secret.search(secret):
            return True
        if self.key is not None and key is not None and self.key.search(key):
            return True
        return self.line is not None and self.line.search(line) is not None


DEFAULT_ALLOWLISTS: tuple[Allowlist, ...] = (
    Allowlist(
        "inline-allow",
        "the line carries a `strongroom: allow` or `pragma: allowlist secret` comment",
        line=re.compile(r"strongroom:\s*allow|pragma:\s*allowlist[ -]secret", re.IGNORECASE),
    ),
    Allowlist(
        "placeholder-words",
        "the value holds a placeholder or stop word (example, changeme, your-..., redacted, "
        "scott/tiger)",
        secret=re.compile(
            r"example|placeholder|changeme|change[_-]me|your[_-]|[_-]here\b|redacted|dummy|"
            r"sample|insert|replace|xxxx|\.\.\.|\*\*\*|^(?:pass(?:word)?|secret|token)\d*$|"
            r"^password|passw0rd|letmein|qwerty|123456|^tiger\b",
            re.IGNORECASE,
        ),
    ),
    Allowlist(
        "template-variables",
        "the value is a template or variable reference (${X}, {{ x }}, {x}, <x>, %(x)s, $X)",
        secret=re.compile(
            r"\$\{|\{\{|\}\}|^<.*>$|%\(|%[sdr]|\{\}|\{[A-Za-z_][\w.]*(?:![rsa])?\}|"
            r"^\$[A-Za-z_]|^%[A-Z_]+%$|^@[A-Za-z_]"
        ),
    ),
    Allowlist(
        "low-variety",
        "the value repeats a few characters (0000..., aaaa..., abcabc...)",
        secret=re.compile(r"^(.)\1+$|^(.{1,3})\2{4,}$|(.)\3{7,}"),
    ),
    Allowlist(
        "identifier-like",
        "a generic rule's value is a name, a path, a URL or a regular expression",
        secret=re.compile(
            r"^[A-Za-z_.-]+$|^(?:/|\./|\.\./|https?://)|\\[wdsbWDS]|\[[^\]]*-[^\]]*\]|\(\?|"
            r"^[A-Za-z_.-]+(?:/[A-Za-z0-9_.-]+)+$|"
            r"^[\w.-]+\.(?:py|js|ts|json|ya?ml|txt|html|pem|key|crt|cfg|ini|env)$"
        ),
        generic_only=True,
    ),
    Allowlist(
        "names-not-values",
        "a generic rule's key names something about a secret (its name, file, type, URL)",
        key=re.compile(
            r"(?i)(?:name|template|field|file|path|url|uri|id|type|prefix|header|page|label|"
            r"rules|regex|pattern|env|var|length|len|min|max|count|hash|digest|format|mode|"
            r"policy|endpoint|param|column|attr|storage_key|cookie_name)[\"']?$"
        ),
        generic_only=True,
    ),
    Allowlist(
        "provider-shaped",
        "a generic rule's value has a provider's format, which that provider's rule judged "
        "(a bad checksum, a placeholder) and rejected",
        secret=re.compile(
            r"^(?:gh[pousr]_|github_pat_|xox[a-z]-|[sr]k_(?:live|test)_|A[KS]IA|glpat-|SG\.|"
            r"npm_|sk-(?:proj-|ant-)|AIza|GOCSPX-|hf_|shp(?:at|ca|pa|ss)_|key-|eyJ)"
        ),
        generic_only=True,
    ),
    Allowlist(
        "environment-lookups",
        "a generic rule's line reads the value from the environment or a secret store",
        line=re.compile(r"os\.environ|getenv|process\.env|secrets?\.get\(|vault\.read"),
        generic_only=True,
    ),
)
