"""Governance: app manifests, pre-flight scans, the Rego policy gate, reviews and signing."""
