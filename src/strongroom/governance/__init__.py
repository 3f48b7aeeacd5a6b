"""Governance: what an app must pass before it gets a token.

`strongroom.governance.scanners` holds the pre-flight scans (secrets, dependencies,
insecure patterns). The manifest, the Rego policy gate, signing and approvals live beside
it in their own modules.
"""
