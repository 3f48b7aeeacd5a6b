"""Review routes: list submissions, approve or deny one (never one's own app's)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.params import Security
from pydantic import BaseModel, Field

from strongroom.api.deps import NodeDep, call_of, require
from strongroom.api.models import Input
from strongroom.api.routes.apps import SubmissionOut
from strongroom.governance.reviews import MAX_REASON
from strongroom.identity.principal import Principal
from strongroom.identity.scopes import REVIEWS_APPROVE

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])
SubmissionId = Annotated[str, Path(pattern=r"^sub_[0-9a-f]{24}$")]
Reviewer = Annotated[Principal, Security(require(REVIEWS_APPROVE))]


class ReasonIn(Input):
    reason: str = Field(min_length=1, max_length=MAX_REASON)


class SubmissionsOut(BaseModel):
    submissions: list[SubmissionOut]


@router.get("", name="reviews.list")
def list_reviews(
    request: Request,
    node: NodeDep,
    principal: Reviewer,
    status: Literal["pending", "approved", "denied", "rejected", "superseded"] = "pending",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> SubmissionsOut:
    """Submissions in a status (pending by default), newest first."""
    found = node.reviews.list(call_of(request, principal), status, limit)
    return SubmissionsOut(submissions=[SubmissionOut.of(s) for s in found])


@router.get("/{ident}", name="reviews.read")
def read_review(
    ident: SubmissionId, request: Request, node: NodeDep, principal: Reviewer
) -> SubmissionOut:
    """One submission with its manifest scopes, policy decision and review."""
    return SubmissionOut.of(node.submissions.submission(call_of(request, principal), ident))


@router.post("/{ident}/approve", name="reviews.approve")
def approve(
    ident: SubmissionId, body: ReasonIn, request: Request, node: NodeDep, principal: Reviewer
) -> SubmissionOut:
    """Approve a pending submission: its manifest is signed and becomes the app's current."""
    found = node.reviews.approve(call_of(request, principal), principal.subject, ident, body.reason)
    return SubmissionOut.of(found)


@router.post("/{ident}/deny", name="reviews.deny")
def deny(
    ident: SubmissionId, body: ReasonIn, request: Request, node: NodeDep, principal: Reviewer
) -> SubmissionOut:
    """Deny a pending submission, with a reason."""
    found = node.reviews.deny(call_of(request, principal), principal.subject, ident, body.reason)
    return SubmissionOut.of(found)
