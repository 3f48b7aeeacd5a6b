"""App governance routes: the manifest schema, submissions, status, signed manifests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.params import Security
from pydantic import BaseModel, Field

from strongroom.api.deps import NodeDep, call_of, require
from strongroom.api.models import Input
from strongroom.governance import manifest
from strongroom.governance.preflight import MAX_FINDINGS
from strongroom.governance.submissions import SubmissionView
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import APPS_READ, APPS_SUBMIT

router = APIRouter(tags=["apps"])
AppName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{1,62}$")]


class SubmitIn(Input):
    manifest: str = Field(
        min_length=1, max_length=manifest.MAX_MANIFEST_BYTES, description="strongroom.yaml text."
    )
    findings: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=MAX_FINDINGS,
        description="Scan findings from `strongroom app submit` (see docs/governance.md).",
    )


class SubmissionOut(BaseModel):
    id: str
    app: str
    status: str
    submitter: str
    digest: str
    created: str
    decided: str | None
    reviewer: str | None
    reason: str | None
    scopes: list[str]
    decision: dict[str, Any]
    envelope: dict[str, Any] | None

    @classmethod
    def of(cls, found: SubmissionView) -> SubmissionOut:
        return cls(**found.as_json())


class AppOut(BaseModel):
    name: str
    owner: str
    approved_submission: str | None
    approved_scopes: list[str]
    submissions: list[SubmissionOut]


class KeysOut(BaseModel):
    keys: list[dict[str, str]] = Field(description="Newest first: keyid, algorithm, key, PEM.")


@router.get("/v1/schemas/manifest", name="apps.schema")
def manifest_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every strongroom.yaml must match."""
    return manifest.schema()


@router.get("/v1/manifest-keys", name="apps.keys")
def manifest_keys(node: NodeDep) -> KeysOut:
    """Public keys that verify signed manifests, every live version (for offline checks)."""
    return KeysOut(keys=node.submissions.signing_keys())


@router.post("/v1/apps", name="apps.submit")
def submit(
    body: SubmitIn,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(APPS_SUBMIT))],
) -> SubmissionOut:
    """Check a manifest and its scan findings against the policy and store the submission."""
    found = node.submissions.submit(
        call_of(request, principal), principal.subject, body.manifest, body.findings
    )
    return SubmissionOut.of(found)


@router.get("/v1/apps/{name}", name="apps.read")
def read_app(
    name: AppName,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(APPS_READ))],
) -> AppOut:
    """An app's owner, approved scopes and newest submissions."""
    found = node.submissions.app(call_of(request, principal), name)
    return AppOut(
        name=found.name,
        owner=found.owner,
        approved_submission=found.approved_submission,
        approved_scopes=found.approved_scopes,
        submissions=[SubmissionOut.of(s) for s in found.submissions],
    )


@router.get("/v1/apps/{name}/manifest", name="apps.manifest.read")
def signed_manifest(
    name: AppName,
    request: Request,
    node: NodeDep,
    principal: Annotated[Principal, Security(require(APPS_READ))],
) -> dict[str, Any]:
    """The app's current approved manifest as a DSSE envelope."""
    return node.submissions.approved_manifest(call_of(request, principal), name)
