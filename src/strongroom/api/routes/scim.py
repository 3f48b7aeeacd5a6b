"""SCIM 2.0 (RFC 7644) at ``/scim/v2``: users, groups and discovery, for provisioning.

Every call needs an access token with the ``scim:provision`` scope. Errors here are SCIM
error messages (``application/scim+json`` with ``scimType``), not problem documents.
Resources carry ``meta.version`` and the same value as ``ETag``; ``If-Match`` is honoured
on PUT, PATCH and DELETE (412 on a mismatch) and ``If-None-Match`` on GET (304). Queries
may also be POSTed to ``/Users/.search`` and ``/Groups/.search``; ``/Bulk`` takes bulk
requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Security
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from strongroom.api.deps import NodeDep, call_of, require
from strongroom.errors import (
    ScimError,
    ScimInvalidFilterError,
    ScimInvalidSyntaxError,
    StrongroomError,
)
from strongroom.identity.principal import Principal
from strongroom.identity.scim import etags, schemas
from strongroom.identity.scim.service import Page
from strongroom.identity.scopes import SCIM_PROVISION


def scim_response(body: Any, status: int = 200, location: str | None = None) -> Response:
    headers = {"Location": location} if location else {}
    meta = body.get("meta") if isinstance(body, dict) else None
    if isinstance(meta, dict) and isinstance(meta.get("version"), str):
        headers["ETag"] = meta["version"]  # RFC 7644 §3.14: the resource's meta.version
    return Response(
        json.dumps(body), status_code=status, media_type=schemas.MEDIA_TYPE, headers=headers
    )


def _fresh(doc: dict[str, Any], if_none_match: str | None) -> bool:
    """True when ``If-None-Match`` names the resource's current version (answer 304)."""
    version = doc["meta"]["version"]
    return if_none_match is not None and etags.matches(if_none_match, _number(version))


def _number(version: str) -> int:
    return int(version.removeprefix('W/"').removesuffix('"'))


def _not_modified(doc: dict[str, Any]) -> Response:
    return Response(status_code=304, headers={"ETag": doc["meta"]["version"]})


