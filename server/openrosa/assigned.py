"""Which forms (and so which entity lists) a caller of the OpenRosa routes is given.

As Central's form assignments: a form assigned to some devices goes to those devices only. A
form that saves to or reads an entity list kept for assigned devices (``device_access =
"assigned"`` in forms/entity_policies.toml, the survivors list) goes to no unassigned device,
and to users only when they are coordinators or survivor caseworkers. Every other form goes to
every device of the project, as before assignments existed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts import service as accounts
from server.accounts.assignments import form_assignments
from server.accounts.models import Role
from server.accounts.permissions import allows
from server.forms.models import Form, FormAttachment, FormVersion
from server.openrosa.auth import Caller
from server.personal.policy import sharing


class Assignments:
    """The assignment rules of one project, read once per request."""

    def __init__(self, session: Session, caller: Caller) -> None:
        self.session = session
        self.caller = caller
        self.assigned = form_assignments(session, caller.project.id)

    def _restricted(self, version: FormVersion) -> bool:
        lists = set(
            self.session.scalars(
                select(FormAttachment.entity_list).where(
                    FormAttachment.form_version_id == version.id,
                    FormAttachment.kind == "entity_list",
                )
            )
        )
        if version.entity_spec.get("dataset"):
            lists.add(str(version.entity_spec["dataset"]))
        return any(sharing(self.session, name).assigned_only for name in lists if name)

    def given(self, form: Form, version: FormVersion) -> bool:
        """Whether the caller gets this form (its XForm, manifest, media and entity lists)."""
        app_user = self.caller.app_user
        if app_user is not None:
            devices = self.assigned.get(form.id)
            if devices is not None:
                return app_user.id in devices
            return not self._restricted(version)
        if not self._restricted(version):
            return True
        user = self.caller.user
        return allows(self.caller.role, Role.COORDINATOR) or (
            user is not None
            and accounts.holds_personal_data(self.session, user.id, self.caller.project.id)
        )
