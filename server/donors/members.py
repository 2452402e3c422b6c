"""Users who speak for a donor (docs/adr/0018-donor-accountability.md): the link that keeps a
donor's users to that donor's agreements and report."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import errors
from server.accounts.models import User
from server.audit import service as audit
from server.donors.models import Donor, DonorUser


def linked_donor_ids(session: Session, user: User, project_id: int) -> set[int]:
    """The donors of the project this user speaks for (empty: the user is no donor's)."""
    return set(
        session.scalars(
            select(DonorUser.donor_id)
            .join(Donor, Donor.id == DonorUser.donor_id)
            .where(DonorUser.user_id == user.id, Donor.project_id == project_id)
        )
    )


def linked_project_ids(session: Session, user: User) -> set[int]:
    """The projects in which this user speaks for a donor (whatever their role there)."""
    return set(
        session.scalars(
            select(Donor.project_id)
            .join(DonorUser, DonorUser.donor_id == Donor.id)
            .where(DonorUser.user_id == user.id)
        )
    )


def link_user(
    session: Session, donor: Donor, user: User, *, actor_user_id: int | None = None
) -> DonorUser:
    existing = session.scalar(
        select(DonorUser).where(DonorUser.donor_id == donor.id, DonorUser.user_id == user.id)
    )
    if existing is not None:
        return existing
    link = DonorUser(donor_id=donor.id, user_id=user.id)
    session.add(link)
    session.flush()
    audit.record(
        session,
        "donor.user_link",
        project_id=donor.project_id,
        user_id=actor_user_id,
        target_type="user",
        target_id=user.id,
        donor_id=donor.id,
    )
    return link


def unlink_user(
    session: Session, donor: Donor, user_id: int, *, actor_user_id: int | None = None
) -> None:
    link = session.scalar(
        select(DonorUser).where(DonorUser.donor_id == donor.id, DonorUser.user_id == user_id)
    )
    if link is None:
        raise errors.not_found("Donor user")
    session.delete(link)
    audit.record(
        session,
        "donor.user_unlink",
        project_id=donor.project_id,
        user_id=actor_user_id,
        target_type="user",
        target_id=user_id,
        donor_id=donor.id,
    )


def donor_users(session: Session, donor: Donor) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(DonorUser, DonorUser.user_id == User.id)
            .where(DonorUser.donor_id == donor.id)
            .order_by(User.email)
        )
    )
