"""The secret rules: what each provider's credentials look like, with examples.

A rule is found cheaply first: its ``keywords`` (case-insensitive literals, or a regular
expression where a literal would not do) are searched for in one pass over the file by a
multi-pattern engine, and only the lines that hold one are run through the rule's
``pattern``. The pattern's ``secret`` group is what the entropy floor, the length floor,
the rule's ``validator`` (a checksum, a decodable JWT header) and the allowlists judge.

Every rule carries ``examples`` that it must find and ``counter_examples`` that it must
not; the tests run all of them. The example values are random and were never issued by
any provider.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from strongroom.governance.scanners.findings import Confidence, Severity
from strongroom.governance.scanners.secrets.checksums import github_token_valid


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of secret. ``pattern`` must have a named group ``secret``."""

    id: str
    description: str
    keywords: tuple[str, ...]
    pattern: re.Pattern[bytes]
    severity: Severity
    confidence: Confidence
    examples: tuple[str, ...]
    counter_examples: tuple[str, ...]
    entropy: float = 0.0
    min_length: int = 8
    validator: Callable[[str], bool] | None = None
    #: Bytes after the keyword's line start the pattern may span (multi-line secrets).
    window: int = 0
    #: A generic rule yields to a provider rule that found a secret on the same line.
    generic: bool = False
    #: The keywords are regular expressions rather than literals.
    keywords_are_regex: bool = False


def _re(pattern: str, flags: int = 0) -> re.Pattern[bytes]:
    return re.compile(pattern.encode(), flags)


def _jwt_header_valid(token: str) -> bool:
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return isinstance(decoded, dict) and isinstance(decoded.get("alg"), str)


def _not_aws_example(value: str) -> bool:
    return "EXAMPLE" not in value


_PEM_BODY = "RklYVFVSRS1PTkxZLWtleS1tYXRlcmlhbC1ub3QtcmVhbC0wMTIzNDU2Nzg5YWJjZGVmZ2hpamtsbW5vcA"
_GH = "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"
_GH_BAD = "ghp_ikWMgISuSw8P1FGNmtjwHsGQeZ52G6AAAAAA"
_JWT = (
    "eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9.eyJzdWIiOiAidS00ODIxIiwgImlhdCI6IDE3MDAwMDAwMDB9"
    ".DwTvuDyhWDmqHLet9kUmIoqgoSKSJrhuZbd47VZDhU7"
)
_AZURE_KEY = (
    "BacU3lzDPXzaLLkPZCLk1VPMTLnz+VWNALYXTU2z+kIui/I1oJLJIJ0FUFF6FDzV/noXkv2frcyHlm76KlqTiO=="
)
_ANTHROPIC = (
    "sk-ant-api03-fm4VGQnny_25mqdTqX5Q2oW81qjxE4zJtBaQUlvO1MrCWbntCius-KXl4KjX4-3Q9DNfncU2b"
    "HVfwi_gcgmOrFUTTkEyEAA"
)
_GENERIC_KEYS = (
    r"[a-z0-9_.-]{0,20}(?:password|passwd|passphrase|pwd|secret|api_?key|apikey|access_?token"
    r"|auth_?token|token|client_?secret|private_?key|credentials?)[a-z0-9_.-]{0,20}"
)