def scim_error(status: int, detail: str, scim_type: str | None) -> Response:
    body: dict[str, Any] = {"schemas": [schemas.ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return scim_response(body, status)


class ScimRoute(APIRoute):
    """Turns Strongroom errors into SCIM error messages (RFC 7644 §3.12)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ScimError as exc:
                return scim_error(exc.status, exc.detail, exc.scim_type)
            except StrongroomError as exc:
                if exc.status >= 500:
                    raise
                response = scim_error(exc.status, exc.detail, None)
                if exc.status == 401:
                    response.headers["WWW-Authenticate"] = 'Bearer realm="strongroom"'
                return response
            except RequestValidationError:
                return scim_error(400, "the request is not valid SCIM", "invalidSyntax")

        return route


router = APIRouter(prefix="/scim/v2", tags=["scim"], route_class=ScimRoute)
Provisioner = Annotated[Principal, Security(require(SCIM_PROVISION))]


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise ScimError("the body is not valid JSON") from None


def _page(start_index: int, count: int | None, default: int) -> Page:
    return Page(start_index, default if count is None else count)


StartIndex = Annotated[int, Query(alias="startIndex")]
Count = Annotated[int | None, Query(alias="count")]
Filter = Annotated[str | None, Query(alias="filter", max_length=512)]


@router.get("/ServiceProviderConfig", name="scim.config")
def service_provider_config(node: NodeDep, _p: Provisioner) -> Response:
    bulk = node.identity.scim_bulk
    return scim_response(
        schemas.service_provider_config(
            node.identity.scim.base_url,
            node.identity.scim.max_page,
            bulk_operations=bulk.max_operations,
            bulk_payload=bulk.max_payload,
        )
    )


@router.get("/Schemas", name="scim.schemas")
def schema_list(node: NodeDep, _p: Provisioner) -> Response:
    docs = schemas.schema_documents(node.identity.scim.base_url)
    return scim_response(
        {
            "schemas": [schemas.LIST],
            "totalResults": len(docs),
            "startIndex": 1,
            "itemsPerPage": len(docs),
            "Resources": docs,
        }
    )


@router.get("/Schemas/{schema_id}", name="scim.schemas.read")
def schema_one(schema_id: str, node: NodeDep, _p: Provisioner) -> Response:
    for doc in schemas.schema_documents(node.identity.scim.base_url):
        if doc["id"] == schema_id:
            return scim_response(doc)
    return scim_error(404, "no such schema", None)


@router.get("/ResourceTypes", name="scim.resource_types")
def resource_type_list(node: NodeDep, _p: Provisioner) -> Response:
    docs = schemas.resource_types(node.identity.scim.base_url)
    return scim_response(
        {
            "schemas": [schemas.LIST],
            "totalResults": len(docs),
            "startIndex": 1,
            "itemsPerPage": len(docs),
            "Resources": docs,
        }
    )


@router.get("/ResourceTypes/{name}", name="scim.resource_types.read")
def resource_type_one(name: str, node: NodeDep, _p: Provisioner) -> Response:
    for doc in schemas.resource_types(node.identity.scim.base_url):
        if doc["id"] == name:
            return scim_response(doc)
    return scim_error(404, "no such resource type", None)


@router.post("/Users", name="scim.users.create")
async def create_user(request: Request, node: NodeDep, p: Provisioner) -> Response:
    body = await _body(request)
    doc = await _run(node.identity.scim.create_user, call_of(request, p), body)
    return scim_response(doc, 201, doc["meta"]["location"])


@router.get("/Users", name="scim.users.list")
def list_users(
    request: Request,
    node: NodeDep,
    p: Provisioner,
    filter_: Filter = None,
    start_index: StartIndex = 1,
    count: Count = None,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    page = _page(start_index, count, node.settings.default_page_size)
    found = node.identity.scim.list_users(call_of(request, p), filter_, page)
    return scim_response(select_list(found, attributes, excluded))


@router.post("/.search", name="scim.search")
def search_everything(_p: Provisioner) -> Response:
    """A search across resource types (RFC 7644 §3.4.3, optional): not implemented."""
    return scim_error(501, "search /Users/.search or /Groups/.search instead", None)


@router.post("/Users/.search", name="scim.users.search")
async def search_users(request: Request, node: NodeDep, p: Provisioner) -> Response:
    """RFC 7644 §3.4.3: a query in a SearchRequest body, answered like ``GET /Users``."""
    search = _search_request(await _body(request), node.settings.default_page_size)
    found = await _run(node.identity.scim.list_users, call_of(request, p), *search[:2])
    return scim_response(select_list(found, *search[2:]))


@router.get("/Users/{user_id}", name="scim.users.read")
def get_user(
    user_id: str,
    request: Request,
    node: NodeDep,
    p: Provisioner,
    attributes: Attributes = None,
    excluded: Excluded = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    doc = node.identity.scim.get_user(call_of(request, p), user_id)
    if _fresh(doc, if_none_match):
        return _not_modified(doc)
    return scim_response(select(doc, attributes, excluded))


@router.put("/Users/{user_id}", name="scim.users.replace")
async def replace_user(
    user_id: str, request: Request, node: NodeDep, p: Provisioner, if_match: IfMatch = None
) -> Response:
    body = await _body(request)
    return scim_response(
        await _run(node.identity.scim.replace_user, call_of(request, p), user_id, body, if_match)
    )


@router.patch("/Users/{user_id}", name="scim.users.patch")
async def patch_user(
    user_id: str, request: Request, node: NodeDep, p: Provisioner, if_match: IfMatch = None
) -> Response:
    body = await _body(request)
    return scim_response(
        await _run(node.identity.scim.patch_user, call_of(request, p), user_id, body, if_match)
    )


@router.delete("/Users/{user_id}", name="scim.users.delete")
def delete_user(
    user_id: str, request: Request, node: NodeDep, p: Provisioner, if_match: IfMatch = None
) -> Response:
    node.identity.scim.delete_user(call_of(request, p), user_id, if_match)
    return Response(status_code=204)


@router.post("/Groups", name="scim.groups.create")
async def create_group(request: Request, node: NodeDep, p: Provisioner) -> Response:
    body = await _body(request)
    doc = await _run(node.identity.scim.create_group, call_of(request, p), body)
    return scim_response(doc, 201, doc["meta"]["location"])


@router.get("/Groups", name="scim.groups.list")
def list_groups(
    request: Request,
    node: NodeDep,
    p: Provisioner,
    filter_: Filter = None,
    start_index: StartIndex = 1,
    count: Count = None,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    page = _page(start_index, count, node.settings.default_page_size)
    found = node.identity.scim.list_groups(call_of(request, p), filter_, page)
    return scim_response(select_list(found, attributes, excluded))


@router.post("/Groups/.search", name="scim.groups.search")
async def search_groups(request: Request, node: NodeDep, p: Provisioner) -> Response:
    """RFC 7644 §3.4.3: a query in a SearchRequest body, answered like ``GET /Groups``."""
    search = _search_request(await _body(request), node.settings.default_page_size)
    found = await _run(node.identity.scim.list_groups, call_of(request, p), *search[:2])
    return scim_response(select_list(found, *search[2:]))


@router.get("/Groups/{group_id}", name="scim.groups.read")
def get_group(
    group_id: str,
    request: Request,
    node: NodeDep,
    p: Provisioner,
    attributes: Attributes = None,
    excluded: Excluded = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    doc = node.identity.scim.get_group(call_of(request, p), group_id)
    if _fresh(doc, if_none_match):
        return _not_modified(doc)
    return scim_response(select(doc, attributes, excluded))


@router.put("/Groups/{group_id}", name="scim.groups.replace")
async def replace_group(
    group_id: str, request: Request, node: NodeDep, p: Provisioner, if_match: IfMatch = None
) -> Response:
    body = await _body(request)
    return scim_response(
        await _run(node.identity.scim.replace_group, call_of(request, p), group_id, body, if_match)
    )


@router.patch("/Groups/{group_id}", name="scim.groups.patch")
async def patch_group(
    group_id: str, request: Request, node: NodeDep, p: Provisioner, if_match: IfMatch = None
) -> Response:
    body = await _body(request)
    return scim_response(
        await _run(node.identity.scim.patch_group, call_of(request, p), group_id, body, if_match)
    )


@router.delete("/Groups/{group_id}", name="scim.groups.delete")
def delete_group(
    group_id: str, request: Request, node: NodeDep, p: Provisioner, if_match: IfMatch = None
) -> Response:
    node.identity.scim.delete_group(call_of(request, p), group_id, if_match)
    return Response(status_code=204)


@router.post("/Bulk", name="scim.bulk")
async def bulk(request: Request, node: NodeDep, p: Provisioner) -> Response:
    """RFC 7644 §3.7: many operations in one request, each applied on its own."""
    raw = await request.body()
    return scim_response(await _run(node.identity.scim_bulk.run, call_of(request, p), raw))


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    name="scim.unknown",
    include_in_schema=False,
)
def unknown(rest: str, _p: Provisioner) -> Response:
    """Anything else under /scim/v2: a SCIM 405 on known endpoints, else a SCIM 404."""
    if rest.split("/", 1)[0] in _ENDPOINTS and not rest.endswith(".search"):
        return scim_error(405, "this endpoint does not take that method", None)
    return scim_error(404, "no such SCIM endpoint", None)


_ENDPOINTS = frozenset(
    {"ServiceProviderConfig", "ResourceTypes", "Schemas", "Users", "Groups", "Bulk"}
)


def select(doc: dict[str, Any], attributes: str | None, excluded: str | None) -> dict[str, Any]:
    """RFC 7644 §3.9: keep only ``attributes``, or drop ``excludedAttributes`` (top level)."""

    def names(text: str | None) -> set[str]:
        return {
            n.strip().rsplit(":", 1)[-1].split(".")[0].lower()
            for n in (text or "").split(",")
            if n.strip()
        }

    keep, drop = names(attributes), names(excluded)
    always = {"id", "schemas", "meta"}
    if keep:
        return {k: v for k, v in doc.items() if k.lower() in keep | always}
    return {k: v for k, v in doc.items() if k.lower() in always or k.lower() not in drop}


def select_list(
    body: dict[str, Any], attributes: str | None, excluded: str | None
) -> dict[str, Any]:
    body["Resources"] = [select(r, attributes, excluded) for r in body["Resources"]]
    return body


Attributes = Annotated[str | None, Query(alias="attributes", max_length=1024)]
Excluded = Annotated[str | None, Query(alias="excludedAttributes", max_length=1024)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=1024)]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match", max_length=1024)]
_SEARCH_KEYS = frozenset(
    {"schemas", "attributes", "excludedattributes", "filter", "startindex", "count"}
)


def _names(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScimInvalidSyntaxError(f"{key} must be a list of attribute names")
    joined = ",".join(value)
    if len(joined) > 1024:
        raise ScimError(f"{key} is too long")
    return joined


def _search_request(
    body: Any, default_count: int
) -> tuple[str | None, Page, str | None, str | None]:
    """(filter, page, attributes, excludedAttributes) of a SearchRequest (RFC 7644 §3.4.3).

    Sorting is not supported (ServiceProviderConfig says so): ``sortBy`` is refused rather
    than ignored, as is any attribute a SearchRequest does not define.
    """
    if not isinstance(body, dict) or schemas.SEARCH_REQUEST not in (body.get("schemas") or []):
        raise ScimInvalidSyntaxError(f"the body must be a {schemas.SEARCH_REQUEST}")
    unknown = sorted(k for k in body if k.lower() not in _SEARCH_KEYS)
    if unknown:
        raise ScimError(f"this server does not support {unknown[0]!r} in a search")
    fields = {k.lower(): v for k, v in body.items()}
    filter_ = fields.get("filter")
    if filter_ is not None and (not isinstance(filter_, str) or len(filter_) > 512):
        raise ScimInvalidFilterError("filter must be a string of at most 512 characters")
    numbers = []
    for key, default in (("startindex", 1), ("count", default_count)):
        value = fields.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ScimInvalidSyntaxError(f"{key} must be an integer")
        numbers.append(value)
    names = {k.lower(): k for k in body}
    attributes = _names(body, names["attributes"]) if "attributes" in names else None
    excluded = _names(body, names["excludedattributes"]) if "excludedattributes" in names else None
    return filter_, Page(numbers[0], numbers[1]), attributes, excluded


async def _run(fn: Callable[..., Any], *args: Any) -> Any:
    return await run_in_threadpool(fn, *args)
