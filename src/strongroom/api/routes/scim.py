"""SCIM 2.0 (RFC 7644) at ``/scim/v2``: users, groups and discovery, for provisioning.

Every call needs an access token with the ``scim:provision`` scope. Errors here are SCIM
error messages (``application/scim+json`` with ``scimType``), not problem documents.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Security
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from strongroom.api.deps import NodeDep, call_of, require
from strongroom.errors import ScimError, StrongroomError
from strongroom.identity.principal import Principal
from strongroom.identity.scim import schemas
from strongroom.identity.scim.service import Page
from strongroom.identity.scopes import SCIM_PROVISION


def scim_response(body: Any, status: int = 200, location: str | None = None) -> Response:
    headers = {"Location": location} if location else None
    return Response(
        json.dumps(body), status_code=status, media_type=schemas.MEDIA_TYPE, headers=headers
    )


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
    return scim_response(
        schemas.service_provider_config(node.identity.scim.base_url, node.identity.scim.max_page)
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


@router.get("/Users/{user_id}", name="scim.users.read")
def get_user(
    user_id: str,
    request: Request,
    node: NodeDep,
    p: Provisioner,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    doc = node.identity.scim.get_user(call_of(request, p), user_id)
    return scim_response(select(doc, attributes, excluded))


@router.put("/Users/{user_id}", name="scim.users.replace")
async def replace_user(user_id: str, request: Request, node: NodeDep, p: Provisioner) -> Response:
    body = await _body(request)
    return scim_response(
        await _run(node.identity.scim.replace_user, call_of(request, p), user_id, body)
    )


@router.patch("/Users/{user_id}", name="scim.users.patch")
async def patch_user(user_id: str, request: Request, node: NodeDep, p: Provisioner) -> Response:
    body = await _body(request)
    return scim_response(
        await _run(node.identity.scim.patch_user, call_of(request, p), user_id, body)
    )


@router.delete("/Users/{user_id}", name="scim.users.delete")
def delete_user(user_id: str, request: Request, node: NodeDep, p: Provisioner) -> Response:
    node.identity.scim.delete_user(call_of(request, p), user_id)
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


@router.get("/Groups/{group_id}", name="scim.groups.read")
def get_group(
    group_id: str,
    request: Request,
    node: NodeDep,
    p: Provisioner,
    attributes: Attributes = None,
    excluded: Excluded = None,
) -> Response:
    doc = node.identity.scim.get_group(call_of(request, p), group_id)
    return scim_response(select(doc, attributes, excluded))


@router.put("/Groups/{group_id}", name="scim.groups.replace")
async def replace_group(group_id: str, request: Request, node: NodeDep, p: Provisioner) -> Response:
    body = await _body(request)
    return scim_response(
        await _run(node.identity.scim.replace_group, call_of(request, p), group_id, body)
    )


@router.patch("/Groups/{group_id}", name="scim.groups.patch")
async def patch_group(group_id: str, request: Request, node: NodeDep, p: Provisioner) -> Response:
    body = await _body(request)
    return scim_response(
        await _run(node.identity.scim.patch_group, call_of(request, p), group_id, body)
    )


@router.delete("/Groups/{group_id}", name="scim.groups.delete")
def delete_group(group_id: str, request: Request, node: NodeDep, p: Provisioner) -> Response:
    node.identity.scim.delete_group(call_of(request, p), group_id)
    return Response(status_code=204)


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


_ENDPOINTS = frozenset({"ServiceProviderConfig", "ResourceTypes", "Schemas", "Users", "Groups"})


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


async def _run(fn: Callable[..., Any], *args: Any) -> Any:
    return await run_in_threadpool(fn, *args)
