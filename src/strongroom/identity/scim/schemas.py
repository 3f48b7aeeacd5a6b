"""The SCIM schemas, resource types and service provider configuration Strongroom serves.

Strongroom publishes a deliberately small User schema (the attributes it uses) and the
core Group schema; attributes outside them are ignored on write.
"""

from __future__ import annotations

from typing import Any

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
MEDIA_TYPE = "application/scim+json"


def _attr(
    name: str,
    kind: str = "string",
    *,
    multi: bool = False,
    required: bool = False,
    mutability: str = "readWrite",
    returned: str = "default",
    uniqueness: str = "none",
    sub: list[dict[str, Any]] | None = None,
    case_exact: bool = False,
) -> dict[str, Any]:
    attr: dict[str, Any] = {
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": name,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    }
    if sub is not None:
        attr["subAttributes"] = sub
    if kind == "reference":
        attr["referenceTypes"] = ["User", "Group"]
    return attr


def _ref_sub(mutability: str = "readWrite") -> list[dict[str, Any]]:
    return [
        _attr("value", mutability=mutability),
        _attr("$ref", "reference", mutability=mutability),
        _attr("display", mutability="readOnly"),
    ]


USER_ATTRIBUTES = [
    _attr("userName", required=True, uniqueness="server"),
    _attr(
        "name",
        "complex",
        sub=[_attr("formatted"), _attr("familyName"), _attr("givenName")],
    ),
    _attr("displayName"),
    _attr(
        "emails",
        "complex",
        multi=True,
        sub=[_attr("value"), _attr("type"), _attr("primary", "boolean")],
    ),
    _attr("active", "boolean"),
    _attr("groups", "complex", multi=True, mutability="readOnly", sub=_ref_sub("readOnly")),
]
GROUP_ATTRIBUTES = [
    _attr("displayName", required=True, uniqueness="server"),
    _attr("members", "complex", multi=True, sub=_ref_sub("immutable")),
]


def schema_documents(base: str) -> list[dict[str, Any]]:
    """The ``/Schemas`` resources."""
    return [
        {
            "schemas": [SCHEMA],
            "id": uri,
            "name": name,
            "description": f"{name} account" if name == "User" else "Group",
            "attributes": attrs,
            "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{uri}"},
        }
        for uri, name, attrs in (
            (USER, "User", USER_ATTRIBUTES),
            (GROUP, "Group", GROUP_ATTRIBUTES),
        )
    ]


def resource_types(base: str) -> list[dict[str, Any]]:
    """The ``/ResourceTypes`` resources."""
    return [
        {
            "schemas": [RESOURCE_TYPE],
            "id": name,
            "name": name,
            "endpoint": endpoint,
            "description": name,
            "schema": uri,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{name}"},
        }
        for name, endpoint, uri in (("User", "/Users", USER), ("Group", "/Groups", GROUP))
    ]


def service_provider_config(
    base: str, max_results: int, *, bulk_operations: int, bulk_payload: int
) -> dict[str, Any]:
    """The ``/ServiceProviderConfig`` resource (what the endpoints really support)."""
    return {
        "schemas": [SPC],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": True},
        "bulk": {
            "supported": True,
            "maxOperations": bulk_operations,
            "maxPayloadSize": bulk_payload,
        },
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A Strongroom access token with the scim:provision scope.",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }
