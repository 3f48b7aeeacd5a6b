"""Managed secrets: ``/v1/apps/{app}/secrets/...`` and ``/v1/secrets/due``.

Write-only for people: values go in, metadata comes out. A value is returned only to an
access token holding ``secrets:read:<app>/<name>`` (or ``secrets:read:<app>/*``); the
root token is refused, since it is a person's credential (it can mint a runtime token).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from strongroom.api.deps import (
    BearerDep,
    NodeDep,
    authorise,
    authorise_async,
    call_of,
    get_node,
)
from strongroom.api.models import Input
from strongroom.clock import parse_rfc3339, rfc3339
from strongroom.errors import InvalidRequestError
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import (
    SECRETS_ADMIN,
    SECRETS_DUE,
    SECRETS_LIST,
    SECRETS_READ,
    SECRETS_WRITE,
)
from strongroom.secrets import MetaInput, Policy, SecretMeta, may_read

router = APIRouter(tags=["secrets"])
PREFIX = "/v1/apps/{app}/secrets"


# -- the hot path ---------------------------------------------------------------------------


class ValueOut(BaseModel):
    id: str
    version: int
    value: str


MAX_VERSION = 2**31
_READ_PARAMETERS = [
    {"name": "app", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    {
        "name": "version",
        "in": "query",
        "required": False,
        "description": "A version to read instead of the current one.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_VERSION},
    },
]


def _version(request: Request) -> int | None:
    """The ``version`` query parameter, checked as a declared one would be (422)."""
    if not request.scope.get("query_string"):
        return None  # the usual read: nothing to parse
    given = request.query_params.get("version")
    if given is None:
        return None
    if not (0 < len(given) <= 10 and given.isascii() and given.isdigit()) or not (
        1 <= int(given) <= MAX_VERSION
    ):
        raise RequestValidationError(
            [{"loc": ("query", "version"), "msg": f"an integer from 1 to {MAX_VERSION}"}]
        )
    return int(given)


@router.get(
    PREFIX + "/{name}/value",
    name="secrets.read",
    response_model=ValueOut,
    openapi_extra={"parameters": _READ_PARAMETERS, "security": [{"HTTPBearer": []}]},
)
async def read_value(request: Request) -> Response:
    """The value, for runtime identities holding ``secrets:read:<app>/<name>``. Audited."""
    # The hot path of every app, so lean end to end: declared first (requests are matched
    # against routes in order), it takes only the request (FastAPI then resolves no
    # parameters or dependencies per call; the OpenAPI document lists them from
    # ``openapi_extra``), authenticates on the event loop (`authorise_async`), and reads on
    # the audit writer in the transaction that records the event (`read_async`).
    app: str = request.path_params["app"]
    name: str = request.path_params["name"]
    version = _version(request)
    node = get_node(request)

    def allowed(p: Principal) -> bool:
        return p.kind == "access" and may_read(p.scopes, app, name)

    principal = await authorise_async(request, node, allowed, f"{SECRETS_READ}{app}/{name}")
    found = await node.secrets.read_async(call_of(request, principal), app, name, version)
    body = ValueOut(id=f"{app}/{name}", version=found.version, value=found.value.decode())
    return Response(
        body.model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


# -- authorisation -------------------------------------------------------------------------


def _lister(request: Request, node: NodeDep, _declared: BearerDep, app: str) -> Principal:
    # Listing is open to readers of any one secret: they see only what they may read.
    def allowed(p: Principal) -> bool:
        return (
            any(p.has_scope(s + app) for s in (SECRETS_LIST, SECRETS_WRITE, SECRETS_ADMIN))
            or p.kind == "root"
            or any(s.startswith(f"{SECRETS_READ}{app}/") for s in p.scopes)
        )

    return authorise(request, node, allowed, f"{SECRETS_LIST}{app}")


def _meta_reader(request: Request, node: NodeDep, _declared: BearerDep, app: str) -> Principal:
    def allowed(p: Principal) -> bool:
        return any(p.has_scope(s + app) for s in (SECRETS_LIST, SECRETS_WRITE, SECRETS_ADMIN))

    return authorise(request, node, allowed, f"{SECRETS_LIST}{app}")


def _writer(request: Request, node: NodeDep, _declared: BearerDep, app: str) -> Principal:
    scope = SECRETS_WRITE + app
    return authorise(request, node, lambda p: p.has_scope(scope), scope)


def _admin(request: Request, node: NodeDep, _declared: BearerDep, app: str) -> Principal:
    scope = SECRETS_ADMIN + app
    return authorise(request, node, lambda p: p.has_scope(scope), scope)


Lister = Annotated[Principal, Depends(_lister)]
MetaReader = Annotated[Principal, Depends(_meta_reader)]
Writer = Annotated[Principal, Depends(_writer)]
Admin = Annotated[Principal, Depends(_admin)]


# -- models --------------------------------------------------------------------------------


class MetaIn(Input):
    owner: str | None = Field(None, max_length=256)
    description: str | None = Field(None, max_length=512)
    tags: dict[str, str] | None = None
    data_class: str | None = Field(None, max_length=32)
    rotation_period_s: int | None = Field(None, ge=0, le=2**40)
    expires: str | None = Field(None, max_length=64, description="RFC 3339.")
    clear: list[Literal["rotation_period_s", "expires"]] = Field(default_factory=list)

    def to_meta(self) -> MetaInput:
        expires_us = None
        if self.expires is not None:
            try:
                expires_us = parse_rfc3339(self.expires)
            except ValueError:
                raise InvalidRequestError("expires must be an RFC 3339 timestamp") from None
        cleared = {
            "rotation_period_s" if c == "rotation_period_s" else "expires_us" for c in self.clear
        }
        return MetaInput(
            owner=self.owner,
            description=self.description,
            tags=self.tags,
            data_class=self.data_class,
            rotation_period_s=self.rotation_period_s,
            expires_us=expires_us,
            clear=frozenset(cleared),
        )


class PutIn(MetaIn):
    value: str = Field(min_length=1, description="UTF-8 text; never echoed back.")
    cas: int | None = Field(None, ge=0, le=2**31, description="0: only if it does not exist.")


class GenerateIn(Input):
    kind: Literal["password", "key"]
    length: int = Field(32, ge=1, le=4096)
    symbols: bool = True


class RotateIn(Input):
    value: str | None = Field(None, min_length=1)
    generate: GenerateIn | None = None
    cas: int | None = Field(None, ge=0, le=2**31)


class DestroyIn(Input):
    version: int = Field(ge=1, le=2**31)


class VersionOut(BaseModel):
    version: int
    created: str
    destroyed: bool


class SecretOut(BaseModel):
    id: str
    ref: str
    app: str
    name: str
    owner: str
    description: str
    tags: dict[str, str]
    data_class: str
    rotation_period_s: int | None
    expires: str | None
    due: str | None
    current_version: int
    created: str
    updated: str
    rotated: str
    deleted: bool
    disabled: bool
    versions: list[VersionOut]


class SecretsOut(BaseModel):
    secrets: list[SecretOut]


class DisabledOut(BaseModel):
    app: str
    disabled: int


def secret_out(meta: SecretMeta) -> SecretOut:
    due = meta.due_us()
    return SecretOut(
        id=meta.id,
        ref=f"sr://secrets/{meta.id}",
        app=meta.app,
        name=meta.name,
        owner=meta.owner,
        description=meta.description,
        tags=meta.tags,
        data_class=meta.data_class,
        rotation_period_s=meta.rotation_period_s,
        expires=None if meta.expires_us is None else rfc3339(meta.expires_us),
        due=None if due is None else rfc3339(due),
        current_version=meta.current_version,
        created=rfc3339(meta.created_us),
        updated=rfc3339(meta.updated_us),
        rotated=rfc3339(meta.rotated_us),
        deleted=meta.deleted,
        disabled=meta.disabled,
        versions=[
            VersionOut(version=v.version, created=rfc3339(v.created_us), destroyed=v.destroyed)
            for v in meta.versions
        ],
    )


# -- routes --------------------------------------------------------------------------------


@router.get(PREFIX, name="secrets.list")
def list_secrets(
    app: str,
    request: Request,
    node: NodeDep,
    principal: Lister,
    include_deleted: bool = False,
) -> SecretsOut:
    """Names and metadata of the app's secrets the caller may see; never values."""
    sees_all = any(
        principal.has_scope(s + app) for s in (SECRETS_LIST, SECRETS_WRITE, SECRETS_ADMIN)
    )
    found = node.secrets.listing(
        call_of(request, principal),
        app,
        visible=None if sees_all else (lambda name: may_read(principal.scopes, app, name)),
        include_deleted=include_deleted,
    )
    return SecretsOut(secrets=[secret_out(m) for m in found])


