"""Who may read personal data in a request, and the audit of every read.

A user holds the permission in a project when their role assignment carries the survivor
caseworker flag (``project_roles.personal_data``); a device (app user) never reads personal
data back, it only gets the entity list columns its list declares. Viewers are the partners'
and donors' view: they also never see a survivor record without consent to share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from flask import g
from sqlalchemy.orm import Session

from server.accounts import service as accounts
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.audit import service as audit
from server.web import db

READ_ACTION = "personal_data.read"
# One audit entry names at most this many records; a longer read adds entries.
IDS_PER_ENTRY = 500


class _Caller(Protocol):
    @property
    def app_user(self) -> object | None: ...

    @property
    def user(self) -> object | None: ...

    @property
    def role(self) -> Role | None: ...


@dataclass(frozen=True)
class Access:
    """What one caller may see of personal data in one project."""

    project_id: int
    may_read: bool = False  # a survivor caseworker: personal fields shown, reads audited
    partner: bool = False  # a viewer: records without consent to share are left out
    device: bool = False  # an app user
    user_id: int | None = None
    app_user_id: int | None = None


NOBODY = Access(project_id=0)


def caller_access(project_id: int) -> Access:
    """The access of the request's caller in ``project_id``, after ``@requires`` let them in
    (on OpenRosa routes the caller the blueprint authenticated)."""
    session = db()
    caller = cast(_Caller | None, g.get("caller"))
    if caller is not None:
        if caller.app_user is not None:
            return Access(project_id, device=True, app_user_id=cast(Any, caller.app_user).id)
        user_id = cast(int | None, getattr(caller.user, "id", None))
        role = caller.role
    else:
        user_id = current_user().id
        role = cast(Role | None, g.get("project_role"))
    holds = user_id is not None and accounts.holds_personal_data(session, user_id, project_id)
    return Access(project_id, may_read=holds, partner=role is Role.VIEWER, user_id=user_id)


def may_read_personal(project_id: int) -> bool:
    """Whether the request's caller may read personal data in the project."""
    return caller_access(project_id).may_read


def record_read(
    session: Session, access: Access, target_type: str, target_ids: Iterable[str | int]
) -> None:
    """Audit that ``access``'s caller was shown the personal data of these records (who, which
    record, when; never the data itself). Nothing is recorded for a caller who was not shown
    any. The entry commits with the request's transaction."""
    if not access.may_read:
        return
    ids = [str(t) for t in target_ids]
    for start in range(0, len(ids), IDS_PER_ENTRY):
        part = ids[start : start + IDS_PER_ENTRY]
        audit.record(
            session,
            READ_ACTION,
            project_id=access.project_id,
            user_id=access.user_id,
            target_type=target_type,
            target_id=part[0] if len(part) == 1 else f"{len(part)} records",
            records=part,
        )
