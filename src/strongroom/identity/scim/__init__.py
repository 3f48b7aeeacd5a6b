"""SCIM 2.0 (RFC 7643 resources, RFC 7644 protocol): provisioning of users and groups."""

from strongroom.identity.scim.service import Scim

__all__ = ["Scim"]