@router.put(PREFIX + "/{name}", name="secrets.write")
def put_secret(
    app: str, name: str, body: PutIn, request: Request, node: NodeDep, principal: Writer
) -> SecretOut:
    """Write a new version (the first creates the secret). ``cas`` guards lost updates."""
    meta = node.secrets.put(
        call_of(request, principal), app, name, body.value.encode(), body.to_meta(), body.cas
    )
    return secret_out(meta)


@router.get(PREFIX + "/{name}", name="secrets.meta.read")
def get_meta(
    app: str, name: str, request: Request, node: NodeDep, principal: MetaReader
) -> SecretOut:
    """A secret's metadata and versions; never its value."""
    return secret_out(node.secrets.describe(call_of(request, principal), app, name))


@router.patch(PREFIX + "/{name}", name="secrets.meta.write")
def patch_meta(
    app: str, name: str, body: MetaIn, request: Request, node: NodeDep, principal: Writer
) -> SecretOut:
    """Change metadata (owner, description, tags, data class, rotation period, expiry)."""
    meta = node.secrets.update_meta(call_of(request, principal), app, name, body.to_meta())
    return secret_out(meta)


@router.post(PREFIX + "/{name}/rotate", name="secrets.rotate")
def rotate(
    app: str, name: str, body: RotateIn, request: Request, node: NodeDep, principal: Writer
) -> SecretOut:
    """A new version from ``value`` or from a generator policy (``generate``)."""
    policy = None
    if body.generate is not None:
        policy = Policy(body.generate.kind, body.generate.length, body.generate.symbols)
    value = None if body.value is None else body.value.encode()
    meta = node.secrets.rotate(call_of(request, principal), app, name, value, policy, body.cas)
    return secret_out(meta)


