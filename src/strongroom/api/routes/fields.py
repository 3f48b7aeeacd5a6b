"""Field-encryption routes: an app's key for holders of ``fields:app-key:<app>``."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.params import Depends
from pydantic import BaseModel, Field

from strongroom.api.deps import BearerDep, NodeDep, call_of, require
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import FIELDS_APP_KEY

router = APIRouter(prefix="/v1/fields", tags=["fields"])
AppName = Annotated[str, Path(min_length=1, max_length=64)]


def _app_principal(request: Request, node: NodeDep, declared: BearerDep, app: AppName) -> Principal:
    # The scope names the app, so a token for one app never fetches another's key.
    return require(FIELDS_APP_KEY + app)(request, node, declared)


class AppKeyOut(BaseModel):
    app: str
    version: int
    key_id: str = Field(description="The key id field keys derived from it carry.")
    key: str = Field(description="The 32-byte app key, base64url. Keep it in memory only.")


@router.get("/apps/{app}/key", name="fields.app_key.read")
def app_key(
    request: Request,
    app: AppName,
    node: NodeDep,
    principal: Annotated[Principal, Depends(_app_principal)],
    version: Annotated[int | None, Query(ge=1, lt=2**31)] = None,
) -> AppKeyOut:
    """The app's field-encryption key (the newest version unless one is named)."""
    found = node.app_keys.fetch(call_of(request, principal), app, version)
    key = base64.urlsafe_b64encode(found.key).decode("ascii").rstrip("=")
    return AppKeyOut(app=found.app, version=found.version, key_id=f"app:{found.app}", key=key)
