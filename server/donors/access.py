"""Who may read and change a project's donor data (docs/adr/0018-donor-accountability.md).

- A user linked to one or more donors of the project (``donor_users``) reads those donors'
  agreements, transactions, report and IATI file only, whatever role they also hold; another
  donor is not found (404), and they change nothing (403 ``donor.read_only``).
- Otherwise the project role decides: viewers and data collectors read every donor,
  coordinators and administrators also create and change them.
- A user with neither is told the project does not exist (404), as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from server import errors
from server.accounts import service as accounts
from server.accounts.models import ROLE_RANK, Role, User
from server.donors import members, service
from server.donors.models import Donor
from server.projects.service import get_project


@dataclass(frozen=True)
class DonorAccess:
    project_id: int
    # None: every donor of the project; else the donors the user speaks for.
    donor_ids: frozenset[int] | None
    may_manage: bool

    def donor(self, session: Session, donor_id: int) -> Donor:
        """The donor, if this caller may read it.

        Raises:
            Problem: 404 for another donor's (never a sign that it exists).
        """
        if self.donor_ids is not None and donor_id not in self.donor_ids:
            raise errors.not_found("Donor")
        return service.get_donor(session, self.project_id, donor_id)

    def require_manage(self) -> None:
        if self.donor_ids is not None:
            raise errors.donor_read_only()
        if not self.may_manage:
            raise errors.forbidden("this needs the coordinator role")


def donor_access(session: Session, user: User, project_id: int) -> DonorAccess:
    """Raises: Problem 404 for a project the user has no role and no donor in."""
    linked = members.linked_donor_ids(session, user, project_id)
    if linked:
        return DonorAccess(project_id, frozenset(linked), False)
    role = accounts.role_in(session, user, project_id)
    if role is None:
        raise errors.not_found("Project")
    get_project(session, project_id)
    return DonorAccess(project_id, None, ROLE_RANK[role] >= ROLE_RANK[Role.COORDINATOR])
