"""What scanners may be told beyond the bounds: where advisories live, what is banned."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: The advisory store's file name under the data directory.
ADVISORY_DB_NAME = "advisories.sqlite"

#: Hosts of payment, CRM and other sensitive back ends an app must reach through
#: Strongroom's gateway (which injects the credential) rather than directly.
DEFAULT_SENSITIVE_HOSTS: tuple[str, ...] = (
    "api.stripe.com",
    "api.braintreegateway.com",
    "api.paypal.com",
    "api-m.paypal.com",
    "connect.squareup.com",
    "checkout-test.adyen.com",
    "checkout-live.adyen.com",
    "api.checkout.com",
    "my.salesforce.com",
    "api.hubapi.com",
    "api.hubspot.com",
    "api.pipedrive.com",
    "zendesk.com",
    "api.intercom.io",
    "graph.microsoft.com",
    "api.twilio.com",
    "api.sendgrid.com",
    "api.mailgun.net",
)

#: Packages nobody may depend on: (ecosystem, normalised name) -> why. Known malicious
#: typosquats and hijacked packages; organisations add their own.
DEFAULT_BANNED: dict[tuple[str, str], str] = {
    ("PyPI", "jeilyfish"): "malicious typosquat of jellyfish (stole SSH and GPG keys)",
    ("PyPI", "python3-dateutil"): "malicious typosquat of python-dateutil",
    ("PyPI", "colourama"): "malicious typosquat of colorama (clipboard hijacker)",
    ("PyPI", "ctx"): "hijacked in 2022 to exfiltrate environment variables",
    ("npm", "flatmap-stream"): "malicious dependency injected into event-stream",
    ("npm", "crossenv"): "malicious typosquat of cross-env (stole environment variables)",
    ("npm", "eslint-scope"): "hijacked release 3.7.2 stole npm tokens; pin a clean version",
}


def default_data_dir() -> Path:
    """``STRONGROOM_DATA_DIR`` or ``.strongroom``, as the server uses."""
    return Path(os.environ.get("STRONGROOM_DATA_DIR", ".strongroom"))


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """Settings of the scanners that need more than the files.

    - ``advisory_db``: the local OSV store written by ``strongroom advisories import``
      (default: ``<data dir>/advisories.sqlite``). Missing, the dependency scan still checks
      the banned list and reports the missing store in ``ScanReport.errors``.
    - ``banned``: banned packages, ``(ecosystem, normalised name) -> reason``.
    - ``sensitive_hosts``: hosts whose direct use from app code is a finding.
    """

    advisory_db: Path | None = None
    banned: dict[tuple[str, str], str] = field(default_factory=lambda: dict(DEFAULT_BANNED))
    sensitive_hosts: tuple[str, ...] = DEFAULT_SENSITIVE_HOSTS

    def advisory_path(self) -> Path:
        """The advisory store to read."""
        return self.advisory_db or default_data_dir() / ADVISORY_DB_NAME
