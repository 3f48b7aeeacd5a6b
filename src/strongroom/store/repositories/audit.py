"""Audit events: gap-free append and filtered, paginated reads."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from strongroom.store.models import AuditEvent, AuditHead


def append(session: Session, event: AuditEvent) -> int:
    """Give ``event`` the next sequence number and insert it; returns that number.

    Locks the head row for the rest of the transaction, so concurrent appends queue and
    sequence numbers stay contiguous on every backend.
    """
    return append_many(session, [event])[0]


def append_many(session: Session, events: Sequence[AuditEvent]) -> list[int]:
    """Append several events under one head lock, with one multi-row insert."""
    if not events:
        return []
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()
    first = head.size
    rows = []
    for offset, event in enumerate(events):
        event.seq = first + offset
        rows.append({c.key: getattr(event, c.key) for c in AuditEvent.__table__.columns})
    session.execute(insert(AuditEvent), rows)
    head.size = first + len(events)
    session.flush()
    return list(range(first, first + len(events)))


def size(session: Session) -> int:
    return int(session.execute(select(AuditHead.size).where(AuditHead.id == 1)).scalar_one())


def query(
    session: Session,
    *,
    after: int | None = None,
    actor: str | None = None,
    action: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    limit: int = 100,
    newest_first: bool = False,
) -> Sequence[AuditEvent]:
    stmt = select(AuditEvent)
    if after is not None:
        stmt = stmt.where(AuditEvent.seq < after if newest_first else AuditEvent.seq > after)
    if actor is not None:
        stmt = stmt.where(AuditEvent.actor == actor)
    if action is not None:
        if action.endswith("*"):
            prefix = action[:-1]
            stmt = stmt.where(
                AuditEvent.action.startswith(prefix, autoescape=True),
                # SQLite's LIKE ignores ASCII case; this keeps the match exact everywhere.
                func.substr(AuditEvent.action, 1, len(prefix)) == prefix,
            )
        else:
            stmt = stmt.where(AuditEvent.action == action)
    if since_us is not None:
        stmt = stmt.where(AuditEvent.time_us >= since_us)
    if until_us is not None:
        stmt = stmt.where(AuditEvent.time_us < until_us)
    order = AuditEvent.seq.desc() if newest_first else AuditEvent.seq.asc()
    return session.execute(stmt.order_by(order).limit(limit)).scalars().all()
