"""Governance rows: apps and manifest submissions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from strongroom.store.models import GovApp, GovSubmission


def app(session: Session, name: str, *, for_update: bool = False) -> GovApp | None:
    stmt = select(GovApp).where(GovApp.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def add(session: Session, row: GovApp | GovSubmission) -> None:
    session.add(row)
    session.flush()


def submission(session: Session, ident: str, *, for_update: bool = False) -> GovSubmission | None:
    stmt = select(GovSubmission).where(GovSubmission.id == ident)
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def submissions(
    session: Session, *, app: str | None = None, status: str | None = None, limit: int = 100
) -> Sequence[GovSubmission]:
    stmt = select(GovSubmission)
    if app is not None:
        stmt = stmt.where(GovSubmission.app == app)
    if status is not None:
        stmt = stmt.where(GovSubmission.status == status)
    stmt = stmt.order_by(GovSubmission.created_us.desc(), GovSubmission.id).limit(limit)
    return session.execute(stmt).scalars().all()


def supersede_pending(session: Session, app: str, now_us: int) -> int:
    """Mark the app's pending submissions superseded; returns how many."""
    stmt = (
        update(GovSubmission)
        .where(GovSubmission.app == app, GovSubmission.status == "pending")
        .values(status="superseded", decided_us=now_us)
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
