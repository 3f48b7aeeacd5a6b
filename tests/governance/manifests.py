"""Manifest texts shared by the governance tests (imported as ``manifests``)."""

from __future__ import annotations

GOOD = """\
apiVersion: strongroom/v1
name: crm-helper
owner: alice@example.com
description: Looks up customers for the sales team.
environment: production
region: eu
sso:
  enabled: true
scopes:
  - data:read:pii.email
  - secrets:read:crm-helper/hubspot
fields:
  - name: email
    resource: customers
    data_class: pii.email
    protection: encrypt-client
connectors:
  - name: hubspot
    secret: sr://secrets/crm-helper/hubspot
    domain: api.hubspot.com
egress:
  - api.hubspot.com
retention:
  pii.email: 365
"""

# The same app storing e-mail addresses in plain: the policy denies it at line 16.
PLAIN_EMAIL = GOOD.replace("protection: encrypt-client", "protection: none")
PLAIN_EMAIL_LINE = 16

PUBLIC = """\
apiVersion: strongroom/v1
name: lunch-menu
owner: bob@example.com
environment: preview
region: eu
scopes:
  - mock:read:menu
fields:
  - name: dish
    data_class: public.menu
    protection: none
"""