RULES: tuple[Rule, ...] = (
    Rule(
        id="aws-access-key-id",
        description="AWS access key ID",
        keywords=("akia", "asia", "abia", "acca"),
        pattern=_re(r"\b(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b"),
        severity="high",
        confidence="high",
        entropy=3.0,
        validator=_not_aws_example,
        examples=('aws_access_key_id = "AKIAOWPASVORC3QYT2LZ"', "key: ASIAOWPASVORC3QYT2LZ"),
        counter_examples=(
            "AKIAIOSFODNN7EXAMPLE",
            "AKIAOWPASVORC3QYT2LZX9",
            "akiaowpasvorc3qyt2lz",
        ),
    ),
    Rule(
        id="aws-secret-access-key",
        description="AWS secret access key",
        keywords=("aws",),
        pattern=_re(
            r"(?i)aws.{0,24}?(?:secret|sk|key).{0,24}?[=:]\s*[\"']?"
            r"(?P<secret>(?-i:[A-Za-z0-9/+]{40}))(?![A-Za-z0-9/+=])"
        ),
        severity="critical",
        confidence="high",
        entropy=4.0,
        examples=(
            'aws_secret_access_key = "ovdzuMobWRv3Dr0501kiKmeknUt/tiycrRXpMSPU"',
            "AWS_SECRET_ACCESS_KEY=ovdzuMobWRv3Dr0501kiKmeknUt/tiycrRXpMSPU",
        ),
        counter_examples=(
            'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
            "aws_secret_access_key = os.environ['AWS_SECRET_ACCESS_KEY']",
            'aws_key_sha = "a9d48d227a6c1e979a8d100d16732f45ef20891b"',
        ),
    ),
    Rule(
        id="gcp-service-account-key",
        description="Google Cloud service account key file",
        keywords=("private_key_id",),
        pattern=_re(r"\"private_key_id\"\s*:\s*\"(?P<secret>[a-f0-9]{40})\""),
        severity="critical",
        confidence="high",
        entropy=3.0,
        examples=('  "private_key_id": "a9d48d227a6c1e979a8d100d16732f45ef20891b",',),
        counter_examples=(
            '"private_key_id": "0000000000000000000000000000000000000000"',
            '"private_key_id": "<your key id>"',
        ),
    ),
    Rule(
        id="gcp-api-key",
        description="Google API key",
        keywords=("aiza",),
        pattern=_re(r"\b(?P<secret>AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])"),
        severity="high",
        confidence="high",
        entropy=3.5,
        examples=('const key = "AIzaa-AhewwR34pkzC-8tWpn5q4l8YU6Cgzg5on";',),
        counter_examples=("AIzaSy", "AIzaa-AhewwR34pkzC-8tWpn5q4l8YU6Cgzg5onXYZ"),
    ),
    Rule(
        id="azure-storage-account-key",
        description="Azure storage account key",
        keywords=("accountkey",),
        pattern=_re(r"(?i)AccountKey\s*=\s*(?P<secret>(?-i:[A-Za-z0-9+/]{86}==))"),
        severity="critical",
        confidence="high",
        entropy=4.5,
        examples=(
            "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey=" + _AZURE_KEY + ";",
        ),
        counter_examples=("AccountKey=<storage-account-key>;", "AccountKey=" + "A" * 86 + "=="),
    ),
    Rule(
        id="azure-ad-client-secret",
        description="Azure AD (Entra ID) application client secret",
        keywords=("q~",),
        pattern=_re(
            r"(?<![A-Za-z0-9_~.-])(?P<secret>[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34})"
            r"(?![A-Za-z0-9_~.-])"
        ),
        severity="critical",
        confidence="high",
        entropy=3.5,
        examples=('client_secret = "Yc18Q~krUjDeOCLTPioS3uuGXt3imCkLwRznghwv"',),
        counter_examples=("abc8Q~short", "the ~Q~ operator"),
    ),
    Rule(
        id="github-token",
        description="GitHub token (classic PAT, OAuth, app, refresh), checksum verified",
        keywords=("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        pattern=_re(r"\b(?P<secret>gh[pousr]_[A-Za-z0-9]{36})\b"),
        severity="critical",
        confidence="high",
        validator=github_token_valid,
        examples=(f"token = {_GH}", "GITHUB_TOKEN=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"),
        counter_examples=(_GH_BAD, "ghp_" + "x" * 36, "ghp_short"),
    ),
    Rule(
        id="github-fine-grained-token",
        description="GitHub fine-grained personal access token",
        keywords=("github_pat_",),
        pattern=_re(r"\b(?P<secret>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b"),
        severity="critical",
        confidence="high",
        entropy=4.0,
        examples=(
            "github_pat_JOus4pVGEhKT7fi7ViounA_lkiWCdS4CLQNsA07BLR5V7xSKTF3xV2XHltrR8E1i11rFOGIY"
            "7GsZnKHzXi",
        ),
        counter_examples=(
            "github_pat_<your token here>",
            "github_pat_" + "0" * 22 + "_" + "0" * 59,
        ),
    ),
    Rule(
        id="gitlab-token",
        description="GitLab personal, project or runner token",
        keywords=("glpat-", "glrt-", "gldt-", "glptt-"),
        pattern=_re(r"\b(?P<secret>gl(?:pat|rt|dt|ptt)-[A-Za-z0-9_-]{20,64})(?![A-Za-z0-9_-])"),
        severity="critical",
        confidence="high",
        entropy=3.5,
        examples=("GITLAB_TOKEN=glpat-0FPEhszcc3xG8swySbNj",),
        counter_examples=("glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-short"),
    ),
    Rule(
        id="slack-token",
        description="Slack bot, user or app token",
        keywords=("xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"),
        pattern=_re(r"\b(?P<secret>xox[bpares]-[0-9]{9,13}-[0-9A-Za-z-]{10,80})(?![0-9A-Za-z-])"),
        severity="high",
        confidence="high",
        entropy=3.5,
        examples=("slack_token: xoxb-01279269915-8095515172375-Kw7xWZBxVOQcVj7TQ4Pudc9o",),
        counter_examples=(
            "xoxb-your-token-here",
            "xoxb-000000000000-000000000000-xxxxxxxxxxxxxxxxxxxxxxxx",
        ),
    ),
    Rule(
        id="slack-webhook",
        description="Slack incoming webhook URL",
        keywords=("hooks.slack.com",),
        pattern=_re(
            r"(?P<secret>https://hooks\.slack\.com/services/T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}"
            r"/[A-Za-z0-9]{24})"
        ),
        severity="high",
        confidence="high",
        entropy=3.5,
        examples=(
            "url = 'https://hooks.slack.com/services/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'",
        ),
        counter_examples=(
            "https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/...",
        ),
    ),
    Rule(
        id="stripe-live-key",
        description="Stripe live secret or restricted key",
        keywords=("sk_live_", "rk_live_"),
        pattern=_re(r"\b(?P<secret>[rs]k_live_[0-9A-Za-z]{24,99})\b"),
        severity="critical",
        confidence="high",
        entropy=3.5,
        examples=('stripe.api_key = "sk_live_nIHTLlYjG0cfJYQWtnjOzq84"',),
        counter_examples=("sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "pk_live_nIHTLlYjG0cfJYQWtnjOzq84"),
    ),
    Rule(
        id="stripe-test-key",
        description="Stripe test-mode secret key (sandbox; still a credential)",
        keywords=("sk_test_", "rk_test_"),
        pattern=_re(r"\b(?P<secret>[rs]k_test_[0-9A-Za-z]{24,99})\b"),
        severity="medium",
        confidence="high",
        entropy=3.5,
        examples=("STRIPE_KEY=sk_test_Zm9hacCT1nuubaVbViKtOtac",),
        counter_examples=("sk_test_...", "sk_test_XXXXXXXXXXXXXXXXXXXXXXXX"),
    ),
    Rule(
        id="twilio-api-key",
        description="Twilio API key SID",
        keywords=(r"SK[0-9a-f]{32}",),
        keywords_are_regex=True,
        pattern=_re(r"\b(?P<secret>SK[0-9a-f]{32})\b"),
        severity="high",
        confidence="medium",
        entropy=3.2,
        examples=("TWILIO_API_KEY=SK6aa2d7036fd3d424bd18d6092fa571c9",),
        counter_examples=(
            "SK00000000000000000000000000000000",
            "DESK6aa2d7036fd3d424bd18d6092fa571c9",
        ),
    ),
    Rule(
        id="twilio-auth-token",
        description="Twilio auth token next to the word twilio",
        keywords=("twilio",),
        pattern=_re(
            r"(?i)twilio.{0,24}?(?:token|secret|auth).{0,8}?[=:]\s*[\"']?"
            r"(?P<secret>[a-f0-9]{32})\b"
        ),
        severity="critical",
        confidence="medium",
        entropy=3.2,
        examples=('TWILIO_AUTH_TOKEN = "6aa2d7036fd3d424bd18d6092fa571c9"',),
        counter_examples=('TWILIO_AUTH_TOKEN = "your_auth_token"',),
    ),
    Rule(
        id="sendgrid-api-key",
        description="SendGrid API key",
        keywords=("sg.",),
        pattern=_re(r"\b(?P<secret>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])"),
        severity="high",
        confidence="high",
        entropy=4.0,
        examples=(
            "SENDGRID_API_KEY=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",
        ),
        counter_examples=(
            "SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "msg.send()",
        ),
    ),
    Rule(
        id="mailgun-api-key",
        description="Mailgun API key",
        keywords=("key-",),
        pattern=_re(r"(?<![A-Za-z0-9-])(?P<secret>key-[0-9a-z]{32})\b"),
        severity="high",
        confidence="medium",
        entropy=3.5,
        examples=('MAILGUN_API_KEY = "key-z1cf43lmokvavh3utfy3wwpsxua7wali"',),
        counter_examples=("key-value-store", "primary-key-00000000000000000000000000000000"),
    ),
    Rule(
        id="openai-api-key",
        description="OpenAI API key",
        keywords=("t3blbkfj",),
        pattern=_re(
            r"\b(?P<secret>sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,160}T3BlbkFJ"
            r"[A-Za-z0-9_-]{20,160})(?![A-Za-z0-9_-])"
        ),
        severity="critical",
        confidence="high",
        entropy=4.0,
        examples=("OPENAI_API_KEY=sk-proj-Zo5xMuTThZJjF84Ky9iiT3BlbkFJLixYmpxx_PEy4FWdSNp_",),
        counter_examples=("sk-proj-...", "sk-xxxxxxxxxxxxxxxxxxxxT3BlbkFJxxxxxxxxxxxxxxxxxxxx"),
    ),
    Rule(
        id="anthropic-api-key",
        description="Anthropic API key",
        keywords=("sk-ant-",),
        pattern=_re(
            r"\b(?P<secret>sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,100}AA)(?![A-Za-z0-9_-])"
        ),
        severity="critical",
        confidence="high",
        entropy=4.0,
        examples=(f'client = Anthropic(api_key="{_ANTHROPIC}")',),
        counter_examples=("sk-ant-api03-...", "ANTHROPIC_API_KEY=sk-ant-your-key"),
    ),
    Rule(
        id="npm-token",
        description="npm access token",
        keywords=("npm_",),
        pattern=_re(r"\b(?P<secret>npm_[A-Za-z0-9]{36})\b"),
        severity="high",
        confidence="high",
        entropy=4.0,
        examples=("//registry.npmjs.org/:_authToken=npm_rgO6AbmbhWAujGrod7u4wGyWHk2Nu6YWOOSt",),
        counter_examples=("npm_config_cache", "npm_" + "0" * 36),
    ),
    Rule(
        id="pypi-token",
        description="PyPI upload token",
        keywords=("pypi-ageichlwas5vcmc",),
        pattern=_re(r"\b(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})"),
        severity="high",
        confidence="high",
        entropy=4.0,
        examples=(
            "password = pypi-AgEIcHlwaS5vcmcCJGRjZmQ1NzYtYTZkNi00NWIwLWE4YzYtMDc5ZWY3OWNjYzE2Zk3",
        ),
        counter_examples=("pypi-AgEIcHlwaS5vcmc...",),
    ),
    Rule(
        id="google-oauth-client-secret",
        description="Google OAuth client secret",
        keywords=("gocspx-",),
        pattern=_re(r"\b(?P<secret>GOCSPX-[A-Za-z0-9_-]{28})(?![A-Za-z0-9_-])"),
        severity="high",
        confidence="high",
        entropy=3.5,
        examples=('"client_secret": "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"',),
        counter_examples=("GOCSPX-<secret>", "GOCSPX-xxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ),
    Rule(
        id="huggingface-token",
        description="Hugging Face access token",
        keywords=("hf_",),
        pattern=_re(r"\b(?P<secret>hf_[A-Za-z]{34})\b"),
        severity="high",
        confidence="medium",
        entropy=3.8,
        examples=("HF_TOKEN=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",),
        counter_examples=("hf_hub_download_model_from_repository", "hf_" + "x" * 34),
    ),
    Rule(
        id="shopify-token",
        description="Shopify access token",
        keywords=("shpat_", "shpca_", "shppa_", "shpss_"),
        pattern=_re(r"\b(?P<secret>shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b"),
        severity="high",
        confidence="high",
        entropy=3.2,
        examples=("token=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",),
        counter_examples=("shpat_" + "0" * 32,),
    ),
    Rule(
        id="cli-basic-auth",
        description="Password given to curl/wget/httpie on the command line",
        keywords=("curl", "wget", "http "),
        pattern=_re(
            r"\b(?:curl|wget|http)\b[^\n]*?\s(?:-u|--user|--http-user|-a|--auth)[ =]+[\"']?"
            r"[^:\s\"'$]{1,64}:(?P<secret>[^\s\"'@$]{6,128})"
        ),
        severity="high",
        confidence="medium",
        entropy=2.8,
        examples=("curl -u deploy:Rk8#vT2qLw9z https://registry.internal/v2/",),
        counter_examples=(
            'curl -u "$USER:$PASSWORD" https://registry.internal/v2/',
            "curl -u admin:changeme http://localhost:8080",
            "curl -H 'Accept: json' https://x.io",
        ),
    ),
    Rule(
        id="private-key",
        description="Private key (PEM)",
        keywords=("-----begin",),
        pattern=_re(
            r"-----BEGIN[ A-Z0-9]{0,20}PRIVATE KEY(?: BLOCK)?-----(?:\s|\\n|\\r)*"
            r"(?:[A-Za-z-]+:[^\n]*\n)*(?:\s|\\n)*"
            r"(?P<secret>(?:[A-Za-z0-9+/=]|\\n|\\r|\s){64,}?)(?:\s|\\n)*-----END"
        ),
        severity="critical",
        confidence="high",
        entropy=4.0,
        min_length=64,
        window=16384,
        examples=(
            f"-----BEGIN RSA PRIVATE KEY-----\n{_PEM_BODY}\n{_PEM_BODY[::-1]}\n"
            "-----END RSA PRIVATE KEY-----",
            f'"private_key": "-----BEGIN PRIVATE KEY-----\\n{_PEM_BODY}\\n'
            '-----END PRIVATE KEY-----\\n"',
        ),
        counter_examples=(
            "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
            f"-----BEGIN PUBLIC KEY-----\n{_PEM_BODY}\n-----END PUBLIC KEY-----",
            'if line.startswith("-----BEGIN PRIVATE KEY-----"):',
        ),
    ),
    Rule(
        id="jwt",
        description="JSON Web Token",
        keywords=("eyj",),
        pattern=_re(
            r"\b(?P<secret>eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,})"
            r"(?![A-Za-z0-9_-])"
        ),
        severity="medium",
        confidence="high",
        entropy=3.5,
        validator=_jwt_header_valid,
        examples=(f"Authorization: Bearer {_JWT}",),
        counter_examples=(
            "eyJhbGciOi.eyJzdWIiOi",
            "eyJub3RhIjoiand0In0.eyJzdWIiOiAidS00ODIx.abcdefghijklmnopqrst",
        ),
    ),
    Rule(
        id="url-with-password",
        description="Connection string or URL with an embedded password",
        keywords=("://",),
        pattern=_re(
            r"(?i)\b(?:postgres(?:ql)?(?:\+\w+)?|mysql(?:\+\w+)?|mariadb|mongodb(?:\+srv)?|redis|"
            r"rediss|amqps?|mssql(?:\+\w+)?|sqlserver|oracle(?:\+\w+)?|ftps?|sftp|smtps?|ldaps?|"
            r"https?)://[^:/\s\"'@]{1,64}:(?P<secret>[^@/\s\"'<>{}$]{4,128})@[A-Za-z0-9.\-_\[\]]+"
        ),
        severity="high",
        confidence="medium",
        entropy=2.5,
        min_length=4,
        examples=(
            'DATABASE_URL = "postgresql://app:Tr0ub4dor-9x@db.internal:5432/orders"',
            "mongodb+srv://svc:qK7vW2pLm9@cluster0.mongodb.net/prod",
        ),
        counter_examples=(
            "postgresql://user:password@localhost/db",
            "postgresql://app:${DB_PASSWORD}@db/orders",
            "https://user:<password>@example.com/",
            "postgresql://app@db.internal/orders",
            "redis://:changeme@localhost:6379",
            "mssql+pyodbc://scott:tiger^5HHH@mssql2017:1433/test",
        ),
    ),
    Rule(
        id="generic-password",
        description="Password, secret or API key assigned a literal value",
        keywords=(
            "password",
            "passwd",
            "passphrase",
            "pwd",
            "secret",
            "api_key",
            "apikey",
            "api-key",
            "token",
            "private_key",
            "credential",
        ),
        pattern=_re(
            r"(?i)(?<![A-Za-z0-9])(?P<key>[\"']?" + _GENERIC_KEYS + r"[\"']?)\s*(?:=|:=|:|=>|==)\s*"
            r"(?:[rbuf]|[A-Za-z_]+\()?(?P<q>[\"'`])(?P<secret>[^\"'`\s]{8,200})(?P=q)"
            r"|^\s*(?:export\s+)?(?P<envkey>(?-i:[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|API_KEY|APIKEY|"
            r"TOKEN|CREDENTIALS?)[A-Z0-9_]*))\s*=\s*(?P<env>[A-Za-z0-9+/=_.:@%!*&^~-]{8,200})\s*$",
            re.MULTILINE,
        ),
        severity="high",
        confidence="medium",
        entropy=3.0,
        generic=True,
        examples=(
            'db_password = "Vq8#mZ2!rT5wLp"',
            "SECRET_KEY: 'x7Gk29fQpLm3Zr8Tn1Wv'",
            "export API_TOKEN=q9XvB27mLpR4sTzW",
            "const apiKey = 'e3b7Qz9LmWp21xKv';",
        ),
        counter_examples=(
            'password = "password123"',
            "password = os.environ['DB_PASSWORD']",
            'password = "${DB_PASSWORD}"',
            'PASSWORD_FIELD = "password_hash"',
            'api_key = "your-api-key-here"',
            'secret = "changeme"',
            "password = get_password()",
            'token_url = "https://oauth2.example.org/token"',
            'password_reset_template = "emails/reset_2fa.html"',
            'secret_name = "orders/stripe-9x"',
            'bad_token = "ghp_ikWMgISuSw8P1FGNmtjwHsGQeZ52G6AAAAAA"',
            "password = f'{prefix}-{tenant.slug}'",
        ),
    ),
)
