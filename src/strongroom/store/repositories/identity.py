"""Identity rows: SCIM users, groups and memberships; pending sign-ins; sessions."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from strongroom.store.models import (
    IdentityGroup,
    IdentityMembership,
    IdentityUser,
    SignInAttempt,
    UserSession,
)

# -- pending sign-ins -------------------------------------------------------------------


def add_attempt(session: Session, attempt: SignInAttempt, now_us: int) -> None:
    """Store a pending sign-in, and drop the expired ones (bounds the table)."""
    session.execute(delete(SignInAttempt).where(SignInAttempt.expires_us <= now_us))
    session.add(attempt)
    session.flush()


def take_attempt(session: Session, state_hash: bytes) -> SignInAttempt | None:
    """Remove and return the pending sign-in with this state hash (one use only)."""
    attempt = session.get(SignInAttempt, state_hash)
    if attempt is not None:
        session.delete(attempt)
        session.flush()
    return attempt


# -- sessions ---------------------------------------------------------------------------


def add_session(session: Session, row: UserSession) -> None:
    session.add(row)
    session.flush()


def find_session(session: Session, id_hash: bytes) -> UserSession | None:
    return session.get(UserSession, id_hash)


def revoke_session(session: Session, id_hash: bytes, now_us: int) -> int:
    stmt = (
        update(UserSession)
        .where(UserSession.id_hash == id_hash, UserSession.revoked_us.is_(None))
        .values(revoked_us=now_us)
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def revoke_user_sessions(session: Session, user_id: str, subject: str, now_us: int) -> int:
    """Revoke every live session of a SCIM user (by id, or by its user name in any case)."""
    stmt = (
        update(UserSession)
        .where(
            (UserSession.user_id == user_id) | (func.lower(UserSession.subject) == subject.lower()),
            UserSession.revoked_us.is_(None),
        )
        .values(revoked_us=now_us)
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


# -- users and groups -------------------------------------------------------------------


def get_user(session: Session, user_id: str) -> IdentityUser | None:
    return session.get(IdentityUser, user_id)


def user_by_name(session: Session, user_name: str) -> IdentityUser | None:
    stmt = select(IdentityUser).where(IdentityUser.user_name_key == user_name.lower())
    return session.execute(stmt).scalar_one_or_none()


def list_users(
    session: Session, user_name: str | None, offset: int, limit: int
) -> tuple[int, list[IdentityUser]]:
    """A page of users (optionally only the one with ``user_name``), and the total."""
    where = [] if user_name is None else [IdentityUser.user_name_key == user_name.lower()]
    total = session.execute(select(func.count()).select_from(IdentityUser).where(*where))
    rows = session.execute(
        select(IdentityUser)
        .where(*where)
        .order_by(IdentityUser.created_us, IdentityUser.id)
        .offset(offset)
        .limit(limit)
    )
    return int(total.scalar_one()), list(rows.scalars())


def get_group(session: Session, group_id: str) -> IdentityGroup | None:
    return session.get(IdentityGroup, group_id)


def group_by_name(session: Session, name: str) -> IdentityGroup | None:
    stmt = select(IdentityGroup).where(IdentityGroup.display_name_key == name.lower())
    return session.execute(stmt).scalar_one_or_none()


def list_groups(
    session: Session, display_name: str | None, offset: int, limit: int
) -> tuple[int, list[IdentityGroup]]:
    where = [] if display_name is None else [IdentityGroup.display_name_key == display_name.lower()]
    total = session.execute(select(func.count()).select_from(IdentityGroup).where(*where))
    rows = session.execute(
        select(IdentityGroup)
        .where(*where)
        .order_by(IdentityGroup.created_us, IdentityGroup.id)
        .offset(offset)
        .limit(limit)
    )
    return int(total.scalar_one()), list(rows.scalars())


def members_of(session: Session, group_id: str) -> list[IdentityUser]:
    stmt = (
        select(IdentityUser)
        .join(IdentityMembership, IdentityMembership.user_id == IdentityUser.id)
        .where(IdentityMembership.group_id == group_id)
        .order_by(IdentityUser.id)
    )
    return list(session.execute(stmt).scalars())


def groups_of(session: Session, user_id: str) -> list[IdentityGroup]:
    stmt = (
        select(IdentityGroup)
        .join(IdentityMembership, IdentityMembership.group_id == IdentityGroup.id)
        .where(IdentityMembership.user_id == user_id)
        .order_by(IdentityGroup.id)
    )
    return list(session.execute(stmt).scalars())


def set_members(session: Session, group_id: str, user_ids: set[str]) -> None:
    session.execute(delete(IdentityMembership).where(IdentityMembership.group_id == group_id))
    for user_id in sorted(user_ids):
        session.add(IdentityMembership(group_id=group_id, user_id=user_id))
    session.flush()


def delete_user(session: Session, user: IdentityUser) -> None:
    session.execute(delete(IdentityMembership).where(IdentityMembership.user_id == user.id))
    session.delete(user)
    session.flush()


def delete_group(session: Session, group: IdentityGroup) -> None:
    session.execute(delete(IdentityMembership).where(IdentityMembership.group_id == group.id))
    session.delete(group)
    session.flush()
