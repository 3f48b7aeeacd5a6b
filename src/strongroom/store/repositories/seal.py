"""The seal configuration row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.store.models import SealConfig


def get(session: Session) -> SealConfig | None:
    return session.execute(select(SealConfig).where(SealConfig.id == 1)).scalar_one_or_none()


def create(session: Session, config: SealConfig) -> None:
    config.id = 1
    session.add(config)
    session.flush()
