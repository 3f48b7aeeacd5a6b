"""Managed secrets: per-app, versioned, referenced by ID, injected at run time, never shown.

The public surface: `SecretsService` (audited operations), the `SecretBackend` interface
and its registry (``builtin``, ``openbao``), references (`parse_ref`) and the models.
"""

from strongroom.secrets.backend import REGISTRY, Collaborators, SecretBackend, create
from strongroom.secrets.generators import Policy
from strongroom.secrets.model import MetaInput, SecretMeta, SecretValue, VersionInfo
from strongroom.secrets.names import SecretRef, may_read, parse_ref
from strongroom.secrets.service import SecretsService

__all__ = [
    "REGISTRY",
    "Collaborators",
    "MetaInput",
    "Policy",
    "SecretBackend",
    "SecretMeta",
    "SecretRef",
    "SecretValue",
    "SecretsService",
    "VersionInfo",
    "create",
    "may_read",
    "parse_ref",
]
