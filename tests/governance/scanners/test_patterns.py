"""The insecure-pattern rules, their examples, and the configurable back-end hosts."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.governance.scanners import ScanOptions, scan_path
from strongroom.governance.scanners.patterns import PatternsScanner

SCANNER = PatternsScanner()
EXAMPLES = [(r.id, text) for r in SCANNER.rules for text in r.examples]
COUNTER = [(r.id, text) for r in SCANNER.rules for text in r.counter_examples]


def ids(text: str, name: str) -> list[str]:
    return [f.rule_id for f in SCANNER.scan_text(text, name)]


@pytest.mark.parametrize(("rule_id", "text"), EXAMPLES)
def test_rule_finds_its_examples(rule_id: str, text: str) -> None:
    hits = ids(text, "app.py") + ids(text, "app.js") + ids(text, ".env")
    assert rule_id in hits


@pytest.mark.parametrize(("rule_id", "text"), COUNTER)
def test_rule_ignores_its_counter_examples(rule_id: str, text: str) -> None:
    assert rule_id not in ids(text, "app.py") + ids(text, "app.js")


def test_rules_apply_only_to_their_file_kinds() -> None:
    assert ids('localStorage.setItem("token", t)', "app.js") == ["token-in-web-storage"]
    assert ids('localStorage.setItem("token", t)', "notes.md") == []
    assert ids("requests.get(u, verify=False)", "README.md") == []


def test_sensitive_hosts_are_configurable(tmp_path: Path) -> None:
    (tmp_path / "crm.py").write_text(
        "import httpx\n\nhttpx.post('https://crm.internal.corp/api/leads', json=lead)\n"
        "httpx.get('https://api.hubapi.com/crm/v3/objects')\n"
    )
    default = scan_path(tmp_path, scanners=["patterns"])
    assert [(f.rule_id, f.line) for f in default.findings] == [("direct-sensitive-backend", 4)]
    custom = ScanOptions(sensitive_hosts=("crm.internal.corp",))
    report = scan_path(tmp_path, scanners=["patterns"], options=custom)
    assert [(f.rule_id, f.line, f.column) for f in report.findings] == [
        ("direct-sensitive-backend", 3, 13)
    ]


def test_a_realistic_app(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.js").write_text(
        "const API = 'http://orders.partner.io/v2';\n"
        "localStorage.setItem('authToken', resp.token);\n"
        "fetch('http://localhost:3000/health');\n"
    )
    (tmp_path / "server.py").write_text(
        "from fastapi.middleware.cors import CORSMiddleware\n"
        'app.add_middleware(CORSMiddleware, allow_origins=["*"])\n'
        "logger.info('body=%s', await request.json())\n"
        "eng = create_engine('mysql://root:pw@10.0.0.5/crm')\n"
    )
    report = scan_path(tmp_path, scanners=["patterns"])
    assert [(f.file, f.line, f.rule_id) for f in report.findings] == [
        ("server.py", 2, "cors-wildcard"),
        ("server.py", 3, "request-body-logged"),
        ("server.py", 4, "direct-database-connection"),
        ("static/app.js", 1, "plain-http-endpoint"),
        ("static/app.js", 2, "token-in-web-storage"),
    ]
    assert {f.rule_id for f in report.blocking} == {
        "cors-wildcard",
        "direct-database-connection",
        "token-in-web-storage",
    }
