"""The insecure-pattern scanner: code that weakens what Strongroom protects.

Each `PatternRule` is a line pattern for some file kinds. Most important is
``direct-sensitive-backend``: app code that reaches a database with a literal DSN or a
payment/CRM API host directly, bypassing Strongroom's gateway (which holds the credential
and enforces egress and DLP). The host list is configurable (`ScanOptions.sensitive_hosts`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from strongroom.governance.scanners.findings import Confidence, Finding, Severity, fingerprint
from strongroom.governance.scanners.options import DEFAULT_SENSITIVE_HOSTS
from strongroom.governance.scanners.sources import SourceFile

PY = frozenset({".py"})
JS = frozenset({".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".vue", ".svelte", ".html"})
CODE = PY | JS | frozenset({".go", ".rb", ".php", ".java", ".kt", ".cs"})
CONFIG = frozenset({".env", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".json", ".sh"})
_LOCAL = (
    r"(?:localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[::1\]|[\w.-]+\.(?:local|test|example|invalid))"
)


@dataclass(frozen=True, slots=True)
class PatternRule:
    """One insecure pattern, for the files whose suffix is in ``suffixes``."""

    id: str
    description: str
    pattern: re.Pattern[str]
    suffixes: frozenset[str]
    severity: Severity
    confidence: Confidence
    examples: tuple[str, ...]
    counter_examples: tuple[str, ...]

    def applies_to(self, name: str) -> bool:
        """Whether files called ``name`` are checked by this rule."""
        return _suffix(name) in self.suffixes


def _suffix(name: str) -> str:
    lower = name.lower()
    if lower == ".env" or lower.startswith(".env."):
        return ".env"
    dot = lower.rfind(".")
    return lower[dot:] if dot > 0 else ""


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


STATIC_RULES: tuple[PatternRule, ...] = (
    PatternRule(
        "token-in-web-storage",
        "Secret or token stored in localStorage/sessionStorage (readable by any script)",
        _c(
            r"(?:localStorage|sessionStorage)\s*(?:\.\s*setItem\s*\(\s*[\"'`][^\"'`]*"
            r"|\[\s*[\"'`][^\"'`]*|\.\s*)(?i:token|secret|password|passwd|jwt|api_?key|auth|"
            r"session|credential)"
        ),
        JS,
        "high",
        "high",
        ('localStorage.setItem("access_token", token);', "sessionStorage.jwt = data.jwt;"),
        ('localStorage.setItem("theme", "dark");', "const token = await getToken();"),
    ),
    PatternRule(
        "plain-http-endpoint",
        "Plain http:// endpoint (not localhost): traffic and credentials travel in clear",
        _c(
            r"(?:[\"'`=(]|:\s)\s*http://(?!" + _LOCAL + r"(?:[:/\"'`]|$))"
            r"(?!(?:www\.)?(?:w3\.org|schemas\.|xmlns|purl\.org|json-schema\.org|ns\.adobe))"
            r"[A-Za-z0-9]"
        ),
        CODE | CONFIG,
        "medium",
        "medium",
        (
            'API = "http://api.partner-payments.io/v1"',
            "fetch('http://10.2.3.4:8080/orders')",
            "  endpoint: http://crm.partner.io/api",
        ),
        (
            'API = "http://localhost:8000"',
            "  health: http://127.0.0.1:8080/health",
            'ns = "http://www.w3.org/2000/svg"',
            'URL = "https://api.partner-payments.io"',
        ),
    ),
    PatternRule(
        "tls-verification-disabled",
        "TLS certificate verification disabled",
        _c(
            r"\bverify\s*=\s*False\b|rejectUnauthorized\s*:\s*false|"
            r"NODE_TLS_REJECT_UNAUTHORIZED[\"'`\]]?\s*[=:]\s*[\"'`]?0|_create_unverified_context|"
            r"\bCERT_NONE\b|check_hostname\s*=\s*False|InsecureSkipVerify\s*:\s*true"
        ),
        CODE | CONFIG,
        "high",
        "high",
        (
            "requests.get(url, verify=False)",
            "const agent = new https.Agent({ rejectUnauthorized: false });",
            "NODE_TLS_REJECT_UNAUTHORIZED=0",
            "process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'",
        ),
        ("requests.get(url, verify=True)", "rejectUnauthorized: true"),
    ),
    PatternRule(
        "eval-of-input",
        "eval/exec of request or user input (code injection)",
        _c(
            r"\b(?:eval|exec|Function)\s*\([^)\n]*(?:request\.|req\.(?:body|query|params)|"
            r"input\s*\(|sys\.argv|location\.|document\.|params\[|event\.data|\.value\b)"
        ),
        CODE,
        "critical",
        "medium",
        (
            "result = eval(request.args.get('expr'))",
            "eval(req.query.code)",
            "exec(input('> '))",
            "const f = new Function(location.hash.slice(1));",
        ),
        ("ast.literal_eval(text)", "result = eval('1 + 2')"),
    ),
    PatternRule(
        "cors-wildcard",
        "Wildcard CORS: any web origin may call this service",
        _c(
            r"Access-Control-Allow-Origin[\"'`]?\s*[,:=]\s*[\"'`]\*[\"'`]|"
            r"allow_origins\s*=\s*\[\s*[\"']\*[\"']\s*\]|origins?\s*[:=]\s*[\"'`]\*[\"'`]|"
            r"CORS_ORIGIN_ALLOW_ALL\s*=\s*True|CORS_ALLOW_ALL_ORIGINS\s*=\s*True"
        ),
        CODE | CONFIG,
        "high",
        "high",
        (
            'app.add_middleware(CORSMiddleware, allow_origins=["*"])',
            "res.setHeader('Access-Control-Allow-Origin', '*');",
            "app.use(cors({ origin: '*' }));",
        ),
        ('allow_origins=["https://app.example.org"]',),
    ),
    PatternRule(
        "request-body-logged",
        "Request body logged (personal data and secrets end up in logs)",
        _c(
            r"\b(?:console\.(?:log|info|debug|warn|error)|log(?:ger|ging)?\.(?:debug|info|"
            r"warning|warn|error|exception|critical)|print)\s*\([^\n]*(?:req\.body|request\.body"
            r"|request\.json|request\.get_json\(|request\.data\b|request\.form|await request\.json)"
        ),
        CODE,
        "medium",
        "high",
        ("console.log('got', req.body);", 'logger.info("payload %s", request.json)'),
        ("console.log('got', req.path);", "data = request.json"),
    ),
    PatternRule(
        "direct-database-connection",
        "Direct database connection with a literal DSN, bypassing Strongroom's secrets API",
        _c(
            r"(?:psycopg2?\.connect|psycopg\.connect|create_engine|create_async_engine|"
            r"MongoClient|mysql\.connector\.connect|pymysql\.connect|asyncpg\.connect|"
            r"redis\.(?:from_url|Redis\.from_url)|createConnection|createPool|new\s+(?:Pool|"
            r"Client|Sequelize|MongoClient))\s*\(\s*(?:\{\s*connectionString\s*:\s*)?[\"'`]"
            r"(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|mssql|oracle)"
            r"[^\"'`]*://|(?:psycopg2?|pymysql|mysql\.connector)\.connect\([^)\n]*"
            r"\b(?:password|passwd)\s*=\s*[\"']"
        ),
        CODE,
        "high",
        "high",
        (
            'engine = create_engine("postgresql://app:pw@db.internal/orders")',
            "const pool = new Pool({ connectionString: 'postgres://db.internal/orders' });",
            "conn = psycopg2.connect(host='db', user='app', password='s3cr3t-pass')",
        ),
        (
            "engine = create_engine(settings.database_url)",
            "conn = psycopg2.connect(dsn)",
        ),
    ),
)


def host_rule(hosts: Sequence[str]) -> PatternRule:
    """The rule for direct calls to the sensitive back-end ``hosts``."""
    names = "|".join(re.escape(host) for host in sorted(set(hosts), key=len, reverse=True))
    return PatternRule(
        "direct-sensitive-backend",
        "Direct call to a sensitive back end; go through a Strongroom connector instead",
        re.compile(r"https?://(?:[A-Za-z0-9-]+\.)*(?:" + names + r")(?![A-Za-z0-9.-])"),
        CODE | CONFIG,
        "high",
        "high",
        ("fetch('https://api.stripe.com/v1/charges', opts)",),
        ("fetch('/api/charges', opts)", "https://stripe.com/docs"),
    )


class PatternsScanner:
    """Runs the pattern rules over code and configuration files, line by line."""

    name = "patterns"

    def __init__(self, sensitive_hosts: Sequence[str] = DEFAULT_SENSITIVE_HOSTS) -> None:
        self.rules = (*STATIC_RULES, host_rule(sensitive_hosts))

    def scan(self, file: SourceFile) -> Iterator[Finding]:
        """Every insecure pattern in ``file`` (other kinds of file are skipped silently)."""
        rules = [rule for rule in self.rules if rule.applies_to(file.name)]
        if not rules:
            return
        carry = b""
        number = 0
        for chunk in file.chunks(1024 * 1024):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            for line in data[:cut].decode("utf-8", "replace").splitlines():
                number += 1
                yield from self._line(file.path, rules, number, line)
        if carry:
            yield from self._line(file.path, rules, number + 1, carry.decode("utf-8", "replace"))

    def scan_text(self, text: str, path: str) -> list[Finding]:
        """Findings in ``text`` as if it were the file ``path`` (for tests and examples)."""
        rules = [rule for rule in self.rules if rule.applies_to(path)]
        found: list[Finding] = []
        for number, line in enumerate(text.splitlines(), start=1):
            found.extend(self._line(path, rules, number, line))
        return found

    def _line(
        self, path: str, rules: list[PatternRule], number: int, line: str
    ) -> Iterator[Finding]:
        if len(line) > 20_000 or "strongroom: allow" in line:
            return
        for rule in rules:
            match = rule.pattern.search(line)
            if match is None:
                continue
            yield Finding(
                scanner=self.name,
                rule_id=rule.id,
                file=path,
                line=number,
                column=match.start() + 1,
                severity=rule.severity,
                confidence=rule.confidence,
                fingerprint=fingerprint(self.name, rule.id, path, line.strip()),
                message=rule.description,
                blocking=rule.severity in ("critical", "high") and rule.confidence == "high",
            )
