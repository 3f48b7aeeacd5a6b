"""Escrow deposits, recovery requests and decisions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.store.models import EscrowDecision, EscrowDeposit, EscrowRequest, EscrowRsaKey


def add(session: Session, row: EscrowDeposit | EscrowRequest | EscrowDecision) -> None:
    session.add(row)
    session.flush()


def deposit(session: Session, deposit_id: str) -> EscrowDeposit | None:
    return session.get(EscrowDeposit, deposit_id)


def request(session: Session, request_id: str, *, lock: bool = False) -> EscrowRequest | None:
    stmt = select(EscrowRequest).where(EscrowRequest.id == request_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def decisions(session: Session, request_id: str) -> list[EscrowDecision]:
    stmt = (
        select(EscrowDecision)
        .where(EscrowDecision.request_id == request_id)
        .order_by(EscrowDecision.created_us, EscrowDecision.approver)
    )
    return list(session.execute(stmt).scalars())


def rsa_key(session: Session, app: str, version: int) -> EscrowRsaKey | None:
    return session.get(EscrowRsaKey, (app, version))
