"""Forms assigned to app users (devices), as Central's form assignments: which forms, and so
which entity lists, a device is given."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.accounts.models import AppUser, AppUserForm
from server.audit import service as audit


def assign_form(
    session: Session, app_user: AppUser, form_id: int, actor_user_id: int | None = None
) -> bool:
    """Assign a form (by its row id) to a device, as Central's form assignment; True when it
    was not assigned yet. Audited."""
    exists = session.scalar(
        select(AppUserForm.id).where(
            AppUserForm.app_user_id == app_user.id, AppUserForm.form_id == form_id
        )
    )
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(AppUserForm(app_user_id=app_user.id, form_id=form_id))
            session.flush()
    except IntegrityError:
        return False  # assigned at the same moment by someone else
    audit.record(
        session,
        "app_user.assign_form",
        project_id=app_user.project_id,
        user_id=actor_user_id,
        target_type="app_user",
        target_id=app_user.id,
        form=form_id,
    )
    return True


def form_assignments(session: Session, project_id: int) -> dict[int, set[int]]:
    """Form row id -> ids of the devices assigned to it, for the project's assigned forms."""
    rows = session.execute(
        select(AppUserForm.form_id, AppUserForm.app_user_id)
        .join(AppUser, AppUser.id == AppUserForm.app_user_id)
        .where(AppUser.project_id == project_id)
    ).all()
    found: dict[int, set[int]] = {}
    for form_id, app_user_id in rows:
        found.setdefault(form_id, set()).add(app_user_id)
    return found