@router.post(PREFIX + "/{name}/revoke", name="secrets.revoke")
def revoke(app: str, name: str, request: Request, node: NodeDep, principal: Admin) -> SecretOut:
    """Disable the secret for every reader at once; a new version enables it again."""
    return secret_out(node.secrets.revoke(call_of(request, principal), app, name))


@router.post(PREFIX + "/{name}/destroy", name="secrets.destroy")
def destroy(
    app: str, name: str, body: DestroyIn, request: Request, node: NodeDep, principal: Admin
) -> SecretOut:
    """Erase one version's value for good."""
    meta = node.secrets.destroy(call_of(request, principal), app, name, body.version)
    return secret_out(meta)


@router.delete(PREFIX + "/{name}", name="secrets.delete")
def delete(app: str, name: str, request: Request, node: NodeDep, principal: Writer) -> SecretOut:
    """Soft-delete: hidden from readers and listings until undeleted."""
    return secret_out(node.secrets.delete(call_of(request, principal), app, name))


@router.post(PREFIX + "/{name}/undelete", name="secrets.undelete")
def undelete(app: str, name: str, request: Request, node: NodeDep, principal: Writer) -> SecretOut:
    return secret_out(node.secrets.undelete(call_of(request, principal), app, name))


@router.post("/v1/apps/{app}/disable-all", name="secrets.disable_all")
def disable_all(app: str, request: Request, node: NodeDep, principal: Admin) -> DisabledOut:
    """Emergency: revoke every secret of the app in one call."""
    count = node.secrets.disable_app(call_of(request, principal), app)
    return DisabledOut(app=app, disabled=count)


def _due_scope(request: Request, node: NodeDep, _declared: BearerDep) -> Principal:
    return authorise(request, node, lambda p: p.has_scope(SECRETS_DUE), SECRETS_DUE)


@router.get("/v1/secrets/due", name="secrets.due")
def due(
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Depends(_due_scope)],
    app: Annotated[str | None, Query(max_length=63)] = None,
    within: Annotated[int, Query(ge=0, le=10 * 366 * 86_400, description="Seconds.")] = 0,
) -> SecretsOut:
    """Secrets whose rotation period or expiry ends within ``within`` seconds."""
    found = node.secrets.due(call_of(request, principal), app, within)
    return SecretsOut(secrets=[secret_out(m) for m in found])
